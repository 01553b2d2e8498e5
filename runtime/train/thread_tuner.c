/* Parallel or one thread, whichever is faster now (thread_tuner.h). */
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

oc_thread_tuner oc_thread_tuner_new(unsigned ways)
{
    oc_thread_tuner t = {.ways = ways};
    static const oc_way first[] = {OC_WAY_COLUMNS, OC_WAY_PARALLEL, OC_WAY_ONE_THREAD};
    for (size_t i = 0; i < sizeof first / sizeof *first; i++)
        if (ways_of(&t) & (1u << first[i])) {
            t.way = first[i];
            break;
        }
    return t;
}

/* The fastest way by the latest windows (all timed). */
static oc_way fastest(const oc_thread_tuner *t)
{
    oc_way best = t->way;
    for (int w = 0; w < OC_WAYS; w++)
        if ((ways_of(t) & (1u << w)) && t->median[w] < t->median[best]) best = (oc_way)w;
    return best;
}

void oc_thread_tuner_record(oc_thread_tuner *t, double seconds)
{
    t->window[t->window_steps] = seconds;
    if (++t->window_steps < OC_TUNE_WINDOW) return;
    qsort(t->window, OC_TUNE_WINDOW, sizeof *t->window, cmp_double);
    t->median[t->way] = t->window[OC_TUNE_WINDOW / 2];
    t->window_steps = 0;
    const unsigned ways = ways_of(t);
    for (int w = 0; w < OC_WAYS; w++)
        if ((ways & (1u << w)) && t->median[w] == 0.0) { /* not timed yet: as a probe */
            t->way = (oc_way)w;
            t->probed = (oc_way)w;
            t->probing = true;
            return;
        }
    if (t->probing) { /* the probed way's figure is fresh: the fastest */
        t->way = fastest(t);
        t->probing = false;
        t->windows = 0;
    } else if (++t->windows >= OC_TUNE_PROBE && (ways & ~(1u << t->way))) { /* another way again, in turn */
        oc_way w = t->probed;
        do w = (oc_way)((w + 1) % OC_WAYS);
        while (!(ways & (1u << w)) || w == t->way);
        t->way = t->probed = w;
        t->probing = true;
    }
}
