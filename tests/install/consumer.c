/*
 * A program built against the *installed* onnxc package, the way a user
 * would: only <onnxc.h> and -lonnxc (via pkg-config or find_package).
 *
 *     consumer MODEL INPUT.npy
 *
 * Loads MODEL, runs it on INPUT, and prints output 0 as
 *     version <onnxc_version()>
 *     output <name> <dtype> <d0>x<d1>...
 *     <one value per line, %.9g>
 * Exits 0 on success, 2 with the library's message on stderr otherwise.
 */
#include <stdio.h>

#include <onnxc.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: consumer MODEL INPUT.npy\n");
        return 1;
    }
    onnxc_error err;
    onnxc_model *model = NULL;
    onnxc_session *sess = NULL;
    onnxc_tensor in = {0};
    onnxc_tensor out = {0};
    int rc = 2;
    if (onnxc_model_load(argv[1], NULL, &model, &err) != ONNXC_OK ||
        onnxc_session_create(model, NULL, &sess, &err) != ONNXC_OK ||
        onnxc_tensor_load(argv[2], &in, &err) != ONNXC_OK ||
        onnxc_session_run(sess, &in, 1, &out, 1, &err) != ONNXC_OK) {
        fprintf(stderr, "consumer: %s: %s\n", onnxc_status_name(err.status), err.message);
        goto done;
    }
    onnxc_value_info info;
    if (onnxc_model_output(model, 0, &info) != ONNXC_OK || out.dtype != ONNXC_FLOAT) {
        fprintf(stderr, "consumer: unexpected output\n");
        goto done;
    }
    printf("version %s\n", onnxc_version());
    printf("output %s %s ", info.name, onnxc_dtype_name(out.dtype));
    size_t n = 1;
    for (int d = 0; d < out.rank; d++) {
        printf("%s%lld", d ? "x" : "", (long long)out.dims[d]);
        n *= (size_t)out.dims[d];
    }
    printf("\n");
    for (size_t i = 0; i < n; i++) printf("%.9g\n", ((const float *)out.data)[i]);
    rc = 0;
done:
    onnxc_tensor_release(&in);
    onnxc_session_free(sess);
    onnxc_model_free(model);
    return rc;
}
