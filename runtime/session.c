/* onnxc_session: binds caller tensors to a plan, rebuilding it when shapes change. */
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "alloc.h"
#include "pack_cache.h"
#include "plan.h"

struct onnxc_session {
    const onnxc_model *model;
    int nthreads;
    uint64_t rng;
    bool planned;
    oc_plan plan;
    oc_pack_cache packs;         /* packed weights, shared by successive plans */
    oc_tensor *bound;            /* [n_inputs] inputs in graph order for this run */
};

static int default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

onnxc_status onnxc_session_create(const onnxc_model *model, const onnxc_session_options *options,
                                  onnxc_session **out, onnxc_error *err)
{
    if (!model || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_session_create: NULL argument");
    *out = NULL;
    OC_TRY(oc_model_require_supported(model, err));
    onnxc_session *s = oc_calloc(1, sizeof *s);
    if (!s) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory creating a session");
    s->bound = oc_calloc((size_t)model->graph.n_inputs + 1, sizeof *s->bound);
    if (!s->bound ||
        oc_pack_cache_init(&s->packs, model->graph.n_values, model->weights_generation, err) != ONNXC_OK) {
        oc_free(s->bound);
        oc_free(s);
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory creating a session");
    }
    s->model = model;
    s->nthreads = options && options->threads > 0 ? options->threads : default_threads();
    s->rng = options && options->seed ? options->seed : 0x853c49e6748fea9bull;
    *out = s;
    return ONNXC_OK;
}

void onnxc_session_free(onnxc_session *s)
{
    if (!s) return;
    if (s->planned) oc_plan_free(&s->plan);
    oc_pack_cache_free(&s->packs);
    oc_free(s->bound);
    oc_free(s);
}

onnxc_status onnxc_session_set_threads(onnxc_session *s, int threads, onnxc_error *err)
{
    if (!s || threads < 0 || threads > 4096)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_session_set_threads: expected 0..4096 threads, got %d",
                       threads);
    s->nthreads = threads > 0 ? threads : default_threads();
    if (s->planned) oc_plan_set_threads(&s->plan, s->nthreads);
    return ONNXC_OK;
}

int onnxc_session_threads(const onnxc_session *s) { return s ? s->nthreads : 0; }

/* Orders the caller's inputs by graph position (by name when given). */
static onnxc_status bind_inputs(onnxc_session *s, const onnxc_tensor *inputs, size_t n,
                                onnxc_error *err)
{
    const oc_graph *g = &s->model->graph;
    if (n != (size_t)g->n_inputs)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "expected %d inputs, got %zu", g->n_inputs, n);
    for (int i = 0; i < g->n_inputs; i++) s->bound[i].dtype = ONNXC_UNDEFINED;
    for (size_t i = 0; i < n; i++) {
        const onnxc_tensor *t = &inputs[i];
        int slot = (int)i;
        if (t->name) {
            slot = -1;
            for (int k = 0; k < g->n_inputs; k++)
                if (!strcmp(g->values[g->inputs[k]].name, t->name)) slot = k;
            if (slot < 0) return oc_fail(err, ONNXC_ERR_ARGUMENT, "the model has no input named '%s'", t->name);
        }
        if (s->bound[slot].dtype != ONNXC_UNDEFINED)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "input '%s' is given twice",
                           g->values[g->inputs[slot]].name);
        if (t->rank < 0 || t->rank > OC_MAX_RANK)
            return oc_fail(err, ONNXC_ERR_SHAPE, "input '%s': rank %d is outside [0, %d]",
                           g->values[g->inputs[slot]].name, t->rank, OC_MAX_RANK);
        oc_tensor *b = &s->bound[slot];
        b->dtype = t->dtype == ONNXC_UNDEFINED ? ONNXC_STRING : t->dtype; /* STRING: refused below */
        b->shape.rank = t->rank;
        memcpy(b->shape.dims, t->dims, sizeof t->dims);
        b->data = t->data;
        size_t bytes;
        if (!t->data && oc_shape_bytes(&b->shape, b->dtype, &bytes) && bytes)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "input '%s' has no data", g->values[g->inputs[slot]].name);
    }
    return ONNXC_OK;
}

static onnxc_status deliver_outputs(onnxc_session *s, onnxc_tensor *outputs, size_t n,
                                    onnxc_error *err)
{
    const oc_graph *g = &s->model->graph;
    for (size_t i = 0; i < n; i++) {
        const oc_tensor *t = &s->plan.tensors[g->outputs[i]];
        onnxc_tensor *o = &outputs[i];
        size_t bytes = 0;
        oc_shape_bytes(&t->shape, t->dtype, &bytes);
        o->dtype = t->dtype;
        o->rank = t->shape.rank;
        memcpy(o->dims, t->shape.dims, sizeof o->dims);
        if (!o->data) {
            o->data = t->data;
            o->capacity = bytes;
            continue;
        }
        if (o->capacity < bytes)
            return oc_fail(err, ONNXC_ERR_SHAPE, "output '%s' needs %zu bytes, the buffer holds %zu",
                           g->values[g->outputs[i]].name, bytes, o->capacity);
        if (bytes) memcpy(o->data, t->data, bytes);
    }
    return ONNXC_OK;
}

onnxc_status onnxc_session_run(onnxc_session *s, const onnxc_tensor *inputs, size_t n_inputs,
                               onnxc_tensor *outputs, size_t n_outputs, onnxc_error *err)
{
    if (!s || (!inputs && n_inputs) || (!outputs && n_outputs))
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_session_run: NULL argument");
    const oc_graph *g = &s->model->graph;
    if (n_outputs > (size_t)g->n_outputs)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "asked for %zu outputs, the model has %d", n_outputs,
                       g->n_outputs);
    OC_TRY(bind_inputs(s, inputs, n_inputs, err));
    if (s->packs.generation != s->model->weights_generation) {
        /* A trainer or onnxc_model_weights_changed says the weights
         * changed: the packed copies and any value folded from them are
         * stale. */
        if (s->planned) oc_plan_free(&s->plan);
        s->planned = false;
        oc_pack_cache_clear(&s->packs);
        s->packs.generation = s->model->weights_generation;
    }
    if (!s->planned || !oc_plan_matches(&s->plan, s->bound)) {
        if (s->planned) oc_plan_free(&s->plan);
        /* An inference-only model's packed weights, even when the session
         * was created before onnxc_model_set_inference_only. */
        s->packs.shared = s->model->packs;
        s->planned = false;
        oc_plan_options opt = {.nthreads = s->nthreads, .rng = &s->rng, .packs = &s->packs};
        OC_TRY(oc_plan_build(&s->plan, s->model, s->bound, &opt, err));
        s->planned = true;
    }
    OC_TRY(oc_plan_run(&s->plan, s->bound, err));
    return deliver_outputs(s, outputs, n_outputs, err);
}
