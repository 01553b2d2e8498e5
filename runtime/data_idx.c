/*
 * IDX dataset files (format in data_idx.h). Files are read through zlib's
 * gzread, which passes uncompressed files through unchanged, so one code
 * path serves both ".gz" and plain files. The header is validated and the
 * payload size checked against the limit before anything large is
 * allocated; the data must then fill the file exactly.
 */
#include "data_idx.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "alloc.h"
#include "error.h"

/* Trailing bytes are counted up to this much for the message, so that a
 * gzip bomb appended to a file cannot keep us decompressing for long. */
#define TRAILING_COUNT_CAP ((uint64_t)64 << 20)

static const char *type_name(unsigned t)
{
    switch (t) {
    case 0x08: return "unsigned byte";
    case 0x09: return "signed byte";
    case 0x0B: return "int16";
    case 0x0C: return "int32";
    case 0x0D: return "float32";
    case 0x0E: return "float64";
    default: return NULL;
    }
}

/* Check the 4-byte magic `m` ("00 00 TYPE NDIMS"). */
static onnxc_status check_magic(const uint8_t *m, const char *label, onnxc_error *err)
{
    if (m[0] != 0 || m[1] != 0 || !type_name(m[2]))
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: not an idx file: expected magic 00 00 <type> <ndims>, got "
                       "%02x %02x %02x %02x",
                       label, m[0], m[1], m[2], m[3]);
    if (m[2] != 0x08)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: idx element type 0x%02X (%s) is not supported, expected 0x08 "
                       "(unsigned byte)",
                       label, m[2], type_name(m[2]));
    if (m[3] < 1 || m[3] > OC_IDX_MAX_DIMS)
        return oc_fail(err, m[3] ? ONNXC_ERR_UNSUPPORTED : ONNXC_ERR_PARSE,
                       "%s: idx file has %u dimensions, expected 1 to %d", label, m[3],
                       OC_IDX_MAX_DIMS);
    return ONNXC_OK;
}

/* Decode the big-endian dims after the magic and size the payload. */
static onnxc_status decode_dims(const uint8_t *d, int ndims, const char *label, oc_idx *out,
                                uint64_t *payload, onnxc_error *err)
{
    uint64_t bytes = 1;
    bool overflow = false;
    out->ndims = ndims;
    for (int i = 0; i < ndims; i++) {
        uint32_t v = (uint32_t)d[4 * i] << 24 | (uint32_t)d[4 * i + 1] << 16 |
                     (uint32_t)d[4 * i + 2] << 8 | (uint32_t)d[4 * i + 3];
        out->dims[i] = v;
        overflow |= __builtin_mul_overflow(bytes, (uint64_t)v, &bytes);
    }
    if (overflow || bytes > OC_IDX_MAX_BYTES) {
        char shape[128];
        size_t used = 0;
        for (int i = 0; i < ndims && used < sizeof shape; i++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%lld", i ? "x" : "",
                                     (long long)out->dims[i]);
        return oc_fail(err, ONNXC_ERR_LIMIT,
                       "%s: idx dims %s need more than the %llu-byte limit", label, shape,
                       (unsigned long long)OC_IDX_MAX_BYTES);
    }
    out->n_items = (size_t)out->dims[0];
    out->item_elems = 1;
    for (int i = 1; i < ndims; i++) out->item_elems *= (size_t)out->dims[i];
    *payload = bytes;
    return ONNXC_OK;
}

/* `more`: found is a lower bound. `detail`: appended as is (zlib's view). */
static onnxc_status size_mismatch(const char *label, uint64_t expected, size_t header,
                                  uint64_t found, bool more, const char *detail,
                                  onnxc_error *err)
{
    return oc_fail(err, ONNXC_ERR_PARSE,
                   "%s: idx data: expected %llu bytes after the %zu-byte header, found %s%llu "
                   "(%s)%s",
                   label, (unsigned long long)expected, header, more ? "more than " : "",
                   (unsigned long long)found,
                   found < expected ? "file truncated" : "trailing bytes", detail);
}

static onnxc_status alloc_data(oc_idx *out, uint64_t payload, const char *label,
                               onnxc_error *err)
{
    out->data = oc_aligned_alloc((size_t)payload);
    if (!out->data)
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %llu bytes of idx data",
                       label, (unsigned long long)payload);
    return ONNXC_OK;
}

onnxc_status oc_idx_parse(const void *buf, size_t n, const char *label, oc_idx *out,
                          onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    if (!label) label = "<memory>";
    const uint8_t *b = buf;
    if (n < 4)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: %zu bytes, too short for an idx header", label,
                       n);
    OC_TRY(check_magic(b, label, err));
    size_t header = 4 + 4 * (size_t)b[3];
    if (n < header)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: idx header of %d dims needs %zu bytes, found %zu", label, b[3],
                       header, n);
    uint64_t payload;
    onnxc_status st = decode_dims(b + 4, b[3], label, out, &payload, err);
    if (st == ONNXC_OK && n - header != payload)
        st = size_mismatch(label, payload, header, n - header, false, "", err);
    if (st == ONNXC_OK) st = alloc_data(out, payload, label, err);
    if (st != ONNXC_OK) {
        memset(out, 0, sizeof *out);
        return st;
    }
    memcpy(out->data, b + header, (size_t)payload);
    return ONNXC_OK;
}

