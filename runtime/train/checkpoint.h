/*
 * Checkpoints are ONNX files: the model with its current weights, plus
 *   - one extra graph initializer per optimizer slot and parameter, named
 *     "onnxc.optimizer.<slot>/<parameter name>" (slot "m"/"v" for Adam,
 *     "velocity" for SGD momentum, "accumulator" for RMSprop/Adagrad), same
 *     shape as the parameter; no node reads them, so any ONNX tool opens the
 *     file and runs the model;
 *   - metadata_props "onnxc.checkpoint.*": format version, optimizer kind and
 *     hyper-parameters, iterations, epochs done, RNG state, seed, loss and
 *     batch size.
 * Saving is atomic. Loading checks every name, shape and setting against the
 * trainer and refuses a file that does not match.
 */
#ifndef OC_CHECKPOINT_H
#define OC_CHECKPOINT_H

#include "trainer.h"

typedef struct oc_fit_state {
    int epochs_done;
    int batch_size;
} oc_fit_state;

/* Refuses (ONNXC_ERR_NUMERIC, old file kept) weights or optimizer state
 * holding NaN or Inf. */
onnxc_status oc_checkpoint_save(onnxc_trainer *t, const char *path, const oc_fit_state *s,
                                onnxc_error *err);
/* On entry s->batch_size > 0 is this run's batch size, which the checkpoint
 * must have been trained with (0: any); on success *s is the saved state.
 * The trainer is modified only when everything matched. */
onnxc_status oc_checkpoint_load(onnxc_trainer *t, const char *path, oc_fit_state *s,
                                onnxc_error *err);

#endif
