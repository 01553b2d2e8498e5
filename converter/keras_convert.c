/*
 * The conversion itself (keras_sandbox.c runs it in a child process):
 * Keras file -> flat layer list (keras_config.c) -> weights
 * (keras_weights.c) -> shape checks -> dense_builder.c.
 *
 * File kinds:
 *   HDF5 with @model_config     full model; weights under model_weights/
 *   HDF5 with @layer_names      tf.keras save_weights: needs an arch spec
 *   HDF5 with layers/ group     Keras 3 *.weights.h5: needs an arch spec
 *   zip (.keras)                config.json + model.weights.h5 (Keras 3 store)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "graph.h"
#include "keras.h"
#include "keras_hdf5.h"

int oc_keras_sniff(const void *head, size_t n)
{
    if (n >= 8 && memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0) return 1;
    if (n >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) return 2;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Shapes: the running shape checks each weight against the config          */

typedef struct shape {
    int rank;                          /* dims after the batch dim */
    int64_t d[ONNXC_MAX_RANK];         /* -1: unknown */
} shape;

static const char *dims_str(int rank, const int64_t *d, bool batch, char *buf, size_t size)
{
    size_t o = (size_t)snprintf(buf, size, "[%s", batch ? "N" : "");
    for (int i = 0; i < rank && o < size; i++) {
        const char *sep = (i || batch) ? "," : "";
        if (d[i] < 0) o += (size_t)snprintf(buf + o, size - o, "%s?", sep);
        else o += (size_t)snprintf(buf + o, size - o, "%s%lld", sep, (long long)d[i]);
    }
    if (o < size) snprintf(buf + o, size - o, "]");
    return buf;
}

/* Weight k of l must have exactly these dims. */
static onnxc_status expect(const char *file, const oc_klayer *l, int k, int rank, const int64_t *want,
                           const shape *in, onnxc_error *err)
{
    const oc_kweight *w = &l->w[k];
    bool ok = w->rank == rank;
    for (int i = 0; ok && i < rank; i++) ok = w->dims[i] == want[i];
    if (ok) return ONNXC_OK;
    char a[128], b[128], c[128];
    return oc_fail(err, ONNXC_ERR_MODEL,
                   "%s: dataset '%s' (%s of layer '%s', %s) has shape %s; the config on input %s expects %s",
                   file, w->source, w->role, l->name, l->class_name, dims_str(w->rank, w->dims, false, a, sizeof a),
                   dims_str(in->rank, in->d, true, b, sizeof b), dims_str(rank, want, false, c, sizeof c));
}

static onnxc_status convert_dense(const char *file, oc_klayer *l, shape *s, oc_db_layer *o,
                                  onnxc_error *err)
{
    int64_t in = s->d[s->rank - 1];
    if (in < 0) {
        char b[128];
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (Dense): input %s has an unknown last dim",
                       file, l->name, dims_str(s->rank, s->d, true, b, sizeof b));
    }
    int64_t kd[2] = {in, l->units};
    OC_TRY(expect(file, l, 0, 2, kd, s, err));
    if (l->use_bias) OC_TRY(expect(file, l, 1, 1, &l->units, s, err));
    o->kind = OC_DB_DENSE;
    o->units = l->units;
    o->kernel = l->w[0].data;
    o->bias = l->use_bias ? l->w[1].data : NULL;
    o->act = l->act;
    s->d[s->rank - 1] = l->units;
    return ONNXC_OK;
}

static onnxc_status convert_reshape(const char *file, oc_klayer *l, shape *s, oc_db_layer *o,
                                    onnxc_error *err)
{
    char a[128], b[128];
    int64_t known = 1, prod = 1;
    for (int i = 0; i < s->rank; i++)
        if (s->d[i] < 0 || __builtin_mul_overflow(known, s->d[i], &known))
            return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: layer '%s' (%s): input %s must be fully known",
                           file, l->name, l->class_name, dims_str(s->rank, s->d, true, a, sizeof a));
    int rank = l->rank, free_at = -1;
    int64_t t[ONNXC_MAX_RANK];
    if (l->kind == OC_KL_FLATTEN) {
        rank = 1;
        t[0] = known;
    } else {
        memcpy(t, l->target, sizeof t);
    }
    for (int i = 0; i < rank; i++) {
        if (t[i] == -1 && free_at < 0) free_at = i;
        else if (t[i] < 1 || __builtin_mul_overflow(prod, t[i], &prod))
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (Reshape): bad target %s", file, l->name,
                           dims_str(rank, t, false, b, sizeof b));
    }
    if (free_at >= 0 && known % prod == 0) t[free_at] = known / prod;
    else if (free_at >= 0 || prod != known)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (Reshape): cannot reshape %s to %s", file,
                       l->name, dims_str(s->rank, s->d, true, a, sizeof a), dims_str(rank, t, false, b, sizeof b));
    o->kind = OC_DB_RESHAPE;
    o->rank = rank;
    memcpy(o->shape, t, sizeof o->shape);
    s->rank = rank;
    memcpy(s->d, t, sizeof s->d);
    return ONNXC_OK;
}

