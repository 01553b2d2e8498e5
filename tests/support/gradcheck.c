#include "gradcheck.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fwd {
    oc_tensor out[NB_MAX_IO];
    oc_tensor *outp[NB_MAX_IO];
    void *ws, *saved;
    size_t ws_bytes;
    oc_op_ctx ctx;
    uint64_t rng;
} fwd;

static double get(const oc_tensor *t, int64_t i)
{
    return t->dtype == ONNXC_DOUBLE ? ((double *)t->data)[i] : ((float *)t->data)[i];
}

static void set(oc_tensor *t, int64_t i, double v)
{
    if (t->dtype == ONNXC_DOUBLE) ((double *)t->data)[i] = v;
    else ((float *)t->data)[i] = (float)v;
}

static void fwd_free(fwd *f, int n_out)
{
    for (int k = 0; k < n_out; k++) free(f->out[k].data);
    free(f->ws);
    free(f->saved);
    memset(f, 0, sizeof *f);
}

/* Forward into fresh buffers; the same seed gives the same Dropout mask. */
static bool forward(nb_node *b, const oc_tensor *const *in, bool training, fwd *f, onnxc_error *err)
{
    memset(f, 0, sizeof *f);
    int n_out = b->node.n_out;
    for (int k = 0; k < n_out; k++) f->outp[k] = b->node.out[k] >= 0 ? &f->out[k] : NULL;
    if (nb_init(b, err) != ONNXC_OK) return false;
    f->rng = 12345;
    f->ctx = (oc_op_ctx){.node = &b->node, .n_in = b->node.n_in, .n_out = n_out, .in = in,
                         .out = f->outp, .nthreads = 1, .rng = &f->rng, .err = err,
                         .training = training};
    size_t ws = 0;
    if (b->node.op->infer(&f->ctx, &ws) != ONNXC_OK) return false;
    size_t bw = b->node.op->backward_workspace ? b->node.op->backward_workspace(&f->ctx) : 0;
    f->ws_bytes = ws > bw ? ws : bw;
    f->ws = aligned_alloc(64, ((f->ws_bytes ? f->ws_bytes : 64) + 63) & ~(size_t)63);
    f->saved = f->ctx.saved_bytes ? aligned_alloc(64, (f->ctx.saved_bytes + 63) & ~(size_t)63) : NULL;
    for (int k = 0; k < n_out; k++) {
        if (!f->outp[k]) continue;
        size_t bytes;
        oc_shape_bytes(&f->out[k].shape, f->out[k].dtype, &bytes);
        f->out[k].data = aligned_alloc(64, ((bytes ? bytes : 64) + 63) & ~(size_t)63);
        memset(f->out[k].data, 0, bytes);
    }
    f->ctx.workspace = f->ws;
    f->ctx.workspace_bytes = f->ws_bytes;
    f->ctx.saved = f->saved;
    return b->node.op->run(&f->ctx) == ONNXC_OK;
}

static double objective(const fwd *f, int n_out, oc_tensor *const *dy)
{
    double L = 0.0;
    for (int k = 0; k < n_out; k++) {
        if (!dy[k] || !f->outp[k]) continue;
        int64_t n = oc_tensor_numel(&f->out[k]);
        for (int64_t i = 0; i < n; i++) L += get(&f->out[k], i) * get(dy[k], i);
    }
    return L;
}

bool gc_check(nb_node *b, const oc_tensor *const *in, uint32_t check, const gc_options *opt,
              char *msg, size_t msg_size)
{
    onnxc_error err;
    int n_in = b->node.n_in, n_out = b->node.n_out;
    if (!b->node.op || !b->node.op->backward) {
        snprintf(msg, msg_size, "%s has no backward", b->node.op_type);
        return false;
    }
    fwd f;
    if (!forward(b, in, opt->training, &f, &err)) {
        snprintf(msg, msg_size, "forward failed: %s", err.message);
        fwd_free(&f, n_out);
        return false;
    }
    /* Upstream gradients for float outputs only (masks, indices get none). */
    oc_tensor dyt[NB_MAX_IO];
    oc_tensor *dy[NB_MAX_IO] = {0};
    unsigned s = opt->seed ? opt->seed : 1;
    for (int k = 0; k < n_out; k++) {
        if (!f.outp[k] || !oc_dtype_is_float(f.out[k].dtype)) continue;
        dyt[k] = f.out[k];
        size_t bytes;
        oc_shape_bytes(&dyt[k].shape, dyt[k].dtype, &bytes);
        dyt[k].data = malloc(bytes ? bytes : 8);
        for (int64_t i = 0; i < oc_tensor_numel(&dyt[k]); i++) {
            s = s * 1103515245u + 12345u;
            set(&dyt[k], i, ((s >> 8) & 0xffff) / 32768.0 - 1.0);
        }
        dy[k] = &dyt[k];
    }
    /* Analytic, twice: backward must accumulate. */
    oc_tensor dxt[NB_MAX_IO];
    oc_tensor *dx[NB_MAX_IO] = {0};
    for (int i = 0; i < n_in; i++) {
        if (!((check >> i) & 1) || !in[i]) continue;
        dxt[i] = *in[i];
        size_t bytes;
        oc_shape_bytes(&dxt[i].shape, dxt[i].dtype, &bytes);
        dxt[i].data = calloc(1, bytes ? bytes : 8);
        dx[i] = &dxt[i];
    }
    bool ok = true;
    for (int rep = 0; rep < 2 && ok; rep++) {
        oc_op_ctx ctx = f.ctx;
        ctx.err = &err;
        if (b->node.op->backward(&ctx, (const oc_tensor *const *)dy, dx) != ONNXC_OK) {
            snprintf(msg, msg_size, "backward failed: %s", err.message);
            ok = false;
        }
    }
    /* Numeric, element by element; compare with half the doubled analytic. */
    for (int i = 0; i < n_in && ok; i++) {
        if (!dx[i]) continue;
        oc_tensor xi = *in[i];
        size_t bytes;
        oc_shape_bytes(&xi.shape, xi.dtype, &bytes);
        xi.data = malloc(bytes ? bytes : 8);
        memcpy(xi.data, in[i]->data, bytes);
        const oc_tensor *ins[NB_MAX_IO];
        for (int j = 0; j < n_in; j++) ins[j] = in[j];
        ins[i] = &xi;
        for (int64_t e = 0; e < oc_tensor_numel(&xi) && ok; e++) {
            double x0 = get(&xi, e), Lp, Lm;
            fwd g;
            set(&xi, e, x0 + opt->h);
            forward(b, ins, opt->training, &g, &err);
            Lp = objective(&g, n_out, dy);
            fwd_free(&g, n_out);
            set(&xi, e, x0 - opt->h);
            forward(b, ins, opt->training, &g, &err);
            Lm = objective(&g, n_out, dy);
            fwd_free(&g, n_out);
            set(&xi, e, x0);
            double num = (Lp - Lm) / (2 * opt->h), ana = get(dx[i], e) / 2;
            double scale = fmax(1.0, fmax(fabs(num), fabs(ana)));
            if (!(fabs(num - ana) <= opt->tol * scale)) {
                snprintf(msg, msg_size, "%s: d/d input %d [%lld]: backward %.8g, finite difference %.8g",
                         b->node.op_type, i, (long long)e, ana, num);
                ok = false;
            }
        }
        free(xi.data);
    }
    for (int k = 0; k < n_out; k++) if (dy[k]) free(dyt[k].data);
    for (int i = 0; i < n_in; i++) if (dx[i]) free(dxt[i].data);
    fwd_free(&f, n_out);
    return ok;
}
