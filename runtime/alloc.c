#include "alloc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Injection counter; plain globals are enough because tests drive it from
 * one thread and the library allocates only outside parallel regions. */
static long fail_countdown = -1;
static long alloc_count = 0;

static int should_fail(void)
{
    alloc_count++;
    if (fail_countdown < 0) return 0;
    if (fail_countdown == 0) {
        fail_countdown = -1;
        return 1;
    }
    fail_countdown--;
    return 0;
}

long oc_alloc_fail_after(long n)
{
    long made = alloc_count;
    alloc_count = 0;
    fail_countdown = n;
    return made;
}

void *oc_malloc(size_t size)
{
    if (should_fail()) return NULL;
    return malloc(size ? size : 1);
}

void *oc_calloc(size_t count, size_t size)
{
    if (should_fail()) return NULL;
    if (count == 0 || size == 0) return calloc(1, 1);
    return calloc(count, size);
}

void *oc_realloc(void *ptr, size_t size)
{
    if (should_fail()) return NULL;
    return realloc(ptr, size ? size : 1);
}

/* Buffers from this size up (datasets, weights, big activations) start on a
 * 2 MiB boundary and ask for transparent huge pages: training reads dataset
 * rows in shuffled order, and with 4 KiB pages every row costs a TLB miss
 * (a page walk of hundreds of cycles). Only a hint: with THP off, nothing
 * changes. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

void *oc_aligned_alloc(size_t size)
{
    if (should_fail()) return NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    if (rounded >= HUGE_MIN) {
        size_t huge = (rounded + HUGE_ALIGN - 1) & ~(HUGE_ALIGN - 1);
        void *p = huge >= rounded ? aligned_alloc(HUGE_ALIGN, huge) : NULL;
#ifdef MADV_HUGEPAGE
        if (p) madvise(p, huge, MADV_HUGEPAGE);
#endif
        return p;
    }
    return aligned_alloc(64, rounded ? rounded : 64);
}

void oc_aligned_free(void *ptr) { free(ptr); }

void *oc_malloc_aligned_from(size_t size, size_t from)
{
    if (size < from) return oc_malloc(size);
    if (should_fail()) return NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    return rounded < size ? NULL : aligned_alloc(64, rounded); /* glibc: free() takes it */
}

void oc_free(void *ptr) { free(ptr); }

char *oc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = oc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
