/*
 * onnxc_model_save: re-pack the ModelProto the model was loaded from.
 *
 * Initializer values live in the proto itself where the loader could alias
 * them (raw_data, float_data, ...), so a trained model saves by packing.
 * Tensors whose bytes live elsewhere (external data read at load, realigned
 * copies) or that the caller moves to a side file are swapped into the
 * proto only for the duration of the pack and restored afterwards; every
 * other field, unknown fields included, is written back untouched.
 *
 * With external data the model is two files, and no rename replaces two
 * files at once. So the side file never overwrites the one the old model
 * reads: it alternates between two names, S ("<model>.data" or the
 * caller's external_file) and A (S with ".alt" before its extension,
 * "model.onnx.alt.data"), taking whichever the model on disk does not use.
 * The order is: side file written and renamed into place under the free
 * name, then the model renamed over the old one (the moment the new pair
 * takes effect), then the other name removed. A crash or error at any step
 * leaves a consistent pair: the old model with its old side file, or the
 * new model with the new one; at worst an unreferenced side file under the
 * other name, which the next save reuses or removes.
 */
#define _GNU_SOURCE 1 /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* The side file of an external-data save. */
typedef struct side_file {
    oc_atomic_file f;           /* open while being written, until committed */
    char *dir;                  /* the model's folder */
    char *name;                 /* basename the new model references (S or A) */
    char *other;                /* the other name, removed once the model is saved */
    char *path;                 /* dir/name */
    uint64_t offset;            /* bytes written so far */
} side_file;

typedef struct save_state {
    swap *swaps;
    int n_swaps;
    side_file side;
    bool external;              /* the caller asked for external data */
} save_state;

static void restore(save_state *s)
{
    for (int i = s->n_swaps - 1; i >= 0; i--) *s->swaps[i].tp = s->swaps[i].backup;
    oc_free(s->swaps);
    s->swaps = NULL;
    s->n_swaps = 0;
}

static void side_free(side_file *side)
{
    oc_atomic_abort(&side->f);
    oc_free(side->dir);
    oc_free(side->name);
    oc_free(side->other);
    oc_free(side->path);
    memset(side, 0, sizeof *side);
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

static swap *push(save_state *s, Onnx__TensorProto *tp)
{
    swap *w = &s->swaps[s->n_swaps++];
    memset(w, 0, sizeof *w);
    w->tp = tp;
    w->backup = *tp;
    return w;
}

/* ------------------------------------------------------------------------ */
/* Side-file names                                                           */

/* "model.onnx.data" -> "model.onnx.alt.data", "weights" -> "weights.alt". */
static char *alt_name(const char *s)
{
    const char *dot = strrchr(s, '.');
    if (!dot || dot == s) dot = s + strlen(s);
    size_t stem = (size_t)(dot - s);
    char *a = oc_malloc(strlen(s) + 5);
    if (!a) return NULL;
    memcpy(a, s, stem);
    memcpy(a + stem, ".alt", 4);
    strcpy(a + stem + 4, dot);
    return a;
}

static bool exists_at(const char *dir, const char *name)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return false;
    struct stat st;
    bool found = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
    close(dfd);
    return found;
}

/*
 * Does the file at `path` hold `name` as a length-delimited field 2 (the
 * `value` of an external_data entry)? A byte search, so it needs no parse of
 * a possibly damaged old model; a false match only makes the save pick the
 * other name. Reads 1 MiB at a time with an overlap for matches across reads.
 */
