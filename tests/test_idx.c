/*
 * IDX dataset files (data_idx.c) on the Fashion-MNIST copy shipped with the
 * system, plus crafted broken files.
 *
 * Reference values were read in python with gzip + numpy:
 *   d = gzip.open('.../t10k-images-idx3-ubyte.gz').read()
 *   a = np.frombuffer(d[16:], np.uint8).reshape(10000, 28, 28)
 *   a[0, 10, 10:20] -> [0 0 0 4 0 53 129 120 147 175]
 *   a[9999, 14, 10:16] -> [69 128 100 120 132 123]
 *   a[0].sum() -> 33456, a.sum() -> 573469082
 *   labels[:10] -> [9 2 1 1 6 1 4 6 5 7]
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "alloc.h"
#include "data_idx.h"
#include "testutil.h"

#define FMNIST "/usr/share/datasets/fashion-mnist"

static void load_ok(const char *path, oc_idx *ds)
{
    onnxc_error err;
    cr_assert_eq(oc_idx_load(path, ds, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq((uintptr_t)ds->data % 64, 0);
}

Test(idx, fashion_mnist_t10k)
{
    oc_idx img, lab;
    load_ok(FMNIST "/t10k-images-idx3-ubyte.gz", &img);
    load_ok(FMNIST "/t10k-labels-idx1-ubyte.gz", &lab);
    cr_assert_eq(img.ndims, 3);
    cr_assert_eq(img.dims[0], 10000);
    cr_assert_eq(img.dims[1], 28);
    cr_assert_eq(img.dims[2], 28);
    cr_assert_eq(img.n_items, 10000);
    cr_assert_eq(img.item_elems, 784);
    cr_assert_eq(lab.ndims, 1);
    cr_assert_eq(lab.n_items, 10000);
    cr_assert_eq(lab.item_elems, 1);

    cr_assert_arr_eq(lab.data, ((uint8_t[]){9, 2, 1, 1, 6, 1, 4, 6, 5, 7}), 10);
    cr_assert_arr_eq(img.data + 10 * 28 + 10, ((uint8_t[]){0, 0, 0, 4, 0, 53, 129, 120, 147, 175}),
                     10);
    cr_assert_arr_eq(img.data + 9999 * 784 + 14 * 28 + 10,
                     ((uint8_t[]){69, 128, 100, 120, 132, 123}), 6);
    uint64_t first = 0, all = 0;
    for (size_t i = 0; i < 784; i++) first += img.data[i];
    for (size_t i = 0; i < 10000 * 784; i++) all += img.data[i];
    cr_assert_eq(first, 33456);
    cr_assert_eq(all, 573469082);

    /* Batch of rows {9999, 0}: floats are exactly v / 255.0f. */
    int64_t rows[] = {9999, 0};
    float *batch = malloc(2 * 784 * sizeof *batch);
    oc_idx_batch_to_float(&img, rows, 2, batch);
    cr_assert_eq(batch[14 * 28 + 10], 69.0f / 255.0f);
    cr_assert_eq(batch[784 + 10 * 28 + 15], 53.0f / 255.0f);
    for (size_t j = 0; j < 784; j++) {
        cr_assert_eq(batch[784 + j], (float)img.data[j] / 255.0f);
        cr_assert(batch[j] >= 0.0f && batch[j] <= 1.0f);
    }
    free(batch);
    int64_t lbl[2];
    oc_idx_batch_labels(&lab, rows, 2, lbl);
    cr_assert_eq(lbl[1], 9);
    cr_assert_eq(lbl[0], lab.data[9999]);
    oc_idx_free(&img);
    oc_idx_free(&lab);
    cr_assert_null(img.data);
}

