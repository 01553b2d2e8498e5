/*
 * One Keras layer config -> oc_klayer. The supported classes:
 *
 *   InputLayer          batch_input_shape (Keras 2) / batch_shape (Keras 3)
 *   Dense               units, activation, use_bias
 *   Activation          activation
 *   ReLU                max_value, negative_slope, threshold (0 only)
 *   LeakyReLU           alpha (Keras 2) / negative_slope (Keras 3), default 0.3
 *   Softmax             axis
 *   ELU                 alpha
 *   Flatten             data_format
 *   Reshape             target_shape
 *   BatchNormalization  axis, epsilon, center, scale
 *   Dropout, AlphaDropout, GaussianDropout, GaussianNoise, SpatialDropout*D,
 *   ActivityRegularization: identity at inference
 *
 * Anything else is reported as a problem; Lambda-style layers say why: they
 * carry Python code, which onnxc never runs.
 */
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "keras_internal.h"

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Present, not null. */
static bool jhas(json_object *o, const char *key) { return jget(o, key) != NULL; }

static bool jbool(json_object *o, const char *key, bool def, bool *out)
{
    json_object *v = jget(o, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!json_object_is_type(v, json_type_boolean)) return false;
    *out = json_object_get_boolean(v);
    return true;
}

static bool jnum(json_object *o, const char *key, double def, double *out)
{
    json_object *v = jget(o, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) return false;
    *out = json_object_get_double(v);
    return true;
}

static bool jint(json_object *o, const char *key, int64_t lo, int64_t hi, int64_t *out)
{
    json_object *v = jget(o, key);
    if (!v || !json_object_is_type(v, json_type_int)) return false;
    int64_t x = json_object_get_int64(v);
    if (x < lo || x > hi) return false;
    *out = x;
    return true;
}

/* Keras activation: a name, null, or a serialized function
 * {"class_name": "function", "config": "relu", ...}. */
static bool parse_activation(oc_kcfg *c, const oc_klayer *l, json_object *v, oc_act *act)
{
    const char *name = NULL;
    if (v && json_object_is_type(v, json_type_string)) name = json_object_get_string(v);
    else if (v && json_object_is_type(v, json_type_object)) {
        json_object *cfg = jget(v, "config");
        if (cfg && json_object_is_type(cfg, json_type_string)) name = json_object_get_string(cfg);
        else {
            oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                            "layer '%s' (%s): custom activation objects are not supported",
                            l->name, l->class_name);
            return false;
        }
    } else if (v) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (%s): activation must be a string", l->name,
                        l->class_name);
        return false;
    }
    if (!oc_act_parse(name, act)) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "layer '%s' (%s): activation '%.64s' is not supported (supported: linear, "
                        "relu, sigmoid, tanh, softmax, elu, selu, softplus, gelu, swish, silu, "
                        "softsign, exponential, log_softmax, leaky_relu, relu6)",
                        l->name, l->class_name, name);
        return false;
    }
    return true;
}

static void parse_input(oc_kcfg *c, oc_klayer *l, json_object *cfg, bool top)
{
    bool sparse = false, ragged = false;
    if (!jbool(cfg, "sparse", false, &sparse) || !jbool(cfg, "ragged", false, &ragged) || sparse || ragged) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED, "layer '%s' (InputLayer): sparse or ragged inputs are not supported",
                        l->name);
        return;
    }
    l->kind = OC_KL_INPUT;
    json_object *shape = jget(cfg, "batch_input_shape");
    if (!shape) shape = jget(cfg, "batch_shape");
    if (!top || c->m->input_name) return;   /* nested models' inputs: the outer shape rules */
    int rank = -1;
    int64_t dims[ONNXC_MAX_RANK];
    if (shape && !oc_keras_shape(shape, &rank, dims)) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (InputLayer): batch shape must be a list like [null, 784] of rank 2 to %d",
                        l->name, ONNXC_MAX_RANK);
        return;
    }
    c->m->input_name = oc_strdup(l->name);
    if (!c->m->input_name) oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
    if (rank >= 0) {
        c->m->in_rank = rank;
        memcpy(c->m->in_dims, dims, sizeof dims);
    }
}

