/* Safe read-only libhdf5 access for the Keras importer; see keras_hdf5.h. */
#define _GNU_SOURCE 1                 /* memmem */
#include "keras_hdf5.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

#define MAX_ATTR_BYTES (64u << 20)     /* one string attribute, e.g. model_config */
#define MAX_ATTR_ITEMS (1u << 20)
#define MAX_LINKS (1u << 20)
#define MAX_LINK_VALUE 4096

/* ------------------------------------------------------------------------ */
/* Library state                                                             */

static pthread_mutex_t h5_lock = PTHREAD_MUTEX_INITIALIZER;
static H5E_auto2_t saved_func;
static void *saved_data;
static unsigned saved_plugins;

void oc_h5_enter(void)
{
    pthread_mutex_lock(&h5_lock);
    /* The library must not print: keep the caller's handler and restore it
     * in oc_h5_leave. */
    if (H5Eget_auto2(H5E_DEFAULT, &saved_func, &saved_data) < 0) {
        saved_func = NULL;
        saved_data = NULL;
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* A file must never make libhdf5 dlopen a filter plugin (code from
     * HDF5_PLUGIN_PATH); check_storage refuses such datasets anyway. */
    if (H5PLget_loading_state(&saved_plugins) < 0) saved_plugins = H5PL_ALL_PLUGIN;
    H5PLset_loading_state(0);
}

void oc_h5_leave(void)
{
    H5PLset_loading_state(saved_plugins);
    H5Eset_auto2(H5E_DEFAULT, saved_func, saved_data);
    pthread_mutex_unlock(&h5_lock);
}

void oc_h5_fork_prepare(void) { pthread_mutex_lock(&h5_lock); }
void oc_h5_fork_parent(void) { pthread_mutex_unlock(&h5_lock); }
void oc_h5_fork_child(void) { pthread_mutex_init(&h5_lock, NULL); }

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

/*
 * File-image callbacks that hand libhdf5 the caller's buffer instead of
 * copies (what H5LTopen_file_image does, without its reference-counted
 * state, which leaks). Every "allocation" of the image size returns the
 * buffer, copies onto itself are no-ops, and nothing is freed or resized:
 * the file is opened read-only.
 */
static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)op;
    oc_h5 *h = udata;
    return size == h->image_size ? h->image : NULL;
}

static void *img_memcpy(void *dest, const void *src, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)size;
    (void)op;
    (void)udata;
    return dest == src ? dest : NULL;
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)size;
    (void)op;
    (void)udata;
    return NULL;
}

static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *udata)
{
    (void)ptr;
    (void)op;
    (void)udata;
    return 0;
}

static void *img_udata_copy(void *udata) { return udata; }
static herr_t img_udata_free(void *udata) { (void)udata; return 0; }

/*
 * Global heap collections hold every variable-length string (model_config,
 * layer_names, weight_names from Keras 2.7 on). libhdf5 1.10 trusts their
 * object sizes when it reads them: a flipped bit sends it past the buffer
 * or, for a zero-sized free-space object, round an endless loop. Walk every
 * collection ("GCOL", version 1) the way H5HG's decoder does and refuse the
 * file unless each object ends inside its collection.
 */
static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Size of lengths from the superblock (at 0, 512, 1024, ...), or 0. */
static int superblock_lengths(const uint8_t *img, size_t size)
{
    for (size_t at = 0; at + 16 <= size; at = at ? at * 2 : 512) {
        if (memcmp(img + at, "\x89HDF\r\n\x1a\n", 8) != 0) continue;
        int v = img[at + 8], len = v <= 1 ? img[at + 14] : img[at + 10];
        return len == 2 || len == 4 || len == 8 || len == 16 ? len : 0;
    }
    return 0;
}

