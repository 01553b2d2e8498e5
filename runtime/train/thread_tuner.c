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
    t->reprobe = t->median[w] > 0.0;
    t->way = t->probed = w;
    t->probing = true;
    t->window_steps = 0;
}

/* The probed way has its figure: the fastest runs next. A re-probe that
 * lost clearly on its own steps (its window's median and stall alone,
 * OC_TUNE_CLEAR_LOSS times the rival's cost or more) spaces that way's
 * next ones out, and one that won brings them back, so that a way that
 * keeps losing by far, as two threads do while another process has the
 * second core, is not paid for every OC_TUNE_PROBE windows; one that lost
 * to the stalls of its earlier windows, or narrowly, keeps its spacing. */
static void end_probe(oc_thread_tuner *t, bool own_loss)
{
    const int best = fastest_timed(t, -1);
    int *backoff = &t->backoff[t->probed];
    if (t->reprobe && best == (int)t->probed) *backoff = 0;
    else if (t->reprobe && own_loss && *backoff < OC_TUNE_BACKOFF_MAX) ++*backoff;
    t->way = best >= 0 ? (oc_way)best : t->way;
    t->probing = false;
    t->windows = 0;
    t->window_steps = 0;
}

/* Steps in the window now running: OC_TUNE_EARLY while some way has no
 * figure yet (the first round: a way that waits milliseconds a step costs
 * a few of them before the other is timed), then OC_TUNE_WINDOW. */
static int window_length(const oc_thread_tuner *t)
{
    for (int w = 0; w < OC_WAYS; w++)
        if (allowed(t, w) && t->median[w] == 0.0) return OC_TUNE_EARLY;
    return OC_TUNE_WINDOW;
}

/* This window's steps but its first (which may build plans or move state)
 * have cost more than OC_TUNE_STALL_BUDGET times `steps` steps of the rival
 * way: it has lost, whatever its remaining steps take. */
static bool over_budget(const oc_thread_tuner *t, int rival, int steps)
{
    double sum = 0.0;
    for (int i = 1; i < t->window_steps; i++) sum += t->window[i];
    return sum > OC_TUNE_STALL_BUDGET * steps * cost(t, rival);
}

/* The way to probe after OC_TUNE_PROBE windows: the next in turn after the
 * last probed that has gone untimed for its spacing (OC_TUNE_PROBE <<
 * its backoff windows), or -1. */
static int due_in_turn(const oc_thread_tuner *t)
{
    int w = (int)t->probed;
    for (int i = 0; i < OC_WAYS; i++) {
        w = (w + 1) % OC_WAYS;
        if (allowed(t, w) && w != (int)t->way && t->since[w] >= OC_TUNE_PROBE << t->backoff[w]) return w;
    }
    return -1;
}

/* The way's figures from the `n` steps of its window: the median step, and
 * the mean of the steps but the first (which may build plans or move state)
 * over it, averaged with the way's earlier stall figure. Returns what this
 * window alone gives: its median plus its own stall. */
static double take_window(oc_thread_tuner *t, int n)
{
    double sum = 0.0;
    for (int i = 1; i < n; i++) sum += t->window[i];
    qsort(t->window, (size_t)n, sizeof *t->window, cmp_double);
    t->since[t->way] = 0;
    const double median = t->window[n / 2], mean = sum / (n - 1);
    const double stall = mean > median ? mean - median : 0.0;
    t->stall[t->way] = t->median[t->way] > 0.0 ? 0.5 * (t->stall[t->way] + stall) : stall;
    t->median[t->way] = median;
    t->window_steps = 0;
    return median + stall;
}

/* The fastest of a probe's first OC_TUNE_EARLY steps: the probe has
 * clearly lost when that, plus what the way has been losing to stalls, is
 * OC_TUNE_CLEAR_LOSS times the rival's cost or more. */
static double fastest_early(const oc_thread_tuner *t)
{
    double fastest = t->window[0];
    for (int i = 1; i < OC_TUNE_EARLY; i++)
        if (t->window[i] < fastest) fastest = t->window[i];
    return fastest;
}

void oc_thread_tuner_record(oc_thread_tuner *t, double seconds)
{
    t->window[t->window_steps++] = seconds;
    const int rival = fastest_timed(t, t->way), length = window_length(t);
    /* A window ends after its length, a probe that clearly lost after its
     * first steps, and any window as soon as it has cost more than it could
     * win back (over_budget: steps that wait milliseconds for a descheduled
     * thread then cost two of them, not a window). */
    bool done = t->window_steps >= length;
    if (rival >= 0 && t->probing && t->window_steps == OC_TUNE_EARLY)
        done |= fastest_early(t) + t->stall[t->way] >= OC_TUNE_CLEAR_LOSS * cost(t, rival);
    if (rival >= 0 && t->window_steps >= 2)
        done |= over_budget(t, rival, t->probing && t->window_steps <= OC_TUNE_EARLY ? OC_TUNE_EARLY : length);
    if (!done) return;
    const double own = take_window(t, t->window_steps);
    /* Lost clearly on this window's own steps, the way's earlier stalls aside. */
    const bool own_loss = rival >= 0 && own >= OC_TUNE_CLEAR_LOSS * cost(t, rival);
    for (int w = 0; w < OC_WAYS; w++)
        if (allowed(t, w) && t->median[w] == 0.0) { /* not timed yet: as a probe */
            start_probe(t, (oc_way)w);
            return;
        }
    if (t->probing) {
        end_probe(t, own_loss);
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
    for (int w = 0; w < OC_WAYS; w++)
        if (w != (int)t->way) t->since[w]++;
    if (++t->windows < OC_TUNE_PROBE) return;
    const int due = due_in_turn(t);
    if (due >= 0) {
        t->windows = 0;
        start_probe(t, (oc_way)due);
    }
}
