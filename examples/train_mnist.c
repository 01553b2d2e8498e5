/*
 * The Keras "classify images of clothing" tutorial, in C with onnxc.
 *
 *     train_mnist [DATA_DIR [EPOCHS [OUT.onnx]]]
 *
 * DATA_DIR holds Fashion-MNIST (or MNIST) as idx files, train-* and t10k-*,
 * gzipped or not (default /usr/share/datasets/fashion-mnist); EPOCHS defaults
 * to 5; the trained model is written to OUT.onnx (default fashion_mnist.onnx).
 * Every step below is the Keras call in the comment beside it, and uses only
 * the public header onnxc.h. Exit status 0 on success, 1 on bad arguments,
 * 2 when a step fails (with the library's message on stderr).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "onnxc.h"

/* Print the failing step and the library's message; return the exit code. */
static int fail(const char *step, const onnxc_error *err)
{
    fprintf(stderr, "train_mnist: %s failed (%s): %s\n", step, onnxc_status_name(err->status), err->message);
    return 2;
}

/*
 * fit()'s progress callback. onnxc calls it after every batch (log == NULL)
 * and once at the end of each epoch (log != NULL); like Keras's verbose=2,
 * print one line per epoch. Returning nonzero would stop training.
 */
static int on_progress(void *user, int epoch, int epochs, size_t step, size_t steps, double loss,
                       double accuracy, const onnxc_epoch_log *log)
{
    (void)user, (void)step, (void)loss, (void)accuracy;
    if (log)
        printf("Epoch %d/%d - %zu steps - %.1fs - loss: %.4f - accuracy: %.4f\n", epoch, epochs, steps,
               log->seconds, log->loss, log->accuracy);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data_dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    const char *out_path = argc > 3 ? argv[3] : "fashion_mnist.onnx";
    int epochs = 5;
    if (argc > 2) {
        char *end;
        errno = 0;
        long e = strtol(argv[2], &end, 10);
        if (errno || *end || e < 1 || e > 1000) {
            fprintf(stderr, "usage: %s [DATA_DIR [EPOCHS [OUT.onnx]]]: EPOCHS must be 1..1000, got '%s'\n",
                    argv[0], argv[2]);
            return 1;
        }
        epochs = (int)e;
    }
    if (argc > 4) {
        fprintf(stderr, "usage: %s [DATA_DIR [EPOCHS [OUT.onnx]]]\n", argv[0]);
        return 1;
    }

    onnxc_error err;
    onnxc_model *model = NULL, *loaded = NULL;
    onnxc_dataset *train = NULL, *test = NULL;
    onnxc_trainer *trainer = NULL, *evaluator = NULL;
    int rc = 0;

    /* (train_images, train_labels), (test_images, test_labels) = fashion_mnist.load_data()
     * The images stay uint8; onnxc scales each batch by 1/255 (Keras: images / 255.0). */
    if (onnxc_dataset_load_idx(data_dir, "train", &train, &err) != ONNXC_OK) {
        rc = fail("loading the training images", &err);
        goto done;
    }
    if (onnxc_dataset_load_idx(data_dir, "t10k", &test, &err) != ONNXC_OK) {
        rc = fail("loading the test images", &err);
        goto done;
    }
    printf("%zu training and %zu test images from %s\n", onnxc_dataset_size(train), onnxc_dataset_size(test),
           data_dir);

    /* model = keras.Sequential([
     *     keras.Input(shape=(784,)),          # 28x28 images are flattened to fit
     *     keras.layers.Dense(64, activation='relu'),
     *     keras.layers.Dense(64, activation='relu'),
     *     keras.layers.Dense(10, activation='softmax')])
     * Glorot-uniform kernels and zero biases, like Keras; 42 seeds the weights. */
    if (onnxc_model_from_spec("784,64:relu,64:relu,10:softmax", 42, &model, &err) != ONNXC_OK) {
        rc = fail("building the model", &err);
        goto done;
    }

    /* model.compile(optimizer='adam', loss='sparse_categorical_crossentropy',
     *               metrics=['accuracy'])
     * The defaults are exactly these (Adam lr 1e-3, epsilon 1e-7); set them
     * explicitly here to show where they go. The trainer computes the loss
     * from the softmax's logits, as Keras does. */
    onnxc_trainer_options options;
    onnxc_trainer_options_default(&options);
    options.loss = ONNXC_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY;
    onnxc_optimizer_defaults(ONNXC_OPT_ADAM, &options.optimizer);
    if (onnxc_trainer_create(model, &options, &trainer, &err) != ONNXC_OK) {
        rc = fail("preparing training", &err);
        goto done;
    }

    /* model.fit(train_images, train_labels, epochs=5, batch_size=32)
     * Shuffled every epoch; the weights are updated inside `model`. */
    onnxc_fit_options fit = {
        .epochs = epochs,
        .batch_size = 32,
        .progress = on_progress,
    };
    if (onnxc_trainer_fit(trainer, train, &fit, NULL, 0, &err) != ONNXC_OK) {
        rc = fail("training", &err);
        goto done;
    }

    /* model.save('fashion_mnist.onnx'): a plain ONNX file (MatMul, Add, Relu,
     * Softmax) that any ONNX runtime can load. */
    if (onnxc_model_save(model, out_path, NULL, &err) != ONNXC_OK) {
        rc = fail("saving the model", &err);
        goto done;
    }
    printf("Saved %s\n", out_path);

    /* model = keras.models.load_model('fashion_mnist.onnx') */
    if (onnxc_model_load(out_path, NULL, &loaded, &err) != ONNXC_OK) {
        rc = fail("loading the saved model", &err);
        goto done;
    }

    /* test_loss, test_acc = model.evaluate(test_images, test_labels)
     * A trainer on the loaded model; evaluating only runs it forward. */
    if (onnxc_trainer_create(loaded, &options, &evaluator, &err) != ONNXC_OK) {
        rc = fail("preparing evaluation", &err);
        goto done;
    }
    double test_loss = 0.0, test_acc = 0.0;
    if (onnxc_trainer_evaluate(evaluator, test, 32, &test_loss, &test_acc, NULL, 0, &err) != ONNXC_OK) {
        rc = fail("evaluating", &err);
        goto done;
    }
    printf("Test loss: %.4f\n", test_loss);
    printf("Test accuracy: %.4f\n", test_acc);

done:
    onnxc_trainer_free(evaluator);
    onnxc_trainer_free(trainer);
    onnxc_model_free(loaded);
    onnxc_model_free(model);
    onnxc_dataset_free(test);
    onnxc_dataset_free(train);
    return rc;
}