static onnxc_status scan_heaps(const uint8_t *img, size_t size, const char *label, onnxc_error *err)
{
    int L = superblock_lengths(img, size);
    if (!L) return oc_fail(err, ONNXC_ERR_PARSE, "%s: no usable HDF5 superblock", label);
    int lw = L > 8 ? 8 : L;                          /* bytes we decode of each length */
    size_t hdr = (8 + (size_t)L + 7) & ~(size_t)7, objhdr = 8 + (size_t)L;
    for (const uint8_t *p = img; (p = memmem(p, size - (size_t)(p - img), "GCOL\x01", 5)); p++) {
        size_t off = (size_t)(p - img);
        if (size - off < hdr) break;
        uint64_t csize = get_le(p + 8, lw);
        if (csize < hdr || csize > size - off) continue;  /* libhdf5 rejects these itself */
        const uint8_t *q = p + hdr, *end = p + csize;
        while (q < end) {
            if ((size_t)(end - q) < objhdr) break;        /* tail free space */
            unsigned idx = (unsigned)get_le(q, 2);
            uint64_t osize = get_le(q + 8, lw);
            uint64_t need = idx > 0 ? objhdr + ((osize + 7) & ~(uint64_t)7) : osize;
            if (osize > csize || need < objhdr || need > (uint64_t)(end - q))
                return oc_fail(err, ONNXC_ERR_PARSE,
                               "%s: corrupt global heap at byte %zu: object %u of %llu bytes does not fit its "
                               "%llu-byte collection; refused", label, off, idx, (unsigned long long)osize,
                               (unsigned long long)csize);
            q += need;
        }
    }
    return ONNXC_OK;
}

onnxc_status oc_h5_open_image(oc_h5 *h, void *image, size_t size, const char *label,
                              const onnxc_limits *limits, onnxc_error *err)
{
    memset(h, 0, sizeof *h);
    h->file = H5I_INVALID_HID;
    h->label = label;
    h->limits = *limits;
    h->file_size = size;
    h->image = image;
    h->image_size = size;
    if (size < 8 || memcmp(image, "\x89HDF\r\n\x1a\n", 8) != 0)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: not an HDF5 file (no HDF5 signature)", label);
    if (size > limits->max_file_bytes)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes exceed max_file_bytes (%llu)", label, size,
                       (unsigned long long)limits->max_file_bytes);
    OC_TRY(scan_heaps(image, size, label, err));
    H5FD_file_image_callbacks_t cb = {img_malloc, img_memcpy, img_realloc, img_free,
                                      img_udata_copy, img_udata_free, h};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: libhdf5 could not create a property list", label);
    bool ok = H5Pset_fapl_core(fapl, 1 << 16, 0) >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) >= 0 &&
              H5Pset_file_image_callbacks(fapl, &cb) >= 0 && H5Pset_file_image(fapl, image, size) >= 0;
    if (ok) h->file = H5Fopen("onnxc-keras-image", H5F_ACC_RDONLY, fapl);
    H5Pclose(fapl);
    if (h->file < 0)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: libhdf5 cannot open it as an HDF5 file (truncated or corrupt?)", label);
    return ONNXC_OK;
}

