/*
 * onnxc_model_save: re-pack the ModelProto the model was loaded from.
 *
 * Initializer values live in the proto itself where the loader could alias
 * them (raw_data, float_data, ...), so a trained model saves by packing.
 * Tensors whose bytes live elsewhere (external data read at load, realigned
 * copies) or that the caller moves to a side file are swapped into the
 * proto only for the duration of the pack and restored afterwards; every
 * other field, unknown fields included, is written back untouched.
 */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "atomic_file.h"
#include "external_data.h"
#include "graph.h"

typedef struct swap {
    Onnx__TensorProto *tp;
    Onnx__TensorProto backup;
    Onnx__StringStringEntryProto entries[3];
    Onnx__StringStringEntryProto *entry_ptrs[3];
    char offset[24], length[24];
} swap;

typedef struct save_state {
    swap *swaps;
    int n_swaps;
    char *side_name;            /* basename of the side file, referenced by swaps */
} save_state;

static void restore(save_state *s)
{
    for (int i = s->n_swaps - 1; i >= 0; i--) *s->swaps[i].tp = s->swaps[i].backup;
    oc_free(s->swaps);
    s->swaps = NULL;
    s->n_swaps = 0;
}

static void clear_storage(Onnx__TensorProto *tp)
{
    tp->has_raw_data = 0;
    tp->raw_data.len = 0;
    tp->raw_data.data = NULL;
    tp->n_float_data = tp->n_int32_data = tp->n_int64_data = 0;
    tp->n_double_data = tp->n_uint64_data = 0;
    tp->n_external_data = 0;
    tp->external_data = NULL;
    tp->has_data_location = 0;
}

/* Inline every tensor whose current bytes are not in the proto. */
static swap *push(save_state *s, Onnx__TensorProto *tp)
{
    swap *w = &s->swaps[s->n_swaps++];
    memset(w, 0, sizeof *w);
    w->tp = tp;
    w->backup = *tp;
    return w;
}

static void finish(save_state *s);

/* Fills the side file (when asked) but leaves it uncommitted in *side: the
 * caller renames it into place only once the model itself is written, so a
 * failure anywhere before that keeps the old pair of files intact. */
