/*
 * Finding each Keras layer's weights in the file (see keras_hdf5.h).
 *
 * Legacy h5 (Keras 2 and Keras 3's model.save("x.h5")): the weights root
 * has @layer_names; each listed group has @weight_names, paths relative to
 * the group. A weight name's last component is the variable ("kernel:0" or
 * "kernel"), the one before it the layer owning it:
 *     Keras 2   model_weights/dense/dense/kernel:0          "dense/kernel:0"
 *     Keras 3   model_weights/dense/sequential/dense/kernel "sequential/dense/kernel"
 *     nested    model_weights/sequential/dense/kernel:0     (inner layers share the
 *               nested model's group; trainable weights come before non-trainable)
 * Long name lists are split by Keras into @layer_names0, @layer_names1 ...
 *
 * Keras 3 store: layers/<auto_name>/vars/0, 1, ... in creation order.
 */
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "error.h"
#include "keras_hdf5.h"

#define PATH_SIZE 2048

/* One layer group of a legacy file. */
typedef struct wgroup {
    char *name;
    char **wnames;                    /* @weight_names */
    size_t n;
    bool *used;
    bool touched;                     /* some config layer reads this group */
} wgroup;

static void wgroups_free(wgroup *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++) {
        oc_h5_free_strings(g[i].wnames, g[i].n);
        oc_free(g[i].used);
    }
    oc_free(g);
}

/* @base, or the chunks @base0, @base1, ... Keras writes for long lists. */
static onnxc_status name_list(oc_h5 *h, hid_t obj, const char *where, const char *base,
                              char ***out, size_t *n, bool *found, onnxc_error *err)
{
    OC_TRY(oc_h5_attr_strings(h, obj, where, base, out, n, found, err));
    if (*found) return ONNXC_OK;
    for (int chunk = 0; chunk < 4096; chunk++) {
        char key[96];
        snprintf(key, sizeof key, "%s%d", base, chunk);
        char **part;
        size_t np;
        bool f;
        onnxc_status st = oc_h5_attr_strings(h, obj, where, key, &part, &np, &f, err);
        if (st != ONNXC_OK) {
            oc_h5_free_strings(*out, *n);
            *out = NULL;
            *n = 0;
            return st;
        }
        if (!f) return ONNXC_OK;
        *found = true;
        char **grown = oc_realloc(*out, (*n + np + 1) * sizeof *grown);
        if (!grown) {
            oc_h5_free_strings(part, np);
            oc_h5_free_strings(*out, *n);
            *out = NULL;
            *n = 0;
            return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
        }
        *out = grown;
        memcpy(*out + *n, part, np * sizeof *part);
        *n += np;
        oc_free(part);
    }
    return ONNXC_OK;
}

/* "a/b/kernel:0" -> var "kernel", layer "b" (empty when absent). */
static void split_name(const char *w, char *layer, size_t ls, char *var, size_t vs)
{
    const char *last = strrchr(w, '/');
    const char *v = last ? last + 1 : w;
    size_t vn = strlen(v);
    const char *colon = strrchr(v, ':');
    if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) vn = (size_t)(colon - v);
    snprintf(var, vs, "%.*s", (int)vn, v);
    layer[0] = '\0';
    if (last) {
        const char *b = last;
        while (b > w && b[-1] != '/') b--;
        snprintf(layer, ls, "%.*s", (int)(last - b), b);
    }
}

static onnxc_status read_weight(oc_h5 *h, const char *root_path, const wgroup *g,
                                size_t k, oc_kweight *w, onnxc_error *err)
{
    char rel[PATH_SIZE], shown[PATH_SIZE];
    int a = snprintf(rel, sizeof rel, "%s/%s", g->name, g->wnames[k]);
    int b = snprintf(shown, sizeof shown, "%s%s%s", root_path, root_path[0] ? "/" : "", rel);
    if (a < 0 || b < 0 || (size_t)a >= sizeof rel || (size_t)b >= sizeof shown)
        return oc_fail(err, ONNXC_ERR_LIMIT, "%s: weight path '%.200s...' is too long", h->label, rel);
    /* Opened from the file root by the full path, so that every message
     * (links, storage, shapes) names the whole path. */
    return oc_h5_read_floats(h, h->file, shown, shown, w, err);
}

