/* onnxc_trainer_fit / onnxc_trainer_evaluate: Keras's fit() and evaluate(),
 * in one process or as one rank of a data-parallel group (dist.h). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "checkpoint.h"
#include "clock.h"
#include "dataset.h"
#include "dist.h"

/* splitmix64: the shuffle of epoch e depends only on (seed, e), so a resumed
 * run shuffles exactly like an uninterrupted one. */
static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void shuffle(int64_t *perm, size_t n, uint64_t seed, int epoch)
{
    uint64_t s = seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(epoch + 1));
    for (size_t i = n; i > 1; i--) {
        /* Lemire's multiply-shift maps 64 random bits onto [0, i). */
        size_t j = (size_t)(((unsigned __int128)splitmix(&s) * i) >> 64);
        int64_t tmp = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = tmp;
    }
}

typedef struct batch_buffers {
    float *x;                    /* [batch, sample_elems] */
    void *y;                     /* [batch, label_elems] */
    int64_t *rows;               /* [batch] */
} batch_buffers;

static onnxc_status alloc_batch(const onnxc_dataset *ds, size_t batch, batch_buffers *b, onnxc_error *err)
{
    b->x = oc_aligned_alloc(batch * ds->sample_elems * sizeof(float));
    b->y = oc_aligned_alloc(batch * ds->label_elems * 8);
    b->rows = oc_malloc(batch * sizeof *b->rows);
    if (!b->x || !b->y || !b->rows) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory for a batch of %zu", batch);
    return ONNXC_OK;
}

static void free_batch(batch_buffers *b)
{
    oc_aligned_free(b->x);
    oc_aligned_free(b->y);
    oc_free(b->rows);
}

static void batch_tensors(const onnxc_dataset *ds, const batch_buffers *b, size_t n, onnxc_tensor *x, onnxc_tensor *y)
{
    memset(x, 0, sizeof *x);
    memset(y, 0, sizeof *y);
    x->dtype = ONNXC_FLOAT;
    x->rank = ds->x_rank + 1;
    x->dims[0] = (int64_t)n;
    for (int d = 0; d < ds->x_rank; d++) x->dims[d + 1] = ds->x_dims[d];
    x->data = b->x;
    y->dtype = ds->y_type;
    y->rank = ds->y_type == ONNXC_FLOAT ? 2 : 1;
    y->dims[0] = (int64_t)n;
    y->dims[1] = (int64_t)ds->label_elems;
    y->data = b->y;
}

onnxc_status onnxc_trainer_evaluate(onnxc_trainer *t, const onnxc_dataset *data, int batch_size,
                                    double *loss, double *accuracy, uint64_t *confusion, size_t classes,
                                    onnxc_error *err)
{
    if (!t || !data) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_evaluate: NULL argument");
    size_t bs = batch_size > 0 ? (size_t)batch_size : 32;
    if (bs > data->n && data->n) bs = data->n;
    batch_buffers b = {0};
    onnxc_status st = alloc_batch(data, bs, &b, err);
    double loss_sum = 0.0;
    size_t correct = 0;
    for (size_t start = 0; st == ONNXC_OK && start < data->n; start += bs) {
        size_t n = data->n - start < bs ? data->n - start : bs;
        for (size_t i = 0; i < n; i++) b.rows[i] = (int64_t)(start + i);
        oc_dataset_gather(data, b.rows, n, b.x, b.y, oc_trainer_threads_lately(t));
        onnxc_tensor x, y;
        batch_tensors(data, &b, n, &x, &y);
        onnxc_batch_result r;
        st = onnxc_trainer_evaluate_batch(t, &x, &y, &r, confusion, classes, err);
        if (st != ONNXC_OK) break;
        loss_sum += r.loss * (double)n;
        correct += r.correct;
    }
    free_batch(&b);
    if (st != ONNXC_OK) return st;
    if (loss) *loss = data->n ? loss_sum / (double)data->n : 0.0;
    if (accuracy) *accuracy = data->n ? (double)correct / (double)data->n : 0.0;
    return ONNXC_OK;
}

/* One fit() call: what carries from epoch to epoch. */
typedef struct fit_run {
    onnxc_trainer *t;
    onnxc_fit_options o;
    onnxc_epoch_log *history;
    size_t history_capacity;
    int epochs;
    size_t bs;                   /* the global batch */
    onnxc_dataset *fit_set, *split_val;
    const onnxc_dataset *val;
    size_t n_train;
    oc_fit_state fs;
    batch_buffers b;             /* this rank's rows of one batch */
    int64_t *perm;               /* [n_train] the epoch's order */
    oc_dist *dist;               /* NULL: one process */
    int rank, world;             /* 0 and 1 for one process */
    bool stop_asked;             /* distributed: the progress callback asked to stop */
} fit_run;

