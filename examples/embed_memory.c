/*
 * Embedding onnxc in an application that holds the model as bytes: read
 * from a file here, but the same call takes bytes linked into the program
 * (`xxd -i model.onnx > model.c`, `ld -r -b binary`, C23 #embed), fetched
 * from a database or received over a network.
 *
 *     embed_memory MODEL.onnx INPUT.npy [EXPECTED.npy]
 *
 * What it shows:
 *   - onnxc_model_load_memory: the model is parsed from a buffer, which the
 *     caller may free right after the call (the model keeps what it needs);
 *   - one session created once and run many times, with a fixed thread count
 *     (results do not depend on it);
 *   - a caller-owned output buffer (`data` and `capacity` set), so a
 *     real-time loop never allocates;
 *   - onnxc_model_save_memory: the model back to bytes, and loaded again.
 *
 * The test suite runs it on ../shared/models/real/tf2onnx-1.17_op13_*.onnx
 * (784-128-64-10, MNIST) with its reference input and ONNX Runtime output.
 *
 * Build: cc embed_memory.c $(pkg-config --cflags --libs onnxc) -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <onnxc.h>

/* The whole file in a malloc'd buffer; NULL on failure. */
static void *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) *size = (size_t)n;
    fclose(f);
    return buf;
}

static size_t elements(const onnxc_tensor *t)
{
    size_t n = 1;
    for (int d = 0; d < t->rank; d++) n *= (size_t)t->dims[d];
    return n;
}

/* Run `model` on `input` into the caller-owned `out` buffer of `capacity`
 * bytes, ten times, as an application's inference loop would. */
static onnxc_status run_loop(const onnxc_model *model, const onnxc_tensor *input, float *out, size_t capacity,
                             onnxc_tensor *result, onnxc_error *err)
{
    onnxc_session_options opt = {.threads = 1};
    onnxc_session *s;
    onnxc_status st = onnxc_session_create(model, &opt, &s, err);
    for (int i = 0; st == ONNXC_OK && i < 10; i++) {
        *result = (onnxc_tensor){.data = out, .capacity = capacity};
        st = onnxc_session_run(s, input, 1, result, 1, err);
    }
    onnxc_session_free(s);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.onnx INPUT.npy [EXPECTED.npy]\n", argv[0]);
        return 2;
    }
    onnxc_error err;
    onnxc_model *model = NULL, *copy = NULL;
    onnxc_tensor input = {0}, expected = {0};
    void *saved = NULL;
    float *out = NULL, *out2 = NULL;
    int rc = 1;

    size_t size = 0;
    void *bytes = read_all(argv[1], &size);
    if (!bytes) {
        fprintf(stderr, "%s: cannot read the model\n", argv[1]);
        return 1;
    }
    /* base_dir NULL: a model in memory has no folder, so external data is
     * refused; the label names the model in error messages. */
    onnxc_status st = onnxc_model_load_memory(bytes, size, NULL, "embedded model", NULL, &model, &err);
    free(bytes);   /* the model does not point into the caller's buffer */
    if (st != ONNXC_OK) goto fail;
    printf("loaded %zu bytes from memory: %zu nodes\n", size, onnxc_model_node_count(model));

    if (onnxc_tensor_load(argv[2], &input, &err) != ONNXC_OK) goto fail;

    /* Room for the output: [batch, classes] floats, from the declared output
     * shape with the batch dim taken from the input. */
    onnxc_value_info oi;
    onnxc_model_output(model, 0, &oi);
    size_t per_sample = 1;
    for (int d = 1; d < oi.rank; d++) per_sample *= oi.dims[d] > 0 ? (size_t)oi.dims[d] : 1;
    size_t capacity = (size_t)input.dims[0] * per_sample * sizeof(float);
    out = malloc(capacity);
    out2 = malloc(capacity);
    if (!out || !out2) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    onnxc_tensor result, result2;
    if (run_loop(model, &input, out, capacity, &result, &err) != ONNXC_OK) goto fail;
    printf("output %s: [%lld, %lld]\n", oi.name, (long long)result.dims[0], (long long)result.dims[1]);

    /* Back to bytes (for instance to store in a database), and loaded again:
     * the copy computes exactly the same outputs. */
    size_t saved_size;
    if (onnxc_model_save_memory(model, &saved, &saved_size, &err) != ONNXC_OK) goto fail;
    if (onnxc_model_load_memory(saved, saved_size, NULL, "re-saved model", NULL, &copy, &err) != ONNXC_OK)
        goto fail;
    if (run_loop(copy, &input, out2, capacity, &result2, &err) != ONNXC_OK) goto fail;
    if (memcmp(out, out2, elements(&result) * sizeof(float)) != 0) {
        fprintf(stderr, "the re-saved model computes different outputs\n");
        goto done;
    }
    printf("re-saved to %zu bytes and reloaded: identical outputs\n", saved_size);

    if (argc == 4) {
        if (onnxc_tensor_load(argv[3], &expected, &err) != ONNXC_OK) goto fail;
        if (expected.dtype != ONNXC_FLOAT || elements(&expected) != elements(&result)) {
            fprintf(stderr, "%s: expected %zu floats like the output\n", argv[3], elements(&result));
            goto done;
        }
        double worst = 0.0;
        const float *want = expected.data;
        for (size_t i = 0; i < elements(&result); i++) {
            double d = fabs((double)out[i] - (double)want[i]);
            if (!(d <= worst)) worst = d;
        }
        printf("max |onnxc - expected| = %.3g\n", worst);
        if (!(worst <= 1e-4)) {
            fprintf(stderr, "outputs differ from %s by more than 1e-4\n", argv[3]);
            goto done;
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "error (%s): %s\n", onnxc_status_name(err.status), err.message);
done:
    free(saved);
    free(out);
    free(out2);
    onnxc_tensor_release(&input);
    onnxc_tensor_release(&expected);
    onnxc_model_free(copy);
    onnxc_model_free(model);
    return rc;
}