static void list_weights(const wgroup *g, const size_t *cand, size_t nc, char *buf, size_t size)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < nc && o < size; i++) {
        int r = snprintf(buf + o, size - o, "%s%s", i ? ", " : "", g->wnames[cand[i]]);
        if (r < 0) break;
        o += (size_t)r;
    }
    if (nc == 0) snprintf(buf, size, "none");
}

/* Assign the group's weights to leaf l by layer and variable name. */
static onnxc_status match_leaf(oc_h5 *h, const char *root_path, wgroup *g,
                               oc_klayer *l, onnxc_error *err)
{
    size_t *cand = oc_malloc((g->n ? g->n : 1) * sizeof *cand);
    if (!cand) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
    size_t nc = 0;
    char layer[256], var[256];
    for (int pass = 0; pass < 2 && nc == 0; pass++) {
        /* Pass 1: names whose layer part is this layer. Pass 2: a group of
         * its own under odd names (Keras 1 "dense_1_W:0", uniquified
         * "dense_1_1/kernel:0"): take the group's weights in order. */
        if (pass == 1 && strcmp(g->name, l->name) != 0) break;
        for (size_t k = 0; k < g->n; k++) {
            if (g->used[k]) continue;
            split_name(g->wnames[k], layer, sizeof layer, var, sizeof var);
            if (pass == 1 || !strcmp(layer, l->name)) cand[nc++] = k;
        }
    }
    size_t pick[OC_KL_MAX_WEIGHTS];
    int found = 0;
    for (int r = 0; r < l->n_weights; r++) {
        for (size_t i = 0; i < nc; i++) {
            split_name(g->wnames[cand[i]], layer, sizeof layer, var, sizeof var);
            if (!strcmp(var, l->w[r].role)) {
                pick[r] = cand[i];
                found++;
                break;
            }
        }
    }
    onnxc_status st = ONNXC_OK;
    if (found != l->n_weights) {
        if (nc == (size_t)l->n_weights) {
            for (int r = 0; r < l->n_weights; r++) pick[r] = cand[r];
        } else {
            char list[512], roles[96] = "";
            list_weights(g, cand, nc, list, sizeof list);
            for (int r = 0; r < l->n_weights; r++)
                snprintf(roles + strlen(roles), sizeof roles - strlen(roles), "%s%s", r ? ", " : "", l->w[r].role);
            st = oc_fail(err, ONNXC_ERR_MODEL,
                         "%s: layer '%s' (%s): expected weights (%s) in group '%s%s%s'; found %s",
                         h->label, l->name, l->class_name, roles, root_path, root_path[0] ? "/" : "",
                         g->name, list);
        }
    }
    for (int r = 0; st == ONNXC_OK && r < l->n_weights; r++) {
        g->used[pick[r]] = true;
        st = read_weight(h, root_path, g, pick[r], &l->w[r], err);
    }
    oc_free(cand);
    return st;
}

static onnxc_status load_groups(oc_h5 *h, hid_t root, const char *root_path, wgroup **out,
                                size_t *n_out, onnxc_error *err)
{
    char **names;
    size_t n;
    bool found;
    const char *where = root_path[0] ? root_path : "/";
    OC_TRY(name_list(h, root, where, "layer_names", &names, &n, &found, err));
    if (!found)
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: '%s' has no @layer_names; not a Keras weights group",
                       h->label, where);
    wgroup *g = oc_calloc(n ? n : 1, sizeof *g);
    if (!g) {
        oc_h5_free_strings(names, n);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
    }
    /* The groups take over the name strings. */
    for (size_t i = 0; i < n; i++) g[i].name = names[i];
    oc_free(names);
    onnxc_status st = ONNXC_OK;
    for (size_t i = 0; i < n && st == ONNXC_OK; i++) {
        hid_t grp;
        char shown[PATH_SIZE];
        int len = snprintf(shown, sizeof shown, "%s%s%s", root_path, root_path[0] ? "/" : "", g[i].name);
        if (len < 0 || (size_t)len >= sizeof shown) {
            st = oc_fail(err, ONNXC_ERR_LIMIT, "%s: layer name '%.200s...' is too long", h->label, g[i].name);
            break;
        }
        bool missing;
        st = oc_h5_open(h, h->file, shown, &grp, &missing, err);
        if (st != ONNXC_OK) break;
        if (missing) {
            st = oc_fail(err, ONNXC_ERR_MODEL, "%s: @layer_names lists '%s' but there is no group '%s'",
                         h->label, g[i].name, shown);
            break;
        }
        st = name_list(h, grp, shown, "weight_names", &g[i].wnames, &g[i].n, &found, err);
        H5Oclose(grp);
        if (st == ONNXC_OK && !(g[i].used = oc_calloc(g[i].n ? g[i].n : 1, sizeof(bool))))
            st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
    }
    if (st != ONNXC_OK) {
        for (size_t i = 0; i < n; i++) oc_free(g[i].name);
        wgroups_free(g, n);
        return st;
    }
    *out = g;
    *n_out = n;
    return ONNXC_OK;
}

