/* Data-parallel steps over the caller's transport (see dist.h). */
#include "dist.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"

#define DEFAULT_BUCKET_BYTES ((size_t)4 << 20)

struct oc_dist {
    onnxc_distributed cfg;       /* the caller's rank, size and callbacks */
    /* Buckets: contiguous ranges of whole parameters in grad_flat, bucket b
     * holding parameters [param[b], param[b + 1]) and floats
     * [start[b], start[b + 1]) (alignment padding included). They are
     * started from the last (the output layer's, done first by backward) to
     * the first; bucket 0 always last, after all of backward, so that a rank
     * whose backward fails still has a bucket to poison. */
    int n_buckets;
    size_t *param;               /* [n_buckets + 1] */
    size_t *start;               /* [n_buckets + 1] */
    void **handle;               /* [n_buckets] the transport's handle per bucket */
    int *ready_after;            /* [n_buckets] last backward step writing into it, -1: none */
    int *param_last;             /* [params.count] scratch for ready_after */
    /* The step in progress. */
    size_t global_rows;
    int started, waited;         /* buckets, counted in start order */
    bool reduced;                /* every bucket summed and waited for */
    bool broken;                 /* a callback failed: no collective is safe any more */
};

void oc_dist_free(oc_dist *d)
{
    if (!d) return;
    oc_free(d->param);
    oc_free(d->start);
    oc_free(d->handle);
    oc_free(d->ready_after);
    oc_free(d->param_last);
    oc_free(d);
}

int oc_dist_rank(const oc_dist *d) { return d ? d->cfg.rank : 0; }
int oc_dist_world(const oc_dist *d) { return d ? d->cfg.world_size : 1; }

uint64_t oc_dist_layout_hash(const oc_dist *d)
{
    uint64_t h = oc_dist_hash(0, &d->n_buckets, sizeof d->n_buckets);
    return oc_dist_hash(h, d->start, ((size_t)d->n_buckets + 1) * sizeof *d->start);
}

size_t oc_dist_shard_begin(size_t n, int r, int world)
{
    return (size_t)(((unsigned __int128)n * (unsigned)r) / (unsigned)world);
}

/* Cut the parameters into buckets of at least `limit` bytes, from the end. */
static onnxc_status make_buckets(oc_dist *d, const oc_param_set *p, size_t limit, onnxc_error *err)
{
    size_t count = p->count, n = 0;
    size_t *cut = oc_calloc(count + 2, sizeof *cut); /* first parameter of each bucket, last bucket first */
    if (!cut) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    size_t bytes = 0;
    for (size_t i = count; i-- > 0;) {
        size_t end = i + 1 < count ? p->offset[i + 1] : p->total;
        bytes += (end - p->offset[i]) * sizeof(float);
        if (bytes >= limit || i == 0) {
            cut[n++] = i;
            bytes = 0;
        }
    }
    d->n_buckets = (int)n;
    d->param = oc_calloc(n + 1, sizeof *d->param);
    d->start = oc_calloc(n + 1, sizeof *d->start);
    d->handle = oc_calloc(n + 1, sizeof *d->handle);
    d->ready_after = oc_calloc(n + 1, sizeof *d->ready_after);
    d->param_last = oc_calloc(count + 1, sizeof *d->param_last);
    if (!d->param || !d->start || !d->handle || !d->ready_after || !d->param_last) {
        oc_free(cut);
        return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    }
    for (size_t b = 0; b < n; b++) {
        d->param[b] = cut[n - 1 - b];
        d->start[b] = p->offset[d->param[b]];
    }
    d->param[n] = count;
    d->start[n] = p->total;
    oc_free(cut);
    return ONNXC_OK;
}