Test(idx, find_and_load_split)
{
    char *ip, *lp;
    onnxc_error err;
    cr_assert_eq(oc_idx_find_split(FMNIST, "t10k", &ip, &lp, &err), ONNXC_OK, "%s", err.message);
    cr_assert_str_eq(ip, FMNIST "/t10k-images-idx3-ubyte.gz");
    cr_assert_str_eq(lp, FMNIST "/t10k-labels-idx1-ubyte.gz");
    oc_free(ip);
    oc_free(lp);
    cr_assert_eq(oc_idx_find_split(FMNIST "/", "train", &ip, &lp, &err), ONNXC_OK, "%s",
                 err.message);
    cr_assert_str_eq(ip, FMNIST "/train-images-idx3-ubyte.gz");
    oc_free(ip);
    oc_free(lp);

    oc_idx img, lab;
    cr_assert_eq(oc_idx_load_split(FMNIST, "t10k", &img, &lab, &err), ONNXC_OK, "%s",
                 err.message);
    cr_assert_eq(img.n_items, lab.n_items);
    oc_idx_free(&img);
    oc_idx_free(&lab);

    cr_assert_eq(oc_idx_find_split(FMNIST, "valid", &ip, &lp, &err), ONNXC_ERR_IO);
    cr_assert_null(ip);
    cr_assert(strstr(err.message, FMNIST) && strstr(err.message, "valid-images-idx3-ubyte"),
              "%s", err.message);
    cr_assert_eq(oc_idx_find_split("/nonexistent", "train", &ip, &lp, &err), ONNXC_ERR_IO);
    cr_assert(strstr(err.message, "/nonexistent"), "%s", err.message);
    cr_assert_eq(oc_idx_find_split(FMNIST, "../x", &ip, &lp, &err), ONNXC_ERR_ARGUMENT);
}

/* A small idx image: magic, dims, then bytes 0, 1, 2, ... */
static size_t make_idx(uint8_t *buf, uint8_t type, int ndims, const uint32_t *dims,
                       size_t data_bytes)
{
    buf[0] = buf[1] = 0;
    buf[2] = type;
    buf[3] = (uint8_t)ndims;
    for (int i = 0; i < ndims; i++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * i + b] = (uint8_t)(dims[i] >> (24 - 8 * b));
    size_t h = 4 + 4 * (size_t)ndims;
    for (size_t i = 0; i < data_bytes; i++) buf[h + i] = (uint8_t)i;
    return h + data_bytes;
}

static void write_gz(const char *path, const void *buf, size_t n)
{
    gzFile gz = gzopen(path, "wb");
    cr_assert_not_null(gz);
    cr_assert_eq(gzwrite(gz, buf, (unsigned)n), (int)n);
    cr_assert_eq(gzclose(gz), Z_OK);
}

/* Both the plain and the gzipped file must fail with `status` and a message
 * naming the file and containing `frag`; the memory parser must agree. */
static void refused(const char *dir, const char *name, const uint8_t *buf, size_t n,
                    onnxc_status status, const char *frag)
{
    char *plain = tu_path("%s/%s-idx", dir, name);
    char *gz = tu_path("%s/%s-idx.gz", dir, name);
    cr_assert(tu_write_file(plain, buf, n));
    write_gz(gz, buf, n);
    const char *paths[] = {plain, gz};
    for (int i = 0; i < 2; i++) {
        oc_idx ds;
        onnxc_error err;
        onnxc_status st = oc_idx_load(paths[i], &ds, &err);
        cr_assert_eq(st, status, "%s: expected %s, got %s: %s", paths[i],
                     onnxc_status_name(status), onnxc_status_name(st), err.message);
        cr_assert_null(ds.data);
        cr_assert(strstr(err.message, paths[i]) && strstr(err.message, frag),
                  "%s: message lacks the file or '%s': %s", paths[i], frag, err.message);
    }
    oc_idx ds;
    onnxc_error err;
    cr_assert_eq(oc_idx_parse(buf, n, name, &ds, &err), status, "%s: %s", name, err.message);
    cr_assert(strstr(err.message, name) && strstr(err.message, frag), "%s", err.message);
    free(plain);
    free(gz);
}

