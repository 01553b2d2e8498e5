#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "alloc.h"
#include "kernels/finite.h"

#define CKPT_VERSION "1"
#define SLOT_PREFIX "onnxc.optimizer."
#define META_PREFIX "onnxc.checkpoint."
#define N_META 17

/* onnxc_optimizer_kind order */
static const char *const opt_names[] = {"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"};

static const char *slot_name(onnxc_optimizer_kind kind, int slot)
{
    switch (kind) {
    case ONNXC_OPT_ADAM: case ONNXC_OPT_ADAMW: return slot ? "v" : "m";
    case ONNXC_OPT_MOMENTUM: case ONNXC_OPT_NESTEROV: return "velocity";
    default: return "accumulator";
    }
}

typedef struct meta_kv { char key[64]; char value[64]; } meta_kv;

static int fill_meta(const onnxc_trainer *t, const oc_fit_state *s, meta_kv *kv)
{
    const onnxc_optimizer *o = &t->optim.hp;
    int n = 0;
#define KV(k, ...) (snprintf(kv[n].key, 64, "onnxc.checkpoint.%s", k), snprintf(kv[n].value, 64, __VA_ARGS__), n++)
    KV("version", "%s", CKPT_VERSION);
    KV("optimizer", "%d", (int)o->kind);
    KV("learning_rate", "%.17g", o->learning_rate);
    KV("beta_1", "%.17g", o->beta_1);
    KV("beta_2", "%.17g", o->beta_2);
    KV("epsilon", "%.17g", o->epsilon);
    KV("momentum", "%.17g", o->momentum);
    KV("rho", "%.17g", o->rho);
    KV("weight_decay", "%.17g", o->weight_decay);
    KV("iterations", "%" PRIu64, t->optim.iterations);
    KV("epochs_done", "%d", s->epochs_done);
    KV("rng", "%" PRIu64, t->rng);
    KV("seed", "%" PRIu64, t->opt.seed);
    KV("loss", "%d", (int)t->opt.loss);
    KV("batch_size", "%d", s->batch_size);
#undef KV
    return n;
}

/* CRC-32 over what a resume restores: the metadata values (in fill_meta's
 * order) and every weight and optimizer slot (in the trainer's order), so a
 * damaged file is refused instead of resumed from. `data(ctx, i, slot)` gives
 * tensor i's bytes for slot -1 (weights), 0, 1. */
typedef const void *(*tensor_bytes_fn)(const void *ctx, size_t i, int slot);

/* zlib's crc32 takes a 32-bit length: feed larger tensors in pieces. */
static uLong crc_bytes(uLong crc, const void *data, size_t n)
{
    const Bytef *p = data;
    while (n > 0) {
        uInt piece = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, piece);
        p += piece;
        n -= piece;
    }
    return crc;
}

static uint32_t checksum(const onnxc_trainer *t, const meta_kv *kv, int n_meta, tensor_bytes_fn data,
                         const void *ctx)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int i = 0; i < n_meta; i++) crc = crc_bytes(crc, kv[i].value, strlen(kv[i].value) + 1);
    int slots = oc_optim_slots(t->optim.hp.kind);
    for (int slot = -1; slot < slots; slot++)
        for (size_t i = 0; i < t->params.count; i++)
            crc = crc_bytes(crc, data(ctx, i, slot), t->params.size[i] * sizeof(float));
    return (uint32_t)crc;
}

static const void *trainer_bytes(const void *ctx, size_t i, int slot)
{
    const onnxc_trainer *t = ctx;
    return slot < 0 ? (const void *)t->params.data[i] : (slot ? t->optim.slot2 : t->optim.slot1) + t->params.offset[i];
}

