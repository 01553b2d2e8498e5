/*
 * Optimizer updates, Keras formulas. Gradients and optimizer state live in
 * flat buffers laid out like the parameter list (param i at offset[i]);
 * parameters themselves stay in the model's initializer storage, so each
 * update loops over segments, every inner loop contiguous and vectorizable.
 * Element-wise, so results do not depend on the thread count.
 */
#ifndef OC_OPTIM_H
#define OC_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "onnxc.h"

typedef struct oc_param_set {
    size_t count;            /* tensors */
    float **data;            /* [count] parameter storage (the model's) */
    size_t *offset;          /* [count] start in the flat buffers */
    size_t *size;            /* [count] elements */
    size_t total;            /* elements, including alignment padding */
} oc_param_set;

typedef struct oc_optim_state {
    onnxc_optimizer hp;
    uint64_t iterations;     /* steps taken */
    float *slot1;            /* [total] Adam m, momentum velocity, RMSprop/Adagrad accumulator */
    float *slot2;            /* [total] Adam v */
} oc_optim_state;

/* Number of state slots (0, 1 or 2) the optimizer keeps per parameter. */
int oc_optim_slots(onnxc_optimizer_kind kind);
onnxc_status oc_optim_init(oc_optim_state *s, const onnxc_optimizer *hp, size_t total, onnxc_error *err);
void oc_optim_free(oc_optim_state *s);

/* One update of every parameter from grad [total]. */
void oc_optim_step(oc_optim_state *s, const oc_param_set *p, const float *grad, int nthreads);

/* The same step in pieces, for callers that split the flat range between
 * their own threads: the coefficients of step iterations + 1, the update of
 * the elements in [lo, hi) of the flat layout (padding included; streamed:
 * with oc_optim_update_streamed, for weights another core reads), and
 * counting the step once every range is done. */
struct oc_optim_coef;
void oc_optim_coef_next(const oc_optim_state *s, struct oc_optim_coef *c);
void oc_optim_update_range(const oc_optim_state *s, const struct oc_optim_coef *c, const oc_param_set *p,
                           const float *grad, size_t lo, size_t hi, bool streamed);
void oc_optim_count_step(oc_optim_state *s);

/* Elements first + r * ld + [0, cols), r < rows, of parameter `param`: a
 * parameter whole (rows 1, cols = ld = its size) or a block of a 2-D
 * weight's columns, which a thread owns (train/column_split.h). */
typedef struct oc_param_block {
    size_t param;
    size_t first;
    int64_t rows, cols, ld;
} oc_param_block;

/* The update of one block, from grad [total] laid out like the parameters. */
void oc_optim_update_block(const oc_optim_state *s, const struct oc_optim_coef *c, const oc_param_set *p,
                           const float *grad, const oc_param_block *b);

#endif
