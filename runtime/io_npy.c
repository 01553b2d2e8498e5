/*
 * .npy reader and writer (format described in io_npy.h).
 *
 * The header is parsed by a small hand-written scanner for the subset of
 * Python literal syntax numpy writes (a dict of a string, a bool and a tuple
 * of ints), because the file is untrusted: every length is checked against
 * the bytes actually present before anything is allocated.
 */
#include "io_npy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "alloc.h"
#include "atomic_file.h"
#include "error.h"
#include "tensor.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "io_npy.c assumes a little-endian host ('<' data is copied as is)"
#endif

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* numpy's ARRAY_ALIGN and GROWTH_AXIS_MAX_DIGITS (numpy/lib/format.py): the
 * header is padded so data starts 64-byte aligned, with room for the first
 * axis to grow to 21 digits in place. */
enum { NPY_ALIGN = 64, NPY_GROWTH_DIGITS = 21 };

/* The dtypes onnxc reads and writes: kind letter and size as in '<f4'. */
static const struct {
    char kind;
    int size;
    onnxc_dtype dtype;
} npy_types[] = {
    {'f', 4, ONNXC_FLOAT},  {'f', 8, ONNXC_DOUBLE}, {'f', 2, ONNXC_FLOAT16},
    {'i', 4, ONNXC_INT32},  {'i', 8, ONNXC_INT64},  {'i', 1, ONNXC_INT8},
    {'i', 2, ONNXC_INT16},  {'u', 1, ONNXC_UINT8},  {'u', 2, ONNXC_UINT16},
    {'u', 4, ONNXC_UINT32}, {'u', 8, ONNXC_UINT64}, {'b', 1, ONNXC_BOOL},
};
#define NPY_TYPE_COUNT (sizeof npy_types / sizeof npy_types[0])

static const char npy_supported[] = "<f4 <f8 <f2 <i4 <i8 |i1 <i2 |u1 <u2 <u4 <u8 |b1";

/* ------------------------------------------------------------------------ */
/* Header scanner                                                            */

typedef struct scanner {
    const char *p, *begin, *end;
    size_t base;                 /* file offset of `begin`, for messages */
    const char *label;
    onnxc_error *err;
} scanner;

static size_t scan_offset(const scanner *s) { return s->base + (size_t)(s->p - s->begin); }

/* "got 'x'" or "got end of header" for messages. */
static const char *scan_got(const scanner *s, char *buf, size_t size)
{
    if (s->p >= s->end)
        snprintf(buf, size, "the end of the header");
    else if (*s->p >= 0x20 && *s->p < 0x7f)
        snprintf(buf, size, "'%c'", *s->p);
    else
        snprintf(buf, size, "byte 0x%02x", (unsigned char)*s->p);
    return buf;
}

static onnxc_status scan_expected(scanner *s, const char *what)
{
    char got[32];
    return oc_fail(s->err, ONNXC_ERR_PARSE, "%s: npy header: expected %s at byte %zu, got %s",
                   s->label, what, scan_offset(s), scan_got(s, got, sizeof got));
}

