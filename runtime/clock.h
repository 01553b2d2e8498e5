/* Seconds on the monotonic clock, for timing steps (not wall-clock dates). */
#ifndef OC_CLOCK_H
#define OC_CLOCK_H

#include <time.h>

static inline double oc_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