/* Read up to n bytes and return how many arrived. A zlib error (corrupt
 * data, or a .gz cut short) stops the read; gz_problem then describes it. */
static uint64_t gz_read_all(gzFile gz, void *dst, uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        uint64_t chunk = n - done < (1u << 30) ? n - done : (1u << 30);
        int got = gzread(gz, (uint8_t *)dst + done, (unsigned)chunk);
        if (got <= 0) break;
        done += (uint64_t)got;
    }
    return done;
}

/* "; zlib: <what went wrong>", or "" when the stream has no error. */
static const char *gz_problem(gzFile gz, const char *path, char *buf, size_t size)
{
    int code = Z_OK;
    const char *msg = gzerror(gz, &code);
    if (code == Z_OK) {
        buf[0] = '\0';
        return buf;
    }
    if (!msg || !*msg) msg = "stream error";
    /* zlib prefixes its messages with the path, which ours already name. */
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) == 0 && strncmp(msg + pl, ": ", 2) == 0) msg += pl + 2;
    snprintf(buf, size, "; zlib: %s", msg);
    return buf;
}

/* The first buffer for a gzip payload; it doubles as data arrives. */
#define GZ_GROW_START ((uint64_t)1 << 20)

/*
 * Read the payload into out->data. A gzip header's dims are only a claim
 * until the data arrives (fuzz_idx: 24 bytes of gzip declaring 4 GiB made
 * the loader allocate 4 GiB before reading a byte), so the buffer starts at
 * 1 MiB and doubles while the stream keeps up: memory follows the data, at
 * the cost of copying it about once more. *got: bytes read.
 */
static onnxc_status read_payload(gzFile gz, uint64_t payload, const char *path, oc_idx *out,
                                 uint64_t *got, onnxc_error *err)
{
    uint64_t cap = payload < GZ_GROW_START ? payload : GZ_GROW_START;
    OC_TRY(alloc_data(out, cap, path, err));
    *got = gz_read_all(gz, out->data, cap);
    while (*got == cap && cap < payload) {
        uint64_t next = cap > payload / 2 ? payload : 2 * cap;
        uint8_t *bigger = oc_aligned_alloc((size_t)next);
        if (!bigger)
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %llu bytes of idx data", path,
                           (unsigned long long)next);
        memcpy(bigger, out->data, (size_t)cap);
        oc_aligned_free(out->data);
        out->data = bigger;
        *got += gz_read_all(gz, bigger + cap, next - cap);
        cap = next;
    }
    return ONNXC_OK;
}

/* Count what follows the payload (up to TRAILING_COUNT_CAP). */
static uint64_t count_rest(gzFile gz, bool *capped)
{
    uint8_t scratch[16384];
    uint64_t total = 0;
    *capped = false;
    for (;;) {
        int got = gzread(gz, scratch, sizeof scratch);
        if (got <= 0) return total;
        total += (uint64_t)got;
        if (total > TRAILING_COUNT_CAP) {
            *capped = true;
            return total;
        }
    }
}

static onnxc_status load_gz(gzFile gz, const char *path, oc_idx *out, onnxc_error *err)
{
    uint8_t head[4 + 4 * OC_IDX_MAX_DIMS];
    char zmsg[256];
    uint64_t got = gz_read_all(gz, head, 4);
    if (got < 4)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: %llu bytes, too short for an idx header%s",
                       path, (unsigned long long)got, gz_problem(gz, path, zmsg, sizeof zmsg));
    OC_TRY(check_magic(head, path, err));
    size_t header = 4 + 4 * (size_t)head[3];
    got = gz_read_all(gz, head + 4, header - 4);
    if (got < header - 4)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: idx header of %d dims needs %zu bytes, found %llu%s", path, head[3],
                       header, 4 + (unsigned long long)got,
                       gz_problem(gz, path, zmsg, sizeof zmsg));
    uint64_t payload;
    OC_TRY(decode_dims(head + 4, head[3], path, out, &payload, err));
    OC_TRY(read_payload(gz, payload, path, out, &got, err));
    if (got < payload)
        return size_mismatch(path, payload, header, got, false,
                             gz_problem(gz, path, zmsg, sizeof zmsg), err);
    bool capped;
    uint64_t rest = count_rest(gz, &capped);
    gz_problem(gz, path, zmsg, sizeof zmsg);
    if (rest) return size_mismatch(path, payload, header, payload + rest, capped, zmsg, err);
    /* e.g. a bad CRC, which zlib only sees after the last byte */
    if (zmsg[0])
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: corrupt gzip stream after the data%s", path,
                       zmsg);
    return ONNXC_OK;
}

onnxc_status oc_idx_load(const char *path, oc_idx *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return oc_fail(err, ONNXC_ERR_IO, "%s: expected a regular file", path);
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path,
                       errno ? strerror(errno) : "out of memory");
    onnxc_status st = load_gz(gz, path, out, err);
    gzclose(gz);
    if (st != ONNXC_OK) oc_idx_free(out);
    return st;
}