onnxc_status onnxc_trainer_set_distributed(onnxc_trainer *t, const onnxc_distributed *cfg, onnxc_error *err)
{
    if (!t) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_set_distributed: NULL trainer");
    oc_column_state_release(t); /* ranks compare and step the flat optimizer state */
    if (cfg && (cfg->world_size < 1 || cfg->rank < 0 || cfg->rank >= cfg->world_size))
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "distributed: expected 0 <= rank < world_size, got rank %d of %d",
                       cfg->rank, cfg->world_size);
    if (cfg && (!cfg->allreduce_start || !cfg->allreduce_wait || !cfg->allreduce_doubles || !cfg->agree))
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "distributed: allreduce_start, allreduce_wait, allreduce_doubles and agree are required");
    oc_dist *d = NULL;
    if (cfg) {
        d = oc_calloc(1, sizeof *d);
        if (!d) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
        d->cfg = *cfg;
        size_t limit = cfg->bucket_bytes ? cfg->bucket_bytes : DEFAULT_BUCKET_BYTES;
        onnxc_status st = make_buckets(d, &t->params, limit, err);
        if (st != ONNXC_OK) {
            oc_dist_free(d);
            return st;
        }
    }
    oc_dist_free(t->dist);
    t->dist = d;
    return ONNXC_OK;
}

/* "rank R: " before the message (once), so every rank can say whose it is. */
static void prefix_rank(const oc_dist *d, onnxc_error *e)
{
    char tag[32];
    int n = snprintf(tag, sizeof tag, "rank %d: ", d->cfg.rank);
    if (!strncmp(e->message, tag, (size_t)n)) return;
    size_t len = strnlen(e->message, sizeof e->message - 1);
    if (len + (size_t)n >= sizeof e->message) len = sizeof e->message - 1 - (size_t)n;
    memmove(e->message + n, e->message, len);
    memcpy(e->message, tag, (size_t)n);
    e->message[len + (size_t)n] = '\0';
}

/* A callback failed: report it on this rank and stop all collective work. */
static onnxc_status transport_failed(oc_dist *d, onnxc_status st, onnxc_error *err, const char *what)
{
    d->broken = true;
    if (st == ONNXC_OK) st = ONNXC_ERR_RUNTIME;
    if (err) {
        err->status = st;
        if (!err->message[0]) snprintf(err->message, sizeof err->message, "%s failed", what);
        oc_prefix(err, "distributed %s", what);
        prefix_rank(d, err);
    }
    return st;
}

static onnxc_status check_usable(oc_dist *d, onnxc_error *err)
{
    if (!d->broken) return ONNXC_OK;
    return oc_fail(err, ONNXC_ERR_RUNTIME,
                   "rank %d: a distributed callback failed earlier; no more collective calls are possible",
                   d->cfg.rank);
}

onnxc_status oc_dist_sum(onnxc_trainer *t, double *v, size_t n, onnxc_error *err)
{
    oc_dist *d = t->dist;
    OC_TRY(check_usable(d, err));
    onnxc_error e = {0};
    onnxc_status st = d->cfg.allreduce_doubles(d->cfg.user, v, n, &e);
    if (st != ONNXC_OK) {
        st = transport_failed(d, st, &e, "allreduce_doubles");
        if (err) *err = e;
    }
    return st;
}

onnxc_status oc_dist_agree(onnxc_trainer *t, onnxc_status st, onnxc_error *err)
{
    oc_dist *d = t->dist;
    OC_TRY(check_usable(d, err));
    onnxc_error out = {.status = st};
    if (st != ONNXC_OK) {
        if (err && err->message[0]) memcpy(out.message, err->message, sizeof out.message);
        else snprintf(out.message, sizeof out.message, "%s", onnxc_status_name(st));
        prefix_rank(d, &out);
    }
    onnxc_status ts = d->cfg.agree(d->cfg.user, &out);
    if (ts != ONNXC_OK) {
        ts = transport_failed(d, ts, &out, "agree");
        if (err) *err = out;
        return ts;
    }
    if (out.status != ONNXC_OK && err) *err = out;
    return out.status;
}

/* --- the gradient sums of one step ---------------------------------------- */

static void begin_step(oc_dist *d, size_t global_rows)
{
    d->global_rows = global_rows;
    d->started = d->waited = 0;
    d->reduced = false;
}