static onnxc_status stopped(onnxc_error *err)
{
    return oc_fail(err, ONNXC_ERR_ARGUMENT, "training stopped by the progress callback");
}

/* Everything before the first epoch. No collective call, so that a rank
 * failing here can still agree with the others on it. */
static onnxc_status fit_setup(fit_run *r, const onnxc_dataset *train, onnxc_error *err)
{
    const onnxc_fit_options *o = &r->o;
    r->epochs = o->epochs > 0 ? o->epochs : 1;
    r->bs = o->batch_size > 0 ? (size_t)o->batch_size : 32;
    if (!train) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_fit: NULL argument");
    if (o->validation_split < 0 || o->validation_split >= 1)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "validation_split must be in [0, 1), got %g", o->validation_split);

    /* Keras takes the validation samples from the end, before shuffling. */
    r->val = o->validation;
    r->n_train = train->n;
    if (!r->val && o->validation_split > 0) {
        size_t n_val = (size_t)floor((double)train->n * o->validation_split);
        r->n_train = train->n - n_val;
        if (n_val == 0 || r->n_train == 0)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "validation_split %g leaves an empty set of %zu samples",
                           o->validation_split, train->n);
        OC_TRY(oc_dataset_slice(train, r->n_train, train->n, &r->split_val, err));
        r->val = r->split_val;
    }
    OC_TRY(oc_dataset_slice(train, 0, r->n_train, &r->fit_set, err));
    if (r->n_train == 0) return oc_fail(err, ONNXC_ERR_ARGUMENT, "the training set is empty");
    if (r->bs > r->n_train) r->bs = r->n_train;

    r->fs = (oc_fit_state){.epochs_done = 0, .batch_size = (int)r->bs};
    if (o->resume_path) {
        OC_TRY(oc_checkpoint_load(r->t, o->resume_path, &r->fs, err));
        if ((size_t)r->fs.batch_size != r->bs)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: checkpoint was trained with batch size %d, asked for %zu",
                           o->resume_path, r->fs.batch_size, r->bs);
    }
    r->perm = oc_malloc(r->n_train * sizeof *r->perm);
    if (!r->perm) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
    /* A rank's shard has at most ceil(bs / world) rows. */
    size_t rows = (r->bs + (size_t)r->world - 1) / (size_t)r->world;
    return alloc_batch(r->fit_set, rows, &r->b, err);
}

static void fit_free(fit_run *r)
{
    free_batch(&r->b);
    oc_free(r->perm);
    onnxc_dataset_free(r->fit_set);
    onnxc_dataset_free(r->split_val);
}

static uint64_t hash_dataset(uint64_t h, const onnxc_dataset *ds)
{
    if (!ds) return oc_dist_hash(h, "none", 4);
    size_t xsize = ds->x_type == ONNXC_UINT8 ? 1 : sizeof(float);
    size_t ysize = ds->y_type == ONNXC_INT64 ? sizeof(int64_t) : sizeof(float);
    uint64_t shape[4] = {ds->n, ds->sample_elems, ds->label_elems, (uint64_t)ds->x_type * 64 + ds->y_type};
    h = oc_dist_hash(h, shape, sizeof shape);
    h = oc_dist_hash(h, ds->x, ds->n * ds->sample_elems * xsize);
    return oc_dist_hash(h, ds->y, ds->n * ds->label_elems * ysize);
}

static uint64_t hash_weights(const onnxc_trainer *t)
{
    uint64_t h = 0;
    for (size_t i = 0; i < t->params.count; i++)
        h = oc_dist_hash(h, t->params.data[i], t->params.size[i] * sizeof(float));
    return h;
}

/* Before the first step: the ranks must hold the same model and state, the
 * same options and the same data, else their sums would not even match in
 * size (a hang or garbage). One small allreduce checks all three. */
static onnxc_status check_ranks_agree(fit_run *r, onnxc_error *err)
{
    const onnxc_trainer *t = r->t;
    const oc_optim_state *os = &t->optim;
    uint64_t h[3];
    h[0] = hash_weights(t);
    h[0] = oc_dist_hash(h[0], t->params.size, t->params.count * sizeof *t->params.size);
    if (os->slot1) h[0] = oc_dist_hash(h[0], os->slot1, t->params.total * sizeof(float));
    if (os->slot2) h[0] = oc_dist_hash(h[0], os->slot2, t->params.total * sizeof(float));
    uint64_t state[2] = {os->iterations, oc_dist_layout_hash(r->dist)};
    h[0] = oc_dist_hash(h[0], state, sizeof state);
    const onnxc_optimizer *hp = &os->hp;
    double hyper[8] = {hp->learning_rate, hp->beta_1, hp->beta_2, hp->epsilon, hp->momentum, hp->rho,
                       hp->weight_decay, hp->initial_accumulator_value};
    uint64_t opts[11] = {r->bs, (uint64_t)r->epochs, t->opt.seed, t->rng, r->o.no_shuffle, r->n_train,
                         r->val ? r->val->n : 0, (uint64_t)t->opt.loss, (uint64_t)hp->kind,
                         (uint64_t)r->fs.epochs_done, t->from_logits};
    h[1] = oc_dist_hash(oc_dist_hash(0, opts, sizeof opts), hyper, sizeof hyper);
    h[2] = hash_dataset(hash_dataset(0, r->fit_set), r->val);
    static const char *const what[3] = {"models, weights or optimizer states", "training options",
                                        "training or validation data"};
    return oc_dist_check_same(r->t, h, what, 3, "every rank must start from the same files and options", NULL, 0,
                              err);
}