void oc_h5_close(oc_h5 *h)
{
    if (h->file < 0) return;
    /* Close whatever an error path left open (the file is opened with
     * H5F_CLOSE_STRONG too, so this is belt and braces). */
    ssize_t n = H5Fget_obj_count(h->file, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE |
                                              H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
    if (n > 0) {
        hid_t *ids = oc_malloc((size_t)n * sizeof *ids);
        if (ids) {
            ssize_t got = H5Fget_obj_ids(h->file, H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE |
                                                      H5F_OBJ_ATTR | H5F_OBJ_LOCAL, (size_t)n, ids);
            for (ssize_t i = 0; i < got; i++) {
                if (H5Iget_type(ids[i]) == H5I_ATTR) H5Aclose(ids[i]);
                else if (H5Iget_type(ids[i]) == H5I_DATATYPE) H5Tclose(ids[i]);
                else H5Oclose(ids[i]);
            }
            oc_free(ids);
        }
    }
    H5Fclose(h->file);
    h->file = H5I_INVALID_HID;
}

/* ------------------------------------------------------------------------ */
/* Paths                                                                     */

static onnxc_status walk(oc_h5 *h, hid_t loc, const char *path, int hops, hid_t *out,
                         bool *missing, onnxc_error *err);

/* Open link `comp` of group `cur`, following a soft link's target. */
static onnxc_status open_link(oc_h5 *h, hid_t cur, const char *comp, const char *path, int hops,
                              hid_t *out, bool *missing, onnxc_error *err)
{
    htri_t ex = H5Lexists(cur, comp, H5P_DEFAULT);
    if (ex < 0)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot look up '%s' (corrupt file?)", h->label, path);
    if (ex == 0) {
        if (missing) {
            *missing = true;
            return ONNXC_OK;
        }
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: no object '%s'", h->label, path);
    }
    H5L_info_t info;
    if (H5Lget_info(cur, comp, &info, H5P_DEFAULT) < 0)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot read link '%s' (corrupt file?)", h->label, path);
    if (info.type == H5L_TYPE_HARD) {
        *out = H5Oopen(cur, comp, H5P_DEFAULT);
        if (*out < 0)
            return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot open '%s' (truncated or corrupt file?)",
                           h->label, path);
        return ONNXC_OK;
    }
    if (info.type == H5L_TYPE_SOFT) {
        if (hops >= OC_H5_MAX_SOFT_HOPS)
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "%s: soft links through '%s' go more than %d deep (a cycle?); refused",
                           h->label, path, OC_H5_MAX_SOFT_HOPS);
        char target[MAX_LINK_VALUE];
        if (info.u.val_size == 0 || info.u.val_size > sizeof target ||
            H5Lget_val(cur, comp, target, sizeof target, H5P_DEFAULT) < 0)
            return oc_fail(err, ONNXC_ERR_PARSE, "%s: unreadable soft link '%s'", h->label, path);
        target[sizeof target - 1] = '\0';
        return walk(h, cur, target, hops + 1, out, missing, err);
    }
    return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                   "%s: '%s' is an %s link; refused: onnxc never follows links out of the file",
                   h->label, path, info.type == H5L_TYPE_EXTERNAL ? "external" : "user-defined");
}

static onnxc_status walk(oc_h5 *h, hid_t loc, const char *path, int hops, hid_t *out,
                         bool *missing, onnxc_error *err)
{
    *out = H5I_INVALID_HID;
    hid_t cur = path[0] == '/' ? H5Gopen2(h->file, "/", H5P_DEFAULT) : H5Oopen(loc, ".", H5P_DEFAULT);
    if (cur < 0) return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot open the root group", h->label);
    const char *p = path;
    char comp[1024];
    while (*p) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0) break;
        if (n >= sizeof comp) {
            H5Oclose(cur);
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: path component of '%.200s' is too long", h->label, path);
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        p += n;
        if (!strcmp(comp, ".")) continue;
        if (H5Iget_type(cur) != H5I_GROUP) {
            H5Oclose(cur);
            if (missing) {
                *missing = true;
                return ONNXC_OK;
            }
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: '%s' is not under a group", h->label, path);
        }
        hid_t next = H5I_INVALID_HID;
        onnxc_status st = open_link(h, cur, comp, path, hops, &next, missing, err);
        H5Oclose(cur);
        if (st != ONNXC_OK || next < 0) return st;  /* error, or missing */
        cur = next;
    }
    *out = cur;
    return ONNXC_OK;
}

onnxc_status oc_h5_open(oc_h5 *h, hid_t loc, const char *path, hid_t *out, bool *missing,
                        onnxc_error *err)
{
    if (missing) *missing = false;
    return walk(h, loc, path, 0, out, missing, err);
}

/* ------------------------------------------------------------------------ */
/* Attributes                                                                */