static void scan_space(scanner *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static onnxc_status scan_char(scanner *s, char c)
{
    scan_space(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return ONNXC_OK;
    }
    char what[8];
    snprintf(what, sizeof what, "'%c'", c);
    return scan_expected(s, what);
}

/* Consume `c` when it comes next (after spaces). */
static bool scan_maybe(scanner *s, char c)
{
    scan_space(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

/* A quoted string without escapes, copied NUL-terminated into buf. */
static onnxc_status scan_string(scanner *s, char *buf, size_t size, const char *what)
{
    scan_space(s);
    if (s->p >= s->end || (*s->p != '\'' && *s->p != '"')) return scan_expected(s, what);
    char quote = *s->p++;
    const char *start = s->p;
    while (s->p < s->end && *s->p != quote) {
        if (*s->p == '\\' || *s->p == '\n')
            return oc_fail(s->err, ONNXC_ERR_PARSE,
                           "%s: npy header: unsupported character in string at byte %zu",
                           s->label, scan_offset(s));
        s->p++;
    }
    if (s->p >= s->end) return scan_expected(s, "closing quote");
    size_t len = (size_t)(s->p - start);
    s->p++;
    if (len >= size)
        return oc_fail(s->err, ONNXC_ERR_PARSE,
                       "%s: npy header: %s is %zu characters, expected at most %zu", s->label,
                       what, len, size - 1);
    memcpy(buf, start, len);
    buf[len] = '\0';
    return ONNXC_OK;
}

static bool scan_word(scanner *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return false;
    const char *after = s->p + n;
    if (after < s->end && ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z') ||
                           (*after >= '0' && *after <= '9') || *after == '_'))
        return false;
    s->p = after;
    return true;
}

static onnxc_status scan_bool(scanner *s, bool *out)
{
    scan_space(s);
    if (scan_word(s, "True")) *out = true;
    else if (scan_word(s, "False")) *out = false;
    else return scan_expected(s, "True or False for 'fortran_order'");
    return ONNXC_OK;
}

/* A non-negative Python int; Python 2 era files may end it with 'L'. */
static onnxc_status scan_dim(scanner *s, int64_t *out)
{
    scan_space(s);
    size_t at = scan_offset(s);
    if (s->p < s->end && *s->p == '-')
        return oc_fail(s->err, ONNXC_ERR_PARSE,
                       "%s: npy header: negative dimension in 'shape' at byte %zu", s->label, at);
    if (s->p >= s->end || *s->p < '0' || *s->p > '9')
        return scan_expected(s, "a dimension (non-negative integer)");
    int64_t v = 0;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s->p - '0', &v))
            return oc_fail(s->err, ONNXC_ERR_PARSE,
                           "%s: npy header: dimension at byte %zu does not fit in int64",
                           s->label, at);
        s->p++;
    }
    if (s->p < s->end && (*s->p == 'L' || *s->p == 'l')) s->p++;
    *out = v;
    return ONNXC_OK;
}

/* "()", "(3,)", "(3, 4)", "(3, 4,)"; "(3)" is an int in Python, not a tuple. */
static onnxc_status scan_shape(scanner *s, oc_npy_header *h)
{
    OC_TRY(scan_char(s, '('));
    h->rank = 0;
    if (scan_maybe(s, ')')) return ONNXC_OK;
    for (;;) {
        int64_t d = 0;
        OC_TRY(scan_dim(s, &d));
        if (h->rank == ONNXC_MAX_RANK)
            return oc_fail(s->err, ONNXC_ERR_UNSUPPORTED,
                           "%s: npy shape has more than %d dimensions, the most onnxc supports",
                           s->label, ONNXC_MAX_RANK);
        h->dims[h->rank++] = d;
        bool comma = scan_maybe(s, ',');
        if (scan_maybe(s, ')')) {
            if (h->rank == 1 && !comma)
                return oc_fail(s->err, ONNXC_ERR_PARSE,
                               "%s: npy header: 'shape' must be a tuple, expected '(%lld,)', "
                               "got '(%lld)'",
                               s->label, (long long)d, (long long)d);
            return ONNXC_OK;
        }
        if (!comma) return scan_expected(s, "',' or ')' in 'shape'");
    }
}