/* This rank's share of the validation set: sums of loss, correct, count. */
static onnxc_status validate_shard(fit_run *r, double sums[3], onnxc_error *err)
{
    size_t lo = oc_dist_shard_begin(r->val->n, r->rank, r->world);
    size_t hi = oc_dist_shard_begin(r->val->n, r->rank + 1, r->world);
    sums[0] = sums[1] = sums[2] = 0.0;
    if (hi == lo) return ONNXC_OK;
    onnxc_dataset *part = NULL;
    OC_TRY(oc_dataset_slice(r->val, lo, hi, &part, err));
    double loss, accuracy;
    onnxc_status st = onnxc_trainer_evaluate(r->t, part, (int)r->bs, &loss, &accuracy, NULL, 0, err);
    onnxc_dataset_free(part);
    sums[0] = loss * (double)(hi - lo);
    sums[1] = round(accuracy * (double)(hi - lo));
    sums[2] = (double)(hi - lo);
    return st;
}

/* Puts "epoch E, batch B of N: " into a step's error message (after the
 * "rank R: " a distributed step starts it with): the step count alone does
 * not say where in the data a NaN was met. */
static void say_where(onnxc_error *err, int epoch, size_t batch, size_t steps)
{
    char where[64];
    size_t w = (size_t)snprintf(where, sizeof where, "epoch %d, batch %zu of %zu: ", epoch + 1, batch + 1, steps);
    char *msg = err->message;
    size_t at = 0;
    if (!strncmp(msg, "rank ", 5)) {
        const char *tag_end = strstr(msg, ": ");
        if (tag_end) at = (size_t)(tag_end - msg) + 2;
    }
    if (at + w >= sizeof err->message) return;
    size_t len = strlen(msg + at), room = sizeof err->message - 1 - at - w;
    if (len > room) len = room;
    memmove(msg + at + w, msg + at, len);
    memcpy(msg + at, where, w);
    msg[at + w + len] = '\0';
}

/* The batches of one epoch; sums[3] gets this rank's loss sum, correct and
 * sample count. */
static onnxc_status train_epoch(fit_run *r, int epoch, double sums[3], double *data_seconds, onnxc_error *err)
{
    onnxc_trainer *t = r->t;
    const onnxc_fit_options *o = &r->o;
    for (size_t i = 0; i < r->n_train; i++) r->perm[i] = (int64_t)i;
    if (!o->no_shuffle) shuffle(r->perm, r->n_train, t->opt.seed, epoch);
    size_t steps = (r->n_train + r->bs - 1) / r->bs;
    double loss_sum = 0.0;
    size_t correct = 0, seen = 0;
    onnxc_status st = ONNXC_OK;
    for (size_t s = 0; s < steps && st == ONNXC_OK; s++) {
        size_t n = r->n_train - s * r->bs < r->bs ? r->n_train - s * r->bs : r->bs;
        /* Rank r's rows of the global batch (all of it on one process). */
        size_t lo = oc_dist_shard_begin(n, r->rank, r->world), hi = oc_dist_shard_begin(n, r->rank + 1, r->world);
        double t0 = oc_seconds();
        if (hi > lo) oc_dataset_gather(r->fit_set, r->perm + s * r->bs + lo, hi - lo, r->b.x, r->b.y,
                                       oc_trainer_threads_lately(t));
        *data_seconds += oc_seconds() - t0;
        onnxc_tensor x, y;
        batch_tensors(r->fit_set, &r->b, hi - lo, &x, &y);
        onnxc_batch_result br = {0};
        if (!r->dist) st = onnxc_trainer_step(t, &x, &y, &br, err);
        else if (r->stop_asked) st = oc_dist_fail_step(t, stopped(err), err);
        else st = onnxc_trainer_step_distributed(t, hi > lo ? &x : NULL, hi > lo ? &y : NULL, n, &br, err);
        if (st == ONNXC_ERR_NUMERIC && err) say_where(err, epoch, s, steps);
        if (st != ONNXC_OK) break;
        loss_sum += br.loss * (double)br.count;
        correct += br.correct;
        seen += br.count;
        if (o->progress && o->progress(o->progress_user, epoch + 1, r->epochs, s + 1, steps,
                                       seen ? loss_sum / (double)seen : 0.0,
                                       seen ? (double)correct / (double)seen : 0.0, NULL)) {
            /* Distributed, the other ranks learn of it at the next collective call. */
            if (!r->dist) st = stopped(err);
            r->stop_asked = true;
        }
    }
    sums[0] = loss_sum;
    sums[1] = (double)correct;
    sums[2] = (double)seen;
    return st;
}

