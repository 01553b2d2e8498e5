/*
 * Small seed files for the fuzz targets, written by scripts/fuzz.sh:
 *
 *     fuzz_make_seeds OUT_DIR [SHARED_MODELS_DIR]
 *
 * writes OUT_DIR/{onnx,npy,idx,keras}/. The real Keras files in
 * ../shared/models/real are 0.7-4 MB, far past a useful fuzz input, so the
 * Keras seeds are written here, a few KB each, in every layout the importer
 * reads (the layouts tests/test_keras.c checks): Keras 2.0 fixed-length
 * strings, 2.x and 3.x legacy h5, functional, nested, weights-only h5, the
 * Keras 3 weights store and .keras zips; plus the model configs alone as
 * JSON, including those of the real files when SHARED_MODELS_DIR is given.
 * Tensors come in every dtype and in the .npy header versions, idx files
 * plain and gzipped, ONNX models from specs.
 *
 * Seeds only need to be well-formed, not checked: the fuzzers find out the
 * rest. Any failure to write exits with status 1.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "io_npy.h"
#include "keras_files.h"
#include "io_tensor_pb.h"
#include "onnx.pb-c.h"
#include "onnxc.h"

static const char *out_dir;

static void die(const char *what) __attribute__((noreturn));
static void die(const char *what)
{
    fprintf(stderr, "fuzz_make_seeds: %s\n", what);
    exit(1);
}

static char *path_of(const char *sub, const char *name)
{
    static char buf[4][4096];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s/%s", out_dir, sub, name);
    return buf[k];
}

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) die(path);
}

/* ------------------------------------------------------------------------ */
/* Keras files (written with tests/support/keras_files.h)                     */

/* The network x[N,3] -> Dense(2, relu) -> Dropout -> Dense(1) of tests/test_keras.c. */
static const float K1[] = {1, -1, 0.5f, 2, -1, 0.25f}, B1[] = {0.1f, -0.2f}, K2[] = {2, -3}, B2[] = {0.5f};

/* Keras 3 weights-store variables of the two Dense layers. */
static const kf_weight DENSE1_VARS[] = {{"0", 2, {3, 2}, K1}, {"1", 1, {2, 0}, B1}};
static const kf_weight DENSE2_VARS[] = {{"0", 2, {2, 1}, K2}, {"1", 1, {1, 0}, B2}};

static void write_store(const char *path, const char *const *paths)
{
    kf_write_store(path, paths, (const kf_weight *const[]){DENSE1_VARS, DENSE2_VARS}, (const int[]){2, 2}, 2);
}