/* '<f4' -> ONNXC_FLOAT. '=' and '|' mean native order, which is little. */
static onnxc_status parse_descr(const char *descr, const char *label, onnxc_dtype *out,
                                onnxc_error *err)
{
    char order = descr[0];
    char kind = order ? descr[1] : '\0';
    int size = 0;
    const char *d = kind ? descr + 2 : descr;
    if (*d >= '1' && *d <= '9' && d[1] == '\0') size = *d - '0';
    if (order && strchr("<>=|", order) && kind && size) {
        for (size_t i = 0; i < NPY_TYPE_COUNT; i++) {
            if (npy_types[i].kind != kind || npy_types[i].size != size) continue;
            if (order == '>' && size > 1)
                return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                               "%s: big-endian dtype '%s' is not supported, expected '<%c%d' "
                               "(convert with a.astype('<%c%d'))",
                               label, descr, kind, size, kind, size);
            *out = npy_types[i].dtype;
            return ONNXC_OK;
        }
    }
    return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                   "%s: npy dtype '%s' is not supported, expected one of %s", label, descr,
                   npy_supported);
}

/* The dict: exactly the keys descr, fortran_order and shape, in any order. */
static onnxc_status parse_dict(scanner *s, oc_npy_header *h)
{
    bool have_descr = false, have_order = false, have_shape = false, fortran = false;
    char descr[32];
    OC_TRY(scan_char(s, '{'));
    while (!scan_maybe(s, '}')) {
        char key[32];
        OC_TRY(scan_string(s, key, sizeof key, "a key string"));
        OC_TRY(scan_char(s, ':'));
        bool *seen;
        if (strcmp(key, "descr") == 0) {
            seen = &have_descr;
            scan_space(s);
            if (s->p < s->end && *s->p == '[')
                return oc_fail(s->err, ONNXC_ERR_UNSUPPORTED,
                               "%s: structured npy dtypes are not supported, expected one of %s",
                               s->label, npy_supported);
            OC_TRY(scan_string(s, descr, sizeof descr, "a dtype string for 'descr'"));
        } else if (strcmp(key, "fortran_order") == 0) {
            seen = &have_order;
            OC_TRY(scan_bool(s, &fortran));
        } else if (strcmp(key, "shape") == 0) {
            seen = &have_shape;
            OC_TRY(scan_shape(s, h));
        } else {
            return oc_fail(s->err, ONNXC_ERR_PARSE,
                           "%s: npy header: unexpected key '%s', expected 'descr', "
                           "'fortran_order' and 'shape'",
                           s->label, key);
        }
        if (*seen)
            return oc_fail(s->err, ONNXC_ERR_PARSE, "%s: npy header: key '%s' appears twice",
                           s->label, key);
        *seen = true;
        if (!scan_maybe(s, ',')) {
            OC_TRY(scan_char(s, '}'));
            break;
        }
    }
    scan_space(s);
    if (s->p != s->end) return scan_expected(s, "only padding after the header dict");
    if (!have_descr || !have_order || !have_shape)
        return oc_fail(s->err, ONNXC_ERR_PARSE, "%s: npy header lacks the key '%s'", s->label,
                       !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
    if (fortran)
        return oc_fail(s->err, ONNXC_ERR_UNSUPPORTED,
                       "%s: npy array is stored in Fortran order, expected C order "
                       "(save np.ascontiguousarray(a) instead)",
                       s->label);
    return parse_descr(descr, s->label, &h->dtype, s->err);
}

/* ------------------------------------------------------------------------ */
/* Preamble and whole header                                                 */

/*
 * Check magic and version in the first bytes `b` (`n` of them available, the
 * whole file being `total` bytes) and find where the header text lies.
 */
static onnxc_status parse_preamble(const unsigned char *b, size_t n, size_t total,
                                   const char *label, oc_npy_header *h, size_t *text_start,
                                   size_t *text_len, onnxc_error *err)
{
    if (n >= 6 && memcmp(b, npy_magic, 6) != 0)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: not a .npy file: expected magic \\x93NUMPY, got "
                       "%02x %02x %02x %02x %02x %02x",
                       label, b[0], b[1], b[2], b[3], b[4], b[5]);
    if (total < 10 || n < 10)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: file is %zu bytes, too short for a .npy preamble (at least 10)", label,
                       total);
    h->version_major = b[6];
    if (b[6] < 1 || b[6] > 3 || b[7] != 0)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: npy format version %u.%u, expected 1.0, 2.0 or 3.0", label, b[6],
                       b[7]);
    size_t start = b[6] == 1 ? 10 : 12;
    if (total < start || n < start)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: file is %zu bytes, too short for a version %u .npy preamble (%zu)",
                       label, total, b[6], start);
    uint32_t len = (uint32_t)b[8] | (uint32_t)b[9] << 8;
    if (start == 12) len |= (uint32_t)b[10] << 16 | (uint32_t)b[11] << 24;
    if (len > OC_NPY_MAX_HEADER)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: npy header is %u bytes, limit is %u", label,
                       len, OC_NPY_MAX_HEADER);
    if (len > total - start)
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: npy header length %u runs past the end of the file: expected at "
                       "least %zu bytes, found %zu",
                       label, len, start + len, total);
    *text_start = start;
    *text_len = len;
    return ONNXC_OK;
}

