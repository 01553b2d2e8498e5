/*
 * Keras model config (JSON) -> flat list of leaf layers.
 *
 * Accepted shapes of the config, Keras 2.0 to 3.x:
 *   {"class_name": "Sequential", "config": [layer, ...]}             Keras 2.0-2.1
 *   {"class_name": "Sequential", "config": {"name", "layers": [...]}}
 *   {"class_name": "Model" | "Functional", "config": {"layers": [...],
 *     "input_layers": [["in", 0, 0]] | ["in", 0, 0], "output_layers": ...}}
 * where a layer may itself be one of these models (nested). Functional
 * layers are ordered by following inbound_nodes, written as
 *   Keras 2: [[["prev", 0, 0, {}]]]
 *   Keras 3: [{"args": [{"class_name": "__keras_tensor__",
 *                        "config": {"keras_history": ["prev", 0, 0]}}], "kwargs": {}}]
 * and must form a single chain from the input to the output.
 *
 * Weight locations are recorded per leaf: the top-level layer group of a
 * legacy h5 file (nested models keep all inner weights in their own group),
 * and the Keras 3 weights-store path, whose names come from the class name
 * and position in the container ("dense", "dense_1", ...), not the config.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "alloc.h"
#include "error.h"
#include "keras_internal.h"
#include "spec.h"

#define JSON_MAX_DEPTH 64         /* json-c nesting limit (objects and arrays) */
#define MAX_MODEL_NESTING 16      /* models inside models */
#define MAX_CONFIG_BYTES (64u << 20)
#define STORE_LAYERS "layers"
#define STORE_LAYERS_ALT "_layer_checkpoint_dependencies"

/* ------------------------------------------------------------------------ */
/* Model bookkeeping                                                         */

void oc_kmodel_free(oc_kmodel *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_layers; i++) {
        oc_klayer *l = &m->layers[i];
        oc_free(l->name);
        oc_free(l->class_name);
        oc_free(l->h5_group);
        oc_free(l->store_path);
        oc_free(l->store_alt);
        for (int k = 0; k < OC_KL_MAX_WEIGHTS; k++) {
            oc_free(l->w[k].data);
            oc_free(l->w[k].source);
        }
    }
    oc_free(m->layers);
    oc_free(m->name);
    oc_free(m->input_name);
    memset(m, 0, sizeof *m);
    m->in_rank = -1;
}

oc_klayer *oc_kmodel_add(oc_kmodel *m)
{
    if (m->n_layers == m->cap_layers) {
        size_t cap = m->cap_layers ? m->cap_layers * 2 : 16;
        oc_klayer *p = oc_realloc(m->layers, cap * sizeof *p);
        if (!p) return NULL;
        m->layers = p;
        m->cap_layers = cap;
    }
    oc_klayer *l = &m->layers[m->n_layers++];
    memset(l, 0, sizeof *l);
    return l;
}

void oc_klayer_set_roles(oc_klayer *l)
{
    int n = 0;
    if (l->kind == OC_KL_DENSE) {
        l->w[n++].role = "kernel";
        if (l->use_bias) l->w[n++].role = "bias";
    } else if (l->kind == OC_KL_BATCHNORM) {
        /* Creation order in Keras 2 and 3, which the .keras store keeps. */
        if (l->scale) l->w[n++].role = "gamma";
        if (l->center) l->w[n++].role = "beta";
        l->w[n++].role = "moving_mean";
        l->w[n++].role = "moving_variance";
    }
    l->n_weights = n;
}

void oc_kcfg_problem(oc_kcfg *c, onnxc_status st, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->status == ONNXC_OK) c->status = st;
    oc_append(c->err, st, "%s", line);
}

/* ------------------------------------------------------------------------ */
/* Text checks                                                               */

size_t oc_utf8_check(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        if (c == 0) return i;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; }
        else return i;                      /* continuation byte, C0/C1, F5+ */
        if (len - i <= n) return i;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;                       /* overlong, past U+10FFFF, surrogate */
        i += n + 1;
    }
    return (size_t)-1;
}

static bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

