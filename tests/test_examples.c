/*
 * The example programs build and do what they say. examples/train_mnist.c
 * (the Keras tutorial through the public API) runs one epoch of
 * Fashion-MNIST: it prints one line for the epoch and a test accuracy above
 * 0.8 (Keras reaches 0.82-0.85 after one epoch of this network), and the
 * file it saved loads and, evaluated here on t10k, gives the accuracy it
 * printed. Bad arguments are exit 1, unusable data exit 2.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc.h"
#include "testutil.h"

#define TRAIN_MNIST ONNXC_BINARY_DIR "/examples/train_mnist"
#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static void require_example(void)
{
    cr_assert(tu_exists(TRAIN_MNIST),
              "%s was not built: the top-level CMakeLists.txt needs add_subdirectory(examples)", TRAIN_MNIST);
}

static size_t count_str(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *at = strstr(s, needle); at; at = strstr(at + 1, needle)) n++;
    return n;
}

Test(examples, train_mnist_one_epoch, .timeout = 900)
{
    require_example();
    if (!tu_is_dir(FASHION_DIR)) cr_skip_test(FASHION_DIR " is not installed");
    char *dir = tu_tmpdir("example-mnist");
    char *out = tu_path("%s/fashion.onnx", dir);
    tu_proc p;
    tu_run((const char *[]){TRAIN_MNIST, FASHION_DIR, "1", out, NULL}, 900, &p);
    cr_assert_eq(p.status, 0, "train_mnist exited %d\nstdout: %s\nstderr: %s", p.status, p.out, p.err);
    cr_expect_eq(count_str(p.out, "Epoch "), 1, "one line per epoch expected:\n%s", p.out);
    cr_expect(strstr(p.out, "Epoch 1/1 - 1875 steps"), "%s", p.out);
    const char *at = strstr(p.out, "Test accuracy: ");
    double acc = -1.0;
    cr_assert(at && sscanf(at, "Test accuracy: %lf", &acc) == 1, "no test accuracy in:\n%s", p.out);
    cr_expect_gt(acc, 0.8, "test accuracy after one epoch: %g\n%s", acc, p.out);

    /* The saved file loads, and is the model that scored `acc`. */
    onnxc_model *m;
    onnxc_error err;
    cr_assert_eq(onnxc_model_load(out, NULL, &m, &err), ONNXC_OK, "%s: %s", out, err.message);
    cr_expect_eq(onnxc_model_initializer_count(m), 6);
    onnxc_dataset *t10k;
    cr_assert_eq(onnxc_dataset_load_idx(FASHION_DIR, "t10k", &t10k, &err), ONNXC_OK, "%s", err.message);
    onnxc_trainer *t;
    cr_assert_eq(onnxc_trainer_create(m, NULL, &t, &err), ONNXC_OK, "%s", err.message);
    double loss, acc2;
    cr_assert_eq(onnxc_trainer_evaluate(t, t10k, 100, &loss, &acc2, NULL, 0, &err), ONNXC_OK, "%s", err.message);
    cr_expect(fabs(acc2 - acc) <= 5e-5, "the saved model scores %.4f on t10k; the example printed %.4f", acc2, acc);
    onnxc_trainer_free(t);
    onnxc_dataset_free(t10k);
    onnxc_model_free(m);
    tu_proc_free(&p);
    tu_rmtree(dir);
    free(dir);
    free(out);
}

Test(examples, train_mnist_bad_arguments)
{
    require_example();
    char *dir = tu_tmpdir("example-args");
    char *missing = tu_path("%s/no-such-folder", dir);
    tu_proc p;
    tu_run((const char *[]){TRAIN_MNIST, FASHION_DIR, "ten", NULL}, 60, &p);
    cr_expect_eq(p.status, 1, "EPOCHS 'ten': exit %d\n%s", p.status, p.err);
    cr_expect(strstr(p.err, "usage: "), "%s", p.err);
    tu_proc_free(&p);
    tu_run((const char *[]){TRAIN_MNIST, FASHION_DIR, "1", "a.onnx", "extra", NULL}, 60, &p);
    cr_expect_eq(p.status, 1, "an extra argument: exit %d\n%s", p.status, p.err);
    tu_proc_free(&p);
    tu_run((const char *[]){TRAIN_MNIST, missing, "1", NULL}, 60, &p);
    cr_expect_eq(p.status, 2, "missing data folder: exit %d\n%s", p.status, p.err);
    cr_expect(strstr(p.err, "train_mnist: loading the training images failed") && strstr(p.err, missing),
              "the message should say what failed and name the folder:\n%s", p.err);
    tu_proc_free(&p);
    tu_rmtree(dir);
    free(dir);
    free(missing);
}