onnxc_status oc_checkpoint_save(onnxc_trainer *t, const char *path, const oc_fit_state *s,
                                onnxc_error *err)
{
    oc_column_state_release(t); /* the optimizer state, all of it in the flat slots */
    Onnx__ModelProto *mp = t->model->proto;
    Onnx__GraphProto *gp = mp->graph;
    int slots = oc_optim_slots(t->optim.hp.kind);
    size_t extra = t->params.count * (size_t)slots;
    /* A finite step can still overflow a weight (a huge learning rate): such
     * a state is not worth resuming from, and writing it would replace the
     * last good checkpoint. */
    for (int slot = -1; slot < slots; slot++)
        for (size_t i = 0; i < t->params.count; i++)
            if (!oc_all_finite(trainer_bytes(t, i, slot), (int64_t)t->params.size[i])) {
                const oc_value *val = &t->model->graph.values[t->param_values[i]];
                return oc_fail(err, ONNXC_ERR_NUMERIC,
                               "%s: not saving the checkpoint after step %llu: %s of '%s' holds NaN or infinite "
                               "values; the last checkpoint is kept",
                               path, (unsigned long long)t->optim.iterations,
                               slot < 0 ? "the weight" : "the optimizer state", val->name);
            }
    meta_kv kv[N_META];
    int n_meta = fill_meta(t, s, kv);
    snprintf(kv[n_meta].key, 64, "onnxc.checkpoint.crc32");
    snprintf(kv[n_meta].value, 64, "%08" PRIx32, checksum(t, kv, n_meta, trainer_bytes, t));
    n_meta++;

    /* Build the extra entries on the side, splice them in for the save, then restore. */
    Onnx__TensorProto *tensors = oc_calloc(extra + 1, sizeof *tensors);
    Onnx__TensorProto **inits = oc_malloc((gp->n_initializer + extra + 1) * sizeof *inits);
    char **names = oc_calloc(extra + 1, sizeof *names);
    Onnx__StringStringEntryProto *entries = oc_calloc((size_t)n_meta + 1, sizeof *entries);
    Onnx__StringStringEntryProto **props = oc_malloc((mp->n_metadata_props + (size_t)n_meta + 1) * sizeof *props);
    onnxc_status st = ONNXC_OK;
    if (!tensors || !inits || !names || !entries || !props) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory writing the checkpoint", path);
        goto done;
    }
    /* A model that is itself a checkpoint already holds optimizer slots and
     * checkpoint metadata: leave those out, or the file would hold each
     * twice (duplicate initializers are refused at load). */
    size_t n_inits = 0, n_props = 0;
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (!gp->initializer[i]->name || strncmp(gp->initializer[i]->name, SLOT_PREFIX, strlen(SLOT_PREFIX)))
            inits[n_inits++] = gp->initializer[i];
    for (size_t i = 0; i < mp->n_metadata_props; i++)
        if (!mp->metadata_props[i]->key || strncmp(mp->metadata_props[i]->key, META_PREFIX, strlen(META_PREFIX)))
            props[n_props++] = mp->metadata_props[i];
    size_t e = 0;
    for (int slot = 0; slot < slots; slot++)
        for (size_t i = 0; i < t->params.count; i++, e++) {
            const oc_value *val = &t->model->graph.values[t->param_values[i]];
            const char *sn = slot_name(t->optim.hp.kind, slot);
            names[e] = oc_malloc(strlen(val->name) + strlen(sn) + 20);
            if (!names[e]) {
                st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory writing the checkpoint", path);
                goto done;
            }
            sprintf(names[e], SLOT_PREFIX "%s/%s", sn, val->name);
            Onnx__TensorProto *tp = &tensors[e];
            onnx__tensor_proto__init(tp);
            tp->name = names[e];
            tp->has_data_type = 1;
            tp->data_type = ONNXC_FLOAT;
            tp->n_dims = (size_t)val->init.shape.rank;
            tp->dims = (int64_t *)val->init.shape.dims;
            tp->has_raw_data = 1;
            tp->raw_data.len = t->params.size[i] * sizeof(float);
            tp->raw_data.data = (uint8_t *)((slot ? t->optim.slot2 : t->optim.slot1) + t->params.offset[i]);
            inits[n_inits + e] = tp;
        }
    for (int i = 0; i < n_meta; i++) {
        onnx__string_string_entry_proto__init(&entries[i]);
        entries[i].key = kv[i].key;
        entries[i].value = kv[i].value;
        props[n_props + (size_t)i] = &entries[i];
    }
    Onnx__TensorProto **old_inits = gp->initializer;
    size_t old_n_inits = gp->n_initializer;
    Onnx__StringStringEntryProto **old_props = mp->metadata_props;
    size_t old_n_props = mp->n_metadata_props;
    gp->initializer = inits;
    gp->n_initializer = n_inits + extra;
    mp->metadata_props = props;
    mp->n_metadata_props = n_props + (size_t)n_meta;
    st = onnxc_model_save(t->model, path, NULL, err);
    gp->initializer = old_inits;
    gp->n_initializer = old_n_inits;
    mp->metadata_props = old_props;
    mp->n_metadata_props = old_n_props;