/* Parse the header text and size the data it announces. */
static onnxc_status parse_text(const char *text, size_t len, size_t start, const char *label,
                               oc_npy_header *h, onnxc_error *err)
{
    scanner s = {.p = text, .begin = text, .end = text + len, .base = start, .label = label,
                 .err = err};
    OC_TRY(parse_dict(&s, h));
    oc_shape shape = {.rank = h->rank};
    memcpy(shape.dims, h->dims, sizeof shape.dims);
    size_t bytes;
    if (!oc_shape_bytes(&shape, h->dtype, &bytes) || bytes > SIZE_MAX - (start + len)) {
        char sbuf[256];
        return oc_fail(err, ONNXC_ERR_PARSE,
                       "%s: npy shape %s of %s overflows the addressable size", label,
                       oc_shape_str(&shape, sbuf, sizeof sbuf), oc_dtype_name(h->dtype));
    }
    h->data_offset = start + len;
    h->data_bytes = bytes;
    return ONNXC_OK;
}

onnxc_status oc_npy_parse_header(const void *buf, size_t n, const char *label,
                                 oc_npy_header *hdr, onnxc_error *err)
{
    memset(hdr, 0, sizeof *hdr);
    if (!label) label = "<memory>";
    size_t start = 0, len = 0;
    OC_TRY(parse_preamble(buf, n, n, label, hdr, &start, &len, err));
    return parse_text((const char *)buf + start, len, start, label, hdr, err);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                   */

static onnxc_status size_mismatch(const char *label, const oc_npy_header *h, size_t found,
                                  onnxc_error *err)
{
    oc_shape shape = {.rank = h->rank};
    memcpy(shape.dims, h->dims, sizeof shape.dims);
    char sbuf[256];
    return oc_fail(err, ONNXC_ERR_PARSE,
                   "%s: npy data for %s %s: expected %zu bytes after the %zu-byte header, found "
                   "%zu",
                   label, oc_dtype_name(h->dtype), oc_shape_str(&shape, sbuf, sizeof sbuf),
                   h->data_bytes, h->data_offset, found);
}

/* Allocate out->data and fill dtype/rank/dims from the header. */
static onnxc_status prepare_out(const oc_npy_header *h, const char *label, onnxc_tensor *out,
                                onnxc_error *err)
{
    out->data = oc_aligned_alloc(h->data_bytes);
    if (!out->data)
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %zu bytes of npy data",
                       label, h->data_bytes);
    out->dtype = h->dtype;
    out->rank = h->rank;
    memcpy(out->dims, h->dims, sizeof out->dims);
    out->capacity = h->data_bytes;
    return ONNXC_OK;
}

/* numpy stores bools as bytes 0/1 but any other byte would still read as
 * true there; kernels rely on 0/1. */
static void normalize_bool(onnxc_tensor *t)
{
    if (t->dtype != ONNXC_BOOL) return;
    unsigned char *b = t->data;
    for (size_t i = 0; i < t->capacity; i++) b[i] = b[i] != 0;
}