#define SEQ3(layers)                                                                                    \
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["                     \
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"x\"}}, " \
    layers "]}}"
#define DENSE_A "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"relu\"}}"
#define DROPOUT "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"rate\": 0.5}}"
#define DENSE_B "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 1}}"
#define REF_GROUPS(k1, b1, k2, b2)                                                         \
    {{"dense", 2, {{k1, 2, {3, 2}, K1}, {b1, 1, {2, 0}, B1}}}, {"dropout", 0, {{0}}},      \
     {"dense_1", 2, {{k2, 2, {2, 1}, K2}, {b2, 1, {1, 0}, B2}}}}

static const char *const CFG_K2 = SEQ3(DENSE_A ", " DROPOUT ", " DENSE_B);
static const char *const CFG_K20 =
    "{\"class_name\": \"Sequential\", \"config\": ["
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"batch_input_shape\": [null, 3], "
    "\"units\": 2, \"activation\": \"relu\", \"use_bias\": true}}, " DROPOUT ", " DENSE_B "]}";
static const char *const CFG_FUNC2 =
    "{\"class_name\": \"Functional\", \"config\": {\"name\": \"model\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 3], \"name\": \"x\"}, "
    "\"name\": \"x\", \"inbound_nodes\": []}, "
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense\", \"units\": 2, \"activation\": \"relu\"}, "
    "\"name\": \"dense\", \"inbound_nodes\": [[[\"x\", 0, 0, {}]]]}, "
    "{\"class_name\": \"Dropout\", \"config\": {\"name\": \"dropout\", \"rate\": 0.1}, "
    "\"name\": \"dropout\", \"inbound_nodes\": [[[\"dense\", 0, 0, {}]]]}, "
    "{\"class_name\": \"Dense\", \"config\": {\"name\": \"dense_1\", \"units\": 1}, "
    "\"name\": \"dense_1\", \"inbound_nodes\": [[[\"dropout\", 0, 0, {}]]]}], "
    "\"input_layers\": [[\"x\", 0, 0]], \"output_layers\": [[\"dense_1\", 0, 0]]}}";
static const char *const CFG_FUNC3 =
    "{\"module\": \"keras.src.models.functional\", \"class_name\": \"Functional\", \"config\": {"
    "\"name\": \"functional\", \"layers\": ["
    "{\"module\": \"keras.layers\", \"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 3], "
    "\"dtype\": \"float32\", \"name\": \"x\"}, \"name\": \"x\", \"inbound_nodes\": []}, "
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"hidden\", \"units\": 2, "
    "\"activation\": {\"module\": \"keras.activations\", \"class_name\": \"function\", \"config\": \"relu\"}}, "
    "\"name\": \"hidden\", \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": "
    "{\"shape\": [null, 3], \"keras_history\": [\"x\", 0, 0]}}], \"kwargs\": {}}]}, "
    "{\"module\": \"keras.layers\", \"class_name\": \"Dense\", \"config\": {\"name\": \"out\", \"units\": 1}, "
    "\"name\": \"out\", \"inbound_nodes\": [{\"args\": [{\"class_name\": \"__keras_tensor__\", \"config\": "
    "{\"keras_history\": [\"hidden\", 0, 0]}}], \"kwargs\": {}}]}], "
    "\"input_layers\": [\"x\", 0, 0], \"output_layers\": [\"out\", 0, 0]}}";
static const char *const CFG_LAYERS =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"s\", \"layers\": ["
    "{\"class_name\": \"InputLayer\", \"config\": {\"batch_input_shape\": [null, 2, 2], \"name\": \"x\"}}, "
    "{\"class_name\": \"BatchNormalization\", \"config\": {\"name\": \"bn\", \"axis\": -1, \"epsilon\": 0.001, "
    "\"center\": true, \"scale\": false}}, "
    "{\"class_name\": \"LeakyReLU\", \"config\": {\"name\": \"lr\", \"alpha\": 0.3}}, "
    "{\"class_name\": \"Reshape\", \"config\": {\"name\": \"rs\", \"target_shape\": [-1, 2]}}, "
    "{\"class_name\": \"Flatten\", \"config\": {\"name\": \"f\", \"data_format\": \"channels_last\"}}, "
    "{\"class_name\": \"Activation\", \"config\": {\"name\": \"a\", \"activation\": \"tanh\"}}, "
    "{\"class_name\": \"ReLU\", \"config\": {\"name\": \"r\", \"max_value\": 6.0}}, "
    "{\"class_name\": \"Softmax\", \"config\": {\"name\": \"sm\", \"axis\": -1}}, "
    "{\"class_name\": \"ELU\", \"config\": {\"name\": \"e\", \"alpha\": 1.0}}]}}";

static void keras_seeds(void)
{
    kf_write_legacy(path_of("keras", "k2.h5"), CFG_K2, "model_weights",
                 (kf_layer[])REF_GROUPS("dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"), 3, 1);
    kf_write_legacy(path_of("keras", "k20_fixed.h5"), CFG_K20, "model_weights",
                 (kf_layer[])REF_GROUPS("dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"), 3, 0);
    kf_write_legacy(path_of("keras", "k3_legacy.h5"), CFG_K2, "model_weights",
                 (kf_layer[])REF_GROUPS("s/dense/kernel", "s/dense/bias", "s/dense_1/kernel", "s/dense_1/bias"), 3, 1);
    kf_write_legacy(path_of("keras", "func2.h5"), CFG_FUNC2, "model_weights",
                 (kf_layer[])REF_GROUPS("dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"), 3, 1);
    kf_write_legacy(path_of("keras", "weights_only.h5"), NULL, "",
                 (kf_layer[])REF_GROUPS("dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"), 3, 1);
    static const float bn[] = {0.5f, -1}, var[] = {4, 0.25f};
    kf_write_legacy(path_of("keras", "layers.h5"), CFG_LAYERS, "model_weights",
                 (kf_layer[]){{"bn", 3, {{"bn/beta:0", 1, {2, 0}, bn}, {"bn/moving_mean:0", 1, {2, 0}, bn},
                                            {"bn/moving_variance:0", 1, {2, 0}, var}}}},
                 1, 1);
    const char *store[] = {"layers/dense", "layers/dense_1"};
    write_store(path_of("keras", "store.weights.h5"), store);
    kf_write_zip(path_of("keras", "func3.keras"), CFG_FUNC3, path_of("keras", "store.weights.h5"), NULL);
    const char *nested[] = {"layers/sequential/layers/dense", "layers/dense"};
    write_store(path_of("keras", "nested.weights.h5"), nested);
    kf_write_zip(path_of("keras", "k2.keras"), CFG_K2, path_of("keras", "store.weights.h5"), NULL);
    const char *cfgs[] = {CFG_K2, CFG_K20, CFG_FUNC2, CFG_FUNC3, CFG_LAYERS};
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "config_%zu.json", i);
        write_file(path_of("keras", name), cfgs[i], strlen(cfgs[i]));
    }
}

