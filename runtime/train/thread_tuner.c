/* Which way to run a two-thread step, by timing them (thread_tuner.h). */
#include "thread_tuner.h"

#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static unsigned ways_of(const oc_thread_tuner *t)
{
    return t->ways ? t->ways : (1u << OC_WAY_PARALLEL) | (1u << OC_WAY_ONE_THREAD);
}

static bool allowed(const oc_thread_tuner *t, int w) { return (ways_of(t) & (1u << w)) != 0; }

oc_thread_tuner oc_thread_tuner_new(unsigned ways)
{
    oc_thread_tuner t = {.ways = ways};
    static const oc_way first[] = {OC_WAY_COLUMNS, OC_WAY_PARALLEL, OC_WAY_ONE_THREAD};
    for (size_t i = 0; i < sizeof first / sizeof *first; i++)
        if (allowed(&t, first[i])) {
            t.way = first[i];
            break;
        }
    return t;
}

/* The fastest timed way other than `except` (-1: none excepted), or -1. */
static int fastest_timed(const oc_thread_tuner *t, int except)
{
    int best = -1;
    for (int w = 0; w < OC_WAYS; w++)
        if (w != except && allowed(t, w) && t->median[w] > 0.0 && (best < 0 || t->median[w] < t->median[best]))
            best = w;
    return best;
}

static void start_probe(oc_thread_tuner *t, oc_way w)
{
    t->way = t->probed = w;
    t->probing = true;
    t->window_steps = 0;
}

/* The probed way has its figure: the fastest runs next. */
static void end_probe(oc_thread_tuner *t)
{
    const int best = fastest_timed(t, -1);
    t->way = best >= 0 ? (oc_way)best : t->way;
    t->probing = false;
    t->windows = 0;
    t->window_steps = 0;
}

/* After OC_TUNE_PROBE windows: the next way in turn after the last probed. */
static void probe_in_turn(oc_thread_tuner *t)
{
    t->windows = 0;
    oc_way w = t->probed;
    do w = (oc_way)((w + 1) % OC_WAYS);
    while (!allowed(t, w) || w == t->way);
    start_probe(t, w);
}

void oc_thread_tuner_record(oc_thread_tuner *t, double seconds)
{
    t->window[t->window_steps++] = seconds;
    /* A probe that has clearly lost from its first steps on ends early. */
    const int rival = t->probing && t->window_steps == OC_TUNE_EARLY ? fastest_timed(t, t->way) : -1;
    if (rival >= 0) {
        double fastest = t->window[0];
        for (int i = 1; i < OC_TUNE_EARLY; i++)
            if (t->window[i] < fastest) fastest = t->window[i];
        if (fastest >= OC_TUNE_CLEAR_LOSS * t->median[rival]) {
            qsort(t->window, OC_TUNE_EARLY, sizeof *t->window, cmp_double);
            t->median[t->way] = t->window[OC_TUNE_EARLY / 2];
            end_probe(t);
            return;
        }
    }
    if (t->window_steps < OC_TUNE_WINDOW) return;
    qsort(t->window, OC_TUNE_WINDOW, sizeof *t->window, cmp_double);
    t->median[t->way] = t->window[OC_TUNE_WINDOW / 2];
    t->window_steps = 0;
    for (int w = 0; w < OC_WAYS; w++)
        if (allowed(t, w) && t->median[w] == 0.0) { /* not timed yet: as a probe */
            start_probe(t, (oc_way)w);
            return;
        }
    if (t->probing) {
        end_probe(t);
        return;
    }
    /* The way running got slower than another way's last figure: re-time
     * that one now rather than in its turn. */
    const int other = fastest_timed(t, t->way);
    if (other >= 0 && t->median[other] < t->median[t->way]) {
        start_probe(t, (oc_way)other);
        t->windows = 0;
        return;
    }
    if (++t->windows >= OC_TUNE_PROBE && (ways_of(t) & ~(1u << t->way))) probe_in_turn(t);
}