static onnxc_status convert_batchnorm(const char *file, oc_klayer *l, shape *s, oc_db_layer *o,
                                      onnxc_error *err)
{
    int64_t axis = l->axis < 0 ? l->axis + s->rank + 1 : l->axis;
    char a[128];
    if (axis < 1 || axis > s->rank || s->d[axis - 1] < 0)
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "%s: layer '%s' (BatchNormalization): axis %lld on input %s is not a known feature axis",
                       file, l->name, (long long)l->axis, dims_str(s->rank, s->d, true, a, sizeof a));
    if (axis != 1 && axis != s->rank)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: layer '%s' (BatchNormalization): axis %lld of input %s; onnxc converts the first "
                       "feature axis or the last", file, l->name, (long long)l->axis,
                       dims_str(s->rank, s->d, true, a, sizeof a));
    int64_t ch = s->d[axis - 1];
    o->kind = OC_DB_BATCHNORM;
    o->axis = (int)axis;
    o->epsilon = l->epsilon;
    for (int k = 0; k < l->n_weights; k++) {
        OC_TRY(expect(file, l, k, 1, &ch, s, err));
        const char *r = l->w[k].role;
        if (!strcmp(r, "gamma")) o->gamma = l->w[k].data;
        else if (!strcmp(r, "beta")) o->beta = l->w[k].data;
        else if (!strcmp(r, "moving_mean")) o->mean = l->w[k].data;
        else o->var = l->w[k].data;
    }
    for (int64_t i = 0; i < ch; i++)
        if (!(o->var[i] >= 0))
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: dataset '%s': moving variance %g < 0 at %lld", file,
                           l->w[l->n_weights - 1].source, (double)o->var[i], (long long)i);
    return ONNXC_OK;
}

static onnxc_status to_builder(const char *file, oc_kmodel *m, oc_db_layer *out, size_t *n_out,
                               shape *input, onnxc_error *err)
{
    shape s = {.rank = m->in_rank};
    memcpy(s.d, m->in_dims, sizeof s.d);
    if (s.rank < 0) {
        /* No shape in the config: a leading Dense fixes the input width. */
        for (size_t i = 0; i < m->n_layers && s.rank < 0; i++) {
            const oc_klayer *l = &m->layers[i];
            if (l->kind == OC_KL_DENSE && l->w[0].rank == 2) {
                s.rank = 1;
                s.d[0] = l->w[0].dims[0];
            } else if (l->kind != OC_KL_INPUT && l->kind != OC_KL_IDENTITY && l->kind != OC_KL_ACTIVATION) {
                break;
            }
        }
        if (s.rank < 0)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: the model config gives no input shape", file);
    }
    if (s.rank < 1)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: input shape [N] has no feature dims", file);
    *input = s;
    size_t n = 0;
    for (size_t i = 0; i < m->n_layers; i++) {
        oc_klayer *l = &m->layers[i];
        oc_db_layer *o = &out[n];
        memset(o, 0, sizeof *o);
        o->name = l->name;
        switch (l->kind) {
        case OC_KL_INPUT:
        case OC_KL_IDENTITY: continue;
        case OC_KL_DENSE: OC_TRY(convert_dense(file, l, &s, o, err)); break;
        case OC_KL_ACTIVATION:
            if (l->act.kind == OC_ACT_LINEAR) continue;
            o->kind = OC_DB_ACTIVATION;
            o->act = l->act;
            break;
        case OC_KL_FLATTEN:
            if (s.rank == 1) continue;       /* already flat: Keras' Flatten is a no-op */
            if (l->channels_first)
                return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                               "%s: layer '%s' (Flatten): data_format channels_first on a rank-%d input is not supported",
                               file, l->name, s.rank + 1);
            OC_TRY(convert_reshape(file, l, &s, o, err));
            break;
        case OC_KL_RESHAPE: OC_TRY(convert_reshape(file, l, &s, o, err)); break;
        case OC_KL_BATCHNORM: OC_TRY(convert_batchnorm(file, l, &s, o, err)); break;
        }
        n++;
    }
    *n_out = n;
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */


/* The model config of an HDF5 file, or NULL (weights only). */
static onnxc_status h5_config(oc_h5 *h, char **json, size_t *len, onnxc_error *err)
{
    char **strs;
    size_t n;
    bool found;
    *json = NULL;
    OC_TRY(oc_h5_attr_strings(h, h->file, "/", "model_config", &strs, &n, &found, err));
    if (!found) return ONNXC_OK;
    if (n != 1) {
        oc_h5_free_strings(strs, n);
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: @model_config holds %zu strings; expected 1", h->label, n);
    }
    *json = strs[0];
    *len = strlen(strs[0]);
    oc_free(strs);
    return ONNXC_OK;
}