/* Weights of a model from --arch: Dense layers take, in file order, a
 * rank-2 kernel and, when the next weight is a [units] vector, a bias. */
static onnxc_status assign_by_order(oc_h5 *h, const char *root_path, wgroup *g,
                                    size_t ng, oc_kmodel *m, onnxc_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < ng; i++) total += g[i].n;
    oc_kweight *all = oc_calloc(total ? total : 1, sizeof *all);
    if (!all) return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory", h->label);
    onnxc_status st = ONNXC_OK;
    size_t k = 0;
    for (size_t i = 0; i < ng && st == ONNXC_OK; i++)
        for (size_t j = 0; j < g[i].n && st == ONNXC_OK; j++) st = read_weight(h, root_path, &g[i], j, &all[k++], err);
    size_t pos = 0;
    for (size_t li = 0; li < m->n_layers && st == ONNXC_OK; li++) {
        oc_klayer *l = &m->layers[li];
        if (pos >= total || all[pos].rank != 2) {
            st = oc_fail(err, ONNXC_ERR_MODEL,
                         "%s: Dense layer %zu of the arch spec needs a rank-2 kernel; %s", h->label, li + 1,
                         pos >= total ? "the file has no more weights" : "the next weight is not rank 2");
            if (pos < total) oc_prefix(err, "dataset '%s'", all[pos].source);
            break;
        }
        l->w[0] = all[pos];
        memset(&all[pos++], 0, sizeof all[0]);
        if (pos < total && all[pos].rank == 1 && all[pos].dims[0] == l->units) {
            l->w[1] = all[pos];
            memset(&all[pos++], 0, sizeof all[0]);
        } else {
            l->use_bias = false;
            l->n_weights = 1;
        }
    }
    if (st == ONNXC_OK && pos < total)
        st = oc_fail(err, ONNXC_ERR_MODEL,
                     "%s: the file holds %zu weight tensors but the arch spec uses %zu (first unused: '%s')",
                     h->label, total, pos, all[pos].source);
    for (size_t i = 0; i < total; i++) {
        oc_free(all[i].data);
        oc_free(all[i].source);
    }
    oc_free(all);
    return st;
}

onnxc_status oc_keras_weights_legacy(oc_h5 *h, hid_t root, const char *root_path, oc_kmodel *m,
                                     onnxc_error *err)
{
    wgroup *g;
    size_t ng;
    OC_TRY(load_groups(h, root, root_path, &g, &ng, err));
    onnxc_status st = ONNXC_OK;
    if (m->from_spec) {
        st = assign_by_order(h, root_path, g, ng, m, err);
    } else {
        for (size_t i = 0; i < m->n_layers && st == ONNXC_OK; i++) {
            oc_klayer *l = &m->layers[i];
            if (l->n_weights == 0) continue;
            wgroup *grp = NULL;
            for (size_t k = 0; k < ng && !grp; k++)
                if (!strcmp(g[k].name, l->h5_group)) grp = &g[k];
            if (!grp) {
                st = oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (%s): no weight group '%s%s%s' in @layer_names",
                             h->label, l->name, l->class_name, root_path, root_path[0] ? "/" : "", l->h5_group);
                break;
            }
            grp->touched = true;
            st = match_leaf(h, root_path, grp, l, err);
        }
        for (size_t k = 0; k < ng && st == ONNXC_OK; k++)
            for (size_t j = 0; j < g[k].n && st == ONNXC_OK; j++)
                if (!g[k].used[j])
                    st = oc_fail(err, ONNXC_ERR_MODEL,
                                 "%s: weight '%s%s%s/%s' belongs to no layer of the model config",
                                 h->label, root_path, root_path[0] ? "/" : "", g[k].name, g[k].wnames[j]);
    }
    for (size_t i = 0; i < ng; i++) oc_free(g[i].name);
    wgroups_free(g, ng);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Keras 3 weights store                                                     */

