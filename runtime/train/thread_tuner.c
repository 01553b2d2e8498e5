/* Parallel or one thread, whichever is faster now (thread_tuner.h). */
#include "thread_tuner.h"

#include <stdlib.h>

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void oc_thread_tuner_record(oc_thread_tuner *t, double seconds)
{
    t->window[t->window_steps] = seconds;
    if (++t->window_steps < OC_TUNE_WINDOW) return;
    qsort(t->window, OC_TUNE_WINDOW, sizeof *t->window, cmp_double);
    t->median[t->way] = t->window[OC_TUNE_WINDOW / 2];
    t->window_steps = 0;
    const oc_way other = t->way == OC_WAY_PARALLEL ? OC_WAY_ONE_THREAD : OC_WAY_PARALLEL;
    if (t->median[other] == 0.0) { /* not timed yet: as a probe */
        t->way = other;
        t->probing = true;
        return;
    }
    if (t->probing) { /* both figures fresh: the faster */
        t->way = t->median[OC_WAY_PARALLEL] <= t->median[OC_WAY_ONE_THREAD] ? OC_WAY_PARALLEL
                                                                             : OC_WAY_ONE_THREAD;
        t->probing = false;
        t->windows = 0;
    } else if (++t->windows >= OC_TUNE_PROBE) { /* time the other way again */
        t->way = other;
        t->probing = true;
    }
}