/* Start the next bucket's sum (they go from the last to the first). */
static onnxc_status start_bucket(onnxc_trainer *t, onnxc_error *err)
{
    oc_dist *d = t->dist;
    int b = d->n_buckets - 1 - d->started;
    float *data = t->grad_flat + d->start[b];
    size_t count = d->start[b + 1] - d->start[b];
    onnxc_error e = {0};
    onnxc_status st = d->cfg.allreduce_start(d->cfg.user, data, count, &d->handle[b], &e);
    if (st != ONNXC_OK) {
        st = transport_failed(d, st, &e, "allreduce_start");
        if (err) *err = e;
        return st;
    }
    d->started++;
    return ONNXC_OK;
}

static onnxc_status wait_started(onnxc_trainer *t, onnxc_error *err)
{
    oc_dist *d = t->dist;
    while (d->waited < d->started) {
        int b = d->n_buckets - 1 - d->waited;
        onnxc_error e = {0};
        onnxc_status st = d->cfg.allreduce_wait(d->cfg.user, d->handle[b], &e);
        d->handle[b] = NULL;
        if (st != ONNXC_OK) {
            st = transport_failed(d, st, &e, "allreduce_wait");
            if (err) *err = e;
            return st;
        }
        d->waited++;
    }
    return ONNXC_OK;
}

/* Start whatever is left, wait for everything. */
static onnxc_status finish_sums(onnxc_trainer *t, onnxc_error *err)
{
    oc_dist *d = t->dist;
    while (d->started < d->n_buckets) OC_TRY(start_bucket(t, err));
    OC_TRY(wait_started(t, err));
    d->reduced = true;
    return ONNXC_OK;
}

void oc_dist_scale_loss_grad(const oc_dist *d, float *grad, int64_t rows, int64_t k)
{
    if (!grad || d->global_rows == 0 || (size_t)rows == d->global_rows) return;
    /* The loss made it a mean over `rows`; scaled in double, so this adds
     * one float rounding, not two. */
    const double scale = (double)rows / (double)d->global_rows;
    for (int64_t i = 0; i < rows * k; i++) grad[i] = (float)((double)grad[i] * scale);
}

/* For each bucket, the last backward step that adds into one of its
 * parameters' gradients: after it the bucket is final. */
static void find_ready(onnxc_trainer *t, const oc_train_plan *tp)
{
    oc_dist *d = t->dist;
    const oc_param_set *p = &t->params;
    for (size_t i = 0; i < p->count; i++) d->param_last[i] = -1;
    const float *lo = t->grad_flat, *hi = t->grad_flat + p->total;
    for (int s = 0; s < tp->n_bsteps; s++) {
        const oc_bstep *b = &tp->bsteps[s];
        for (int k = 0; k < b->fwd->ctx.n_in; k++) {
            const float *g = b->din[k] ? b->din[k]->data : NULL;
            if (!g || g < lo || g >= hi) continue;
            size_t off = (size_t)(g - lo), a = 0, z = p->count; /* last param with offset <= off */
            while (z - a > 1) {
                size_t m = (a + z) / 2;
                if (p->offset[m] <= off) a = m;
                else z = m;
            }
            d->param_last[a] = s;
        }
    }
    for (int b = 0; b < d->n_buckets; b++) {
        int last = -1;
        for (size_t i = d->param[b]; i < d->param[b + 1]; i++)
            if (d->param_last[i] > last) last = d->param_last[i];
        d->ready_after[b] = last;
    }
}

/* Run backward steps [from, to) of tp. The plan's own backward is reused
 * on a window of its step list, so that whatever it does per step stays in
 * one place (train_plan.c). */
static onnxc_status backward_range(oc_train_plan *tp, int from, int to, onnxc_error *err)
{
    oc_bstep *all = tp->bsteps;
    int n = tp->n_bsteps;
    tp->bsteps = all + from;
    tp->n_bsteps = to - from;
    onnxc_status st = oc_train_plan_backward(tp, err);
    tp->bsteps = all;
    tp->n_bsteps = n;
    return st;
}