void oc_h5_free_strings(char **s, size_t n)
{
    if (!s) return;
    for (size_t i = 0; i < n; i++) oc_free(s[i]);
    oc_free(s);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = oc_malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static onnxc_status read_vlen(oc_h5 *h, hid_t a, hid_t ftype, hid_t space, const char *where,
                              const char *name, char **out, size_t n, onnxc_error *err)
{
    hid_t mt = H5Tcopy(H5T_C_S1);
    char **buf = oc_calloc(n, sizeof *buf);
    onnxc_status st = ONNXC_OK;
    if (mt < 0 || !buf || H5Tset_size(mt, H5T_VARIABLE) < 0 || H5Tset_cset(mt, H5Tget_cset(ftype)) < 0) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory reading attribute %s/@%s", h->label, where, name);
    } else if (H5Aread(a, mt, buf) < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot read attribute %s/@%s (corrupt file?)", h->label,
                     where, name);
        /* A conversion that fails part way (a corrupt length, an allocation
         * refused) leaves the strings it already made in buf. */
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(mt, space, H5P_DEFAULT, buf);
#else
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
#endif
    } else {
        size_t total = 0;
        for (size_t i = 0; i < n && st == ONNXC_OK; i++) {
            size_t len = buf[i] ? strnlen(buf[i], MAX_ATTR_BYTES + 1) : 0;
            total += len;
            if (total > MAX_ATTR_BYTES)
                st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: attribute %s/@%s is over %u bytes", h->label,
                             where, name, MAX_ATTR_BYTES);
            else if (!(out[i] = dup_n(buf[i] ? buf[i] : "", len)))
                st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
        }
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(mt, space, H5P_DEFAULT, buf);
#else
        H5Dvlen_reclaim(mt, space, H5P_DEFAULT, buf);
#endif
    }
    if (mt >= 0) H5Tclose(mt);
    oc_free(buf);
    return st;
}

static onnxc_status read_fixed(oc_h5 *h, hid_t a, hid_t ftype, const char *where, const char *name,
                               char **out, size_t n, onnxc_error *err)
{
    size_t sz = H5Tget_size(ftype);
    if (sz == 0 || sz > MAX_ATTR_BYTES || n > MAX_ATTR_BYTES / sz)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: attribute %s/@%s: %zu strings of %zu bytes; at most %u bytes",
                       h->label, where, name, n, sz, MAX_ATTR_BYTES);
    H5T_str_t pad = H5Tget_strpad(ftype);
    hid_t mt = H5Tcopy(ftype);
    char *buf = oc_malloc(n * sz);
    onnxc_status st = ONNXC_OK;
    if (mt < 0 || !buf) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory reading attribute %s/@%s", h->label, where, name);
    } else if (H5Aread(a, mt, buf) < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot read attribute %s/@%s (corrupt file?)", h->label,
                     where, name);
    } else {
        for (size_t i = 0; i < n && st == ONNXC_OK; i++) {
            const char *s = buf + i * sz;
            size_t len = strnlen(s, sz);
            if (pad == H5T_STR_SPACEPAD)
                while (len > 0 && s[len - 1] == ' ') len--;
            if (!(out[i] = dup_n(s, len))) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
        }
    }
    if (mt >= 0) H5Tclose(mt);
    oc_free(buf);
    return st;
}

onnxc_status oc_h5_attr_strings(oc_h5 *h, hid_t obj, const char *where, const char *name,
                                char ***out, size_t *n, bool *found, onnxc_error *err)
{
    *out = NULL;
    *n = 0;
    *found = false;
    htri_t ex = H5Aexists(obj, name);
    if (ex < 0)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot look up attribute %s/@%s (corrupt file?)",
                       h->label, where, name);
    if (ex == 0) return ONNXC_OK;
    *found = true;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t s = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hssize_t np = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    onnxc_status st = ONNXC_OK;
    if (a < 0 || t < 0 || s < 0 || np < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot open attribute %s/@%s (corrupt file?)", h->label,
                     where, name);
    } else if (np == 0) {
        /* Keras writes empty weight_names as a float array of length 0. */
    } else if ((uint64_t)np > MAX_ATTR_ITEMS) {
        st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: attribute %s/@%s has %lld items; at most %u", h->label,
                     where, name, (long long)np, MAX_ATTR_ITEMS);
    } else if (H5Tget_class(t) != H5T_STRING) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: attribute %s/@%s: expected strings, got HDF5 type class %d",
                     h->label, where, name, (int)H5Tget_class(t));
    } else {
        char **strs = oc_calloc((size_t)np, sizeof *strs);
        if (!strs) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
        else {
            htri_t vl = H5Tis_variable_str(t);
            if (vl < 0) st = oc_fail(err, ONNXC_ERR_PARSE, "%s: attribute %s/@%s: bad string type", h->label, where, name);
            else if (vl) st = read_vlen(h, a, t, s, where, name, strs, (size_t)np, err);
            else st = read_fixed(h, a, t, where, name, strs, (size_t)np, err);
            if (st == ONNXC_OK) {
                *out = strs;
                *n = (size_t)np;
            } else {
                oc_h5_free_strings(strs, (size_t)np);
            }
        }
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Listing                                                                   */

typedef struct list_ctx {
    char **names;
    size_t n, cap;
    bool fail;
} list_ctx;

static herr_t list_cb(hid_t g, const char *name, const H5L_info_t *info, void *op)
{
    (void)g;
    (void)info;
    list_ctx *c = op;
    if (c->n >= MAX_LINKS) return -1;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        char **p = oc_realloc(c->names, cap * sizeof *p);
        if (!p) {
            c->fail = true;
            return -1;
        }
        c->names = p;
        c->cap = cap;
    }
    if (!(c->names[c->n] = oc_strdup(name))) {
        c->fail = true;
        return -1;
    }
    c->n++;
    return 0;
}