/* The @model_config of a real .h5 as a JSON seed (config.json of a .keras
 * zip is left to scripts/fuzz.sh, which has unzip). */
static void real_config(const char *path, const char *name)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return;
    hid_t a = H5Aopen(f, "model_config", H5P_DEFAULT);
    if (a >= 0) {
        hid_t t = H5Aget_type(a);
        char *text = NULL;
        if (H5Tis_variable_str(t) > 0) {
            /* Read with the file's own type: ASCII and UTF-8 do not convert. */
            if (H5Aread(a, t, &text) >= 0 && text) {
                write_file(path_of("keras", name), text, strlen(text));
                H5free_memory(text);
            }
        } else {
            size_t n = H5Tget_size(t);
            text = calloc(n + 1, 1);
            if (text && H5Aread(a, t, text) >= 0) write_file(path_of("keras", name), text, strlen(text));
            free(text);
        }
        H5Tclose(t);
        H5Aclose(a);
    }
    H5Fclose(f);
}

static void real_keras_configs(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".h5")) continue;
        char path[4096], name[600];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        snprintf(name, sizeof name, "real_%.*s.json", (int)(n - 3), e->d_name);
        real_config(path, name);
    }
    closedir(d);
}

/* ------------------------------------------------------------------------ */
/* Tensors                                                                   */

static void tensor_seeds(void)
{
    static const onnxc_dtype types[] = {ONNXC_FLOAT, ONNXC_DOUBLE, ONNXC_FLOAT16, ONNXC_INT8, ONNXC_INT16,
                                        ONNXC_INT32, ONNXC_INT64, ONNXC_UINT8, ONNXC_UINT16, ONNXC_UINT32,
                                        ONNXC_UINT64, ONNXC_BOOL};
    static const struct { int rank; int64_t dims[4]; } shapes[] = {{0, {0}}, {1, {0}}, {1, {3}}, {2, {2, 3}}, {4, {1, 2, 1, 2}}};
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 37 + 1) & 0x3f;
    onnxc_error err;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            if (types[i] == ONNXC_BOOL) memset(data, 1, sizeof data);
            onnxc_tensor t = {.dtype = types[i], .rank = shapes[s].rank, .data = data, .capacity = sizeof data};
            memcpy(t.dims, shapes[s].dims, sizeof shapes[s].dims);
            char name[64];
            snprintf(name, sizeof name, "%s_r%d_%zu.npy", onnxc_dtype_name(types[i]), t.rank, s);
            if (oc_npy_write(path_of("npy", name), &t, &err) != ONNXC_OK) die(err.message);
            snprintf(name, sizeof name, "%s_r%d_%zu.pb", onnxc_dtype_name(types[i]), t.rank, s);
            if (oc_tensor_pb_write(path_of("npy", name), &t, &err) != ONNXC_OK) die(err.message);
        }
    /* Header versions 2.0 and 3.0, Fortran order, big-endian: as numpy writes them. */
    static const struct { const char *name; int major; const char *dict; } heads[] = {
        {"v2.npy", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }"},
        {"v3.npy", 3, "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }"},
        {"fortran.npy", 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }"},
        {"bigendian.npy", 1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }"},
        {"bool.npy", 1, "{'descr': '|b1', 'fortran_order': False, 'shape': (16,), }"},
    };
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++) {
        uint8_t buf[256] = "\x93NUMPY";
        size_t pre = heads[i].major == 1 ? 10 : 12, dl = strlen(heads[i].dict);
        size_t hl = (pre + dl + 1 + 63) / 64 * 64 - pre;
        buf[6] = (uint8_t)heads[i].major;
        buf[7] = 0;
        buf[8] = (uint8_t)hl;
        buf[9] = (uint8_t)(hl >> 8);
        memset(buf + pre, ' ', hl);
        memcpy(buf + pre, heads[i].dict, dl);
        buf[pre + hl - 1] = '\n';
        memset(buf + pre + hl, 1, 16);
        write_file(path_of("npy", heads[i].name), buf, pre + hl + 16);
    }
    /* TensorProtos with typed fields instead of raw_data. */
    Onnx__TensorProto tp;
    onnx__tensor_proto__init(&tp);
    int64_t dims[] = {2, 2};
    float f[] = {1.5f, -2, 0, 3};
    int64_t l[] = {1, -2, 3, 1LL << 40};
    tp.n_dims = 2;
    tp.dims = dims;
    tp.has_data_type = 1;
    tp.data_type = ONNXC_FLOAT;
    tp.n_float_data = 4;
    tp.float_data = f;
    uint8_t pb[512];
    write_file(path_of("npy", "typed_float.pb"), pb, onnx__tensor_proto__pack(&tp, pb));
    tp.data_type = ONNXC_INT64;
    tp.n_float_data = 0;
    tp.n_int64_data = 4;
    tp.int64_data = l;
    write_file(path_of("npy", "typed_int64.pb"), pb, onnx__tensor_proto__pack(&tp, pb));
}