void oc_keras_snake_case(const char *cls, char *out, size_t size)
{
    /* Python: re.sub(r"\W+", "", name); re.sub("(.)([A-Z][a-z]+)", r"\1_\2");
     * re.sub("([a-z])([A-Z])", r"\1_\2").lower(), each a left-to-right scan. */
    char a[256], b[512], c[768];
    size_t n = 0;
    for (const char *p = cls; *p && n + 1 < sizeof a; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '_' || ch >= 0x80 || (ch >= '0' && ch <= '9') || is_upper((char)ch) ||
            is_lower((char)ch))
            a[n++] = (char)ch;
    }
    a[n] = '\0';
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        if (i + 2 < n + 1 && is_upper(a[i + 1]) && i + 2 < n && is_lower(a[i + 2])) {
            b[o++] = a[i];
            b[o++] = '_';
            size_t j = i + 1;
            b[o++] = a[j++];
            while (j < n && is_lower(a[j])) b[o++] = a[j++];
            i = j;
        } else {
            b[o++] = a[i++];
        }
    }
    b[o] = '\0';
    size_t q = 0;
    for (size_t i = 0; i < o;) {
        if (i + 1 < o && is_lower(b[i]) && is_upper(b[i + 1])) {
            c[q++] = b[i];
            c[q++] = '_';
            c[q++] = b[i + 1];
            i += 2;
        } else {
            c[q++] = b[i++];
        }
    }
    c[q] = '\0';
    for (size_t i = 0; i < q; i++)
        if (is_upper(c[i])) c[i] = (char)(c[i] - 'A' + 'a');
    snprintf(out, size, "%s", c);
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                              */

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = jget(o, key);
    return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool oc_keras_shape(json_object *arr, int *rank, int64_t *dims)
{
    if (!arr || !json_object_is_type(arr, json_type_array)) return false;
    size_t n = json_object_array_length(arr);
    if (n < 1 || n > ONNXC_MAX_RANK) return false;
    for (size_t i = 1; i < n; i++) {
        json_object *d = json_object_array_get_idx(arr, i);
        if (!d) dims[i - 1] = -1;
        else if (json_object_is_type(d, json_type_int) && json_object_get_int64(d) >= 1 &&
                 json_object_get_int64(d) <= (INT64_C(1) << 40))
            dims[i - 1] = json_object_get_int64(d);
        else return false;
    }
    *rank = (int)n - 1;
    return true;
}

/* The layer's name: "name" beside class_name (functional) or in config. */
static const char *layer_name(json_object *layer)
{
    const char *n = jstr(jget(layer, "config"), "name");
    return n ? n : jstr(layer, "name");
}

static bool is_model_class(const char *cls)
{
    return cls && (!strcmp(cls, "Sequential") || !strcmp(cls, "Model") || !strcmp(cls, "Functional"));
}

/* ------------------------------------------------------------------------ */
/* Functional chains                                                         */

/* Collect the names of every tensor a Keras 3 call node reads. */
static void k3_refs(json_object *v, const char **refs, int *n, int depth)
{
    if (!v || depth > 8) return;
    if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            k3_refs(json_object_array_get_idx(v, i), refs, n, depth + 1);
    } else if (json_object_is_type(v, json_type_object)) {
        const char *cls = jstr(v, "class_name");
        json_object *hist = jget(jget(v, "config"), "keras_history");
        if (cls && !strcmp(cls, "__keras_tensor__") && hist &&
            json_object_is_type(hist, json_type_array) && json_object_array_length(hist) >= 1) {
            json_object *nm = json_object_array_get_idx(hist, 0);
            if (*n < 2) refs[*n] = nm && json_object_is_type(nm, json_type_string)
                                       ? json_object_get_string(nm) : "";
            (*n)++;
            return;
        }
        json_object_object_foreach(v, key, val) {
            (void)key;
            k3_refs(val, refs, n, depth + 1);
        }
    }
}

/* Name of the single layer feeding `layer`; NULL for an input. *count gets
 * the number of tensors read (2 means "2 or more"). */
static const char *inbound(json_object *layer, int *count, int *calls)
{
    json_object *nodes = jget(layer, "inbound_nodes");
    const char *refs[2] = {NULL, NULL};
    int n = 0;
    *calls = nodes && json_object_is_type(nodes, json_type_array) ? (int)json_object_array_length(nodes) : 0;
    if (*calls == 0) {
        *count = 0;
        return NULL;
    }
    json_object *node = json_object_array_get_idx(nodes, 0);
    if (node && json_object_is_type(node, json_type_array)) {
        /* Keras 2: [["prev", node_index, tensor_index, kwargs], ...] */
        for (size_t i = 0; i < json_object_array_length(node); i++) {
            json_object *ref = json_object_array_get_idx(node, i);
            json_object *nm = json_object_array_get_idx(ref, 0);
            if (n < 2) refs[n] = nm && json_object_is_type(nm, json_type_string) ? json_object_get_string(nm) : "";
            n++;
        }
    } else {
        k3_refs(node, refs, &n, 0);
    }
    *count = n;
    return n == 1 ? refs[0] : NULL;
}

