#include "optim.h"

#include <math.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "kernels/optim_update.h"
#include "parallel.h"

void onnxc_optimizer_defaults(onnxc_optimizer_kind kind, onnxc_optimizer *o)
{
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->epsilon = 1e-7;
    o->beta_1 = 0.9;
    o->beta_2 = 0.999;
    o->rho = 0.9;
    switch (kind) {
    case ONNXC_OPT_SGD: o->learning_rate = 0.01; break;
    case ONNXC_OPT_MOMENTUM:
    case ONNXC_OPT_NESTEROV: o->learning_rate = 0.01; o->momentum = 0.9; break;
    case ONNXC_OPT_ADAM: o->learning_rate = 0.001; break;
    case ONNXC_OPT_ADAMW: o->learning_rate = 0.001; o->weight_decay = 0.004; break;
    case ONNXC_OPT_RMSPROP: o->learning_rate = 0.001; break;
    case ONNXC_OPT_ADAGRAD: o->learning_rate = 0.001; o->initial_accumulator_value = 0.1; break;
    }
}

static const char *const optimizer_names[] = {
    [ONNXC_OPT_SGD] = "sgd", [ONNXC_OPT_MOMENTUM] = "momentum", [ONNXC_OPT_NESTEROV] = "nesterov",
    [ONNXC_OPT_ADAM] = "adam", [ONNXC_OPT_ADAMW] = "adamw", [ONNXC_OPT_RMSPROP] = "rmsprop",
    [ONNXC_OPT_ADAGRAD] = "adagrad",
};

onnxc_status onnxc_optimizer_from_name(const char *name, onnxc_optimizer *out, onnxc_error *err)
{
    for (size_t i = 0; i < sizeof optimizer_names / sizeof optimizer_names[0]; i++)
        if (name && !strcmp(name, optimizer_names[i])) {
            onnxc_optimizer_defaults((onnxc_optimizer_kind)i, out);
            return ONNXC_OK;
        }
    return oc_fail(err, ONNXC_ERR_ARGUMENT,
                   "unknown optimizer '%s': expected sgd, momentum, nesterov, adam, adamw, rmsprop or adagrad",
                   name ? name : "");
}

int oc_optim_slots(onnxc_optimizer_kind kind)
{
    switch (kind) {
    case ONNXC_OPT_SGD: return 0;
    case ONNXC_OPT_ADAM: case ONNXC_OPT_ADAMW: return 2;
    default: return 1;
    }
}

onnxc_status oc_optim_init(oc_optim_state *s, const onnxc_optimizer *hp, size_t total, onnxc_error *err)
{
    memset(s, 0, sizeof *s);
    s->hp = *hp;
    int slots = oc_optim_slots(hp->kind);
    if (slots >= 1 && !(s->slot1 = oc_aligned_alloc(total * sizeof(float))))
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for optimizer state");
    if (slots >= 2 && !(s->slot2 = oc_aligned_alloc(total * sizeof(float)))) {
        oc_optim_free(s);
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for optimizer state");
    }
    float init = hp->kind == ONNXC_OPT_ADAGRAD ? (float)hp->initial_accumulator_value : 0.0f;
    for (size_t i = 0; s->slot1 && i < total; i++) s->slot1[i] = init;
    if (s->slot2) memset(s->slot2, 0, total * sizeof(float));
    return ONNXC_OK;
}

void oc_optim_free(oc_optim_state *s)
{
    oc_aligned_free(s->slot1);
    oc_aligned_free(s->slot2);
    s->slot1 = s->slot2 = NULL;
}

void oc_optim_coef_next(const oc_optim_state *s, oc_optim_coef *c)
{
    const onnxc_optimizer *h = &s->hp;
    /* Adam's bias corrections folded into the step size, as Keras does:
     * alpha = lr * sqrt(1 - b2^t) / (1 - b1^t). Computed in double once. */
    const double t = (double)(s->iterations + 1);
    *c = (oc_optim_coef){
        .kind = h->kind, .lr = (float)h->learning_rate,
        .alpha = (float)(h->learning_rate * sqrt(1.0 - pow(h->beta_2, t)) / (1.0 - pow(h->beta_1, t))),
        .b1 = (float)h->beta_1, .b2 = (float)h->beta_2, .eps = (float)h->epsilon,
        .momentum = (float)h->momentum, .rho = (float)h->rho,
        .decay = h->kind == ONNXC_OPT_ADAMW ? (float)(h->learning_rate * h->weight_decay) : 0.0f};
}

void oc_optim_count_step(oc_optim_state *s) { s->iterations++; }

void oc_optim_update_range(const oc_optim_state *s, const oc_optim_coef *c, const oc_param_set *p,
                           const float *grad, size_t lo, size_t hi, bool streamed)
{
    void (*update)(const oc_optim_coef *, float *, const float *, float *, float *, int64_t) =
        streamed ? oc_optim_update_streamed : oc_optim_update;
    for (size_t i = 0; i < p->count; i++) {
        /* Parameter i holds flat elements [offset, offset + size). */
        size_t a = p->offset[i] > lo ? p->offset[i] : lo;
        size_t b = p->offset[i] + p->size[i] < hi ? p->offset[i] + p->size[i] : hi;
        if (a >= b) continue;
        size_t at = a - p->offset[i];
        update(c, p->data[i] + at, grad + a, s->slot1 ? s->slot1 + a : NULL, s->slot2 ? s->slot2 + a : NULL,
               (int64_t)(b - a));
    }
}

void oc_optim_update_block(const oc_optim_state *s, const oc_optim_coef *c, const oc_param_set *p,
                           const float *grad, const oc_param_block *b)
{
    const size_t at = p->offset[b->param] + b->first; /* in the flat layout */
    oc_optim_update_2d(c, b->rows, b->cols, p->data[b->param] + b->first, b->ld, grad + at,
                       s->slot1 ? s->slot1 + at : NULL, s->slot2 ? s->slot2 + at : NULL, b->ld);
}

void oc_optim_step(oc_optim_state *s, const oc_param_set *p, const float *grad, int nthreads)
{
    oc_optim_coef c;
    oc_optim_coef_next(s, &c);
    s->iterations++;
    /* Threads split the flat range (padding included, skipped by the range
     * update) only when it is worth a team start (~1-2 us while the team is
     * still spinning from the step's GEMMs): Adam costs ~0.15 ns of divide
     * and square root per element, ~2.5 us per 16k. Element-wise: the split
     * never changes a result. */
    const int parts = p->total > 16384 && nthreads > 1 ? nthreads : 1;
    OC_PAR_FOR(parts, k, {
        int64_t lo, hi;
        oc_split_range((int64_t)p->total, parts, k, &lo, &hi);
        oc_optim_update_range(s, &c, p, grad, (size_t)lo, (size_t)hi, false);
    });
}