/* ------------------------------------------------------------------------ */
/* idx                                                                       */

static void idx_file(const char *name, int ndims, const uint32_t *dims, int gz)
{
    uint8_t buf[4096] = {0, 0, 0x08, (uint8_t)ndims};
    size_t n = 4, payload = 1;
    for (int i = 0; i < ndims; i++) {
        buf[n++] = (uint8_t)(dims[i] >> 24);
        buf[n++] = (uint8_t)(dims[i] >> 16);
        buf[n++] = (uint8_t)(dims[i] >> 8);
        buf[n++] = (uint8_t)dims[i];
        payload *= dims[i];
    }
    if (n + payload > sizeof buf) die("idx seed too large");
    for (size_t i = 0; i < payload; i++) buf[n + i] = (uint8_t)(i * 13);
    n += payload;
    if (!gz) {
        write_file(path_of("idx", name), buf, n);
        return;
    }
    gzFile g = gzopen(path_of("idx", name), "wb9");
    if (!g || gzwrite(g, buf, (unsigned)n) != (int)n || gzclose(g) != Z_OK) die(name);
}

static void idx_seeds(void)
{
    idx_file("images-2x28x28", 3, (const uint32_t[]){2, 28, 28}, 0);
    idx_file("labels-8", 1, (const uint32_t[]){8}, 0);
    idx_file("images-3x4x4.gz", 3, (const uint32_t[]){3, 4, 4}, 1);
    idx_file("labels-3.gz", 1, (const uint32_t[]){3}, 1);
    idx_file("four-dims", 4, (const uint32_t[]){1, 2, 3, 4}, 0);
    idx_file("empty", 2, (const uint32_t[]){0, 5}, 0);
}

/* ------------------------------------------------------------------------ */
/* ONNX models from specs                                                    */

static void onnx_seeds(void)
{
    static const char *const specs[] = {"4,3:relu,2:softmax", "3,2:sigmoid,2:tanh,1", "2,2:elu,2:selu,2:softplus",
                                        "5,4:gelu,3:linear"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        onnxc_error err;
        onnxc_model *m = NULL;
        void *bytes;
        size_t n;
        if (onnxc_model_from_spec(specs[i], 1, &m, &err) != ONNXC_OK ||
            onnxc_model_save_memory(m, &bytes, &n, &err) != ONNXC_OK)
            die(err.message);
        char name[32];
        snprintf(name, sizeof name, "spec_%zu.onnx", i);
        write_file(path_of("onnx", name), bytes, n);
        free(bytes);
        onnxc_model_free(m);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) die("usage: fuzz_make_seeds OUT_DIR [SHARED_MODELS_DIR]");
    out_dir = argv[1];
    const char *subs[] = {"onnx", "npy", "idx", "keras"};
    for (int i = 0; i < 4; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", out_dir, subs[i]);
        if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p);
    }
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    keras_seeds();
    if (argc == 3) real_keras_configs(argv[2]);
    tensor_seeds();
    idx_seeds();
    onnx_seeds();
    return 0;
}