/* Single layer name of input_layers / output_layers: [["x", 0, 0]] or ["x", 0, 0]. */
static const char *endpoint(json_object *v, size_t *count)
{
    *count = 0;
    if (!v || !json_object_is_type(v, json_type_array) || json_object_array_length(v) == 0) return NULL;
    json_object *first = json_object_array_get_idx(v, 0);
    if (first && json_object_is_type(first, json_type_string)) {
        *count = 1;
        return json_object_get_string(first);
    }
    *count = json_object_array_length(v);
    json_object *nm = json_object_array_get_idx(first, 0);
    return nm && json_object_is_type(nm, json_type_string) ? json_object_get_string(nm) : NULL;
}

static int find_layer(json_object *layers, size_t n, const char *name)
{
    for (size_t i = 0; name && i < n; i++) {
        const char *ln = layer_name(json_object_array_get_idx(layers, i));
        if (ln && !strcmp(ln, name)) return (int)i;
    }
    return -1;
}

/* order[] gets layer indices from input to output. False (problem recorded)
 * when the graph is not a simple chain; order then stays in config order so
 * that the caller can still list every unconvertible layer. */
static bool chain_order(oc_kcfg *c, json_object *config, json_object *layers, size_t n,
                        const char *model, int *order)
{
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    size_t n_in, n_out;
    const char *in_name = endpoint(jget(config, "input_layers"), &n_in);
    const char *out_name = endpoint(jget(config, "output_layers"), &n_out);
    if (n_in != 1 || n_out != 1) {
        oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                        "model '%s': %zu inputs and %zu outputs; onnxc converts single-input, "
                        "single-output chains", model, n_in, n_out);
        return false;
    }
    int in = find_layer(layers, n, in_name), out = find_layer(layers, n, out_name);
    if (in < 0 || out < 0) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "model '%s': input '%s' or output '%s' is not one of its layers",
                        model, in_name ? in_name : "?", out_name ? out_name : "?");
        return false;
    }
    int *rev = oc_malloc(n * sizeof *rev);
    if (!rev) {
        oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
        return false;
    }
    size_t len = 0;
    int cur = out;
    bool ok = true;
    while (ok) {
        json_object *l = json_object_array_get_idx(layers, (size_t)cur);
        if (len == n) {
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "model '%s': inbound_nodes form a cycle", model);
            ok = false;
            break;
        }
        rev[len++] = cur;
        if (cur == in) break;
        int count, calls;
        const char *prev = inbound(l, &count, &calls);
        if (calls > 1 || count != 1) {
            oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                            "model '%s': layer '%s' %s; onnxc converts chains of single-input layers",
                            model, layer_name(l) ? layer_name(l) : "?",
                            calls > 1 ? "is called more than once (shared layer)"
                            : count == 0 ? "has no inbound layer but is not the model input"
                                         : "reads more than one tensor");
            ok = false;
        } else if ((cur = find_layer(layers, n, prev)) < 0) {
            oc_kcfg_problem(c, ONNXC_ERR_MODEL, "model '%s': layer '%s' reads unknown layer '%s'",
                            model, layer_name(l) ? layer_name(l) : "?", prev);
            ok = false;
        }
    }
    if (ok && len != n) {
        /* Some layer lies off the path from input to output. */
        for (size_t i = 0; i < n && ok; i++) {
            bool on = false;
            for (size_t k = 0; k < len; k++) on |= rev[k] == (int)i;
            if (!on) {
                const char *ln = layer_name(json_object_array_get_idx(layers, i));
                oc_kcfg_problem(c, ONNXC_ERR_UNSUPPORTED,
                                "model '%s': layer '%s' is not on the chain from '%s' to '%s'; "
                                "onnxc converts chains only", model, ln ? ln : "?", in_name, out_name);
                ok = false;
            }
        }
    }
    if (ok)
        for (size_t k = 0; k < len; k++) order[k] = rev[len - 1 - k];
    oc_free(rev);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Walking models                                                            */

static char *join_path(const char *prefix, const char *container, const char *name)
{
    size_t n = strlen(prefix) + strlen(container) + strlen(name) + 3;
    char *s = oc_malloc(n);
    if (s) snprintf(s, n, "%s%s%s/%s", prefix, prefix[0] ? "/" : "", container, name);
    return s;
}

