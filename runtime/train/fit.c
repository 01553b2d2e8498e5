/* onnxc_trainer_fit / onnxc_trainer_evaluate: Keras's fit() and evaluate(). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "checkpoint.h"
#include "dataset.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

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
        oc_dataset_gather(data, b.rows, n, b.x, b.y, t->nthreads);
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

onnxc_status onnxc_trainer_fit(onnxc_trainer *t, const onnxc_dataset *train,
                               const onnxc_fit_options *options, onnxc_epoch_log *history,
                               size_t history_capacity, onnxc_error *err)
{
    if (!t || !train) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_trainer_fit: NULL argument");
    onnxc_fit_options o = {0};
    if (options) o = *options;
    int epochs = o.epochs > 0 ? o.epochs : 1;
    size_t bs = o.batch_size > 0 ? (size_t)o.batch_size : 32;
    if (o.validation_split < 0 || o.validation_split >= 1)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "validation_split must be in [0, 1), got %g", o.validation_split);

    /* Keras takes the validation samples from the end, before shuffling. */
    onnxc_dataset *fit_set = NULL, *split_val = NULL;
    const onnxc_dataset *val = o.validation;
    size_t n_train = train->n;
    onnxc_status st = ONNXC_OK;
    if (!val && o.validation_split > 0) {
        size_t n_val = (size_t)floor((double)train->n * o.validation_split);
        n_train = train->n - n_val;
        if (n_val == 0 || n_train == 0)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "validation_split %g leaves an empty set of %zu samples",
                           o.validation_split, train->n);
        OC_TRY(oc_dataset_slice(train, n_train, train->n, &split_val, err));
        val = split_val;
    }
    if ((st = oc_dataset_slice(train, 0, n_train, &fit_set, err)) != ONNXC_OK) {
        onnxc_dataset_free(split_val);
        return st;
    }
    if (n_train == 0) {
        st = oc_fail(err, ONNXC_ERR_ARGUMENT, "the training set is empty");
        goto out;
    }
    if (bs > n_train) bs = n_train;

    oc_fit_state fs = {.epochs_done = 0, .batch_size = (int)bs};
    if (o.resume_path) {
        if ((st = oc_checkpoint_load(t, o.resume_path, &fs, err)) != ONNXC_OK) goto out;
        if ((size_t)fs.batch_size != bs) {
            st = oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: checkpoint was trained with batch size %d, asked for %zu",
                         o.resume_path, fs.batch_size, bs);
            goto out;
        }
    }
    batch_buffers b = {0};
    int64_t *perm = oc_malloc(n_train * sizeof *perm);
    if (!perm || (st = alloc_batch(fit_set, bs, &b, err)) != ONNXC_OK) {
        if (!perm) st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
        free_batch(&b);
        oc_free(perm);
        goto out;
    }
    size_t steps = (n_train + bs - 1) / bs;
    for (int epoch = fs.epochs_done; epoch < epochs && st == ONNXC_OK; epoch++) {
        for (size_t i = 0; i < n_train; i++) perm[i] = (int64_t)i;
        if (!o.no_shuffle) shuffle(perm, n_train, t->opt.seed, epoch);
        double t_start = now_seconds(), t_data = 0.0, loss_sum = 0.0;
        size_t correct = 0, seen = 0;
        for (size_t s = 0; s < steps; s++) {
            size_t n = n_train - s * bs < bs ? n_train - s * bs : bs;
            double t0 = now_seconds();
            oc_dataset_gather(fit_set, perm + s * bs, n, b.x, b.y, t->nthreads);
            t_data += now_seconds() - t0;
            onnxc_tensor x, y;
            batch_tensors(fit_set, &b, n, &x, &y);
            onnxc_batch_result r;
            if ((st = onnxc_trainer_step(t, &x, &y, &r, err)) != ONNXC_OK) break;
            loss_sum += r.loss * (double)n;
            correct += r.correct;
            seen += n;
            if (o.progress && o.progress(o.progress_user, epoch + 1, epochs, s + 1, steps, loss_sum / (double)seen,
                                         (double)correct / (double)seen, NULL)) {
                st = oc_fail(err, ONNXC_ERR_ARGUMENT, "training stopped by the progress callback");
                break;
            }
        }
        if (st != ONNXC_OK) break;
        onnxc_epoch_log log = {.epoch = epoch + 1, .loss = loss_sum / (double)seen,
                               .accuracy = (double)correct / (double)seen};
        log.seconds = now_seconds() - t_start - t_data;
        log.samples_per_second = log.seconds > 0 ? (double)seen / log.seconds : 0.0;
        if (val && val->n) {
            log.has_validation = true;
            if ((st = onnxc_trainer_evaluate(t, val, (int)bs, &log.val_loss, &log.val_accuracy, NULL, 0, err)) != ONNXC_OK)
                break;
        }
        if (history && (size_t)epoch < history_capacity) history[epoch] = log;
        fs.epochs_done = epoch + 1;
        if (o.checkpoint_path && (st = oc_checkpoint_save(t, o.checkpoint_path, &fs, err)) != ONNXC_OK) break;
        if (o.progress && o.progress(o.progress_user, epoch + 1, epochs, steps, steps, log.loss, log.accuracy, &log)) {
            st = oc_fail(err, ONNXC_ERR_ARGUMENT, "training stopped by the progress callback");
            break;
        }
    }
    free_batch(&b);
    oc_free(perm);
out:
    onnxc_dataset_free(fit_set);
    onnxc_dataset_free(split_val);
    return st;
}