static onnxc_status prepare(const onnxc_model *m, const char *path, const onnxc_save_options *opt,
                            save_state *s, oc_atomic_file *side_out, onnxc_error *err)
{
    const oc_graph *g = &m->graph;
    memset(side_out, 0, sizeof *side_out);
    s->swaps = oc_calloc((size_t)g->n_values + 1, sizeof *s->swaps);
    if (!s->swaps) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory saving the model");
    oc_atomic_file side = {0};
    char *side_name = NULL;  /* moved into s->side_name at the end */
    uint64_t side_offset = 0;
    onnxc_status st = ONNXC_OK;
    bool external = opt && opt->external_data && path;
    for (int v = 0; v < g->n_values && st == ONNXC_OK; v++) {
        const oc_value *val = &g->values[v];
        if (val->kind != OC_VALUE_INITIALIZER || !val->init_proto) continue;
        size_t bytes;
        oc_shape_bytes(&val->init.shape, val->init.dtype, &bytes);
        bool stored_elsewhere = oc_tensor_is_external(val->init_proto) ||
                                (val->init_owned && val->init_proto->has_raw_data);
        bool to_side = external && bytes >= (opt->external_threshold ? opt->external_threshold : 1024);
        if (to_side) {
            if (!side.fp) {
                const char *base = opt->external_file;
                char *p2 = NULL;
                if (!base) {
                    p2 = oc_malloc(strlen(path) + 6);
                    if (!p2) { st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory"); break; }
                    sprintf(p2, "%s.data", path);
                }
                char *copy = oc_strdup(p2 ? p2 : base);
                char *dcopy = oc_strdup(path);
                if (!copy || !dcopy) {
                    oc_free(p2); oc_free(copy); oc_free(dcopy);
                    st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
                    break;
                }
                side_name = oc_strdup(basename(copy));
                const char *dir = dirname(dcopy);
                char *side_path = oc_malloc(strlen(dir) + strlen(side_name ? side_name : "") + 2);
                if (side_name && side_path) {
                    sprintf(side_path, "%s/%s", dir, side_name);
                    st = oc_atomic_open(&side, side_path, err);
                } else {
                    st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
                }
                oc_free(side_path);
                oc_free(p2);
                oc_free(copy);
                oc_free(dcopy);
                if (st != ONNXC_OK) break;
            }
            /* 64-byte aligned offsets so readers can map tensors in place. */
            while (side_offset % 64) {
                fputc(0, side.fp);
                side_offset++;
            }
            if (bytes && fwrite(val->init.data, 1, bytes, side.fp) != bytes) {
                st = oc_fail(err, ONNXC_ERR_IO, "%s: writing external data failed", path);
                break;
            }
            swap *w = push(s, val->init_proto);
            clear_storage(w->tp);
            snprintf(w->offset, sizeof w->offset, "%llu", (unsigned long long)side_offset);
            snprintf(w->length, sizeof w->length, "%zu", bytes);
            const char *keys[3] = {"location", "offset", "length"};
            const char *vals[3] = {side_name, w->offset, w->length};
            for (int k = 0; k < 3; k++) {
                onnx__string_string_entry_proto__init(&w->entries[k]);
                w->entries[k].key = (char *)keys[k];
                w->entries[k].value = (char *)vals[k];
                w->entry_ptrs[k] = &w->entries[k];
            }
            w->tp->n_external_data = 3;
            w->tp->external_data = w->entry_ptrs;
            w->tp->has_data_location = 1;
            w->tp->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
            side_offset += bytes;
        } else if (stored_elsewhere) {
            swap *w = push(s, val->init_proto);
            clear_storage(w->tp);
            w->tp->has_raw_data = 1;
            w->tp->raw_data.len = bytes;
            w->tp->raw_data.data = val->init.data;
        }
    }
    if (side.fp) {
        if (st == ONNXC_OK) *side_out = side;
        else oc_atomic_abort(&side);
    }
    s->side_name = side_name;
    if (st != ONNXC_OK) finish(s);
    return st;
}

static void finish(save_state *s)
{
    restore(s);
    oc_free(s->side_name);
    s->side_name = NULL;
}

static onnxc_status pack(const onnxc_model *m, uint8_t **out, size_t *size, bool plain_malloc,
                         onnxc_error *err)
{
    size_t n = onnx__model_proto__get_packed_size(m->proto);
    uint8_t *buf = plain_malloc ? malloc(n ? n : 1) : oc_malloc(n ? n : 1);
    if (!buf) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory: the model packs to %zu bytes", n);
    size_t written = onnx__model_proto__pack(m->proto, buf);
    if (written != n) {
        if (plain_malloc) free(buf);
        else oc_free(buf);
        return oc_fail(err, ONNXC_ERR_RUNTIME, "protobuf pack wrote %zu bytes, expected %zu", written, n);
    }
    *out = buf;
    *size = n;
    return ONNXC_OK;
}

onnxc_status onnxc_model_save(const onnxc_model *model, const char *path,
                              const onnxc_save_options *options, onnxc_error *err)
{
    if (!model || !path) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_save: NULL argument");
    oc_error_clear(err);
    save_state s = {0};
    oc_atomic_file side;
    OC_TRY(prepare(model, path, options, &s, &side, err));
    uint8_t *buf = NULL;
    size_t n = 0;
    onnxc_status st = pack(model, &buf, &n, false, err);
    finish(&s);
    /* Write the model's temporary file completely, then rename the side file
     * and the model in that order: every failure before the renames leaves
     * both old files as they were. */
    oc_atomic_file main_file = {0};
    if (st == ONNXC_OK) st = oc_atomic_open(&main_file, path, err);
    if (st == ONNXC_OK && n && fwrite(buf, 1, n, main_file.fp) != n)
        st = oc_fail(err, ONNXC_ERR_IO, "%s: write failed, old file kept", path);
    if (st == ONNXC_OK && side.fp) st = oc_atomic_commit(&side, err);
    if (st == ONNXC_OK) st = oc_atomic_commit(&main_file, err);
    else oc_atomic_abort(&main_file);
    if (side.fp || side.tmp_path) oc_atomic_abort(&side);
    oc_free(buf);
    return st;
}

onnxc_status onnxc_model_save_memory(const onnxc_model *model, void **data, size_t *size,
                                     onnxc_error *err)
{
    if (!model || !data || !size)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_save_memory: NULL argument");
    oc_error_clear(err);
    save_state s = {0};
    oc_atomic_file unused;
    OC_TRY(prepare(model, NULL, NULL, &s, &unused, err));
    uint8_t *buf = NULL;
    onnxc_status st = pack(model, &buf, size, true, err);
    finish(&s);
    if (st == ONNXC_OK) *data = buf;
    return st;
}
