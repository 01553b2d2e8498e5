/*
 * Keras 3 .keras files: a zip of metadata.json, config.json and
 * model.weights.h5 (Keras writes them stored or deflated). Only the two
 * entries onnxc needs are read from the archive's bytes in memory into
 * memory; nothing is extracted to disk.
 */
#include <string.h>
#include <zip.h>

#include "alloc.h"
#include "error.h"
#include "keras_internal.h"

#define MAX_ENTRIES 65536
#define MAX_CONFIG_BYTES (64u << 20)

void oc_kzip_free(oc_kzip *z)
{
    if (!z) return;
    oc_free(z->config);
    oc_free(z->weights);
    memset(z, 0, sizeof *z);
}

/* An entry name that would land outside a folder it were extracted into. */
static bool unsafe_name(const char *name)
{
    if (!name[0] || name[0] == '/' || strchr(name, '\\')) return true;
    if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) && name[1] == ':')
        return true;                                   /* C:... */
    for (const char *p = name; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') return true;
        p += n;
        if (*p == '/') p++;
    }
    return false;
}

static onnxc_status read_entry(zip_t *z, const char *path, const char *name, uint64_t cap,
                               void **out, size_t *len, onnxc_error *err)
{
    zip_int64_t idx = zip_name_locate(z, name, 0);
    if (idx < 0)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: the .keras archive has no '%s'", path, name);
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(z, (zip_uint64_t)idx, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot read the zip entry of '%s'", path, name);
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: '%s' is encrypted", path, name);
    if ((st.valid & ZIP_STAT_COMP_METHOD) && !zip_compression_method_supported(st.comp_method, 0))
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED, "%s: '%s' uses zip compression method %d", path, name,
                       (int)st.comp_method);
    if (st.size > cap || st.size > SIZE_MAX - 1)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: '%s' is %llu bytes uncompressed; at most %llu", path,
                       name, (unsigned long long)st.size, (unsigned long long)cap);
    size_t n = (size_t)st.size;
    char *buf = oc_malloc(n + 1);                      /* + NUL for text */
    if (!buf) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for '%s' (%zu bytes)", path, name, n);
    zip_file_t *zf = zip_fopen_index(z, (zip_uint64_t)idx, 0);
    if (!zf) {
        onnxc_status s = oc_fail(err, ONNXC_ERR_PARSE, "%s: cannot open '%s' in the archive: %s", path,
                                 name, zip_strerror(z));
        oc_free(buf);
        return s;
    }
    size_t got = 0;
    zip_int64_t r = 1;
    while (got < n && (r = zip_fread(zf, buf + got, n - got)) > 0) got += (size_t)r;
    char extra;
    /* Reading past the end makes libzip check the CRC, and data beyond the
     * recorded size is an inconsistent archive. */
    zip_int64_t more = r < 0 ? -1 : zip_fread(zf, &extra, 1);
    onnxc_status s = ONNXC_OK;
    if (r < 0 || more < 0)
        s = oc_fail(err, ONNXC_ERR_PARSE, "%s: corrupt data in '%s': %s", path, name, zip_file_strerror(zf));
    else if (got != n || more > 0)
        s = oc_fail(err, ONNXC_ERR_PARSE, "%s: '%s' holds %s than the %zu bytes its zip entry records",
                    path, name, got != n ? "fewer bytes" : "more bytes", n);
    if (zip_fclose(zf) != 0 && s == ONNXC_OK)
        s = oc_fail(err, ONNXC_ERR_PARSE, "%s: corrupt data in '%s' (CRC mismatch?)", path, name);
    if (s != ONNXC_OK) {
        oc_free(buf);
        return s;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return ONNXC_OK;
}

static onnxc_status check_entries(zip_t *z, const char *path, onnxc_error *err)
{
    zip_int64_t n = zip_get_num_entries(z, 0);
    if (n < 0 || n > MAX_ENTRIES)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %lld zip entries; at most %d", path, (long long)n, MAX_ENTRIES);
    int seen_config = 0, seen_weights = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!name) return oc_fail(err, ONNXC_ERR_PARSE, "%s: unreadable name of zip entry %lld", path, (long long)i);
        if (unsafe_name(name))
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "%s: zip entry '%.200s' has an absolute or '..' path; refused", path, name);
        seen_config += !strcmp(name, "config.json");
        seen_weights += !strcmp(name, "model.weights.h5");
    }
    if (seen_config > 1 || seen_weights > 1)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: the archive holds %s twice; refused", path,
                       seen_config > 1 ? "config.json" : "model.weights.h5");
    if (seen_config == 1 && seen_weights == 0 && zip_name_locate(z, "model.weights.npz", 0) >= 0)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: weights are stored as model.weights.npz; onnxc reads model.weights.h5", path);
    return ONNXC_OK;
}

onnxc_status oc_keras_zip_read(const void *data, size_t size, const char *path,
                               const onnxc_limits *limits, oc_kzip *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &ze);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!z) {
        /* ZIP_CHECKCONS reports two entries of one name as "file exists". */
        onnxc_status s = zip_error_code_zip(&ze) == ZIP_ER_EXISTS
                             ? oc_fail(err, ONNXC_ERR_MODEL,
                                       "%s: the archive holds two entries with the same name; refused", path)
                             : oc_fail(err, ONNXC_ERR_PARSE, "%s: not a readable zip archive: %s", path,
                                       zip_error_strerror(&ze));
        zip_error_fini(&ze);
        if (src) zip_source_free(src);
        return s;
    }
    zip_error_fini(&ze);
    void *cfg = NULL;
    onnxc_status s = check_entries(z, path, err);
    if (s == ONNXC_OK) s = read_entry(z, path, "config.json", MAX_CONFIG_BYTES, &cfg, &out->config_len, err);
    if (s == ONNXC_OK) {
        out->config = cfg;
        s = read_entry(z, path, "model.weights.h5", limits->max_file_bytes, &out->weights,
                       &out->weights_len, err);
    }
    zip_discard(z);                                    /* also frees src; nothing to write back */
    if (s != ONNXC_OK) oc_kzip_free(out);
    return s;
}
