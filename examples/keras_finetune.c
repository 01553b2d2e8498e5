/*
 * Convert a Keras .h5 model and fine-tune it, in C — the Keras
 *
 *     model = keras.models.load_model("mlp.h5")
 *     model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
 *     model.fit(x, y, epochs=1, validation_split=0.2)
 *     model.save("finetuned.onnx")      # but as ONNX, for any runtime
 *
 * Usage:
 *
 *     keras_finetune MODEL.h5 DATA_DIR OUT.onnx [EPOCHS]
 *
 * MODEL.h5 is a Keras Dense network with a 784-wide input and a softmax
 * output (the test suite uses ../shared/models/real/keras-2.7.0_ghss-k_mlp.h5,
 * a 784-250-250-250-10 handwritten-digit classifier). DATA_DIR holds
 * MNIST-style idx files; the t10k split (10,000 samples) stands in for the
 * small labelled set a fine-tuning job usually has. The test suite uses
 * Fashion-MNIST, so the digit model learns clothing: transfer learning.
 *
 * Steps: load the .h5 (converted to ONNX in memory; no Python, and no code
 * from the file is run), score it on the data, fine-tune it with Adam
 * (Keras defaults) holding out the last 20% for validation, save it as ONNX,
 * then load the saved file and check that it scores exactly as the model in
 * memory does. Exits 1 when anything fails or the held-out accuracy after
 * fine-tuning is not above the accuracy before it.
 *
 * Build: cc keras_finetune.c $(pkg-config --cflags --libs onnxc)
 */
#include <stdio.h>
#include <stdlib.h>

#include <onnxc.h>

/* Progress: one line per epoch (onnxc's CLI draws a Keras progress bar;
 * a library caller chooses its own). Returning 0 keeps training. */
static int on_progress(void *user, int epoch, int epochs, size_t step, size_t steps, double loss,
                       double accuracy, const onnxc_epoch_log *log)
{
    (void)user, (void)step, (void)steps, (void)loss, (void)accuracy;
    if (log)
        printf("epoch %d/%d: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f (%.1f s)\n", epoch, epochs,
               log->loss, log->accuracy, log->val_loss, log->val_accuracy, log->seconds);
    return 0;
}

/* Accuracy of `model` on `data`, through a fresh trainer (inference mode). */
static onnxc_status score(onnxc_model *model, const onnxc_dataset *data, double *accuracy, onnxc_error *err)
{
    onnxc_trainer_options opt;
    onnxc_trainer_options_default(&opt);
    onnxc_trainer *t;
    onnxc_status st = onnxc_trainer_create(model, &opt, &t, err);
    double loss;
    if (st == ONNXC_OK) st = onnxc_trainer_evaluate(t, data, 256, &loss, accuracy, NULL, 0, err);
    onnxc_trainer_free(t);
    return st;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: %s MODEL.h5 DATA_DIR OUT.onnx [EPOCHS]\n", argv[0]);
        return 2;
    }
    int epochs = argc == 5 ? atoi(argv[4]) : 1;
    if (epochs < 1 || epochs > 64) {
        fprintf(stderr, "EPOCHS must be an integer 1..64, got '%s'\n", argv[4]);
        return 2;
    }
    onnxc_error err;
    onnxc_model *model = NULL, *reloaded = NULL;
    onnxc_dataset *data = NULL;
    onnxc_trainer *trainer = NULL;
    int rc = 1;

    /* onnxc_model_load recognises the HDF5 signature and converts the Keras
     * model to ONNX in the tf2onnx layout (MatMul + Add + activation per
     * Dense layer); onnxc_model_load_keras does the same explicitly. */
    if (onnxc_model_load_keras(argv[1], NULL, NULL, &model, &err) != ONNXC_OK) goto fail;
    uint64_t params, bytes;
    onnxc_model_param_totals(model, &params, &bytes);
    printf("%s: %zu nodes, %llu parameters\n", argv[1], onnxc_model_node_count(model), (unsigned long long)params);

    if (onnxc_dataset_load_idx(argv[2], "t10k", &data, &err) != ONNXC_OK) goto fail;
    printf("data: %zu samples, %zu classes\n", onnxc_dataset_size(data), onnxc_dataset_classes(data));

    double before, after, in_memory, reloaded_score;
    if (score(model, data, &before, &err) != ONNXC_OK) goto fail;
    printf("accuracy before fine-tuning: %.4f\n", before);

    /* Keras's compile(): Adam(1e-3) and sparse categorical cross-entropy.
     * The model ends in Softmax, so the loss is computed from its logits. */
    onnxc_trainer_options opt;
    onnxc_trainer_options_default(&opt);
    opt.seed = 42;
    if (onnxc_trainer_create(model, &opt, &trainer, &err) != ONNXC_OK) goto fail;
    /* The last 20% (taken before shuffling) are held out: validation_split. */
    onnxc_fit_options fit = {
        .epochs = epochs,
        .batch_size = 32,
        .validation_split = 0.2,
        .progress = on_progress,
    };
    onnxc_epoch_log history[64];
    if (onnxc_trainer_fit(trainer, data, &fit, history, 64, &err) != ONNXC_OK) goto fail;
    after = history[(epochs < 64 ? epochs : 64) - 1].val_accuracy;
    printf("held-out accuracy after fine-tuning: %.4f\n", after);
    onnxc_trainer_free(trainer);
    trainer = NULL;

    /* Only the initializers change; every other field of the converted
     * model is written back as it was. The write is atomic. */
    if (onnxc_model_save(model, argv[3], NULL, &err) != ONNXC_OK) goto fail;
    printf("saved %s\n", argv[3]);

    /* The same evaluation of the model in memory and of the saved file:
     * the weights are the same bits, so the scores are equal exactly. */
    if (onnxc_model_load(argv[3], NULL, &reloaded, &err) != ONNXC_OK) goto fail;
    if (score(model, data, &in_memory, &err) != ONNXC_OK || score(reloaded, data, &reloaded_score, &err) != ONNXC_OK)
        goto fail;
    printf("accuracy on all %zu samples: %.4f in memory, %.4f from %s\n", onnxc_dataset_size(data), in_memory,
           reloaded_score, argv[3]);

    if (reloaded_score != in_memory) {
        fprintf(stderr, "the saved model scores %.6f, the trained one %.6f: expected the same\n", reloaded_score,
                in_memory);
    } else if (!(after > before)) {
        fprintf(stderr, "fine-tuning did not improve accuracy (%.4f -> %.4f)\n", before, after);
    } else {
        rc = 0;
    }
    goto done;
fail:
    fprintf(stderr, "error (%s): %s\n", onnxc_status_name(err.status), err.message);
done:
    onnxc_trainer_free(trainer);
    onnxc_dataset_free(data);
    onnxc_model_free(reloaded);
    onnxc_model_free(model);
    return rc;
}