static void parse_relu(oc_kcfg *c, oc_klayer *l, json_object *cfg)
{
    double max = 0, slope = 0, threshold = 0;
    bool has_max = jhas(cfg, "max_value");
    if (!jnum(cfg, "max_value", 0, &max) || !jnum(cfg, "negative_slope", 0, &slope) ||
        !jnum(cfg, "threshold", 0, &threshold)) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (ReLU): max_value, negative_slope and threshold must be numbers",
                        l->name);
        return;
    }
    oc_act_parse("relu", &l->act);
    if (threshold != 0 || (has_max && slope != 0) || (has_max && max <= 0)) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "layer '%s' (ReLU): threshold %g / max_value with negative_slope are not supported",
                        l->name, threshold);
        return;
    }
    if (has_max) {
        l->act.kind = OC_ACT_CLIP;
        l->act.max = (float)max;
    } else if (slope != 0) {
        l->act.kind = OC_ACT_LEAKY_RELU;
        l->act.alpha = (float)slope;
    }
}

static void parse_batchnorm(oc_kcfg *c, oc_klayer *l, json_object *cfg)
{
    json_object *axis = jget(cfg, "axis");
    /* tf.keras stores the built axis as a one-element list: [1] or [3]. */
    if (axis && json_object_is_type(axis, json_type_array) && json_object_array_length(axis) == 1)
        axis = json_object_array_get_idx(axis, 0);
    double eps;
    bool renorm = false;
    if (!axis || !json_object_is_type(axis, json_type_int) || !jnum(cfg, "epsilon", 1e-3, &eps) ||
        !jbool(cfg, "center", true, &l->center) || !jbool(cfg, "scale", true, &l->scale) ||
        !jbool(cfg, "renorm", false, &renorm) || !(eps >= 0)) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "layer '%s' (BatchNormalization): expected one integer axis, a numeric epsilon "
                        "and boolean center/scale", l->name);
        return;
    }
    if (renorm) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED, "layer '%s' (BatchNormalization): renorm is not supported", l->name);
        return;
    }
    l->kind = OC_KL_BATCHNORM;
    l->axis = json_object_get_int64(axis);
    l->epsilon = (float)eps;
}

static void parse_reshape(oc_kcfg *c, oc_klayer *l, json_object *cfg)
{
    json_object *t = jget(cfg, "target_shape");
    size_t n = t && json_object_is_type(t, json_type_array) ? json_object_array_length(t) : 0;
    bool ok = n >= 1 && n <= ONNXC_MAX_RANK - 1;
    for (size_t i = 0; ok && i < n; i++) {
        json_object *d = json_object_array_get_idx(t, i);
        ok = d && json_object_is_type(d, json_type_int);
        int64_t v = ok ? json_object_get_int64(d) : 0;
        ok = ok && (v == -1 || (v >= 1 && v <= (INT64_C(1) << 40)));
        l->target[i] = v;
    }
    if (!ok) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (Reshape): target_shape must list 1 to %d dims (>= 1 or -1)",
                        l->name, ONNXC_MAX_RANK - 1);
        return;
    }
    l->kind = OC_KL_RESHAPE;
    l->rank = (int)n;
}

