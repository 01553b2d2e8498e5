/* Group table of the training ops; each entry is defined in its family file. */
#include "../op.h"

/* optimizers.c: ai.onnx.preview.training, version 1 */
extern const oc_op_def oc_op_adagrad, oc_op_momentum, oc_op_adam;
/* gradient.c: ai.onnx.preview.training, version 1 */
extern const oc_op_def oc_op_Gradient;

const oc_op_def *const oc_ops_training[] = {
    &oc_op_adagrad,
    &oc_op_momentum,
    &oc_op_adam,
    &oc_op_Gradient,
    NULL,
};
