/*
 * Every allocation the library makes goes through these wrappers, so tests
 * can make the k-th one fail (see oc_alloc_fail_after) and check that each
 * failure path returns ONNXC_ERR_NOMEM without crashing or leaking.
 */
#ifndef OC_ALLOC_H
#define OC_ALLOC_H

#include <stddef.h>

void *oc_malloc(size_t size);
void *oc_calloc(size_t count, size_t size);
void *oc_realloc(void *ptr, size_t size);
/* 64-byte aligned; free with oc_aligned_free. */
void *oc_aligned_alloc(size_t size);
void oc_aligned_free(void *ptr);
/* 64-byte aligned from `size` bytes up (smaller requests: plain oc_malloc),
 * without oc_aligned_alloc's huge-page rounding; free with oc_free. For
 * buffers another library frees (protobuf-c's bytes fields, where a model's
 * weights land: the GEMM reads aligned rows of them at full speed). */
void *oc_malloc_aligned_from(size_t size, size_t from);
void oc_free(void *ptr);
char *oc_strdup(const char *s);

/* Test hook: the (n+1)-th allocation from now fails, then all succeed again.
 * n < 0 disables injection. Returns the number of allocations made since the
 * last call. */
long oc_alloc_fail_after(long n);

#endif
