#include "alloc.h"

#include <stdlib.h>
#include <string.h>

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

void *oc_aligned_alloc(size_t size)
{
    if (should_fail()) return NULL;
    size_t rounded = (size + 63) & ~(size_t)63;
    if (rounded < size) return NULL;
    return aligned_alloc(64, rounded ? rounded : 64);
}

void oc_aligned_free(void *ptr) { free(ptr); }

void oc_free(void *ptr) { free(ptr); }

char *oc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = oc_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}
