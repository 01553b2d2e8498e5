/*
 * Inference on a model exported from Keras by tf2onnx, through the C API.
 *
 *     infer_tf2onnx MODEL.onnx INPUT.npy [EXPECTED.npy]
 *
 * Loads the model, prints its inputs and outputs (tf2onnx names the batch
 * dim "unk__N"), runs it on a batch read from INPUT.npy, and prints the
 * predicted class and its probability for every sample. With EXPECTED.npy
 * (for instance ONNX Runtime's output on the same input) it also prints the
 * largest difference and exits 1 when it exceeds 1e-4.
 *
 * The test suite runs it on ../shared/models/real/tf2onnx-1.14_op15_*.onnx,
 * a Flatten -> Dense(256, relu) -> Dense(10, softmax) MNIST classifier.
 *
 * Build: cc infer_tf2onnx.c $(pkg-config --cflags --libs onnxc) -lm
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <onnxc.h>

static void print_value(const char *kind, const onnxc_value_info *v)
{
    printf("  %s %s: %s [", kind, v->name, onnxc_dtype_name(v->dtype));
    for (int d = 0; d < v->rank; d++) {
        if (d) printf(", ");
        if (v->dim_names[d]) printf("%s", v->dim_names[d]);
        else if (v->dims[d] < 0) printf("?");
        else printf("%lld", (long long)v->dims[d]);
    }
    printf("]\n");
}

/* Largest |a - b| over two float tensors of the same shape, or INFINITY when
 * the shapes differ. */
static double max_abs_diff(const onnxc_tensor *a, const onnxc_tensor *b)
{
    if (a->dtype != ONNXC_FLOAT || b->dtype != ONNXC_FLOAT || a->rank != b->rank) return INFINITY;
    size_t n = 1;
    for (int d = 0; d < a->rank; d++) {
        if (a->dims[d] != b->dims[d]) return INFINITY;
        n *= (size_t)a->dims[d];
    }
    const float *x = a->data, *y = b->data;
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= worst)) worst = d;   /* NaN counts as the worst */
    }
    return worst;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: %s MODEL.onnx INPUT.npy [EXPECTED.npy]\n", argv[0]);
        return 2;
    }
    onnxc_error err;
    onnxc_model *model = NULL;
    onnxc_session *session = NULL;
    onnxc_tensor input = {0}, expected = {0};
    int rc = 1;

    if (onnxc_model_load(argv[1], NULL, &model, &err) != ONNXC_OK) goto fail;
    onnxc_model_meta meta;
    onnxc_model_get_meta(model, &meta);
    printf("%s: produced by %s %s, opset %lld\n", argv[1], meta.producer_name, meta.producer_version,
           (long long)meta.opset_onnx);
    for (size_t i = 0; i < onnxc_model_input_count(model); i++) {
        onnxc_value_info v;
        onnxc_model_input(model, i, &v);
        print_value("input", &v);
    }
    for (size_t i = 0; i < onnxc_model_output_count(model); i++) {
        onnxc_value_info v;
        onnxc_model_output(model, i, &v);
        print_value("output", &v);
    }

    /* The session keeps the execution plan for the last input shape, so
     * repeated runs on batches of one size cost only the kernels. */
    if (onnxc_session_create(model, NULL, &session, &err) != ONNXC_OK) goto fail;
    if (onnxc_tensor_load(argv[2], &input, &err) != ONNXC_OK) goto fail;

    /* data == NULL: the session allocates the result and owns it until the
     * next run or onnxc_session_free. */
    onnxc_tensor output = {0};
    if (onnxc_session_run(session, &input, 1, &output, 1, &err) != ONNXC_OK) goto fail;
    if (output.rank != 2) {
        fprintf(stderr, "expected a [batch, classes] output, got rank %d\n", output.rank);
        goto done;
    }

    const float *p = output.data;   /* [batch, classes] */
    int64_t batch = output.dims[0], classes = output.dims[1];
    for (int64_t b = 0; b < batch; b++) {
        int64_t best = 0;
        for (int64_t c = 1; c < classes; c++)
            if (p[b * classes + c] > p[b * classes + best]) best = c;
        printf("sample %lld: class %lld (p = %.4f)\n", (long long)b, (long long)best, p[b * classes + best]);
    }

    if (argc == 4) {
        if (onnxc_tensor_load(argv[3], &expected, &err) != ONNXC_OK) goto fail;
        double diff = max_abs_diff(&output, &expected);
        printf("max |onnxc - expected| = %.3g\n", diff);
        if (!(diff <= 1e-4)) {
            fprintf(stderr, "outputs differ from %s by more than 1e-4\n", argv[3]);
            goto done;
        }
    }
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "error (%s): %s\n", onnxc_status_name(err.status), err.message);
done:
    onnxc_tensor_release(&input);
    onnxc_tensor_release(&expected);
    onnxc_session_free(session);
    onnxc_model_free(model);
    return rc;
}
