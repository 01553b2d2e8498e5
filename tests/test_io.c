/*
 * Tensor files: .npy (io_npy.c) and TensorProto .pb (io_tensor_pb.c) through
 * the public onnxc_tensor_load / onnxc_tensor_save.
 *
 * References are outside the library: numpy writes .npy files that we read
 * and check value by value, our written files are compared byte for byte with
 * what np.save writes for the same array, onnx.helper / numpy_helper write
 * the .pb files, and onnx.numpy_helper.to_array reads our .pb files back.
 * Hostile inputs are crafted by hand below.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "io_npy.h"
#include "io_tensor_pb.h"
#include "testutil.h"

#define PY "/usr/bin/python3"

/* Run a python script with the folder as argv[1]; the test fails with its
 * stderr when it exits non-zero. */
static void run_python(const char *script, const char *dir)
{
    tu_proc p;
    tu_run((const char *[]){PY, "-c", script, dir, NULL}, 300, &p);
    cr_assert_eq(p.status, 0, "python exited %d:\n%s", p.status, p.err);
    tu_proc_free(&p);
}

static onnxc_tensor load_ok(const char *path)
{
    onnxc_tensor t;
    onnxc_error err;
    onnxc_status st = onnxc_tensor_load(path, &t, &err);
    cr_assert_eq(st, ONNXC_OK, "load %s: %s", path, err.message);
    cr_assert_not_null(t.data);
    cr_assert_null(t.name);
    cr_assert_eq((uintptr_t)t.data % 64, 0, "data is not 64-byte aligned");
    return t;
}

/* Loading must fail with `status`, and the message must name `path` and
 * contain each of the NULL-terminated fragments. */
static void load_fails(const char *path, onnxc_status status, const char *const *fragments)
{
    onnxc_tensor t;
    onnxc_error err;
    memset(&t, 0x5a, sizeof t);
    onnxc_status st = onnxc_tensor_load(path, &t, &err);
    cr_assert_eq(st, status, "%s: expected status %s, got %s: %s", path,
                 onnxc_status_name(status), onnxc_status_name(st), err.message);
    cr_assert_null(t.data, "%s: data left set after a failed load", path);
    cr_assert(strstr(err.message, path), "message does not name the file: %s", err.message);
    for (; fragments && *fragments; fragments++)
        cr_assert(strstr(err.message, *fragments), "message lacks '%s': %s", *fragments,
                  err.message);
}

static void check_dims(const onnxc_tensor *t, onnxc_dtype dtype, int rank, const int64_t *dims)
{
    cr_assert_eq(t->dtype, dtype, "dtype %s, expected %s", onnxc_dtype_name(t->dtype),
                 onnxc_dtype_name(dtype));
    cr_assert_eq(t->rank, rank);
    for (int i = 0; i < rank; i++) cr_assert_eq(t->dims[i], dims[i], "dim %d", i);
}

/* ------------------------------------------------------------------------ */
/* .npy written by numpy                                                     */

static const char npy_script[] =
    "import sys, numpy as np\n"
    "d = sys.argv[1]\n"
    "a = np.array([[1.5, -2.25, 3.0], [4.0, 5.5, -6.75]], np.float32)\n"
    "np.save(d + '/v1.npy', a)\n"
    "with open(d + '/v2.npy', 'wb') as f: np.lib.format.write_array(f, a, version=(2, 0))\n"
    "with open(d + '/v3.npy', 'wb') as f: np.lib.format.write_array(f, a, version=(3, 0))\n"
    "np.save(d + '/f8_scalar.npy', np.float64(3.25))\n"
    "np.save(d + '/i4.npy', np.arange(-3, 4, dtype=np.int32))\n"
    "np.save(d + '/i8.npy', np.array([-(2**40), 0, 2**62], np.int64))\n"
    "np.save(d + '/u1.npy', np.arange(0, 256, 51, dtype=np.uint8).reshape(2, 3))\n"
    "np.save(d + '/b1.npy', np.array([True, False, True, True]))\n"
    "np.save(d + '/i1.npy', np.array([-128, -1, 0, 127], np.int8))\n"
    "np.save(d + '/empty.npy', np.zeros((0, 3), np.float32))\n"
    "np.save(d + '/fortran.npy', np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))\n"
    "np.save(d + '/bigendian.npy', np.arange(3, dtype='>f4'))\n"
    "np.save(d + '/complex.npy', np.zeros(2, np.complex64))\n"
    "np.save(d + '/strings.npy', np.array(['ab', 'c']))\n";