static void walk_model(oc_kcfg *c, json_object *model, const char *group, const char *store,
                       const char *alt, int depth, bool top);

static void walk_layer(oc_kcfg *c, json_object *layer, const char *group, const char *store,
                       const char *alt, const char *auto_name, int depth, bool top)
{
    const char *cls = jstr(layer, "class_name");
    const char *name = layer_name(layer);
    json_object *cfg = jget(layer, "config");
    if (!cls || !name || !cfg) {
        oc_kcfg_problem(c, ONNXC_ERR_MODEL, "layer '%s': expected \"class_name\", \"config\" and a name",
                        name ? name : "?");
        return;
    }
    char *s = join_path(store, STORE_LAYERS, auto_name);
    char *a = join_path(alt, STORE_LAYERS_ALT, auto_name);
    if (!s || !a) {
        oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
    } else if (is_model_class(cls)) {
        if (depth >= MAX_MODEL_NESTING)
            oc_kcfg_problem(c, ONNXC_ERR_LIMIT, "model '%s': models nested more than %d deep", name,
                            MAX_MODEL_NESTING);
        else walk_model(c, layer, group ? group : name, s, a, depth + 1, false);
    } else {
        oc_klayer *l = oc_kmodel_add(c->m);
        if (!l) {
            oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
        } else {
            l->name = oc_strdup(name);
            l->class_name = oc_strdup(cls);
            l->h5_group = oc_strdup(group ? group : name);
            l->store_path = s;
            l->store_alt = a;
            s = a = NULL;
            if (!l->name || !l->class_name || !l->h5_group)
                oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
            else oc_keras_parse_leaf(c, l, cfg, top);
            c->leaves++;
        }
    }
    oc_free(s);
    oc_free(a);
}

static void walk_model(oc_kcfg *c, json_object *model, const char *group, const char *store,
                       const char *alt, int depth, bool top)
{
    const char *cls = jstr(model, "class_name");
    json_object *config = jget(model, "config");
    const char *name = layer_name(model);
    if (!name) name = cls ? cls : "?";
    json_object *layers = NULL;
    if (config && json_object_is_type(config, json_type_array)) layers = config;  /* Keras 2.0 */
    else layers = jget(config, "layers");
    if (!is_model_class(cls) || !layers || !json_object_is_type(layers, json_type_array)) {
        oc_kcfg_problem(c, is_model_class(cls) || !cls ? ONNXC_ERR_MODEL : ONNXC_ERR_UNSUPPORTED,
                        "model '%s': expected class Sequential, Model or Functional with a layer list; "
                        "got %s", name, cls ? cls : "no class_name");
        return;
    }
    if (top) {
        oc_free(c->m->name);
        c->m->name = oc_strdup(name);
        if (!c->m->name) {
            oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
            return;
        }
        /* Sequential models built without an InputLayer keep the shape here. */
        json_object *bis = jget(config, "build_input_shape");
        if (bis) oc_keras_shape(bis, &c->m->in_rank, c->m->in_dims);
    }
    size_t n = json_object_array_length(layers);
    int *order = oc_malloc((n ? n : 1) * sizeof *order);
    char (*autos)[96] = oc_malloc((n ? n : 1) * sizeof *autos);
    if (!order || !autos) {
        oc_free(order);
        oc_free(autos);
        oc_kcfg_problem(c, ONNXC_ERR_NOMEM, "out of memory");
        return;
    }
    /* Weights-store names: snake_case(class) then _1, _2 per class, in the
     * container's order. Sequential containers skip their InputLayer. */
    bool seq = !strcmp(cls, "Sequential");
    for (size_t i = 0; i < n; i++) {
        json_object *l = json_object_array_get_idx(layers, i);
        const char *lc = jstr(l, "class_name");
        char base[64];
        oc_keras_snake_case(lc ? lc : "layer", base, sizeof base);
        int count = 0;
        for (size_t k = 0; k < i; k++) {
            const char *kc = jstr(json_object_array_get_idx(layers, k), "class_name");
            char kb[64];
            oc_keras_snake_case(kc ? kc : "layer", kb, sizeof kb);
            count += !strcmp(kb, base) && !(seq && kc && !strcmp(kc, "InputLayer"));
        }
        if (count == 0) snprintf(autos[i], sizeof autos[i], "%s", base);
        else snprintf(autos[i], sizeof autos[i], "%s_%d", base, count);
        order[i] = (int)i;
    }
    if (!seq) chain_order(c, config, layers, n, name, order);
    for (size_t k = 0; k < n; k++) {
        json_object *l = json_object_array_get_idx(layers, (size_t)order[k]);
        walk_layer(c, l, group, store, alt, autos[order[k]], depth, top);
    }
    oc_free(order);
    oc_free(autos);
}