Test(idx, crafted_files)
{
    char *dir = tu_tmpdir("idx");
    uint8_t buf[4096];
    uint32_t d3[] = {4, 5, 6};
    size_t n;

    /* A valid file, plain and gzipped, read identically. */
    n = make_idx(buf, 0x08, 3, d3, 120);
    char *plain = tu_path("%s/ok-idx3-ubyte", dir);
    char *gz = tu_path("%s/ok-idx3-ubyte.gz", dir);
    cr_assert(tu_write_file(plain, buf, n));
    write_gz(gz, buf, n);
    oc_idx a, b;
    load_ok(plain, &a);
    load_ok(gz, &b);
    cr_assert_eq(a.n_items, 4);
    cr_assert_eq(a.item_elems, 30);
    cr_assert_arr_eq(a.data, buf + 16, 120);
    cr_assert_arr_eq(b.data, buf + 16, 120);
    oc_idx_free(&a);
    oc_idx_free(&b);
    free(plain);
    free(gz);

    n = make_idx(buf, 0x08, 3, d3, 100);
    refused(dir, "truncated", buf, n, ONNXC_ERR_PARSE, "expected 120 bytes");
    refused(dir, "truncated2", buf, n, ONNXC_ERR_PARSE, "found 100");
    n = make_idx(buf, 0x08, 3, d3, 125);
    refused(dir, "trailing", buf, n, ONNXC_ERR_PARSE, "found 125 (trailing bytes)");
    n = make_idx(buf, 0x08, 3, d3, 120);
    buf[1] = 0x01;
    refused(dir, "bad_magic", buf, n, ONNXC_ERR_PARSE, "not an idx file");
    n = make_idx(buf, 0x0D, 3, d3, 480);
    refused(dir, "float_type", buf, n, ONNXC_ERR_UNSUPPORTED, "0x0D (float32)");
    n = make_idx(buf, 0x42, 3, d3, 120);
    refused(dir, "unknown_type", buf, n, ONNXC_ERR_PARSE, "not an idx file");
    n = make_idx(buf, 0x08, 0, d3, 1);
    refused(dir, "zero_dims", buf, n, ONNXC_ERR_PARSE, "0 dimensions");
    uint32_t d5[] = {1, 1, 1, 1, 1};
    n = make_idx(buf, 0x08, 5, d5, 1);
    refused(dir, "five_dims", buf, n, ONNXC_ERR_UNSUPPORTED, "5 dimensions");
    n = make_idx(buf, 0x08, 3, d3, 0);
    refused(dir, "short_header", buf, 10, ONNXC_ERR_PARSE, "needs 16 bytes");
    refused(dir, "tiny", buf, 2, ONNXC_ERR_PARSE, "too short");
    uint32_t huge[] = {65536, 65536, 2}; /* 8 GiB */
    n = make_idx(buf, 0x08, 3, huge, 0);
    refused(dir, "huge", buf, n, ONNXC_ERR_LIMIT, "limit");
    uint32_t overflow[] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
    n = make_idx(buf, 0x08, 4, overflow, 0);
    refused(dir, "overflow", buf, n, ONNXC_ERR_LIMIT, "limit");
    tu_rmtree(dir);
    free(dir);
}

/* The real labels .gz cut in half: zlib sees the stream end early. */
Test(idx, truncated_gzip)
{
    void *data;
    size_t n;
    cr_assert(tu_read_file(FMNIST "/t10k-labels-idx1-ubyte.gz", &data, &n));
    char *dir = tu_tmpdir("idxgz");
    char *path = tu_path("%s/cut-labels-idx1-ubyte.gz", dir);
    cr_assert(tu_write_file(path, data, n / 2));
    oc_idx ds;
    onnxc_error err;
    cr_assert_eq(oc_idx_load(path, &ds, &err), ONNXC_ERR_PARSE, "%s", err.message);
    cr_assert(strstr(err.message, path) && strstr(err.message, "expected 10000 bytes") &&
                  strstr(err.message, "truncated"),
              "%s", err.message);
    cr_assert_null(ds.data);

    /* Mismatched pair: labels for 3 items, images for 4. */
    uint8_t buf[256];
    uint32_t d3[] = {4, 2, 2}, d1[] = {3};
    char *ip = tu_path("%s/x-images-idx3-ubyte", dir);
    char *lp = tu_path("%s/x-labels-idx1-ubyte", dir);
    cr_assert(tu_write_file(ip, buf, make_idx(buf, 0x08, 3, d3, 16)));
    cr_assert(tu_write_file(lp, buf, make_idx(buf, 0x08, 1, d1, 3)));
    oc_idx img, lab;
    cr_assert_eq(oc_idx_load_split(dir, "x", &img, &lab, &err), ONNXC_ERR_SHAPE, "%s",
                 err.message);
    cr_assert(strstr(err.message, "3 labels") && strstr(err.message, "4 images"), "%s",
              err.message);
    cr_assert_null(img.data);
    cr_assert_null(lab.data);
    free(ip);
    free(lp);
    free(path);
    free(data);
    tu_rmtree(dir);
    free(dir);
}