static onnxc_status run_epoch(fit_run *r, int epoch, onnxc_error *err)
{
    onnxc_trainer *t = r->t;
    double t_start = oc_seconds(), t_data = 0.0;
    double sums[6] = {0}; /* train loss sum, correct, seen; the same for validation */
    const uint64_t one_thread_before = t->one_thread_steps;
    OC_TRY(train_epoch(r, epoch, sums, &t_data, err));
    onnxc_epoch_log log = {.epoch = epoch + 1};
    log.seconds = oc_seconds() - t_start - t_data;
    log.data_seconds = t_data;
    log.one_thread_steps = (size_t)(t->one_thread_steps - one_thread_before);
    bool validate = r->val && r->val->n;
    if (!r->dist) {
        if (validate)
            OC_TRY(onnxc_trainer_evaluate(t, r->val, (int)r->bs, &log.val_loss, &log.val_accuracy, NULL, 0, err));
    } else {
        /* Every rank validates its shard, then one allreduce sums the
         * metrics and checks that the weights are still equal everywhere. */
        onnxc_status st = validate ? validate_shard(r, sums + 3, err) : ONNXC_OK;
        if (st == ONNXC_OK && r->stop_asked) st = stopped(err);
        onnxc_error check_err;
        uint64_t h = hash_weights(t);
        static const char *const what[1] = {"weights"};
        char hint[96];
        snprintf(hint, sizeof hint, "they went apart in epoch %d (the allreduce must give every rank the same sum)",
                 epoch + 1);
        onnxc_status check = oc_dist_check_same(t, &h, what, 1, hint, sums, 6, &check_err);
        OC_TRY(oc_dist_agree(t, st, err));
        if (check != ONNXC_OK) {
            if (err) *err = check_err;
            return check;
        }
        if (validate) {
            log.val_loss = sums[5] > 0 ? sums[3] / sums[5] : 0.0;
            log.val_accuracy = sums[5] > 0 ? sums[4] / sums[5] : 0.0;
        }
    }
    log.loss = sums[2] > 0 ? sums[0] / sums[2] : 0.0;
    log.accuracy = sums[2] > 0 ? sums[1] / sums[2] : 0.0;
    log.samples_per_second = log.seconds > 0 ? sums[2] / log.seconds : 0.0;
    log.has_validation = validate;
    if (r->history && (size_t)epoch < r->history_capacity) r->history[epoch] = log;
    r->fs.epochs_done = epoch + 1;
    /* Only rank 0 writes; a failure there (or a stop asked for) ends every rank. */
    onnxc_status st = ONNXC_OK;
    if (r->o.checkpoint_path && r->rank == 0) st = oc_checkpoint_save(t, r->o.checkpoint_path, &r->fs, err);
    const onnxc_fit_options *o = &r->o;
    if (st == ONNXC_OK && o->progress &&
        o->progress(o->progress_user, epoch + 1, r->epochs, (r->n_train + r->bs - 1) / r->bs,
                    (r->n_train + r->bs - 1) / r->bs, log.loss, log.accuracy, &log))
        st = stopped(err);
    return r->dist ? oc_dist_agree(t, st, err) : st;
}

onnxc_status onnxc_trainer_fit(onnxc_trainer *t, const onnxc_dataset *train,
                               const onnxc_fit_options *options, onnxc_epoch_log *history,
                               size_t history_capacity, onnxc_error *err)
{
    if (!t) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_fit: NULL argument");
    fit_run r = {.t = t, .history = history, .history_capacity = history_capacity, .dist = t->dist,
                 .rank = oc_dist_rank(t->dist), .world = oc_dist_world(t->dist)};
    if (options) r.o = *options;
    onnxc_status st = fit_setup(&r, train, err);
    if (r.dist) {
        /* Every rank gets here, failed or not: a failure anywhere stops all. */
        st = oc_dist_agree(t, st, err);
        if (st == ONNXC_OK) st = check_ranks_agree(&r, err);
    }
    for (int epoch = r.fs.epochs_done; st == ONNXC_OK && epoch < r.epochs; epoch++) st = run_epoch(&r, epoch, err);
    fit_free(&r);
    return st;
}