onnxc_status oc_dist_backward(onnxc_trainer *t, oc_train_plan *tp, onnxc_error *err)
{
    oc_dist *d = t->dist;
    find_ready(t, tp);
    const int n = tp->n_bsteps;
    int done = 0;
    for (;;) {
        /* Start each complete bucket but bucket 0, in order. */
        while (d->started < d->n_buckets - 1 && d->ready_after[d->n_buckets - 1 - d->started] < done)
            OC_TRY(start_bucket(t, err));
        if (done == n) break;
        int stop = n;
        if (d->started < d->n_buckets - 1) stop = d->ready_after[d->n_buckets - 1 - d->started] + 1;
        /* While sums are in flight, one step at a time, polling between. */
        bool in_flight = d->waited < d->started && d->cfg.allreduce_poll;
        if (in_flight) stop = done + 1;
        OC_TRY(backward_range(tp, done, stop, err));
        done = stop;
        if (in_flight) d->cfg.allreduce_poll(d->cfg.user, d->handle[d->n_buckets - 1 - d->waited]);
    }
    return finish_sums(t, err);
}

/*
 * End a step that failed with `st` on this rank (message in err) or saw a
 * non-finite sum: finish the step's sums (with NaN in every bucket not yet
 * started, so no rank is left waiting and every rank's sum is poisoned),
 * then agree on whose failure it was.
 */
static onnxc_status settle(onnxc_trainer *t, onnxc_status st, onnxc_error *err)
{
    oc_dist *d = t->dist;
    if (st == ONNXC_OK || d->broken) return st;
    /* Our own failure, unless we merely summed a NaN: after the sums only
     * the update's finiteness check can fail, and it sees the same sum on
     * every rank. (A gradient that overflows while the loss stays finite is
     * thus nobody's own: every rank reports it without a rank. Checking each
     * rank's gradient before the sum would name the rank, but costs a pass
     * over all P gradients every step.) */
    bool own = !d->reduced;
    if (!d->reduced) {
        int unstarted = d->n_buckets - d->started; /* buckets [0, unstarted) */
        if (unstarted > 0)
            for (size_t i = d->start[0]; i < d->start[unstarted]; i++) t->grad_flat[i] = NAN;
        onnxc_error e = {0};
        onnxc_status ts = finish_sums(t, &e);
        if (ts != ONNXC_OK) {
            if (err) *err = e;
            return ts;
        }
    }
    /* Backward overwrites or zeroes the parameters' slots each step but
     * never touches the alignment padding between them, which is summed too:
     * it must not keep the NaN for the next step. */
    memset(t->grad_flat, 0, t->params.total * sizeof(float));
    onnxc_error mine = {0};
    if (err) mine = *err;
    onnxc_status agreed = oc_dist_agree(t, own ? st : ONNXC_OK, &mine);
    if (agreed == ONNXC_OK) return st; /* nobody's own: the sum overflowed; same message everywhere */
    if (err) *err = mine;
    return agreed;
}

/* A rank without rows in this batch still sums (zeros) and updates. */
static onnxc_status empty_step(onnxc_trainer *t, onnxc_error *err)
{
    if (t->params.count == 0)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: nothing to train: no float initializer reaches the output",
                       t->model->label);
    memset(t->grad_flat, 0, t->params.total * sizeof(float));
    OC_TRY(finish_sums(t, err));
    return oc_trainer_update(t, t->nthreads, err);
}

