/*
 * onnxc_model_set_inference_only: each dense weight held once, packed.
 *
 * A session packs the B operand of every fused dense layer into the GEMM
 * kernels' panel layout (pack_cache.h), so a normal model holds those weights
 * twice: the file's bytes, kept for saving and training, and the packed copy.
 * For a 147 MB model that made `onnxc run` peak at 1.3x ONNX Runtime's RSS.
 * Here every such weight is packed once into a cache the model owns and
 * sessions share, and the original bytes are freed as soon as it is packed,
 * one weight at a time, so the peak is the model plus its largest weight.
 *
 * Which weights are released is decided from the graph alone: a 2-D float
 * initializer, not a graph output, that every node reading it reads as B of a
 * MatMul or Gemm the dense fusion can take (oc_dense_head_transB). If a plan
 * still needs one unpacked (a node folded at plan time, a shape or bias the
 * fusion does not take), the plan unpacks it into its own memory
 * (oc_model_unpack_released), so results never depend on this call.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "fuse_dense.h"
#include "graph.h"

/* reads[v] bits: 1 << transB for each dense layer that reads v as its packed
 * B, OTHER_READ when anything else reads it or it is a graph output. */
enum { OTHER_READ = 4 };

/* One pass over the nodes (a per-weight scan of all nodes would be
 * quadratic in large graphs). */
static void dense_reads(const oc_graph *g, uint8_t *reads)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const oc_node *n = &g->nodes[i];
        const int tb = oc_dense_head_transB(n);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) reads[n->in[k]] |= k == 1 && tb >= 0 ? (uint8_t)(1u << tb) : OTHER_READ;
    }
    for (int i = 0; i < g->n_outputs; i++) reads[g->outputs[i]] |= OTHER_READ;
}

/* Bitmask of the transB variants (bit 0: 0, bit 1: 1) to pack weight v
 * with; 0 when v is not a releasable weight. */
static unsigned dense_variants(const oc_value *val, uint8_t reads)
{
    const oc_tensor *w = &val->init;
    if (val->kind != OC_VALUE_INITIALIZER || w->dtype != ONNXC_FLOAT || w->shape.rank != 2 ||
        w->shape.dims[0] < 1 || w->shape.dims[1] < 1 || !w->data || (reads & OTHER_READ))
        return 0;
    return reads;
}

/* Frees the bytes behind weight v's init.data: a converted or external copy
 * the model owns, and the proto field they came from. False (nothing freed)
 * when the data lives somewhere this does not know to own. */
static bool free_original(oc_value *val)
{
    Onnx__TensorProto *tp = val->init_proto;
    void *data = val->init.data;
    const bool in_raw = tp && tp->has_raw_data && tp->raw_data.data == data;
    const bool in_floats = tp && tp->n_float_data && (void *)tp->float_data == data;
    if (!val->init_owned && !in_raw && !in_floats) return false;
    if (val->init_owned) oc_aligned_free(data);
    /* A misaligned raw_data was copied (init_owned): its bytes go too. */
    if (tp && tp->has_raw_data) {
        oc_free(tp->raw_data.data);
        tp->raw_data.data = NULL;
        tp->raw_data.len = 0;
        tp->has_raw_data = 0;
    }
    if (tp && tp->n_float_data) {
        oc_free(tp->float_data);
        tp->float_data = NULL;
        tp->n_float_data = 0;
    }
    val->init_owned = false;
    val->init.data = NULL;
    val->released = true;
    return true;
}

onnxc_status onnxc_model_set_inference_only(onnxc_model *m, onnxc_error *err)
{
    if (!m) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_set_inference_only: NULL model");
    if (m->inference_only) return ONNXC_OK;
    OC_TRY(oc_model_require_supported(m, err));
    oc_graph *g = &m->graph;
    oc_pack_cache *packs = oc_calloc(1, sizeof *packs);
    if (!packs || oc_pack_cache_init(packs, g->n_values, m->weights_generation, err) != ONNXC_OK) {
        oc_free(packs);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory making the model inference-only",
                       m->label);
    }
    uint8_t *reads = oc_calloc((size_t)g->n_values + 1, 1);
    if (!reads) {
        oc_pack_cache_free(packs);
        oc_free(packs);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory making the model inference-only",
                       m->label);
    }
    dense_reads(g, reads);
    m->packs = packs;
    m->inference_only = true;
    /* Pack and free one weight at a time: the peak is the model plus one
     * packed weight, not the model twice. On failure, weights released so
     * far stay released; the model stays inference-only and runs. */
    onnxc_status st = ONNXC_OK;
    for (int v = 0; v < g->n_values && st == ONNXC_OK; v++) {
        const unsigned variants = dense_variants(&g->values[v], reads[v]);
        if (!variants) continue;
        char what[600];
        snprintf(what, sizeof what, "%s: weight '%.500s'", m->label, g->values[v].name);
        for (int tb = 0; tb < 2 && st == ONNXC_OK; tb++) {
            const oc_sgemm_pb *pb;
            if (variants >> tb & 1) st = oc_pack_cache_get(packs, v, &g->values[v].init, tb, &pb, what, err);
        }
        if (st != ONNXC_OK) break;
        free_original(&g->values[v]);
        /* Sessions planned before this call may read the freed bytes (an
         * unfused node): the same signal as a training step makes them
         * re-plan before their next run. */
        m->weights_generation++;
    }
    oc_free(reads);
    return st;
}

onnxc_status oc_model_unpack_released(const onnxc_model *m, int v, void **out, onnxc_error *err)
{
    const oc_value *val = &m->graph.values[v];
    oc_sgemm_pb *const *slots = m->packs ? &m->packs->packed[(size_t)v * 2] : NULL;
    const int tb = slots && slots[0] ? 0 : 1;
    const oc_sgemm_pb *pb = slots ? slots[tb] : NULL;
    if (!val->released || !pb)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "weight '%s' has no data (internal error)", val->name);
    const int64_t rows = val->init.shape.dims[0], cols = val->init.shape.dims[1];
    float *w = oc_aligned_alloc((size_t)(rows * cols) * sizeof(float));
    if (!w)
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory unpacking weight '%s' [%lld,%lld]", val->name,
                       (long long)rows, (long long)cols);
    oc_sgemm_unpack_b(pb, tb, w, cols);
    *out = w;
    return ONNXC_OK;
}

void oc_model_free_packs(onnxc_model *m)
{
    if (!m->packs) return;
    oc_pack_cache_free(m->packs);
    oc_free(m->packs);
    m->packs = NULL;
}