Test(npy, numpy_files_all_versions)
{
    char *dir = tu_tmpdir("npy");
    run_python(npy_script, dir);
    const float want_f4[6] = {1.5f, -2.25f, 3.0f, 4.0f, 5.5f, -6.75f};
    const char *versions[] = {"v1", "v2", "v3"};
    for (int v = 0; v < 3; v++) {
        char *path = tu_path("%s/%s.npy", dir, versions[v]);
        onnxc_tensor t = load_ok(path);
        check_dims(&t, ONNXC_FLOAT, 2, (int64_t[]){2, 3});
        cr_assert_eq(t.capacity, sizeof want_f4);
        cr_assert_arr_eq(t.data, want_f4, sizeof want_f4, "%s values differ", versions[v]);
        onnxc_tensor_release(&t);
        cr_assert_null(t.data);
        free(path);
    }
    char *p = tu_path("%s/f8_scalar.npy", dir);
    onnxc_tensor t = load_ok(p);
    check_dims(&t, ONNXC_DOUBLE, 0, NULL);
    cr_assert_eq(((double *)t.data)[0], 3.25);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/i4.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT32, 1, (int64_t[]){7});
    for (int i = 0; i < 7; i++) cr_assert_eq(((int32_t *)t.data)[i], i - 3);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/i8.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT64, 1, (int64_t[]){3});
    cr_assert_eq(((int64_t *)t.data)[0], -(INT64_C(1) << 40));
    cr_assert_eq(((int64_t *)t.data)[2], INT64_C(1) << 62);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/u1.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_UINT8, 2, (int64_t[]){2, 3});
    for (int i = 0; i < 6; i++) cr_assert_eq(((uint8_t *)t.data)[i], 51 * i);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/b1.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_BOOL, 1, (int64_t[]){4});
    cr_assert_arr_eq(t.data, ((uint8_t[]){1, 0, 1, 1}), 4);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/i1.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT8, 1, (int64_t[]){4});
    cr_assert_arr_eq(t.data, ((int8_t[]){-128, -1, 0, 127}), 4);
    onnxc_tensor_release(&t);
    free(p);

    p = tu_path("%s/empty.npy", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_FLOAT, 2, (int64_t[]){0, 3});
    cr_assert_eq(t.capacity, 0);
    onnxc_tensor_release(&t);
    free(p);

    struct { const char *file; onnxc_status st; const char *frag; } bad[] = {
        {"fortran.npy", ONNXC_ERR_UNSUPPORTED, "Fortran order"},
        {"bigendian.npy", ONNXC_ERR_UNSUPPORTED, "big-endian dtype '>f4'"},
        {"complex.npy", ONNXC_ERR_UNSUPPORTED, "'<c8' is not supported"},
        {"strings.npy", ONNXC_ERR_UNSUPPORTED, "'<U2' is not supported"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = tu_path("%s/%s", dir, bad[i].file);
        load_fails(p, bad[i].st, (const char *[]){bad[i].frag, NULL});
        free(p);
    }
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* .npy written by us: byte-identical to np.save, and read back              */

static const char npy_ref_script[] =
    "import sys, numpy as np\n"
    "d = sys.argv[1]\n"
    "np.save(d + '/ref_f4.npy', (np.arange(12, dtype=np.float32) * 0.5 - 2).reshape(3, 4))\n"
    "np.save(d + '/ref_f8.npy', np.float64(-1.25))\n"
    "np.save(d + '/ref_i8.npy', np.array([-3, -1, 0, 1, 2**40], np.int64))\n"
    "np.save(d + '/ref_i4.npy', np.zeros((123456789, 0), np.int32))\n"
    "np.save(d + '/ref_u1.npy', np.arange(24, dtype=np.uint8).reshape(2, 3, 4))\n"
    "np.save(d + '/ref_b1.npy', np.array([[True, False], [False, True]]))\n"
    "np.save(d + '/ref_i1.npy', np.array([-5, 7], np.int8))\n"
    "np.save(d + '/ref_f2.npy', np.array([1.0, -2.0, 0.5], np.float16))\n"
    "np.save(d + '/ref_i2.npy', np.array([-300, 300], np.int16))\n"
    "np.save(d + '/ref_u2.npy', np.array([65535, 1], np.uint16))\n"
    "np.save(d + '/ref_u4.npy', np.array([4000000000], np.uint32))\n"
    "np.save(d + '/ref_u8.npy', np.array([2**64 - 1], np.uint64))\n"
    "np.save(d + '/ref_rank8.npy',\n"
    "        np.arange(16, dtype=np.float32).reshape(1, 2, 1, 2, 1, 2, 1, 2))\n";

typedef struct ref_case {
    const char *name;
    onnxc_tensor t;
} ref_case;

Test(npy, writer_matches_numpy_and_round_trips)
{
    char *dir = tu_tmpdir("npyw");
    run_python(npy_ref_script, dir);
    float f4[12], r8[16];
    for (int i = 0; i < 12; i++) f4[i] = (float)i * 0.5f - 2.0f;
    for (int i = 0; i < 16; i++) r8[i] = (float)i;
    double f8 = -1.25;
    int64_t i8[] = {-3, -1, 0, 1, INT64_C(1) << 40};
    uint8_t u1[24];
    for (int i = 0; i < 24; i++) u1[i] = (uint8_t)i;
    uint8_t b1[] = {1, 0, 0, 1};
    int8_t i1[] = {-5, 7};
    uint16_t f2[] = {0x3C00, 0xC000, 0x3800}; /* IEEE half bits of 1.0, -2.0, 0.5 */
    int16_t i2[] = {-300, 300};
    uint16_t u2[] = {65535, 1};
    uint32_t u4[] = {4000000000u};
    uint64_t u8[] = {UINT64_MAX};
    int32_t i4_dummy = 0;
    ref_case cases[] = {
        {"f4", {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {3, 4}, .data = f4}},
        {"f8", {.dtype = ONNXC_DOUBLE, .rank = 0, .data = &f8}},
        {"i8", {.dtype = ONNXC_INT64, .rank = 1, .dims = {5}, .data = i8}},
        {"i4", {.dtype = ONNXC_INT32, .rank = 2, .dims = {123456789, 0}, .data = &i4_dummy}},
        {"u1", {.dtype = ONNXC_UINT8, .rank = 3, .dims = {2, 3, 4}, .data = u1}},
        {"b1", {.dtype = ONNXC_BOOL, .rank = 2, .dims = {2, 2}, .data = b1}},
        {"i1", {.dtype = ONNXC_INT8, .rank = 1, .dims = {2}, .data = i1}},
        {"f2", {.dtype = ONNXC_FLOAT16, .rank = 1, .dims = {3}, .data = f2}},
        {"i2", {.dtype = ONNXC_INT16, .rank = 1, .dims = {2}, .data = i2}},
        {"u2", {.dtype = ONNXC_UINT16, .rank = 1, .dims = {2}, .data = u2}},
        {"u4", {.dtype = ONNXC_UINT32, .rank = 1, .dims = {1}, .data = u4}},
        {"u8", {.dtype = ONNXC_UINT64, .rank = 1, .dims = {1}, .data = u8}},
        {"rank8", {.dtype = ONNXC_FLOAT, .rank = 8, .dims = {1, 2, 1, 2, 1, 2, 1, 2}, .data = r8}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const onnxc_tensor *want = &cases[c].t;
        char *ours = tu_path("%s/ours_%s.npy", dir, cases[c].name);
        char *ref = tu_path("%s/ref_%s.npy", dir, cases[c].name);
        onnxc_error err;
        cr_assert_eq(onnxc_tensor_save(ours, want, &err), ONNXC_OK, "%s", err.message);
        void *a, *b;
        size_t na, nb;
        cr_assert(tu_read_file(ours, &a, &na) && tu_read_file(ref, &b, &nb));
        cr_assert_eq(na, nb, "%s: we wrote %zu bytes, numpy %zu", cases[c].name, na, nb);
        cr_assert_arr_eq(a, b, na, "%s: bytes differ from np.save:\n%.*s\n%.*s", cases[c].name,
                         (int)(na < 128 ? na : 128), (char *)a, (int)(nb < 128 ? nb : 128),
                         (char *)b);
        free(a);
        free(b);

        onnxc_tensor got = load_ok(ours);
        check_dims(&got, want->dtype, want->rank, want->dims);
        size_t bytes = got.capacity;
        cr_assert_arr_eq(got.data, want->data, bytes, "%s: values differ after reload",
                         cases[c].name);
        onnxc_tensor_release(&got);
        free(ours);
        free(ref);
    }
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* Hostile .npy                                                              */

/* A .npy image: preamble of `version`, `dict` padded to 64 bytes, then
 * `data_bytes` bytes of 0x01. `hlen_override` > 0 replaces the length field. */
static size_t make_npy(uint8_t *buf, size_t cap, int version, const char *dict,
                       size_t data_bytes, uint32_t hlen_override)
{
    size_t pre = version == 1 ? 10 : 12;
    size_t text = strlen(dict) + 1;
    size_t hlen = text + (64 - (pre + text) % 64) % 64;
    cr_assert(pre + hlen + data_bytes <= cap);
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (uint8_t)version;
    buf[7] = 0;
    uint32_t field = hlen_override ? hlen_override : (uint32_t)hlen;
    for (size_t i = 0; i < pre - 8; i++) buf[8 + i] = (uint8_t)(field >> (8 * i));
    memset(buf + pre, ' ', hlen);
    memcpy(buf + pre, dict, strlen(dict));
    buf[pre + hlen - 1] = '\n';
    memset(buf + pre + hlen, 1, data_bytes);
    return pre + hlen + data_bytes;
}

#define DICT(descr, order, shape) \
    "{'descr': '" descr "', 'fortran_order': " order ", 'shape': " shape ", }"

/* Check the memory parser and the file reader agree on a crafted image. */
static void hostile(const char *dir, const char *name, const void *buf, size_t n,
                    onnxc_status want, const char *const *frags)
{
    onnxc_tensor t;
    onnxc_error err;
    onnxc_status st = oc_npy_parse(buf, n, name, &t, &err);
    cr_assert_eq(st, want, "%s: expected %s, got %s: %s", name, onnxc_status_name(want),
                 onnxc_status_name(st), err.message);
    cr_assert_null(t.data);
    cr_assert(strstr(err.message, name), "%s: message does not name it: %s", name, err.message);
    char *path = tu_path("%s/%s.npy", dir, name);
    cr_assert(tu_write_file(path, buf, n));
    load_fails(path, want, frags);
    free(path);
}

Test(npy, hostile_files)
{
    char *dir = tu_tmpdir("npyh");
    uint8_t buf[4096];
    size_t n;
    /* Data size: [3,4] float32 needs 48 bytes. */
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(3, 4)"), 40, 0);
    hostile(dir, "truncated", buf, n, ONNXC_ERR_PARSE,
            (const char *[]){"expected 48 bytes", "found 40", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(3, 4)"), 52, 0);
    hostile(dir, "trailing", buf, n, ONNXC_ERR_PARSE,
            (const char *[]){"expected 48 bytes", "found 52", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(3, 4)"), 48, 0);
    buf[5] = 'X';
    hostile(dir, "bad_magic", buf, n, ONNXC_ERR_PARSE, (const char *[]){"not a .npy", NULL});
    hostile(dir, "tiny", "\x93NUM", 4, ONNXC_ERR_PARSE, (const char *[]){"too short", NULL});
    hostile(dir, "empty", "", 0, ONNXC_ERR_PARSE, (const char *[]){"0 bytes", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(3, 4)"), 0, 1000);
    hostile(dir, "hlen_past_end", buf, n, ONNXC_ERR_PARSE,
            (const char *[]){"runs past the end", "1010", NULL});
    n = make_npy(buf, sizeof buf, 2, DICT("<f4", "False", "(3, 4)"), 0, 1u << 30);
    hostile(dir, "hlen_huge", buf, n, ONNXC_ERR_LIMIT, (const char *[]){"limit", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(3, 4)"), 48, 0);
    buf[6] = 4;
    hostile(dir, "version4", buf, n, ONNXC_ERR_UNSUPPORTED, (const char *[]){"4.0", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "True", "(3, 4)"), 48, 0);
    hostile(dir, "fortran", buf, n, ONNXC_ERR_UNSUPPORTED, (const char *[]){"Fortran", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT(">i8", "False", "(2,)"), 16, 0);
    hostile(dir, "bigendian", buf, n, ONNXC_ERR_UNSUPPORTED,
            (const char *[]){"big-endian", NULL});
    n = make_npy(buf, sizeof buf, 1,
                 DICT("<f4", "False", "(4294967296, 4294967296, 4294967296)"), 0, 0);
    hostile(dir, "overflow", buf, n, ONNXC_ERR_PARSE, (const char *[]){"overflows", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("|u1", "False", "(99999999999999999999,)"), 0, 0);
    hostile(dir, "dim_too_big", buf, n, ONNXC_ERR_PARSE,
            (const char *[]){"does not fit", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("|u1", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 1, 0);
    hostile(dir, "rank9", buf, n, ONNXC_ERR_UNSUPPORTED,
            (const char *[]){"more than 8", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("|u1", "False", "(3)"), 3, 0);
    hostile(dir, "not_tuple", buf, n, ONNXC_ERR_PARSE, (const char *[]){"tuple", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("|u1", "False", "(-3,)"), 3, 0);
    hostile(dir, "negative", buf, n, ONNXC_ERR_PARSE, (const char *[]){"negative", NULL});
    n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'shape': (1,), }", 4, 0);
    hostile(dir, "missing_key", buf, n, ONNXC_ERR_PARSE,
            (const char *[]){"'fortran_order'", NULL});
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, 0);
    hostile(dir, "duplicate_key", buf, n, ONNXC_ERR_PARSE, (const char *[]){"twice", NULL});
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, 0);
    hostile(dir, "unknown_key", buf, n, ONNXC_ERR_PARSE, (const char *[]){"'x'", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "False", "(1,)") " junk", 4, 0);
    hostile(dir, "junk", buf, n, ONNXC_ERR_PARSE, (const char *[]){"padding", NULL});
    n = make_npy(buf, sizeof buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,", 4, 0);
    hostile(dir, "unterminated", buf, n, ONNXC_ERR_PARSE, (const char *[]){"expected", NULL});
    n = make_npy(buf, sizeof buf, 1,
                 "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, 0);
    hostile(dir, "structured", buf, n, ONNXC_ERR_UNSUPPORTED,
            (const char *[]){"structured", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f16", "False", "(1,)"), 16, 0);
    hostile(dir, "f16", buf, n, ONNXC_ERR_UNSUPPORTED, (const char *[]){"'<f16'", NULL});
    n = make_npy(buf, sizeof buf, 1, DICT("<f4", "0", "(1,)"), 4, 0);
    hostile(dir, "order_int", buf, n, ONNXC_ERR_PARSE, (const char *[]){"True or False", NULL});
    tu_rmtree(dir);
    free(dir);
}

/* Spellings numpy and older writers produce that must still be read. */
Test(npy, accepted_variants)
{
    uint8_t buf[4096];
    const char *dicts[] = {
        "{\"shape\": (2,), \"fortran_order\": False, \"descr\": \"=f4\"}",   /* any order, "" */
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",        /* Python 2 long */
        "{'descr':'|f4','fortran_order':False,'shape':(2 ,)}",              /* tight, '|' */
    };
    for (size_t i = 0; i < sizeof dicts / sizeof dicts[0]; i++) {
        size_t n = make_npy(buf, sizeof buf, 1, dicts[i], 8, 0);
        onnxc_tensor t;
        onnxc_error err;
        cr_assert_eq(oc_npy_parse(buf, n, "variant", &t, &err), ONNXC_OK, "%s: %s", dicts[i],
                     err.message);
        check_dims(&t, ONNXC_FLOAT, 1, (int64_t[]){2});
        onnxc_tensor_release(&t);
    }
    /* Bool bytes other than 0/1 are normalized; '>u1' has no byte order. */
    size_t n = make_npy(buf, sizeof buf, 1, DICT("|b1", "False", "(3,)"), 3, 0);
    buf[n - 1] = 7;
    buf[n - 2] = 0;
    onnxc_tensor t;
    onnxc_error err;
    cr_assert_eq(oc_npy_parse(buf, n, "bools", &t, &err), ONNXC_OK, "%s", err.message);
    cr_assert_arr_eq(t.data, ((uint8_t[]){1, 0, 1}), 3);
    onnxc_tensor_release(&t);
    n = make_npy(buf, sizeof buf, 1, DICT(">u1", "False", "(3,)"), 3, 0);
    cr_assert_eq(oc_npy_parse(buf, n, "u1", &t, &err), ONNXC_OK, "%s", err.message);
    onnxc_tensor_release(&t);
}

/* Every allocation failure is reported as ONNXC_ERR_NOMEM, never a crash. */
Test(npy, allocation_failures)
{
    char *dir = tu_tmpdir("npya");
    char *path = tu_path("%s/x.npy", dir);
    float x[6] = {1, 2, 3, 4, 5, 6};
    onnxc_tensor t = {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 3}, .data = x};
    onnxc_error err;
    cr_assert_eq(onnxc_tensor_save(path, &t, &err), ONNXC_OK, "%s", err.message);
    for (long k = 0; k < 16; k++) {
        oc_alloc_fail_after(k);
        onnxc_tensor got;
        onnxc_status st = onnxc_tensor_load(path, &got, &err);
        oc_alloc_fail_after(-1);
        cr_assert(st == ONNXC_OK || st == ONNXC_ERR_NOMEM, "k=%ld: %s", k, err.message);
        if (st == ONNXC_OK) {
            cr_assert_arr_eq(got.data, x, sizeof x);
            onnxc_tensor_release(&got);
        } else {
            cr_assert_null(got.data);
        }
    }
    free(path);
    tu_rmtree(dir);
    free(dir);
}

Test(io, extension_and_missing_file)
{
    float x = 1;
    onnxc_tensor t = {.dtype = ONNXC_FLOAT, .rank = 0, .data = &x};
    onnxc_error err;
    cr_assert_eq(onnxc_tensor_save("/tmp/x.bin", &t, &err), ONNXC_ERR_ARGUMENT);
    cr_assert(strstr(err.message, "'.bin'"), "%s", err.message);
    load_fails("/nonexistent/dir/x.npy", ONNXC_ERR_IO, NULL);
    load_fails("/nonexistent/dir/x.PB", ONNXC_ERR_IO, NULL);
    load_fails("/nonexistent/noext", ONNXC_ERR_ARGUMENT, (const char *[]){"none", NULL});
    char *dir = tu_tmpdir("ioext");
    char *path = tu_path("%s/x.npy", dir);
    onnxc_tensor bad = {.dtype = ONNXC_STRING, .rank = 1, .dims = {1}, .data = &x};
    cr_assert_eq(onnxc_tensor_save(path, &bad, &err), ONNXC_ERR_UNSUPPORTED);
    cr_assert(strstr(err.message, path) && strstr(err.message, "string"), "%s", err.message);
    cr_assert(!tu_exists(path), "a failed save left a file");
    free(path);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* TensorProto .pb                                                           */

static const char pb_script[] =
    "import sys, numpy as np\n"
    "from onnx import helper, numpy_helper, TensorProto as T\n"
    "d = sys.argv[1]\n"
    "def save(name, t): open(d + '/' + name, 'wb').write(t.SerializeToString())\n"
    "save('typed_f4.pb', helper.make_tensor('x', T.FLOAT, [2, 2], [1.5, -2.0, 0.25, 1e30]))\n"
    "save('typed_f8.pb', helper.make_tensor('x', T.DOUBLE, [3], [1.0 / 3, -2.5, 1e300]))\n"
    "save('typed_i4.pb', helper.make_tensor('x', T.INT32, [3], [-2**31, 0, 2**31 - 1]))\n"
    "save('typed_i8.pb', helper.make_tensor('x', T.INT64, [2], [-2**63, 2**63 - 1]))\n"
    "save('typed_u1.pb', helper.make_tensor('x', T.UINT8, [4], [0, 1, 128, 255]))\n"
    "save('typed_i1.pb', helper.make_tensor('x', T.INT8, [4], [-128, -1, 0, 127]))\n"
    "save('typed_b1.pb', helper.make_tensor('x', T.BOOL, [3], [True, False, True]))\n"
    "a = np.array([[1.5, -2], [0.25, 8]], np.float32)\n"
    "save('raw_f4.pb', numpy_helper.from_array(a, 'r'))\n"
    "save('raw_i8_scalar.pb', numpy_helper.from_array(np.array(-7, np.int64), 's'))\n"
    "save('raw_b1.pb', numpy_helper.from_array(np.array([False, True]), 'b'))\n"
    "t = T(); t.data_type = T.FLOAT; t.dims.extend([2]); t.data_location = T.EXTERNAL\n"
    "e = t.external_data.add(); e.key = 'location'; e.value = 'w.bin'; save('external.pb', t)\n"
    "t = T(); t.data_type = T.FLOAT; t.dims.extend([2, 3]); t.raw_data = bytes(20)\n"
    "save('short_raw.pb', t)\n"
    "t = T(); t.data_type = T.FLOAT; t.dims.extend([3]); t.float_data.extend([1, 2])\n"
    "save('short_typed.pb', t)\n"
    "t = T(); t.data_type = T.FLOAT; t.dims.extend([1]); t.float_data.append(1)\n"
    "t.raw_data = bytes(4); save('both.pb', t)\n"
    "t = T(); t.data_type = T.STRING; t.dims.extend([1]); t.string_data.append(b'a')\n"
    "save('string.pb', t)\n"
    "t = T(); t.dims.extend([1]); t.float_data.append(1); save('no_type.pb', t)\n"
    "open(d + '/garbage.pb', 'wb').write(b'\\xff\\xff\\xff\\xff\\xff')\n";

Test(pb, onnx_written_files)
{
    char *dir = tu_tmpdir("pb");
    run_python(pb_script, dir);
    char *p = tu_path("%s/typed_f4.pb", dir);
    onnxc_tensor t = load_ok(p);
    check_dims(&t, ONNXC_FLOAT, 2, (int64_t[]){2, 2});
    cr_assert_arr_eq(t.data, ((float[]){1.5f, -2.0f, 0.25f, 1e30f}), 16);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_f8.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_DOUBLE, 1, (int64_t[]){3});
    cr_assert_arr_eq(t.data, ((double[]){1.0 / 3, -2.5, 1e300}), 24);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_i4.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT32, 1, (int64_t[]){3});
    cr_assert_arr_eq(t.data, ((int32_t[]){INT32_MIN, 0, INT32_MAX}), 12);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_i8.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT64, 1, (int64_t[]){2});
    cr_assert_arr_eq(t.data, ((int64_t[]){INT64_MIN, INT64_MAX}), 16);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_u1.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_UINT8, 1, (int64_t[]){4});
    cr_assert_arr_eq(t.data, ((uint8_t[]){0, 1, 128, 255}), 4);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_i1.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT8, 1, (int64_t[]){4});
    cr_assert_arr_eq(t.data, ((int8_t[]){-128, -1, 0, 127}), 4);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/typed_b1.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_BOOL, 1, (int64_t[]){3});
    cr_assert_arr_eq(t.data, ((uint8_t[]){1, 0, 1}), 3);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/raw_f4.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_FLOAT, 2, (int64_t[]){2, 2});
    cr_assert_arr_eq(t.data, ((float[]){1.5f, -2.0f, 0.25f, 8.0f}), 16);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/raw_i8_scalar.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_INT64, 0, NULL);
    cr_assert_eq(*(int64_t *)t.data, -7);
    onnxc_tensor_release(&t);
    free(p);
    p = tu_path("%s/raw_b1.pb", dir);
    t = load_ok(p);
    check_dims(&t, ONNXC_BOOL, 1, (int64_t[]){2});
    cr_assert_arr_eq(t.data, ((uint8_t[]){0, 1}), 2);
    onnxc_tensor_release(&t);
    free(p);

    struct { const char *file; onnxc_status st; const char *frag; } bad[] = {
        {"external.pb", ONNXC_ERR_UNSUPPORTED, "external data"},
        {"short_raw.pb", ONNXC_ERR_PARSE, "raw_data holds 20"},
        {"short_typed.pb", ONNXC_ERR_PARSE, "float_data has 2"},
        {"both.pb", ONNXC_ERR_PARSE, "both raw_data and float_data"},
        {"string.pb", ONNXC_ERR_UNSUPPORTED, "string"},
        {"no_type.pb", ONNXC_ERR_PARSE, "data_type"},
        {"garbage.pb", ONNXC_ERR_PARSE, "TensorProto"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p = tu_path("%s/%s", dir, bad[i].file);
        load_fails(p, bad[i].st, (const char *[]){bad[i].frag, NULL});
        free(p);
    }
    tu_rmtree(dir);
    free(dir);
}

/* An input of the ONNX backend test data. Reference values printed with
 * onnx.numpy_helper.to_array(onnx.load_tensor(path)).ravel() (onnx 1.12). */
Test(pb, backend_test_data_relu_input)
{
    const char *path = ONNX_TESTDATA_DIR "/node/test_relu/test_data_set_0/input_0.pb";
    onnxc_tensor t = load_ok(path);
    check_dims(&t, ONNXC_FLOAT, 3, (int64_t[]){3, 4, 5});
    const float *x = t.data;
    const float first[6] = {(float)1.764052391052246,  (float)0.40015721321105957,
                            (float)0.978738009929657,  (float)2.2408931255340576,
                            (float)1.8675580024719238, (float)-0.9772778749465942};
    for (int i = 0; i < 6; i++) cr_assert_eq(x[i], first[i], "x[%d] = %.9g", i, x[i]);
    cr_assert_eq(x[59], (float)-0.3627411723136902);
    onnxc_tensor_release(&t);
}

/* Our .pb files are read back by onnx itself and compared in python. */
static const char pb_check_script[] =
    "import sys, numpy as np, onnx\n"
    "from onnx import numpy_helper\n"
    "d = sys.argv[1]\n"
    "def load(n): return numpy_helper.to_array(onnx.load_tensor(d + '/' + n + '.pb'))\n"
    "def same(n, want):\n"
    "    got = load(n)\n"
    "    assert got.dtype == want.dtype and got.shape == want.shape, (n, got.dtype, got.shape)\n"
    "    assert np.array_equal(got, want), (n, got, want)\n"
    "same('f4', (np.arange(6, dtype=np.float32) - 2.5).reshape(2, 3))\n"
    "same('f8', np.array(0.1, np.float64))\n"
    "same('i4', np.array([-7, 0, 7], np.int32))\n"
    "same('i8', np.array([[-(2**40)], [2**40]], np.int64))\n"
    "same('u1', np.array([0, 200, 255], np.uint8))\n"
    "same('i1', np.array([-100, 100], np.int8))\n"
    "same('b1', np.array([True, False, False, True]))\n"
    "same('empty', np.zeros((2, 0), np.float32))\n"
    "assert onnx.load_tensor(d + '/f4.pb').name == 'weights'\n";

Test(pb, round_trip_read_by_onnx)
{
    char *dir = tu_tmpdir("pbw");
    float f4[6] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f};
    double f8 = 0.1;
    int32_t i4[] = {-7, 0, 7};
    int64_t i8[] = {-(INT64_C(1) << 40), INT64_C(1) << 40};
    uint8_t u1[] = {0, 200, 255};
    int8_t i1[] = {-100, 100};
    uint8_t b1[] = {1, 0, 0, 1};
    float none = 0;
    ref_case cases[] = {
        {"f4", {.name = "weights", .dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 3}, .data = f4}},
        {"f8", {.dtype = ONNXC_DOUBLE, .rank = 0, .data = &f8}},
        {"i4", {.dtype = ONNXC_INT32, .rank = 1, .dims = {3}, .data = i4}},
        {"i8", {.dtype = ONNXC_INT64, .rank = 2, .dims = {2, 1}, .data = i8}},
        {"u1", {.dtype = ONNXC_UINT8, .rank = 1, .dims = {3}, .data = u1}},
        {"i1", {.dtype = ONNXC_INT8, .rank = 1, .dims = {2}, .data = i1}},
        {"b1", {.dtype = ONNXC_BOOL, .rank = 1, .dims = {4}, .data = b1}},
        {"empty", {.dtype = ONNXC_FLOAT, .rank = 2, .dims = {2, 0}, .data = &none}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const onnxc_tensor *want = &cases[c].t;
        char *path = tu_path("%s/%s.pb", dir, cases[c].name);
        onnxc_error err;
        cr_assert_eq(onnxc_tensor_save(path, want, &err), ONNXC_OK, "%s", err.message);
        onnxc_tensor got = load_ok(path);
        check_dims(&got, want->dtype, want->rank, want->dims);
        cr_assert_arr_eq(got.data, want->data, got.capacity, "%s differs", cases[c].name);
        onnxc_tensor_release(&got);

        /* The in-memory pack gives the same bytes as the file. */
        void *packed, *file;
        size_t np, nf;
        cr_assert_eq(oc_tensor_pb_pack(want, &packed, &np, &err), ONNXC_OK, "%s", err.message);
        cr_assert(tu_read_file(path, &file, &nf));
        cr_assert_eq(np, nf);
        cr_assert_arr_eq(packed, file, np);
        oc_free(packed);
        free(file);
        free(path);
    }
    run_python(pb_check_script, dir);
    tu_rmtree(dir);
    free(dir);
}

Test(pb, allocation_failures)
{
    const char *path = ONNX_TESTDATA_DIR "/node/test_relu/test_data_set_0/input_0.pb";
    for (long k = 0; k < 32; k++) {
        oc_alloc_fail_after(k);
        onnxc_tensor got;
        onnxc_error err;
        onnxc_status st = onnxc_tensor_load(path, &got, &err);
        oc_alloc_fail_after(-1);
        cr_assert(st == ONNXC_OK || st == ONNXC_ERR_NOMEM, "k=%ld: %s", k, err.message);
        if (st == ONNXC_OK) onnxc_tensor_release(&got);
        else cr_assert_null(got.data);
    }
}