done:
    for (size_t i = 0; names && i < extra; i++) oc_free(names[i]);
    oc_free(names);
    oc_free(tensors);
    oc_free(inits);
    oc_free(entries);
    oc_free(props);
    return st;
}

static const char *meta_get(const onnxc_model *m, const char *key)
{
    char full[96];
    snprintf(full, sizeof full, "onnxc.checkpoint.%s", key);
    for (size_t i = 0; i < m->proto->n_metadata_props; i++) {
        const Onnx__StringStringEntryProto *p = m->proto->metadata_props[i];
        if (p->key && p->value && !strcmp(p->key, full)) return p->value;
    }
    return NULL;
}

static bool meta_u64(const onnxc_model *m, const char *key, uint64_t *out)
{
    const char *v = meta_get(m, key);
    if (!v || !*v) return false;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end) return false;
    *out = x;
    return true;
}

static bool meta_f64(const onnxc_model *m, const char *key, double *out)
{
    const char *v = meta_get(m, key);
    if (!v || !*v) return false;
    char *end;
    *out = strtod(v, &end);
    return !*end;
}

typedef struct found_bytes { const onnxc_trainer *t; const void **found; } found_bytes;

static const void *file_bytes(const void *ctx, size_t i, int slot)
{
    const found_bytes *f = ctx;
    return f->found[(size_t)(slot + 1) * f->t->params.count + i];
}

/* The stored CRC against one recomputed from the file's own metadata values
 * and tensors. */
static onnxc_status verify_crc(const onnxc_trainer *t, const onnxc_model *ck, const char *path,
                               const void **found, onnxc_error *err)
{
    static const char *const keys[] = {"version", "optimizer", "learning_rate", "beta_1", "beta_2", "epsilon",
                                       "momentum", "rho", "weight_decay", "iterations", "epochs_done", "rng",
                                       "seed", "loss", "batch_size"};
    meta_kv kv[N_META];
    int n = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++, n++) {
        const char *v = meta_get(ck, keys[k]);
        snprintf(kv[n].value, 64, "%s", v ? v : "");
    }
    const char *stored = meta_get(ck, "crc32");
    found_bytes fb = {t, found};
    char want[16];
    snprintf(want, sizeof want, "%08" PRIx32, checksum(t, kv, n, file_bytes, &fb));
    if (!stored || strcmp(stored, want))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: checkpoint is damaged: CRC-32 of its weights and state is %s, "
                       "expected %s as stored", path, want, stored ? stored : "(missing)");
    return ONNXC_OK;
}

