/* Parser for dense-network specs ("784,64:relu,10:softmax"); see spec.h. */
#include "spec.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

#define SPEC_MAX_CHARS 65536

void oc_spec_free(oc_spec *spec)
{
    if (!spec) return;
    oc_free(spec->layers);
    spec->layers = NULL;
    spec->n_layers = 0;
}

/* A token [b, e) with surrounding spaces removed. */
static void trim(const char **b, const char **e)
{
    while (*b < *e && isspace((unsigned char)**b)) (*b)++;
    while (*e > *b && isspace((unsigned char)(*e)[-1])) (*e)--;
}

/* Decimal width in [1, OC_SPEC_MAX_WIDTH]; digits only. */
static bool parse_width(const char *b, const char *e, int64_t *out)
{
    if (b == e) return false;
    int64_t v = 0;
    for (const char *p = b; p < e; p++) {
        if (*p < '0' || *p > '9') return false;
        v = v * 10 + (*p - '0');
        if (v > OC_SPEC_MAX_WIDTH) return false;
    }
    if (v < 1) return false;
    *out = v;
    return true;
}

static void list_activations(char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (int k = 0; k < OC_ACT_SPEC_COUNT && o < size; k++) {
        int n = snprintf(buf + o, size - o, "%s%s", k ? ", " : "", oc_act_name((oc_act_kind)k));
        if (n < 0) break;
        o += (size_t)n;
    }
}

static onnxc_status parse_layer(const char *text, int index, const char *b, const char *e,
                                oc_spec_layer *out, onnxc_error *err)
{
    const char *colon = memchr(b, ':', (size_t)(e - b));
    const char *ue = colon ? colon : e, *ub = b;
    trim(&ub, &ue);
    if (!parse_width(ub, ue, &out->units))
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "spec '%.200s': layer %d: expected units as an integer in [1, %lld], got '%.*s'",
                       text, index, (long long)OC_SPEC_MAX_WIDTH, (int)(ue - ub), ub);
    out->act = OC_ACT_LINEAR;
    if (!colon) return ONNXC_OK;
    const char *ab = colon + 1, *ae = e;
    trim(&ab, &ae);
    char name[32];
    oc_act act;
    size_t n = (size_t)(ae - ab);
    bool ok = n > 0 && n < sizeof name;
    if (ok) {
        memcpy(name, ab, n);
        name[n] = '\0';
        ok = oc_act_parse(name, &act) && act.kind < OC_ACT_SPEC_COUNT;
    }
    if (!ok) {
        char list[256];
        list_activations(list, sizeof list);
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "spec '%.200s': layer %d: unknown activation '%.*s'; expected one of %s", text,
                       index, (int)(n > 64 ? 64 : n), ab, list);
    }
    out->act = act.kind;
    return ONNXC_OK;
}

onnxc_status oc_spec_parse(const char *text, oc_spec *out, onnxc_error *err)
{
    if (!text || !out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "spec: NULL argument");
    out->layers = NULL;
    out->n_layers = 0;
    size_t len = strnlen(text, SPEC_MAX_CHARS + 1);
    if (len > SPEC_MAX_CHARS)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "spec '%.200s...': longer than %d characters", text,
                       SPEC_MAX_CHARS);
    size_t commas = 0;
    for (size_t i = 0; i < len; i++) commas += text[i] == ',';
    if (commas == 0)
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "spec '%.200s': expected the input width and at least one layer, "
                       "e.g. \"784,64:relu,10:softmax\"", text);
    if (commas > OC_SPEC_MAX_LAYERS)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "spec '%.200s': %zu layers; at most %d", text,
                       commas, OC_SPEC_MAX_LAYERS);
    oc_spec_layer *layers = oc_calloc(commas, sizeof *layers);
    if (!layers) return oc_fail(err, ONNXC_ERR_NOMEM, "spec: out of memory");

    const char *p = text, *end = text + len;
    const char *tok_end = memchr(p, ',', (size_t)(end - p));
    const char *b = p, *e = tok_end;
    trim(&b, &e);
    if (memchr(b, ':', (size_t)(e - b)) || !parse_width(b, e, &out->input)) {
        oc_free(layers);
        return oc_fail(err, ONNXC_ERR_ARGUMENT,
                       "spec '%.200s': expected the input width as an integer in [1, %lld] first, got '%.*s'",
                       text, (long long)OC_SPEC_MAX_WIDTH, (int)(e - b > 64 ? 64 : e - b), b);
    }
    for (size_t i = 0; i < commas; i++) {
        p = tok_end + 1;
        tok_end = memchr(p, ',', (size_t)(end - p));
        if (!tok_end) tok_end = end;
        onnxc_status st = parse_layer(text, (int)i + 1, p, tok_end, &layers[i], err);
        if (st != ONNXC_OK) {
            oc_free(layers);
            return st;
        }
    }
    out->layers = layers;
    out->n_layers = (int)commas;
    return ONNXC_OK;
}
