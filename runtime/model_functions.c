/*
 * Checks of ModelProto.functions (local functions), which onnxc does not
 * run but must not be fooled by: a function is identified by (domain, name,
 * overload); two definitions of one function, or a function that calls
 * itself directly or through others, make the model invalid (the ONNX IR
 * spec forbids recursion; a runtime that inlines functions would loop or
 * overflow its stack on it). The walk is iterative: a chain of 100,000
 * functions costs memory linear in their number, not stack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "graph_build.h"

#define S(x) ((x) ? (x) : "")

typedef struct fn_ref {
    const char *domain, *name, *overload;
    size_t index;                      /* in ModelProto.functions */
} fn_ref;

static int ref_cmp3(const char *d1, const char *n1, const char *o1, const char *d2, const char *n2, const char *o2)
{
    int c = strcmp(S(d1), S(d2));
    if (!c) c = strcmp(S(n1), S(n2));
    if (!c) c = strcmp(S(o1), S(o2));
    return c;
}

static int ref_cmp(const void *a, const void *b)
{
    const fn_ref *x = a, *y = b;
    return ref_cmp3(x->domain, x->name, x->overload, y->domain, y->name, y->overload);
}

/* The function a node calls, or -1 (a plain operator). */
static long callee(const fn_ref *sorted, size_t n, const Onnx__NodeProto *node)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = ref_cmp3(node->domain, node->op_type, node->overload, sorted[mid].domain, sorted[mid].name,
                         sorted[mid].overload);
        if (!c) return (long)sorted[mid].index;
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return -1;
}

typedef struct edges {
    size_t *to;                        /* callee indices, grouped by caller */
    size_t n, cap;
} edges;

/* Adds every call in `nodes` and their subgraphs (nesting is bounded by
 * the wire scan's depth limit, so this recursion is too). */
static bool collect(edges *e, const fn_ref *sorted, size_t n_fn, Onnx__NodeProto *const *nodes, size_t n_nodes)
{
    for (size_t i = 0; i < n_nodes; i++) {
        long c = callee(sorted, n_fn, nodes[i]);
        if (c >= 0) {
            if (e->n == e->cap) {
                size_t cap = e->cap ? 2 * e->cap : 64;
                size_t *to = oc_realloc(e->to, cap * sizeof *to);
                if (!to) return false;
                e->to = to;
                e->cap = cap;
            }
            e->to[e->n++] = (size_t)c;
        }
        for (size_t a = 0; a < nodes[i]->n_attribute; a++) {
            const Onnx__AttributeProto *at = nodes[i]->attribute[a];
            if (at->g && !collect(e, sorted, n_fn, at->g->node, at->g->n_node)) return false;
            for (size_t k = 0; k < at->n_graphs; k++)
                if (!collect(e, sorted, n_fn, at->graphs[k]->node, at->graphs[k]->n_node)) return false;
        }
    }
    return true;
}

/* "d.f -> d.g -> d.f" for the cycle on the DFS stack from position `from`. */
static void describe_cycle(const Onnx__ModelProto *p, const size_t *stack, size_t depth, size_t from, char *out,
                           size_t size)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = from; i <= depth && used + 8 < size; i++) {
        const Onnx__FunctionProto *f = p->functions[stack[i == depth ? from : i]];
        int w = snprintf(out + used, size - used, "%s%s%s%s", i > from ? " -> " : "", S(f->domain),
                         f->domain && f->domain[0] ? "." : "", S(f->name));
        if (w < 0) break;
        used += (size_t)w;
        if (i - from > 16 && i + 1 < depth) {
            snprintf(out + used, size - used, " -> ...");
            i = depth - 1;
            used = strlen(out);
        }
    }
}

static onnxc_status find_cycle(const Onnx__ModelProto *p, const size_t *start, const edges *e, onnxc_error *err)
{
    size_t n = p->n_functions;
    unsigned char *color = oc_calloc(n, 1);     /* 0 new, 1 on the stack, 2 done */
    size_t *stack = oc_malloc(n * sizeof *stack), *cursor = oc_malloc(n * sizeof *cursor);
    onnxc_status st = ONNXC_OK;
    if (!color || !stack || !cursor) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory checking %zu local functions", n);
        goto done;
    }
    for (size_t root = 0; root < n && st == ONNXC_OK; root++) {
        if (color[root]) continue;
        size_t depth = 0;
        stack[0] = root;
        cursor[0] = start[root];
        color[root] = 1;
        while (st == ONNXC_OK) {
            size_t f = stack[depth];
            if (cursor[depth] == start[f + 1]) {
                color[f] = 2;
                if (depth == 0) break;
                depth--;
                continue;
            }
            size_t g = e->to[cursor[depth]++];
            if (color[g] == 1) {
                size_t from = depth;
                while (stack[from] != g) from--;
                char path[512];
                describe_cycle(p, stack, depth + 1, from, path, sizeof path);
                st = oc_fail(err, ONNXC_ERR_MODEL,
                             "local function '%s' calls itself (%s); recursive functions are not allowed",
                             S(p->functions[g]->name), path);
            } else if (!color[g]) {
                color[g] = 1;
                stack[++depth] = g;
                cursor[depth] = start[g];
            }
        }
    }
done:
    oc_free(color);
    oc_free(stack);
    oc_free(cursor);
    return st;
}

onnxc_status oc_check_functions(const Onnx__ModelProto *p, onnxc_error *err)
{
    size_t n = p->n_functions;
    if (n == 0) return ONNXC_OK;
    fn_ref *sorted = oc_malloc(n * sizeof *sorted);
    size_t *start = oc_malloc((n + 1) * sizeof *start);
    edges e = {0};
    onnxc_status st = ONNXC_OK;
    if (!sorted || !start) {
        st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory checking %zu local functions", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (fn_ref){p->functions[i]->domain, p->functions[i]->name, p->functions[i]->overload, i};
    qsort(sorted, n, sizeof *sorted, ref_cmp);
    for (size_t i = 1; i < n; i++)
        if (!ref_cmp(&sorted[i - 1], &sorted[i])) {
            st = oc_fail(err, ONNXC_ERR_MODEL, "local function '%s' (domain '%s'%s%s) is defined twice",
                         S(sorted[i].name), S(sorted[i].domain), sorted[i].overload ? ", overload " : "",
                         S(sorted[i].overload));
            goto done;
        }
    /* Calls as a compact adjacency list: function i calls e.to[start[i] .. start[i+1]). */
    for (size_t i = 0; i < n; i++) {
        start[i] = e.n;
        if (!collect(&e, sorted, n, p->functions[i]->node, p->functions[i]->n_node)) {
            st = oc_fail(err, ONNXC_ERR_NOMEM, "out of memory checking %zu local functions", n);
            goto done;
        }
    }
    start[n] = e.n;
    st = find_cycle(p, start, &e, err);
done:
    oc_free(sorted);
    oc_free(start);
    oc_free(e.to);
    return st;
}