static bool is_identity_class(const char *cls)
{
    static const char *const names[] = {"Dropout", "AlphaDropout", "GaussianDropout", "GaussianNoise",
                                        "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                                        "ActivityRegularization"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(cls, names[i])) return true;
    return false;
}

void oc_keras_parse_leaf(oc_kcfg *c, oc_klayer *l, json_object *cfg, bool top)
{
    const char *cls = l->class_name;
    l->kind = OC_KL_IDENTITY;
    int leaf_index = c->leaves;
    if (!strcmp(cls, "InputLayer")) {
        parse_input(c, l, cfg, top);
        return;
    }
    /* Keras 2 Sequential models without an InputLayer keep the input shape
     * on the first layer. */
    if (top && leaf_index == 0 && c->m->in_rank < 0) {
        json_object *shape = jget(cfg, "batch_input_shape");
        if (!shape) shape = jget(cfg, "batch_shape");
        if (shape && !oc_keras_shape(shape, &c->m->in_rank, c->m->in_dims))
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (%s): batch_input_shape must be a list like [null, 784]",
                            l->name, cls);
    }
    if (!strcmp(cls, "Dense")) {
        bool ok = jint(cfg, "units", 1, INT64_C(1) << 31, &l->units) &&
                  jbool(cfg, "use_bias", true, &l->use_bias);
        if (!ok) {
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (Dense): expected integer units >= 1 and boolean use_bias",
                            l->name);
            return;
        }
        if (!parse_activation(c, l, jget(cfg, "activation"), &l->act)) return;
        l->kind = OC_KL_DENSE;
    } else if (!strcmp(cls, "Activation")) {
        if (!parse_activation(c, l, jget(cfg, "activation"), &l->act)) return;
        l->kind = OC_KL_ACTIVATION;
    } else if (!strcmp(cls, "ReLU")) {
        parse_relu(c, l, cfg);
        l->kind = OC_KL_ACTIVATION;
    } else if (!strcmp(cls, "LeakyReLU")) {
        double alpha;
        const char *key = jhas(cfg, "negative_slope") ? "negative_slope" : "alpha";
        if (!jnum(cfg, key, 0.3, &alpha)) {
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (LeakyReLU): %s must be a number", l->name, key);
            return;
        }
        oc_act_parse("leaky_relu", &l->act);
        l->act.alpha = (float)alpha;
        l->kind = OC_KL_ACTIVATION;
    } else if (!strcmp(cls, "ELU")) {
        double alpha;
        if (!jnum(cfg, "alpha", 1.0, &alpha)) {
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s' (ELU): alpha must be a number", l->name);
            return;
        }
        oc_act_parse("elu", &l->act);
        l->act.alpha = (float)alpha;
        l->kind = OC_KL_ACTIVATION;
    } else if (!strcmp(cls, "Softmax")) {
        json_object *axis = jget(cfg, "axis");
        if (axis && json_object_is_type(axis, json_type_array) && json_object_array_length(axis) == 1)
            axis = json_object_array_get_idx(axis, 0);
        oc_act_parse("softmax", &l->act);
        if (axis && !json_object_is_type(axis, json_type_int)) {
            oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED, "layer '%s' (Softmax): axis must be one integer", l->name);
            return;
        }
        if (axis) l->act.axis = json_object_get_int64(axis);
        l->kind = OC_KL_ACTIVATION;
    } else if (!strcmp(cls, "Flatten")) {
        json_object *df = jget(cfg, "data_format");
        l->channels_first = df && json_object_is_type(df, json_type_string) &&
                            !strcmp(json_object_get_string(df), "channels_first");
        l->kind = OC_KL_FLATTEN;
    } else if (!strcmp(cls, "Reshape")) {
        parse_reshape(c, l, cfg);
    } else if (!strcmp(cls, "BatchNormalization")) {
        parse_batchnorm(c, l, cfg);
    } else if (is_identity_class(cls)) {
        l->kind = OC_KL_IDENTITY;
    } else if (!strcmp(cls, "Lambda") || !strcmp(cls, "TFOpLambda") || !strcmp(cls, "SlicingOpLambda")) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "layer '%s' (%s): refused: it holds Python code, and onnxc never runs code "
                        "from a model file", l->name, cls);
        return;
    } else {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "layer '%s' (%s): layer type not supported (onnxc converts InputLayer, Dense, "
                        "Activation, ReLU, LeakyReLU, Softmax, ELU, Flatten, Reshape, Dropout, "
                        "BatchNormalization)", l->name, cls);
        return;
    }
    oc_klayer_set_roles(l);
}