static onnxc_status load_h5(oc_h5 *h, const char *path, const char *arch_spec, oc_kmodel *m,
                            onnxc_error *err)
{
    char *json = NULL;
    size_t len = 0;
    OC_TRY(h5_config(h, &json, &len, err));
    if (json) {
        char what[1200];
        snprintf(what, sizeof what, "%s: model_config", path);
        onnxc_status st = oc_keras_parse_config(json, len, what, m, err);
        oc_free(json);
        OC_TRY(st);
        hid_t root;
        bool missing;
        OC_TRY(oc_h5_open(h, h->file, "model_weights", &root, &missing, err));
        if (missing)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: has @model_config but no model_weights group", path);
        st = oc_keras_weights_legacy(h, root, "model_weights", m, err);
        H5Oclose(root);
        return st;
    }
    char **names;
    size_t n;
    bool legacy, store_missing = true;
    OC_TRY(oc_h5_attr_strings(h, h->file, "/", "layer_names", &names, &n, &legacy, err));
    oc_h5_free_strings(names, n);
    if (!legacy) {
        const char *tops[2] = {"layers", "_layer_checkpoint_dependencies"};
        for (int i = 0; i < 2 && store_missing; i++) {
            hid_t g;
            OC_TRY(oc_h5_open(h, h->file, tops[i], &g, &store_missing, err));
            if (!store_missing) H5Oclose(g);
        }
        if (store_missing)
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "%s: an HDF5 file without @model_config, @layer_names or a layers/ group; "
                           "not a Keras model or weights file", path);
    }
    if (!arch_spec)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: holds only weights (no model_config); give the architecture as an arch spec "
                       "such as \"784,64:relu,10:softmax\"", path);
    OC_TRY(oc_keras_model_from_spec(arch_spec, m, err));
    return legacy ? oc_keras_weights_legacy(h, h->file, "", m, err) : oc_keras_weights_store(h, m, err);
}

static onnxc_status load_zip(const char *path, const uint8_t *data, size_t size,
                             const onnxc_limits *limits, oc_kzip *z, oc_h5 *h, char **label,
                             oc_kmodel *m, onnxc_error *err)
{
    OC_TRY(oc_keras_zip_read(data, size, path, limits, z, err));
    size_t n = strlen(path) + 32;
    if (!(*label = oc_malloc(n))) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
    snprintf(*label, n, "%s: config.json", path);
    OC_TRY(oc_keras_parse_config(z->config, z->config_len, *label, m, err));
    /* Messages about weights name the archive member. */
    snprintf(*label, n, "%s: model.weights.h5", path);
    OC_TRY(oc_h5_open_image(h, z->weights, z->weights_len, *label, limits, err));
    return oc_keras_weights_store(h, m, err);
}

onnxc_status oc_keras_convert_local(const char *path, const char *arch_spec, const onnxc_limits *limits,
                                    void **onnx, size_t *size, onnxc_error *err)
{
    if (!path || !onnx || !size) return oc_fail(err, ONNXC_ERR_ARGUMENT, "oc_keras_to_onnx: NULL argument");
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    *onnx = NULL;
    *size = 0;
    uint8_t *data = NULL;
    size_t data_size = 0;
    /* The whole file into memory: parsers then see one consistent snapshot,
     * and libhdf5 and libzip read from memory, never from the path again. */
    OC_TRY(oc_read_file(path, lim.max_file_bytes, &data, &data_size, err));
    int kind = oc_keras_sniff(data, data_size);
    if (kind == 0) {
        oc_free(data);
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: not a Keras file (expected an HDF5 or zip signature)", path);
    }

    oc_kmodel m = {.in_rank = -1};
    oc_kzip z = {0};
    oc_h5 h = {.file = H5I_INVALID_HID};
    oc_db_layer *layers = NULL;
    char *label = NULL;                /* zip: "x.keras: model.weights.h5", outlives h */
    oc_h5_enter();
    onnxc_status st;
    if (kind == 1) {
        st = oc_h5_open_image(&h, data, data_size, path, &lim, err);
        if (st == ONNXC_OK) st = load_h5(&h, path, arch_spec, &m, err);
    } else {
        st = load_zip(path, data, data_size, &lim, &z, &h, &label, &m, err);
    }
    oc_h5_close(&h);
    oc_h5_leave();
    oc_kzip_free(&z);
    oc_free(label);
    oc_free(data);

    size_t n = 0;
    shape in = {0};
    if (st == ONNXC_OK && !(layers = oc_calloc(m.n_layers ? m.n_layers : 1, sizeof *layers)))
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", path);
    if (st == ONNXC_OK) st = to_builder(path, &m, layers, &n, &in, err);
    if (st == ONNXC_OK) {
        const char *base = strrchr(path, '/');
        char doc[1200];
        snprintf(doc, sizeof doc, "converted by onnxc from the Keras file %s", base ? base + 1 : path);
        oc_db_model dm = {
            .graph_name = m.name ? m.name : "keras",
            .input_name = m.input_name,
            /* Named after the model's last layer, even a Dropout. */
            .output_name = m.n_layers ? m.layers[m.n_layers - 1].name : NULL,
            .doc_string = doc,
            .in_rank = in.rank,
            .layers = layers,
            .n_layers = n,
        };
        memcpy(dm.in_dims, in.d, sizeof dm.in_dims);
        st = oc_db_build(&dm, onnx, size, err);
        if (st != ONNXC_OK) oc_prefix(err, "%s", path);
    }
    oc_free(layers);
    oc_kmodel_free(&m);
    return st;
}