static onnxc_status file_mentions(const char *path, const char *name, bool *found, onnxc_error *err)
{
    *found = false;
    size_t len = strlen(name), plen = 0;
    uint8_t pat[16 + 4096];
    if (len > 4096) return ONNXC_OK;
    pat[plen++] = 0x12;                       /* field 2, wire type 2 */
    for (size_t v = len;; v >>= 7) {
        pat[plen++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        if (v <= 0x7f) break;
    }
    memcpy(pat + plen, name, len);
    plen += len;
    /* No old model (or not a regular file, which must not block us):
     * nothing references `name`. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0) return ONNXC_OK;
    FILE *fp = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        close(fd);
        return ONNXC_OK;
    }
    const size_t chunk = 1u << 20;
    uint8_t *buf = oc_malloc(chunk + plen);
    if (!buf) {
        fclose(fp);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory reading the old model", path);
    }
    size_t keep = 0, got;
    while (!*found && (got = fread(buf + keep, 1, chunk, fp)) > 0) {
        size_t have = keep + got;
        *found = memmem(buf, have, pat, plen) != NULL;
        keep = have < plen - 1 ? have : plen - 1;
        memmove(buf, buf + have - keep, keep);
    }
    fclose(fp);
    oc_free(buf);
    return ONNXC_OK;
}

/* The model's folder and the two side-file names, S and A (see the top of
 * the file), checked to differ from the model's own name. */
static onnxc_status side_names(const char *path, const onnxc_save_options *opt, char **dir,
                               char **want, char **alt, onnxc_error *err)
{
    char *pcopy = oc_strdup(path), *dcopy = oc_strdup(path), *bcopy = oc_strdup(path);
    *dir = *want = *alt = NULL;
    onnxc_status st = ONNXC_OK;
    if (pcopy && dcopy && bcopy) {
        *dir = oc_strdup(dirname(dcopy));
        if (opt->external_file) {
            char *ecopy = oc_strdup(opt->external_file);
            if (ecopy) *want = oc_strdup(basename(ecopy));
            oc_free(ecopy);
        } else if ((*want = oc_malloc(strlen(path) + 6)) != NULL) {
            sprintf(*want, "%s.data", basename(pcopy));
        }
    }
    if (*want) *alt = alt_name(*want);
    if (!*dir || !*alt) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory preparing the save", path);
    } else {
        const char *model_base = basename(bcopy);
        if (!**want || !strcmp(*want, ".") || !strcmp(*want, "..") || !strcmp(*want, "/") ||
            !strcmp(*want, model_base) || !strcmp(*alt, model_base))
            st = oc_fail(err, ONNXC_ERR_ARGUMENT,
                         "%s: external data file name '%s' is not usable; expected a file name other "
                         "than the model's",
                         path, opt->external_file ? opt->external_file : *want);
    }
    oc_free(pcopy);
    oc_free(dcopy);
    oc_free(bcopy);
    if (st != ONNXC_OK) {
        oc_free(*dir);
        oc_free(*want);
        oc_free(*alt);
        *dir = *want = *alt = NULL;
    }
    return st;
}

/* Picks the side file's name (see the top of the file) and opens it. */
static onnxc_status side_begin(const char *path, const onnxc_save_options *opt, side_file *side,
                               onnxc_error *err)
{
    char *want, *alt;
    OC_TRY(side_names(path, opt, &side->dir, &want, &alt, err));
    onnxc_status st = ONNXC_OK;
    bool use_alt;
    if (!exists_at(side->dir, want)) {
        use_alt = false;
    } else if (!exists_at(side->dir, alt)) {
        use_alt = true;
    } else {
        /* Both exist (an earlier save was interrupted): keep the one the
         * model on disk reads. */
        bool uses_want = false, uses_alt = false;
        if ((st = file_mentions(path, want, &uses_want, err)) == ONNXC_OK &&
            (st = file_mentions(path, alt, &uses_alt, err)) == ONNXC_OK && uses_want && uses_alt)
            st = oc_fail(err, ONNXC_ERR_IO,
                         "%s: the model on disk reads both '%s' and '%s'; expected at most one, so "
                         "neither can be replaced safely",
                         path, want, alt);
        use_alt = uses_want;
    }
    side->name = use_alt ? alt : want;
    side->other = use_alt ? want : alt;
    if (st == ONNXC_OK && !(side->path = oc_malloc(strlen(side->dir) + strlen(side->name) + 2)))
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory preparing the save", path);
    if (st == ONNXC_OK) {
        sprintf(side->path, "%s/%s", side->dir, side->name);
        st = oc_atomic_open(&side->f, side->path, err);
    }
    if (st != ONNXC_OK) side_free(side);
    return st;
}

/* Appends one tensor at the next 64-byte aligned offset (so readers can map
 * tensors in place). */
static onnxc_status side_append(side_file *side, const void *data, size_t bytes, onnxc_error *err)
{
    static const uint8_t zeros[64];
    size_t pad = (size_t)((64 - side->offset % 64) % 64);
    if ((pad && fwrite(zeros, 1, pad, side->f.fp) != pad) ||
        (bytes && fwrite(data, 1, bytes, side->f.fp) != bytes)) {
        return oc_atomic_fail(&side->f, errno, err);
    }
    side->offset += pad + bytes;
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Save                                                                      */

static void finish(save_state *s)
{
    restore(s);
}

/* Swaps every tensor whose bytes are not in the proto, writing the side
 * file on the way when asked. The side file stays uncommitted in s->side:
 * the caller renames it into place only once the model is written. */
static onnxc_status prepare(const onnxc_model *m, const char *path, const onnxc_save_options *opt,
                            save_state *s, onnxc_error *err)
{
    const oc_graph *g = &m->graph;
    memset(s, 0, sizeof *s);
    s->swaps = oc_calloc((size_t)g->n_values + 1, sizeof *s->swaps);
    if (!s->swaps) return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory saving the model");
    s->external = opt && opt->external_data && path;
    size_t threshold = s->external && opt->external_threshold ? opt->external_threshold : 1024;
    onnxc_status st = ONNXC_OK;
    for (int v = 0; v < g->n_values && st == ONNXC_OK; v++) {
        const oc_value *val = &g->values[v];
        if (val->kind != OC_VALUE_INITIALIZER || !val->init_proto) continue;
        size_t bytes;
        oc_shape_bytes(&val->init.shape, val->init.dtype, &bytes);
        bool stored_elsewhere = oc_tensor_is_external(val->init_proto) ||
                                (val->init_owned && val->init_proto->has_raw_data);
        if (s->external && bytes >= threshold) {
            if (!s->side.f.fp && (st = side_begin(path, opt, &s->side, err)) != ONNXC_OK) break;
            uint64_t at = (s->side.offset + 63) / 64 * 64;
            if ((st = side_append(&s->side, val->init.data, bytes, err)) != ONNXC_OK) break;
            swap *w = push(s, val->init_proto);
            clear_storage(w->tp);
            snprintf(w->offset, sizeof w->offset, "%llu", (unsigned long long)at);
            snprintf(w->length, sizeof w->length, "%zu", bytes);
            const char *keys[3] = {"location", "offset", "length"};
            const char *vals[3] = {s->side.name, w->offset, w->length};
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
        } else if (stored_elsewhere) {
            swap *w = push(s, val->init_proto);
            clear_storage(w->tp);
            w->tp->has_raw_data = 1;
            w->tp->raw_data.len = bytes;
            w->tp->raw_data.data = val->init.data;
        }
    }
    if (st != ONNXC_OK) {
        finish(s);
        side_free(&s->side);
    }
    return st;
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

/* Removes `name` from `dir` if it is there; the new model does not read it. */
static void remove_unused(const char *dir, const char *name)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    if (unlinkat(dfd, name, 0) == 0) (void)fsync(dfd);
    close(dfd);
}

/* An inference-only model no longer holds its weights in the file's layout. */
static onnxc_status refuse_inference_only(const onnxc_model *m, const char *dest, onnxc_error *err)
{
    if (!m->inference_only) return ONNXC_OK;
    return oc_fail(err, ONNXC_ERR_ARGUMENT,
                   "%s: cannot save to %s: the model was made inference-only "
                   "(onnxc_model_set_inference_only), which freed its weights' original bytes; "
                   "load the file again to save it", m->label, dest);
}

/* The model's temporary is written completely before anything is renamed;
 * then the side file, then the model. See the top of the file. */
onnxc_status onnxc_model_save(const onnxc_model *model, const char *path,
                              const onnxc_save_options *options, onnxc_error *err)
{
    if (!model || !path) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_save: NULL argument");
    oc_error_clear(err);
    OC_TRY(refuse_inference_only(model, path, err));
    save_state s;
    OC_TRY(prepare(model, path, options, &s, err));
    uint8_t *buf = NULL;
    size_t n = 0;
    onnxc_status st = pack(model, &buf, &n, false, err);
    finish(&s);
    oc_atomic_file main_file = {0};
    if (st == ONNXC_OK) st = oc_atomic_open(&main_file, path, err);
    if (st == ONNXC_OK && n && fwrite(buf, 1, n, main_file.fp) != n)
        st = oc_atomic_fail(&main_file, errno, err);
    oc_free(buf);
    bool side_placed = false;
    if (st == ONNXC_OK && s.side.f.fp) {
        st = oc_atomic_commit(&s.side.f, err);
        side_placed = st == ONNXC_OK;
    }
    if (st == ONNXC_OK) {
        st = oc_atomic_commit(&main_file, err);
        /* The old model is still in place and does not read the new side
         * file: take it away again. */
        if (st != ONNXC_OK && side_placed) remove_unused(s.side.dir, s.side.name);
    } else {
        oc_atomic_abort(&main_file);
    }
    if (st == ONNXC_OK && s.external) {
        if (s.side.name) {
            remove_unused(s.side.dir, s.side.other);
        } else {
            /* Nothing reached the threshold: the model reads no side file,
             * so neither of its names is in use any more. */
            char *dir, *want, *alt;
            if (side_names(path, options, &dir, &want, &alt, NULL) == ONNXC_OK) {
                remove_unused(dir, want);
                remove_unused(dir, alt);
                oc_free(dir);
                oc_free(want);
                oc_free(alt);
            }
        }
    }
    side_free(&s.side);
    return st;
}

onnxc_status onnxc_model_save_memory(const onnxc_model *model, void **data, size_t *size,
                                     onnxc_error *err)
{
    if (!model || !data || !size)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_model_save_memory: NULL argument");
    oc_error_clear(err);
    OC_TRY(refuse_inference_only(model, "memory", err));
    save_state s;
    OC_TRY(prepare(model, NULL, NULL, &s, err));
    uint8_t *buf = NULL;
    onnxc_status st = pack(model, &buf, size, true, err);
    finish(&s);
    side_free(&s.side);
    if (st == ONNXC_OK) *data = buf;
    return st;
}