onnxc_status oc_checkpoint_load(onnxc_trainer *t, const char *path, oc_fit_state *s,
                                onnxc_error *err)
{
    oc_column_state_release(t); /* what the checkpoint does not set stays as it was */
    onnxc_model *ck = NULL;
    OC_TRY(onnxc_model_load(path, NULL, &ck, err));
    onnxc_status st = ONNXC_OK;
    uint64_t version = 0, kind, iterations, epochs, rng, seed, loss, batch;
    double lr;
    if (!meta_u64(ck, "version", &version) || version != 1 || !meta_u64(ck, "optimizer", &kind) ||
        !meta_u64(ck, "iterations", &iterations) || !meta_u64(ck, "epochs_done", &epochs) ||
        !meta_u64(ck, "rng", &rng) || !meta_u64(ck, "seed", &seed) || !meta_u64(ck, "loss", &loss) ||
        !meta_u64(ck, "batch_size", &batch) || !meta_f64(ck, "learning_rate", &lr)) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: not an onnxc checkpoint: onnxc.checkpoint.* metadata missing or malformed", path);
        goto done;
    }
    /* Every setting the saved state depends on must match this run, and
     * all is checked before the trainer is touched. */
    if (kind != (uint64_t)t->optim.hp.kind) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: checkpoint was written by the %s optimizer; expected %s, the optimizer of this run",
                     path, kind < sizeof opt_names / sizeof opt_names[0] ? opt_names[kind] : "an unknown",
                     opt_names[t->optim.hp.kind]);
        goto done;
    }
    if (loss != (uint64_t)t->opt.loss) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: checkpoint was trained with loss %s; expected %s, the loss of this run",
                     path, loss <= ONNXC_LOSS_MSE ? onnxc_loss_name((onnxc_loss)loss) : "(unknown)",
                     onnxc_loss_name(t->opt.loss));
        goto done;
    }
    if (lr != t->optim.hp.learning_rate) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: checkpoint was trained with learning rate %.17g; expected %.17g, the rate of this run", path,
                     lr, t->optim.hp.learning_rate);
        goto done;
    }
    if (epochs > 1000000 || batch == 0 || batch > (1u << 30)) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: checkpoint state out of range (epochs done %llu, batch size %llu)",
                     path, (unsigned long long)epochs, (unsigned long long)batch);
        goto done;
    }
    if (s->batch_size > 0 && batch != (uint64_t)s->batch_size) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: checkpoint was trained with batch size %llu; expected %d, the batch size of this run", path,
                     (unsigned long long)batch, s->batch_size);
        goto done;
    }
    int slots = oc_optim_slots(t->optim.hp.kind);
    const void **found = oc_calloc(t->params.count * (size_t)(slots + 1) + 1, sizeof *found);
    if (!found) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    /* Verify everything before touching the trainer. */
    for (int pass = 0; pass < 2 && st == ONNXC_OK; pass++)
        for (size_t i = 0; i < t->params.count && st == ONNXC_OK; i++) {
            if (pass == 1 && i == 0 && (st = verify_crc(t, ck, path, found, err)) != ONNXC_OK) break;
            const oc_value *val = &t->model->graph.values[t->param_values[i]];
            for (int slot = -1; slot < slots; slot++) {
                char name[1024];
                if (slot < 0) snprintf(name, sizeof name, "%s", val->name);
                else snprintf(name, sizeof name, "onnxc.optimizer.%s/%s", slot_name(t->optim.hp.kind, slot), val->name);
                int v = oc_graph_find(&ck->graph, name);
                const oc_tensor *src = v >= 0 && ck->graph.values[v].kind == OC_VALUE_INITIALIZER
                                           ? &ck->graph.values[v].init : NULL;
                if (!src || src->dtype != ONNXC_FLOAT || !oc_shape_equal(&src->shape, &val->init.shape)) {
                    char want[128];
                    st = oc_fail(err, ONNXC_ERR_MODEL, "%s: checkpoint does not match the model: tensor '%s' %s (expected float %s)",
                                 path, name, src ? "has another type or shape" : "is missing",
                                 oc_shape_str(&val->init.shape, want, sizeof want));
                    break;
                }
                found[(size_t)(slot + 1) * t->params.count + i] = src->data;
                if (pass == 0) continue;
                float *dst = slot < 0 ? t->params.data[i]
                                      : (slot ? t->optim.slot2 : t->optim.slot1) + t->params.offset[i];
                memcpy(dst, src->data, t->params.size[i] * sizeof(float));
            }
        }
    oc_free(found);
    t->model->weights_generation++; /* sessions re-pack what they cached */
    if (st == ONNXC_OK) {
        t->optim.iterations = iterations;
        t->rng = rng;
        s->epochs_done = (int)epochs;
        s->batch_size = (int)batch;
    }
done:
    onnxc_model_free(ck);
    return st;
}