static onnxc_status step_distributed(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                     size_t global_rows, onnxc_batch_result *result, onnxc_error *err)
{
    if (!t) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_step_distributed: NULL trainer");
    oc_column_state_release(t);
    oc_dist *d = t->dist;
    if (!d) {
        if (global_rows && (!x || x->rank < 1 || (size_t)x->dims[0] != global_rows))
            return oc_fail(err, ONNXC_ERR_ARGUMENT,
                           "onnxc_trainer_step_distributed: global_rows %zu on a trainer that is not distributed; "
                           "expected 0 or x's rows", global_rows);
        return oc_trainer_step_local(t, x, y, result, err);
    }
    OC_TRY(check_usable(d, err));
    if (result) *result = (onnxc_batch_result){0};
    bool empty = !x || (x->rank >= 1 && x->dims[0] == 0);
    size_t rows = !empty && x->rank >= 1 && x->dims[0] > 0 ? (size_t)x->dims[0] : 0;
    if (global_rows == 0) {
        double g = (double)rows;
        OC_TRY(oc_dist_sum(t, &g, 1, err));
        global_rows = (size_t)g;
    }
    begin_step(d, global_rows);
    onnxc_status st;
    if (global_rows == 0)
        st = oc_fail(err, ONNXC_ERR_ARGUMENT, "the global batch is empty: no rank has rows");
    else if (rows > global_rows)
        st = oc_fail(err, ONNXC_ERR_ARGUMENT, "this rank has %zu rows, more than the global batch of %zu", rows,
                     global_rows);
    else if (empty)
        st = empty_step(t, err);
    else
        st = oc_trainer_step_local(t, x, y, result, err);
    return settle(t, st, err);
}

onnxc_status onnxc_trainer_step_distributed(onnxc_trainer *t, const onnxc_tensor *x, const onnxc_tensor *y,
                                            size_t global_rows, onnxc_batch_result *result, onnxc_error *err)
{
    const oc_fp_env caller = oc_trainer_fp_enter(t);
    const onnxc_status st = step_distributed(t, x, y, global_rows, result, err);
    oc_fp_env_swap(caller);
    return st;
}

onnxc_status oc_dist_fail_step(onnxc_trainer *t, onnxc_status st, onnxc_error *err)
{
    OC_TRY(check_usable(t->dist, err));
    begin_step(t->dist, 0);
    return settle(t, st, err);
}

/* --- consistency checks ----------------------------------------------------- */

uint64_t oc_dist_hash(uint64_t h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    const uint64_t mul = 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (; i + 8 <= bytes; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * mul;
        h ^= h >> 29;
    }
    for (; i < bytes; i++) {
        h = (h ^ p[i]) * mul;
        h ^= h >> 29;
    }
    return (h ^ bytes) * mul;
}

/*
 * A 64-bit hash is equal on all N ranks iff each of its three 20-bit pieces
 * a is: sum(a) and sum(a^2) are summed exactly in doubles (a^2 < 2^40, N
 * below 2^13), and N * sum(a^2) == sum(a)^2 holds iff all a are equal
 * (Cauchy-Schwarz), compared exactly in 128-bit integers.
 */
onnxc_status oc_dist_check_same(onnxc_trainer *t, const uint64_t *hash, const char *const *what, size_t n,
                                const char *hint, double *extra, size_t n_extra, onnxc_error *err)
{
    oc_dist *d = t->dist;
    if (n > OC_DIST_MAX_CHECKS || n_extra > OC_DIST_MAX_EXTRA)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "oc_dist_check_same: too many values");
    double v[OC_DIST_MAX_CHECKS * 6 + OC_DIST_MAX_EXTRA];
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (int piece = 0; piece < 3; piece++) {
            double a = (double)((hash[i] >> (20 * piece)) & 0xfffffu);
            v[m++] = a;
            v[m++] = a * a;
        }
    for (size_t i = 0; i < n_extra; i++) v[m++] = extra[i];
    OC_TRY(oc_dist_sum(t, v, m, err));
    for (size_t i = 0; i < n_extra; i++) extra[i] = v[n * 6 + i];
    const unsigned __int128 world = (unsigned)d->cfg.world_size;
    for (size_t i = 0; i < n; i++)
        for (int piece = 0; piece < 3; piece++) {
            unsigned __int128 s = (unsigned __int128)(uint64_t)v[i * 6 + 2 * piece];
            unsigned __int128 s2 = (unsigned __int128)(uint64_t)v[i * 6 + 2 * piece + 1];
            if (world * s2 != s * s)
                return oc_fail(err, ONNXC_ERR_ARGUMENT, "the %d ranks' %s differ: %s", d->cfg.world_size,
                               what[i], hint);
        }
    return ONNXC_OK;
}