void oc_idx_free(oc_idx *ds)
{
    if (!ds) return;
    oc_aligned_free(ds->data);
    memset(ds, 0, sizeof *ds);
}

void oc_idx_batch_to_float(const oc_idx *ds, const int64_t *rows, size_t n_rows, float *out)
{
    /* A table gives exactly value / 255.0f (not value * (1 / 255.0f), which
     * rounds differently) without a division per pixel. */
    float scale[256];
    for (int v = 0; v < 256; v++) scale[v] = (float)v / 255.0f;
    size_t item = ds->item_elems;
    for (size_t r = 0; r < n_rows; r++) {
        assert(rows[r] >= 0 && (uint64_t)rows[r] < ds->n_items);
        const uint8_t *src = ds->data + (size_t)rows[r] * item; /* [item] */
        float *dst = out + r * item;                            /* [item] */
        for (size_t j = 0; j < item; j++) dst[j] = scale[src[j]];
    }
}

void oc_idx_batch_labels(const oc_idx *labels, const int64_t *rows, size_t n_rows, int64_t *out)
{
    assert(labels->item_elems == 1);
    for (size_t r = 0; r < n_rows; r++) {
        assert(rows[r] >= 0 && (uint64_t)rows[r] < labels->n_items);
        out[r] = labels->data[rows[r]];
    }
}

/* ------------------------------------------------------------------------ */
/* Dataset folders                                                           */

static bool is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* First existing "<dir>/<split>-<kind>-idx<d>-ubyte[.gz]" or
 * "<dir>/<split>-<kind>.idx<d>-ubyte"; *path is oc_malloc'd. */
static onnxc_status find_one(const char *dir, const char *split, const char *kind, int d,
                             char **path, onnxc_error *err)
{
    static const char *const patterns[] = {"%s%s%s-%s-idx%d-ubyte", "%s%s%s-%s-idx%d-ubyte.gz",
                                           "%s%s%s-%s.idx%d-ubyte"};
    size_t dl = strlen(dir);
    const char *sep = dl && dir[dl - 1] == '/' ? "" : "/";
    size_t cap = dl + strlen(split) + strlen(kind) + 32;
    char *buf = oc_malloc(cap);
    if (!buf) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", dir);
    for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
        snprintf(buf, cap, patterns[i], dir, sep, split, kind, d);
        if (is_file(buf)) {
            *path = buf;
            return ONNXC_OK;
        }
    }
    oc_free(buf);
    return oc_fail(err, ONNXC_ERR_IO,
                   "%s: no %s %s file, expected %s-%s-idx%d-ubyte, %s-%s-idx%d-ubyte.gz or "
                   "%s-%s.idx%d-ubyte",
                   dir, split, kind, split, kind, d, split, kind, d, split, kind, d);
}

onnxc_status oc_idx_find_split(const char *dir, const char *split, char **images_path,
                               char **labels_path, onnxc_error *err)
{
    *images_path = *labels_path = NULL;
    if (!split[0] || strchr(split, '/'))
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "idx split name '%s' is invalid, expected a name such as train or t10k",
                       split);
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open dataset folder: %s", dir,
                       strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return oc_fail(err, ONNXC_ERR_IO, "%s: expected a dataset folder, got a file", dir);
    OC_TRY(find_one(dir, split, "images", 3, images_path, err));
    onnxc_status st = find_one(dir, split, "labels", 1, labels_path, err);
    if (st != ONNXC_OK) {
        oc_free(*images_path);
        *images_path = NULL;
    }
    return st;
}

static onnxc_status check_pair(const oc_idx *images, const oc_idx *labels, const char *ipath,
                               const char *lpath, onnxc_error *err)
{
    if (labels->ndims != 1)
        return oc_fail(err, ONNXC_ERR_SHAPE, "%s: labels have %d dims, expected 1", lpath,
                       labels->ndims);
    if (images->ndims < 2)
        return oc_fail(err, ONNXC_ERR_SHAPE, "%s: images have %d dim, expected at least 2",
                       ipath, images->ndims);
    if (images->n_items != labels->n_items)
        return oc_fail(err, ONNXC_ERR_SHAPE,
                       "%s: %zu labels, expected one per image of %s (%zu images)", lpath,
                       labels->n_items, ipath, images->n_items);
    return ONNXC_OK;
}

onnxc_status oc_idx_load_split(const char *dir, const char *split, oc_idx *images,
                               oc_idx *labels, onnxc_error *err)
{
    memset(images, 0, sizeof *images);
    memset(labels, 0, sizeof *labels);
    char *ipath, *lpath;
    OC_TRY(oc_idx_find_split(dir, split, &ipath, &lpath, err));
    onnxc_status st = oc_idx_load(ipath, images, err);
    if (st == ONNXC_OK) st = oc_idx_load(lpath, labels, err);
    if (st == ONNXC_OK) st = check_pair(images, labels, ipath, lpath, err);
    if (st != ONNXC_OK) {
        oc_idx_free(images);
        oc_idx_free(labels);
    }
    oc_free(ipath);
    oc_free(lpath);
    return st;
}