onnxc_status oc_h5_list(oc_h5 *h, hid_t g, const char *where, char ***names, size_t *n,
                        onnxc_error *err)
{
    list_ctx c = {0};
    hsize_t idx = 0;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, list_cb, &c);
    if (r < 0) {
        oc_h5_free_strings(c.names, c.n);
        if (c.fail) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory listing '%s'", h->label, where);
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot list group '%s' (corrupt file, or over %u links)",
                       h->label, where, MAX_LINKS);
    }
    *names = c.names;
    *n = c.n;
    return ONNXC_OK;
}

/* ------------------------------------------------------------------------ */
/* Datasets                                                                  */

/* Data must live in this file and decode without plugins. */
static onnxc_status check_storage(oc_h5 *h, hid_t ds, const char *shown, int *n_filters,
                                  onnxc_error *err)
{
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl < 0) return oc_fail(err, ONNXC_ERR_PARSE, "%s: dataset '%s': unreadable creation properties", h->label, shown);
    onnxc_status st = ONNXC_OK;
    int ext = H5Pget_external_count(dcpl);
    H5D_layout_t layout = H5Pget_layout(dcpl);
    int nf = H5Pget_nfilters(dcpl);
    if (ext < 0 || layout < 0 || nf < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: dataset '%s': unreadable storage layout", h->label, shown);
    } else if (ext > 0) {
        st = oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                     "%s: dataset '%s' keeps its data in %d external file(s); refused: onnxc reads only the file itself",
                     h->label, shown, ext);
    } else if (layout == H5D_VIRTUAL) {
        st = oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                     "%s: dataset '%s' is a virtual dataset mapping other files; refused", h->label, shown);
    }
    for (int i = 0; st == ONNXC_OK && i < nf; i++) {
        unsigned flags, cd[16];
        size_t ncd = 16;
        unsigned cfg;
        char fname[64];
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname, fname, &cfg);
        if (id != H5Z_FILTER_DEFLATE && id != H5Z_FILTER_SHUFFLE && id != H5Z_FILTER_FLETCHER32 &&
            id != H5Z_FILTER_NBIT && id != H5Z_FILTER_SCALEOFFSET)
            st = oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                         "%s: dataset '%s' needs HDF5 filter %d, which is not built into libhdf5; refused",
                         h->label, shown, (int)id);
    }
    *n_filters = nf;
    H5Pclose(dcpl);
    return st;
}

