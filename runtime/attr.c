#include "attr.h"

#include <string.h>

static const char *type_name(int t)
{
    switch (t) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT: return "FLOAT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT: return "INT";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING: return "STRING";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: return "TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH: return "GRAPH";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS: return "FLOATS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS: return "INTS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS: return "STRINGS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSORS: return "TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS: return "GRAPHS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSOR: return "SPARSE_TENSOR";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__SPARSE_TENSORS: return "SPARSE_TENSORS";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTO: return "TYPE_PROTO";
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TYPE_PROTOS: return "TYPE_PROTOS";
    default: return "UNDEFINED";
    }
}

const Onnx__AttributeProto *oc_attr_find(const oc_node *n, const char *name)
{
    for (size_t i = 0; i < n->proto->n_attribute; i++) {
        const Onnx__AttributeProto *a = n->proto->attribute[i];
        if (a->name && strcmp(a->name, name) == 0) return a;
    }
    return NULL;
}

/* Old exporters (IR 1-2) omit `type`; infer it from the populated field. */
static int attr_type(const Onnx__AttributeProto *a)
{
    if (a->has_type && a->type != ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) return a->type;
    if (a->has_f) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    if (a->has_i) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    if (a->has_s) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    if (a->t) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    if (a->g) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH;
    if (a->n_floats) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    if (a->n_ints) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    if (a->n_strings) return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    return ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED;
}

static onnxc_status wrong_type(const oc_node *n, const Onnx__AttributeProto *a, int want,
                               onnxc_error *err)
{
    return oc_node_fail(n, err, ONNXC_ERR_MODEL, "attribute '%s': expected type %s, got %s",
                        a->name, type_name(want), type_name(attr_type(a)));
}

static const Onnx__AttributeProto *find_typed(const oc_node *n, const char *name, int want,
                                              onnxc_status *st, onnxc_error *err)
{
    const Onnx__AttributeProto *a = oc_attr_find(n, name);
    *st = ONNXC_OK;
    if (!a) return NULL;
    if (a->ref_attr_name)
        *st = oc_node_fail(n, err, ONNXC_ERR_MODEL,
                           "attribute '%s' refers to a function attribute ('%s') outside a function",
                           name, a->ref_attr_name);
    else if (attr_type(a) != want)
        *st = wrong_type(n, a, want, err);
    return *st == ONNXC_OK ? a : NULL;
}

onnxc_status oc_attr_int(const oc_node *n, const char *name, int64_t def, int64_t *out,
                         onnxc_error *err)
{
    onnxc_status st;
    const Onnx__AttributeProto *a =
        find_typed(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, &st, err);
    *out = a ? a->i : def;
    return st;
}

onnxc_status oc_attr_float(const oc_node *n, const char *name, float def, float *out,
                           onnxc_error *err)
{
    onnxc_status st;
    const Onnx__AttributeProto *a =
        find_typed(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, &st, err);
    *out = a ? a->f : def;
    return st;
}

onnxc_status oc_attr_ints(const oc_node *n, const char *name, const int64_t **vals,
                          size_t *count, onnxc_error *err)
{
    onnxc_status st;
    const Onnx__AttributeProto *a =
        find_typed(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, &st, err);
    *vals = a ? a->ints : NULL;
    *count = a ? a->n_ints : 0;
    return st;
}

onnxc_status oc_attr_floats(const oc_node *n, const char *name, const float **vals,
                            size_t *count, onnxc_error *err)
{
    onnxc_status st;
    const Onnx__AttributeProto *a =
        find_typed(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS, &st, err);
    *vals = a ? a->floats : NULL;
    *count = a ? a->n_floats : 0;
    return st;
}

onnxc_status oc_attr_string(const oc_node *n, const char *name, const char **s, size_t *len,
                            onnxc_error *err)
{
    onnxc_status st;
    const Onnx__AttributeProto *a =
        find_typed(n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, &st, err);
    *s = a ? (const char *)a->s.data : NULL;
    *len = a ? a->s.len : 0;
    if (a && !*s) *s = "";
    return st;
}

onnxc_status oc_attr_absent(const oc_node *n, const char *name, const char *why,
                            onnxc_error *err)
{
    if (oc_attr_find(n, name))
        return oc_node_fail(n, err, ONNXC_ERR_UNSUPPORTED, "attribute '%s' is not supported: %s",
                            name, why);
    return ONNXC_OK;
}

onnxc_status oc_attr_require(const oc_node *n, const char *name, onnxc_error *err)
{
    if (!oc_attr_find(n, name))
        return oc_node_fail(n, err, ONNXC_ERR_MODEL, "required attribute '%s' is missing", name);
    return ONNXC_OK;
}
