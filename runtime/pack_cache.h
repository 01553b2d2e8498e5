/*
 * Weights packed into the GEMM kernels' panel layout, shared by every plan a
 * session builds (a session re-plans when the batch size changes; the
 * packing must not be redone each time).
 *
 * Entries are keyed by (value index, transB) and created on first use. A
 * packed block is a snapshot of the weights: the cache remembers the model's
 * weights_generation when filled, and the session empties it (and re-plans)
 * when the trainer has changed the weights since.
 *
 * An inference-only model (onnxc_model_set_inference_only) owns one more
 * cache, filled once and never changed after; each session's cache then
 * looks there first (`shared`), so all sessions use one packed copy.
 */
#ifndef OC_PACK_CACHE_H
#define OC_PACK_CACHE_H

#include "kernels/sgemm.h"
#include "tensor.h"

typedef struct oc_pack_cache {
    int n_values;
    oc_sgemm_pb **packed;        /* [n_values * 2]: [v*2 + transB], NULL until used */
    uint64_t generation;         /* model weights_generation the blocks were packed at */
    size_t bytes;                /* total packed bytes, for reporting */
    const struct oc_pack_cache *shared; /* read-only cache searched first, or NULL */
} oc_pack_cache;

onnxc_status oc_pack_cache_init(oc_pack_cache *c, int n_values, uint64_t generation,
                                onnxc_error *err);
/* Frees every block; the cache can be reused after. */
void oc_pack_cache_clear(oc_pack_cache *c);
void oc_pack_cache_free(oc_pack_cache *c);

/*
 * The packed op(B) of value `v` (a 2-D float tensor W; transB: W is [N, K],
 * else [K, N]), packing it now if needed. `what` names the node in the
 * out-of-memory message. A weight whose bytes were released (w->data NULL)
 * must be in `shared`; if not, the call fails rather than read NULL.
 */
onnxc_status oc_pack_cache_get(oc_pack_cache *c, int v, const oc_tensor *w, int transB,
                               const oc_sgemm_pb **out, const char *what, onnxc_error *err);

#endif