static onnxc_status read_dataset(oc_h5 *h, hid_t ds, const char *shown, oc_kweight *w, onnxc_error *err)
{
    int nf = 0;
    OC_TRY(check_storage(h, ds, shown, &nf, err));
    hid_t t = H5Dget_type(ds), s = H5Dget_space(ds);
    onnxc_status st = ONNXC_OK;
    hsize_t dims[ONNXC_MAX_RANK];
    int rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    H5S_class_t sc = s >= 0 ? H5Sget_simple_extent_type(s) : H5S_NO_CLASS;
    size_t tsize = t >= 0 ? H5Tget_size(t) : 0;
    if (t < 0 || s < 0 || rank < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: dataset '%s': unreadable type or shape", h->label, shown);
    } else if (H5Tget_class(t) != H5T_FLOAT || (tsize != 2 && tsize != 4 && tsize != 8)) {
        st = oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                     "%s: dataset '%s': expected float16/32/64 weights, got HDF5 type class %d of %zu bytes",
                     h->label, shown, (int)H5Tget_class(t), tsize);
    } else if (sc == H5S_NULL || rank > ONNXC_MAX_RANK) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: dataset '%s': expected rank 0 to %d with data, got %s",
                     h->label, shown, ONNXC_MAX_RANK, sc == H5S_NULL ? "an empty dataspace" : "a higher rank");
    } else if (H5Sget_simple_extent_dims(s, dims, NULL) < 0) {
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: dataset '%s': unreadable dims", h->label, shown);
    }
    uint64_t numel = 1, bytes = 0;
    for (int i = 0; st == ONNXC_OK && i < rank; i++) {
        if (dims[i] > (hsize_t)INT64_MAX || __builtin_mul_overflow(numel, (uint64_t)dims[i], &numel) ||
            numel > UINT64_MAX / 8)
            st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: dataset '%s': element count overflows", h->label, shown);
    }
    if (st == ONNXC_OK) {
        bytes = numel * sizeof(float);
        if (bytes > h->limits.max_tensor_bytes || bytes > SIZE_MAX / 2)
            st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: dataset '%s': %llu bytes exceed max_tensor_bytes (%llu)",
                         h->label, shown, (unsigned long long)bytes,
                         (unsigned long long)h->limits.max_tensor_bytes);
        else if (h->total_bytes + bytes > h->limits.max_total_bytes)
            st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: weights up to dataset '%s' exceed max_total_bytes (%llu)",
                         h->label, shown, (unsigned long long)h->limits.max_total_bytes);
    }
    if (st == ONNXC_OK && nf == 0 && numel > 0) {
        /* Unfiltered data is stored as is: the file must hold all of it. */
        uint64_t need = numel * tsize, have = H5Dget_storage_size(ds);
        if (have < need || have > h->file_size)
            st = oc_fail(err, ONNXC_ERR_MODEL,
                         "%s: dataset '%s' needs %llu bytes but its storage holds %llu (file of %llu bytes: "
                         "truncated or corrupt)", h->label, shown, (unsigned long long)need,
                         (unsigned long long)have, (unsigned long long)h->file_size);
    }
    float *data = NULL;
    if (st == ONNXC_OK && !(data = oc_malloc(bytes ? (size_t)bytes : sizeof(float))))
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for dataset '%s' (%llu bytes)", h->label, shown,
                     (unsigned long long)bytes);
    if (st == ONNXC_OK && numel > 0 && H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        st = oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot read dataset '%s' (truncated or corrupt file?)",
                     h->label, shown);
    for (uint64_t i = 0; st == ONNXC_OK && i < numel; i++) {
        if (!isfinite(data[i]))
            st = oc_fail(err, ONNXC_ERR_MODEL, "%s: dataset '%s' holds %s at element %llu; refused",
                         h->label, shown, isnan(data[i]) ? "NaN" : "Inf", (unsigned long long)i);
    }
    if (st == ONNXC_OK) {
        w->source = oc_strdup(shown);
        if (!w->source) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
    }
    if (st == ONNXC_OK) {
        w->data = data;
        w->rank = rank;
        for (int i = 0; i < rank; i++) w->dims[i] = (int64_t)dims[i];
        h->total_bytes += bytes;
    } else {
        oc_free(data);
    }
    if (t >= 0) H5Tclose(t);
    if (s >= 0) H5Sclose(s);
    return st;
}

onnxc_status oc_h5_read_floats(oc_h5 *h, hid_t loc, const char *path, const char *shown,
                               oc_kweight *w, onnxc_error *err)
{
    hid_t ds;
    OC_TRY(oc_h5_open(h, loc, path, &ds, NULL, err));
    onnxc_status st;
    if (H5Iget_type(ds) != H5I_DATASET)
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: '%s' is a group; expected a weight dataset", h->label, shown);
    else st = read_dataset(h, ds, shown, w, err);
    H5Oclose(ds);
    return st;
}