onnxc_status oc_npy_parse(const void *buf, size_t n, const char *label, onnxc_tensor *out,
                          onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    if (!label) label = "<memory>";
    oc_npy_header h;
    OC_TRY(oc_npy_parse_header(buf, n, label, &h, err));
    if (n - h.data_offset != h.data_bytes) return size_mismatch(label, &h, n - h.data_offset, err);
    OC_TRY(prepare_out(&h, label, out, err));
    if (h.data_bytes) memcpy(out->data, (const char *)buf + h.data_offset, h.data_bytes);
    normalize_bool(out);
    return ONNXC_OK;
}

static onnxc_status read_exact(FILE *fp, void *dst, size_t n, const char *path,
                               onnxc_error *err)
{
    if (n && fread(dst, 1, n, fp) != n)
        return oc_fail(err, ONNXC_ERR_IO, "%s: read failed: %s", path,
                       ferror(fp) ? strerror(errno) : "unexpected end of file");
    return ONNXC_OK;
}

static onnxc_status read_file(FILE *fp, size_t total, const char *path, onnxc_tensor *out,
                              onnxc_error *err)
{
    unsigned char pre[12];
    size_t n = total < sizeof pre ? total : sizeof pre;
    oc_npy_header h;
    memset(&h, 0, sizeof h);
    size_t start = 0, len = 0;
    OC_TRY(read_exact(fp, pre, n, path, err));
    OC_TRY(parse_preamble(pre, n, total, path, &h, &start, &len, err));
    /* The preamble is 10 or 12 bytes; we may have read 2 header bytes already. */
    char *text = oc_malloc(len ? len : 1);
    if (!text) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for the npy header", path);
    onnxc_status st = ONNXC_OK;
    if (fseek(fp, (long)start, SEEK_SET) != 0)
        st = oc_fail(err, ONNXC_ERR_IO, "%s: seek failed: %s", path, strerror(errno));
    if (st == ONNXC_OK) st = read_exact(fp, text, len, path, err);
    if (st == ONNXC_OK) st = parse_text(text, len, start, path, &h, err);
    oc_free(text);
    OC_TRY(st);
    if (total - h.data_offset != h.data_bytes)
        return size_mismatch(path, &h, total - h.data_offset, err);
    OC_TRY(prepare_out(&h, path, out, err));
    st = read_exact(fp, out->data, h.data_bytes, path, err);
    if (st != ONNXC_OK) {
        oc_aligned_free(out->data);
        memset(out, 0, sizeof *out);
        return st;
    }
    normalize_bool(out);
    return ONNXC_OK;
}

