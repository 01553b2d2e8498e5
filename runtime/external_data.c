#include "external_data.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"

bool oc_tensor_is_external(const Onnx__TensorProto *tp)
{
    return tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}

/* Strict decimal: digits only, no sign, no overflow. */
static bool parse_decimal(const char *s, uint64_t *out)
{
    if (!*s) return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
            return false;
    }
    *out = v;
    return true;
}

static onnxc_status check_location(const char *loc, const char *what, onnxc_error *err)
{
    if (!loc[0]) return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data location is empty", what);
    if (loc[0] == '/' || loc[0] == '\\')
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "%s: external data location '%s' is absolute; expected a path relative to the model's folder",
                       what, loc);
    /* Reject any ".." component, with either separator. */
    const char *p = loc;
    while (*p) {
        size_t len = strcspn(p, "/\\");
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return oc_fail(err, ONNXC_ERR_MODEL,
                           "%s: external data location '%s' contains '..'; it must stay inside the model's folder",
                           what, loc);
        p += len;
        if (*p) p++;
    }
    if (strchr(loc, ':'))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data location '%s' contains ':'", what,
                       loc);
    return ONNXC_OK;
}

onnxc_status oc_external_read(const Onnx__TensorProto *tp, const char *base_dir,
                              size_t expected, void **data, const char *what,
                              onnxc_error *err)
{
    *data = NULL;
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        const char *key = e->key ? e->key : "";
        const char **slot = strcmp(key, "location") == 0 ? &loc
                          : strcmp(key, "offset") == 0   ? &off_s
                          : strcmp(key, "length") == 0   ? &len_s
                                                         : NULL;
        if (!slot) continue; /* checksum and future keys are informational */
        if (*slot)
            return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data key '%s' appears twice", what, key);
        *slot = e->value ? e->value : "";
    }
    if (!loc) return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data has no 'location' key", what);
    if (!base_dir)
        return oc_fail(err, ONNXC_ERR_MODEL,
                       "%s: external data '%s' cannot be resolved for a model loaded from memory without a base folder",
                       what, loc);
    OC_TRY(check_location(loc, what, err));
    uint64_t offset = 0, length = 0;
    if (off_s && !parse_decimal(off_s, &offset))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data offset '%s' is not a decimal number",
                       what, off_s);
    if (len_s && !parse_decimal(len_s, &length))
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: external data length '%s' is not a decimal number",
                       what, len_s);

    char *path = oc_malloc(strlen(base_dir) + strlen(loc) + 2);
    if (!path) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", what);
    strcpy(path, base_dir);
    strcat(path, "/");
    strcat(path, loc);
    onnxc_status st = ONNXC_OK;
    char real_base[PATH_MAX], real_file[PATH_MAX];
    int fd = -1;
    /* Resolve symlinks on both sides; the file must live under the base. */
    if (!realpath(base_dir, real_base)) {
        st = oc_fail(err, ONNXC_ERR_IO, "%s: model folder '%s': %s", what, base_dir, strerror(errno));
        goto done;
    }
    if (!realpath(path, real_file)) {
        st = oc_fail(err, ONNXC_ERR_IO, "%s: external data file '%s': %s", what, path, strerror(errno));
        goto done;
    }
    size_t bl = strlen(real_base);
    if (strncmp(real_file, real_base, bl) != 0 || (real_file[bl] != '/' && strcmp(real_base, "/") != 0)) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: external data '%s' resolves to '%s', outside the model's folder '%s'", what,
                     loc, real_file, real_base);
        goto done;
    }
    /* O_NONBLOCK so a FIFO cannot hang the open; the type check follows. */
    fd = open(real_file, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    struct stat stb;
    if (fd < 0 || fstat(fd, &stb) != 0) {
        st = oc_fail(err, ONNXC_ERR_IO, "%s: external data file '%s': %s", what, real_file,
                     strerror(errno));
        goto done;
    }
    if (!S_ISREG(stb.st_mode)) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: external data '%s' is not a regular file", what, loc);
        goto done;
    }
    uint64_t fsize = (uint64_t)stb.st_size;
    if (offset > fsize) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: external data offset %llu is past the end of '%s' (%llu bytes)",
                     what, (unsigned long long)offset, loc, (unsigned long long)fsize);
        goto done;
    }
    if (!len_s) length = fsize - offset;
    uint64_t end;
    if (__builtin_add_overflow(offset, length, &end) || end > fsize) {
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: external data range offset %llu + length %llu exceeds the size of '%s' (%llu bytes)",
                     what, (unsigned long long)offset, (unsigned long long)length, loc,
                     (unsigned long long)fsize);
        goto done;
    }
    if (length != expected) {
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: dims need %zu bytes, external data holds %llu", what,
                     expected, (unsigned long long)length);
        goto done;
    }
    *data = oc_aligned_alloc(expected ? expected : 1);
    if (!*data) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %zu bytes", what, expected);
        goto done;
    }
    size_t got = 0;
    while (got < expected) {
        ssize_t r = pread(fd, (char *)*data + got, expected - got, (off_t)(offset + got));
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            st = oc_fail(err, ONNXC_ERR_IO, "%s: reading external data '%s': %s", what, loc,
                         r < 0 ? strerror(errno) : "unexpected end of file");
            oc_aligned_free(*data);
            *data = NULL;
            goto done;
        }
        got += (size_t)r;
    }
done:
    if (fd >= 0) close(fd);
    oc_free(path);
    return st;
}
