/* Group table of the shape and data-movement ops; each entry is defined in its family file. */
#include "../op.h"

extern const oc_op_def oc_op_reshape, oc_op_flatten, oc_op_squeeze, oc_op_unsqueeze,
    oc_op_identity;                                   /* reshape.c */
extern const oc_op_def oc_op_transpose;               /* transpose.c */
extern const oc_op_def oc_op_concat;                  /* concat.c */
extern const oc_op_def oc_op_gather;                  /* gather.c */
extern const oc_op_def oc_op_shape, oc_op_constant, oc_op_constant_of_shape; /* shape.c */

const oc_op_def *const oc_ops_shape[] = {
    &oc_op_reshape,
    &oc_op_flatten,
    &oc_op_squeeze,
    &oc_op_unsqueeze,
    &oc_op_identity,
    &oc_op_transpose,
    &oc_op_concat,
    &oc_op_gather,
    &oc_op_shape,
    &oc_op_constant,
    &oc_op_constant_of_shape,
    NULL,
};