onnxc_status oc_npy_read(const char *path, onnxc_tensor *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    onnxc_status status;
    if (fstat(fileno(fp), &st) != 0)
        status = oc_fail(err, ONNXC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        status = oc_fail(err, ONNXC_ERR_IO, "%s: expected a regular file", path);
    else if ((uint64_t)st.st_size > SIZE_MAX)
        status = oc_fail(err, ONNXC_ERR_LIMIT, "%s: file too large for this platform", path);
    else
        status = read_file(fp, (size_t)st.st_size, path, out, err);
    fclose(fp);
    return status;
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

/* snprintf at buf+*used, advancing *used; stops (used >= size) when full. */
static void append(char *buf, size_t size, size_t *used, const char *fmt, ...) OC_PRINTF(4, 5);

static void append(char *buf, size_t size, size_t *used, const char *fmt, ...)
{
    if (*used >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, size - *used, fmt, ap);
    va_end(ap);
    *used = n < 0 ? size : *used + (size_t)n;
}

static onnxc_status make_header(const onnxc_tensor *t, const char *label, char *buf,
                                size_t size, size_t *len, onnxc_error *err)
{
    int idx = -1;
    for (size_t i = 0; i < NPY_TYPE_COUNT; i++)
        if (npy_types[i].dtype == t->dtype) idx = (int)i;
    if (idx < 0)
        return oc_fail(err, ONNXC_ERR_UNSUPPORTED,
                       "%s: dtype %s cannot be written to .npy, expected one of %s", label,
                       oc_dtype_name(t->dtype), npy_supported);
    if (t->rank < 0 || t->rank > ONNXC_MAX_RANK)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: rank %d, expected 0..%d", label, t->rank,
                       ONNXC_MAX_RANK);
    /* The dict exactly as numpy's _write_array_header writes it: sorted
     * keys, Python reprs ("()", "(3,)", "(3, 4)"), then growth padding. */
    char dict[512];
    size_t used = 0;
    int sz = npy_types[idx].size;
    append(dict, sizeof dict, &used, "{'descr': '%c%c%d', 'fortran_order': False, 'shape': (",
           sz == 1 ? '|' : '<', npy_types[idx].kind, sz);
    for (int i = 0; i < t->rank; i++) {
        if (t->dims[i] < 0)
            return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: dim %d is %lld, expected >= 0", label, i,
                           (long long)t->dims[i]);
        append(dict, sizeof dict, &used, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
    }
    append(dict, sizeof dict, &used, "%s), }", t->rank == 1 ? "," : "");
    if (t->rank > 0) {
        char first[24];
        int digits = snprintf(first, sizeof first, "%lld", (long long)t->dims[0]);
        append(dict, sizeof dict, &used, "%*s", NPY_GROWTH_DIGITS - digits, "");
    }
    if (used >= sizeof dict)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: npy header too long", label);
    /* Version 1.0 unless the padded header no longer fits its u16 length. */
    size_t text = used + 1; /* + '\n' */
    size_t pre = 10, pad = NPY_ALIGN - (pre + text) % NPY_ALIGN;
    if (text + pad > 65535) {
        pre = 12;
        pad = NPY_ALIGN - (pre + text) % NPY_ALIGN;
    }
    size_t total = pre + text + pad;
    if (total > size)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: npy header needs %zu bytes, buffer has %zu",
                       label, total, size);
    size_t hlen = text + pad;
    memcpy(buf, npy_magic, 6);
    buf[6] = pre == 10 ? 1 : 2;
    buf[7] = 0;
    buf[8] = (char)(hlen & 0xff);
    buf[9] = (char)(hlen >> 8 & 0xff);
    if (pre == 12) {
        buf[10] = (char)(hlen >> 16 & 0xff);
        buf[11] = (char)(hlen >> 24 & 0xff);
    }
    memcpy(buf + pre, dict, used);
    memset(buf + pre + used, ' ', pad);
    buf[total - 1] = '\n';
    *len = total;
    return ONNXC_OK;
}

onnxc_status oc_npy_make_header(const onnxc_tensor *t, char *buf, size_t size, size_t *len,
                                onnxc_error *err)
{
    return make_header(t, t->name ? t->name : "tensor", buf, size, len, err);
}

onnxc_status oc_npy_write(const char *path, const onnxc_tensor *t, onnxc_error *err)
{
    char header[640];
    size_t hlen;
    OC_TRY(make_header(t, path, header, sizeof header, &hlen, err));
    oc_shape shape = {.rank = t->rank};
    memcpy(shape.dims, t->dims, sizeof shape.dims);
    size_t bytes;
    if (!oc_shape_bytes(&shape, t->dtype, &bytes))
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: tensor size overflows", path);
    if (bytes && !t->data)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "%s: tensor data is NULL, expected %zu bytes",
                       path, bytes);
    oc_atomic_file f;
    OC_TRY(oc_atomic_open(&f, path, err));
    if (fwrite(header, 1, hlen, f.fp) != hlen ||
        (bytes && fwrite(t->data, 1, bytes, f.fp) != bytes)) {
        int e = errno;
        oc_atomic_abort(&f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: write failed, old file kept: %s", path,
                       strerror(e));
    }
    return oc_atomic_commit(&f, err);
}
