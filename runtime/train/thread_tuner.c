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

oc_thread_tuner oc_thread_tuner_new(unsigned ways, oc_way first)
{
    oc_thread_tuner t = {.ways = ways};
    /* Parallel first: the other ways' first windows are probes, which end
     * after OC_TUNE_EARLY steps where they clearly lose. */
    const oc_way order[] = {first, OC_WAY_PARALLEL, OC_WAY_COLUMNS, OC_WAY_ONE_THREAD};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++)
        if (order[i] < OC_WAYS && allowed(&t, order[i])) {
            t.way = order[i];
            break;
        }
    return t;
}

/* Seconds a step of way w costs by the latest figures (0: not timed). */
static double cost(const oc_thread_tuner *t, int w) { return t->median[w] > 0.0 ? t->median[w] + t->stall[w] : 0.0; }

/* The fastest timed way other than `except` (-1: none excepted), or -1. */
static int fastest_timed(const oc_thread_tuner *t, int except)
{
    int best = -1;
    for (int w = 0; w < OC_WAYS; w++)
        if (w != except && allowed(t, w) && t->median[w] > 0.0 && (best < 0 || cost(t, w) < cost(t, best)))
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

/* The way's figures from the `n` steps of its window: the median step, and
 * the mean of the steps but the first (which may build plans or move state)
 * over it, averaged with the way's earlier stall figure. */
static void take_window(oc_thread_tuner *t, int n)
{
    double sum = 0.0;
    for (int i = 1; i < n; i++) sum += t->window[i];
    qsort(t->window, (size_t)n, sizeof *t->window, cmp_double);
    const double median = t->window[n / 2], mean = sum / (n - 1);
    const double stall = mean > median ? mean - median : 0.0;
    t->stall[t->way] = t->median[t->way] > 0.0 ? 0.5 * (t->stall[t->way] + stall) : stall;
    t->median[t->way] = median;
    t->window_steps = 0;
}

void oc_thread_tuner_record(oc_thread_tuner *t, double seconds)
{
    t->window[t->window_steps++] = seconds;
    /* A probe that has clearly lost from its first steps on ends early: its
     * fastest step, plus what the way has been losing to stalls, is
     * OC_TUNE_CLEAR_LOSS times the fastest other way's cost or more. */
    const int rival = t->probing && t->window_steps == OC_TUNE_EARLY ? fastest_timed(t, t->way) : -1;
    if (rival >= 0) {
        double fastest = t->window[0];
        for (int i = 1; i < OC_TUNE_EARLY; i++)
            if (t->window[i] < fastest) fastest = t->window[i];
        if (fastest + t->stall[t->way] >= OC_TUNE_CLEAR_LOSS * cost(t, rival)) {
            take_window(t, OC_TUNE_EARLY);
            end_probe(t);
            return;
        }
    }
    if (t->window_steps < OC_TUNE_WINDOW) return;
    take_window(t, OC_TUNE_WINDOW);
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
    if (other >= 0 && cost(t, other) < cost(t, t->way)) {
        start_probe(t, (oc_way)other);
        t->windows = 0;
        return;
    }
    if (++t->windows >= OC_TUNE_PROBE && (ways_of(t) & ~(1u << t->way))) probe_in_turn(t);
}