/* ------------------------------------------------------------------------ */
/* Entry points                                                              */

onnxc_status oc_keras_parse_config(const char *json, size_t len, const char *what,
                                   oc_kmodel *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    out->in_rank = -1;
    if (len > MAX_CONFIG_BYTES)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: %zu bytes of JSON; at most %u", what, len,
                       MAX_CONFIG_BYTES);
    size_t bad = oc_utf8_check(json, len);
    if (bad != (size_t)-1)
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: not valid UTF-8 text (bad byte 0x%02x at offset %zu)",
                       what, (unsigned char)json[bad], bad);
    struct json_tokener *tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!tok) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", what);
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || jerr != json_tokener_success) {
        json_object_put(root);
        if (jerr == json_tokener_error_depth)
            return oc_fail(err, ONNXC_ERR_LIMIT, "%s: JSON nested deeper than %d levels", what,
                           JSON_MAX_DEPTH);
        return oc_fail(err, ONNXC_ERR_PARSE, "%s: malformed JSON at offset %zu: %s", what, end,
                       jerr == json_tokener_continue ? "unexpected end of text"
                                                     : json_tokener_error_desc(jerr));
    }
    for (; end < len; end++) {
        char ch = json[end];
        if (ch != ' ' && ch != '\n' && ch != '\r' && ch != '\t') {
            json_object_put(root);
            return oc_fail(err, ONNXC_ERR_PARSE, "%s: malformed JSON: extra text at offset %zu", what, end);
        }
    }
    oc_error_clear(err);
    oc_kcfg c = {.what = what, .err = err, .status = ONNXC_OK, .m = out};
    if (json_object_is_type(root, json_type_array)) {
        /* A bare layer list: treat as a Sequential model. */
        json_object *wrap = json_object_new_object();
        if (!wrap) oc_kcfg_problem(&c, ONNXC_ERR_NOMEM, "out of memory");
        else {
            json_object_object_add(wrap, "class_name", json_object_new_string("Sequential"));
            json_object_object_add(wrap, "config", json_object_get(root));
            walk_model(&c, wrap, NULL, "", "", 0, true);
            json_object_put(wrap);
        }
    } else {
        walk_model(&c, root, NULL, "", "", 0, true);
    }
    json_object_put(root);
    if (c.status == ONNXC_OK && out->n_layers == 0)
        oc_kcfg_problem(&c, ONNXC_ERR_MODEL, "the model has no layers");
    if (c.status != ONNXC_OK) {
        oc_prefix(err, "%s", what);
        oc_kmodel_free(out);
        return c.status;
    }
    return ONNXC_OK;
}

onnxc_status oc_keras_model_from_spec(const char *spec, oc_kmodel *out, onnxc_error *err)
{
    memset(out, 0, sizeof *out);
    out->in_rank = -1;
    oc_spec s;
    OC_TRY(oc_spec_parse(spec, &s, err));
    out->from_spec = true;
    out->in_rank = 1;
    out->in_dims[0] = s.input;
    for (int i = 0; i < s.n_layers; i++) {
        oc_klayer *l = oc_kmodel_add(out);
        char name[32];
        if (i == 0) snprintf(name, sizeof name, "dense");
        else snprintf(name, sizeof name, "dense_%d", i);
        if (l) {
            l->kind = OC_KL_DENSE;
            l->name = oc_strdup(name);
            l->class_name = oc_strdup("Dense");
            l->store_path = join_path("", STORE_LAYERS, name);
            l->store_alt = join_path("", STORE_LAYERS_ALT, name);
            l->units = s.layers[i].units;
            l->use_bias = true;
            oc_act_parse(oc_act_name(s.layers[i].act), &l->act);
            oc_klayer_set_roles(l);
        }
        if (!l || !l->name || !l->class_name || !l->store_path || !l->store_alt) {
            oc_spec_free(&s);
            oc_kmodel_free(out);
            return oc_fail(err, ONNXC_ERR_NOMEM, "out of memory");
        }
    }
    oc_spec_free(&s);
    return ONNXC_OK;
}
