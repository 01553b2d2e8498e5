/* Packed-weight cache of a session (pack_cache.h). */
#include "pack_cache.h"

#include "alloc.h"
#include "error.h"

onnxc_status oc_pack_cache_init(oc_pack_cache *c, int n_values, uint64_t generation,
                                onnxc_error *err)
{
    c->n_values = n_values;
    c->generation = generation;
    c->bytes = 0;
    c->shared = NULL;
    c->packed = oc_calloc((size_t)n_values * 2 + 1, sizeof *c->packed);
    if (!c->packed) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory creating a session");
    return ONNXC_OK;
}

void oc_pack_cache_clear(oc_pack_cache *c)
{
    if (!c->packed) return;
    for (int i = 0; i < c->n_values * 2; i++) {
        oc_aligned_free(c->packed[i]);
        c->packed[i] = NULL;
    }
    c->bytes = 0;
}

void oc_pack_cache_free(oc_pack_cache *c)
{
    oc_pack_cache_clear(c);
    oc_free(c->packed);
    c->packed = NULL;
}

onnxc_status oc_pack_cache_get(oc_pack_cache *c, int v, const oc_tensor *w, int transB,
                               const oc_sgemm_pb **out, const char *what, onnxc_error *err)
{
    const size_t key = (size_t)v * 2 + (transB ? 1 : 0);
    if (c->shared && c->shared->packed[key]) {
        *out = c->shared->packed[key];
        return ONNXC_OK;
    }
    oc_sgemm_pb **slot = &c->packed[key];
    if (!*slot && !w->data)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: the weights were released for inference only and "
                       "are not packed with transB=%d", what, transB);
    if (!*slot) {
        /* op(B) is [K, N]: W is [K, N], or [N, K] with transB. */
        const int64_t rows = w->shape.dims[0], cols = w->shape.dims[1];
        const int64_t K = transB ? cols : rows, N = transB ? rows : cols;
        *slot = oc_sgemm_packed_b(transB, K, N, w->data, cols);
        if (!*slot)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory packing weights [%lld,%lld] (%zu bytes)",
                           what, (long long)rows, (long long)cols, oc_sgemm_packed_b_size(K, N));
        c->bytes += oc_sgemm_packed_b_size(K, N);
    }
    *out = *slot;
    return ONNXC_OK;
}
