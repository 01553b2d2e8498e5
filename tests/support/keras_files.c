/* Keras file fixtures (keras_files.h). */
#include "keras_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zip.h>

static void fail(const char *what, const char *name) __attribute__((noreturn));
static void fail(const char *what, const char *name)
{
    fprintf(stderr, "keras_files: %s failed (%s)\n", what, name ? name : "");
    abort();
}

#define CHECK(call, name)                      \
    do {                                       \
        if ((call) < 0) fail(#call, name);     \
    } while (0)

hid_t kf_create(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(f, path);
    return f;
}

static hid_t str_type(size_t len, bool vlen)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    CHECK(H5Tset_size(t, vlen ? H5T_VARIABLE : (len ? len : 1)), NULL);
    if (vlen) CHECK(H5Tset_cset(t, H5T_CSET_UTF8), NULL);
    else CHECK(H5Tset_strpad(t, H5T_STR_NULLPAD), NULL); /* numpy 'S' strings */
    return t;
}

void kf_attr_text(hid_t obj, const char *name, const char *text, bool vlen)
{
    hid_t t = str_type(strlen(text), vlen), s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a, name);
    CHECK(H5Awrite(a, t, vlen ? (const void *)&text : (const void *)text), name);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

void kf_attr_list(hid_t obj, const char *name, const char *const *items, size_t n, bool vlen)
{
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    if (n == 0) {
        hid_t a = H5Acreate2(obj, name, H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT);
        CHECK(a, name);
        H5Aclose(a);
        H5Sclose(s);
        return;
    }
    size_t w = 1;
    for (size_t i = 0; i < n; i++) w = strlen(items[i]) > w ? strlen(items[i]) : w;
    hid_t t = str_type(w, vlen);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a, name);
    if (vlen) {
        CHECK(H5Awrite(a, t, items), name);
    } else {
        char *buf = calloc(n, w);
        if (!buf) fail("calloc", name);
        for (size_t i = 0; i < n; i++) memcpy(buf + i * w, items[i], strlen(items[i]));
        CHECK(H5Awrite(a, t, buf), name);
        free(buf);
    }
    H5Aclose(a);
    H5Tclose(t);
    H5Sclose(s);
}

hid_t kf_group(hid_t loc, const char *path)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(loc, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    CHECK(g, path);
    return g;
}

void kf_dataset(hid_t loc, const char *path, int rank, const hsize_t *dims, const float *data)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t s = rank ? H5Screate_simple(rank, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(loc, path, H5T_IEEE_F32LE, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(d, path);
    CHECK(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), path);
    H5Dclose(d);
    H5Sclose(s);
    H5Pclose(lcpl);
}

void kf_write_legacy(const char *path, const char *config, const char *root, const kf_layer *layers,
                     int n_layers, bool vlen)
{
    hid_t f = kf_create(path);
    if (config) {
        kf_attr_text(f, "model_config", config, vlen);
        kf_attr_text(f, "keras_version", "2.4.0", vlen);
        kf_attr_text(f, "backend", "tensorflow", vlen);
    }
    hid_t r = root[0] ? kf_group(f, root) : H5Gopen2(f, "/", H5P_DEFAULT);
    const char *names[16];
    if (n_layers > 16) fail("kf_write_legacy: more than 16 layers", path);
    for (int i = 0; i < n_layers; i++) names[i] = layers[i].name;
    kf_attr_list(r, "layer_names", names, (size_t)n_layers, vlen);
    for (int i = 0; i < n_layers; i++) {
        hid_t lg = kf_group(r, layers[i].name);
        const char *wn[4];
        for (int k = 0; k < layers[i].n; k++) {
            const kf_weight *w = &layers[i].w[k];
            wn[k] = w->name;
            kf_dataset(lg, w->name, w->rank, w->dims, w->data);
        }
        kf_attr_list(lg, "weight_names", wn, (size_t)layers[i].n, vlen);
        H5Gclose(lg);
    }
    H5Gclose(r);
    CHECK(H5Fclose(f), path);
}

void kf_write_store(const char *path, const char *const *paths, const kf_weight *const *vars,
                    const int *n_vars, int n)
{
    hid_t f = kf_create(path);
    H5Gclose(kf_group(f, "vars"));
    for (int i = 0; i < n; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/vars", paths[i]);
        hid_t g = kf_group(f, p);
        for (int k = 0; k < n_vars[i]; k++) {
            char d[16];
            snprintf(d, sizeof d, "%d", k);
            kf_dataset(g, d, vars[i][k].rank, vars[i][k].dims, vars[i][k].data);
        }
        H5Gclose(g);
    }
    CHECK(H5Fclose(f), path);
}

void kf_write_zip(const char *path, const char *config, const char *weights_file, const char *extra)
{
    int e = 0;
    zip_t *z = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &e);
    if (!z) fail("zip_open", path);
    static const char meta[] = "{\"keras_version\": \"3.6.0\", \"date_saved\": \"2024-11-18@11:26:46\"}";
    zip_source_t *s = zip_source_buffer(z, meta, strlen(meta), 0);
    if (!s || zip_file_add(z, "metadata.json", s, 0) < 0) fail("zip_file_add metadata.json", path);
    s = zip_source_buffer(z, config, strlen(config), 0);
    if (!s || zip_file_add(z, "config.json", s, 0) < 0) fail("zip_file_add config.json", path);
    if (weights_file) {
        s = zip_source_file(z, weights_file, 0, -1);
        if (!s || zip_file_add(z, "model.weights.h5", s, 0) < 0) fail("zip_file_add model.weights.h5", path);
    }
    if (extra) {
        s = zip_source_buffer(z, "x", 1, 0);
        if (!s || zip_file_add(z, extra, s, 0) < 0) fail("zip_file_add", extra);
    }
    if (zip_close(z) != 0) fail("zip_close", path);
}