static onnxc_status store_leaf(oc_h5 *h, oc_klayer *l, bool from_spec, onnxc_error *err)
{
    char path[PATH_SIZE];
    hid_t vars = H5I_INVALID_HID;
    bool missing = true;
    for (int alt = 0; alt < 2 && missing; alt++) {
        snprintf(path, sizeof path, "%s/vars", alt ? l->store_alt : l->store_path);
        OC_TRY(oc_h5_open(h, h->file, path, &vars, &missing, err));
    }
    if (missing) {
        snprintf(path, sizeof path, "%s/vars", l->store_path);
        return oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (%s): no weights at '%s'", h->label, l->name,
                       l->class_name, path);
    }
    char **names = NULL;
    size_t n = 0;
    onnxc_status st = H5Iget_type(vars) == H5I_GROUP ? oc_h5_list(h, vars, path, &names, &n, err)
                      : oc_fail(err, ONNXC_ERR_MODEL, "%s: '%s' is not a group", h->label, path);
    H5Oclose(vars);
    if (st != ONNXC_OK) return st;
    if (from_spec && l->kind == OC_KL_DENSE && n == 1) {
        l->use_bias = false;                           /* a Dense without bias */
        l->n_weights = 1;
    }
    if (n != (size_t)l->n_weights)
        st = oc_fail(err, ONNXC_ERR_MODEL, "%s: layer '%s' (%s): expected %d weights in '%s', found %zu",
                     h->label, l->name, l->class_name, l->n_weights, path, n);
    for (int k = 0; st == ONNXC_OK && k < l->n_weights; k++) {
        char ds[PATH_SIZE + 16];
        snprintf(ds, sizeof ds, "%s/%d", path, k);
        st = oc_h5_read_floats(h, h->file, ds, ds, &l->w[k], err);
    }
    oc_h5_free_strings(names, n);
    return st;
}

/* A top-level store entry no config layer maps to must hold no weights. */
static onnxc_status store_leftovers(oc_h5 *h, const oc_kmodel *m, const char *top, onnxc_error *err)
{
    hid_t g;
    bool missing;
    OC_TRY(oc_h5_open(h, h->file, top, &g, &missing, err));
    if (missing) return ONNXC_OK;
    char **names = NULL;
    size_t n = 0;
    onnxc_status st = H5Iget_type(g) == H5I_GROUP ? oc_h5_list(h, g, top, &names, &n, err) : ONNXC_OK;
    H5Oclose(g);
    for (size_t i = 0; i < n && st == ONNXC_OK; i++) {
        char prefix[PATH_SIZE];
        snprintf(prefix, sizeof prefix, "%s/%s", top, names[i]);
        size_t pl = strlen(prefix);
        bool covered = false;
        for (size_t k = 0; k < m->n_layers && !covered; k++) {
            const char *p[2] = {m->layers[k].store_path, m->layers[k].store_alt};
            for (int a = 0; a < 2; a++)
                covered |= p[a] && !strncmp(p[a], prefix, pl) && (p[a][pl] == '\0' || p[a][pl] == '/');
        }
        if (covered) continue;
        char vpath[PATH_SIZE + 8];
        snprintf(vpath, sizeof vpath, "%s/vars", prefix);
        hid_t v;
        bool vm;
        st = oc_h5_open(h, h->file, vpath, &v, &vm, err);
        if (st != ONNXC_OK || vm) continue;
        H5G_info_t info;
        bool has = H5Iget_type(v) == H5I_GROUP && H5Gget_info(v, &info) >= 0 && info.nlinks > 0;
        H5Oclose(v);
        if (has)
            st = oc_fail(err, ONNXC_ERR_MODEL, "%s: '%s' holds weights but the model config has no such layer",
                         h->label, prefix);
    }
    oc_h5_free_strings(names, n);
    return st;
}

onnxc_status oc_keras_weights_store(oc_h5 *h, oc_kmodel *m, onnxc_error *err)
{
    for (size_t i = 0; i < m->n_layers; i++) {
        oc_klayer *l = &m->layers[i];
        if (l->n_weights > 0) OC_TRY(store_leaf(h, l, m->from_spec, err));
    }
    OC_TRY(store_leftovers(h, m, "layers", err));
    return store_leftovers(h, m, "_layer_checkpoint_dependencies", err);
}
