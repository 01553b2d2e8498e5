/*
 * HDF5 surgery for the hostile corpus (tests/tools/make_hostile.py), done
 * through libhdf5 because no HDF5 writer is at hand in python here. Each
 * command edits FILE in place (make_hostile.py copies a real Keras file
 * first):
 *
 *   ls FILE                          print every object path and its type
 *   get-attr FILE OBJ NAME           print string attribute NAME of object OBJ
 *   set-attr FILE OBJ NAME VALUEFILE [vlen]
 *                                    replace string attribute NAME of object
 *                                    OBJ with VALUEFILE's bytes (fixed-length
 *                                    string, or variable-length with "vlen",
 *                                    kept in the global heap: no 64 kB limit)
 *   soft FILE LINK TARGET            replace LINK with a soft link to TARGET
 *   hard FILE LINK TARGET            replace LINK with a hard link to TARGET
 *   external FILE LINK TFILE TOBJ    replace LINK with an external link
 *   ext-storage FILE DSET DATAFILE [nowrite]
 *                                    replace float dataset DSET by one of the
 *                                    same shape stored in DATAFILE (offset 0),
 *                                    written there unless "nowrite" (for a
 *                                    DATAFILE that must not be touched)
 *   huge FILE DSET D0 [D1 ...]       replace DSET by a chunked float dataset
 *                                    of these dims with nothing written
 *   filter FILE DSET                 replace DSET by one that needs filter
 *                                    plugin 32000 (registered here only)
 *   vds FILE DSET SRCFILE SRCDSET    replace DSET by a virtual dataset that
 *                                    maps SRCFILE's SRCDSET
 *   dtype FILE DSET int32|string     replace DSET by one of another type
 *   deep-groups FILE GROUP DEPTH     nest DEPTH groups "g" under GROUP
 *
 * Exit status 0 on success, 1 with a message on stderr otherwise.
 */
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "make_hostile_h5: %s: %s\n", what, arg);
    return 1;
}

static herr_t print_obj(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)obj;
    (void)data;
    const char *t = info->type == H5O_TYPE_GROUP ? "group" : info->type == H5O_TYPE_DATASET ? "dataset" : "other";
    printf("%s\t/%s\n", t, strcmp(name, ".") ? name : "");
    return 0;
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)size + 1);
    if (!b || fread(b, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(b);
        return NULL;
    }
    fclose(f);
    b[size] = '\0';
    *n = (size_t)size;
    return b;
}

static int set_attr(hid_t file, const char *obj, const char *name, const char *value_file, int vlen)
{
    size_t n;
    char *v = slurp(value_file, &n);
    if (!v) return fail("cannot read", value_file);
    hid_t o = H5Oopen(file, obj, H5P_DEFAULT);
    if (o < 0) return fail("no object", obj);
    if (H5Aexists(o, name) > 0 && H5Adelete(o, name) < 0) return fail("cannot delete attribute", name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, vlen ? H5T_VARIABLE : (n ? n : 1));
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    hid_t s = H5Screate(H5S_SCALAR);
    /* Large attributes need dense storage: the new file format. */
    hid_t a = H5Acreate2(o, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return fail("cannot create attribute", name);
    herr_t w = vlen ? H5Awrite(a, t, &v) : H5Awrite(a, t, v);
    if (w < 0) return fail("cannot write attribute", name);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    H5Oclose(o);
    free(v);
    return 0;
}

static int get_attr(hid_t file, const char *obj, const char *name)
{
    hid_t o = H5Oopen(file, obj, H5P_DEFAULT);
    hid_t a = o < 0 ? -1 : H5Aopen(o, name, H5P_DEFAULT);
    if (a < 0) return fail("no attribute", name);
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    hssize_t points = H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    if (H5Tget_class(t) != H5T_STRING || points != 1) return fail("not a scalar string attribute", name);
    int rc = 0;
    if (H5Tis_variable_str(t) > 0) {
        char *v = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, &v) < 0 || !v) rc = fail("cannot read", name);
        else fputs(v, stdout);
        H5free_memory(v);
        H5Tclose(mt);
    } else {
        size_t n = H5Tget_size(t);
        char *v = calloc(n + 1, 1);
        if (H5Aread(a, t, v) < 0) rc = fail("cannot read", name);
        else fwrite(v, 1, strnlen(v, n), stdout);
        free(v);
    }
    H5Tclose(t);
    H5Aclose(a);
    H5Oclose(o);
    return rc;
}

/* Splits "/a/b/c" into the parent group (opened) and the last name. */
static hid_t parent_of(hid_t file, const char *path, const char **leaf)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    char *slash = strrchr(buf, '/');
    if (!slash) {
        *leaf = path;
        return H5Gopen2(file, "/", H5P_DEFAULT);
    }
    *leaf = path + (slash - buf) + 1;
    *slash = '\0';
    return H5Gopen2(file, buf[0] ? buf : "/", H5P_DEFAULT);
}

/* Shape of dataset `path` (rank, dims). */
static int shape_of(hid_t file, const char *path, int *rank, hsize_t *dims)
{
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    *rank = H5Sget_simple_extent_dims(s, dims, NULL);
    H5Sclose(s);
    H5Dclose(d);
    return *rank < 0 ? -1 : 0;
}

static hid_t replace_dataset(hid_t file, const char *path, hid_t type, int rank, const hsize_t *dims, hid_t dcpl)
{
    const char *leaf;
    hid_t g = parent_of(file, path, &leaf);
    if (g < 0) return -1;
    if (H5Lexists(g, leaf, H5P_DEFAULT) > 0) H5Ldelete(g, leaf, H5P_DEFAULT);
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(g, leaf, type, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Sclose(s);
    H5Gclose(g);
    return d;
}

static float *ramp(int rank, const hsize_t *dims, size_t *count)
{
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= dims[i];
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = (float)(i % 7) * 0.125f - 0.25f;
    *count = n;
    return v;
}

static size_t passthrough(unsigned flags, size_t cd_nelmts, const unsigned cd_values[], size_t nbytes,
                          size_t *buf_size, void **buf)
{
    (void)flags;
    (void)cd_nelmts;
    (void)cd_values;
    (void)buf_size;
    (void)buf;
    return nbytes;
}

static int link_cmd(hid_t file, const char *cmd, const char *link, const char *a, const char *b)
{
    const char *leaf;
    hid_t g = parent_of(file, link, &leaf);
    if (g < 0) return fail("no parent group of", link);
    if (H5Lexists(g, leaf, H5P_DEFAULT) > 0 && H5Ldelete(g, leaf, H5P_DEFAULT) < 0)
        return fail("cannot delete", link);
    herr_t r;
    if (!strcmp(cmd, "soft")) r = H5Lcreate_soft(a, g, leaf, H5P_DEFAULT, H5P_DEFAULT);
    else if (!strcmp(cmd, "hard")) r = H5Lcreate_hard(file, a, g, leaf, H5P_DEFAULT, H5P_DEFAULT);
    else r = H5Lcreate_external(a, b, g, leaf, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    return r < 0 ? fail("cannot create link", link) : 0;
}

static int dataset_cmd(hid_t file, int argc, char **argv)
{
    const char *cmd = argv[1], *path = argv[3];
    int rank;
    hsize_t dims[32];
    if (strcmp(cmd, "huge") && shape_of(file, path, &rank, dims) < 0) return fail("no dataset", path);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t type = H5T_IEEE_F32LE;
    size_t n = 0;
    float *v = NULL;
    if (!strcmp(cmd, "ext-storage")) {
        if (argc < 5) return fail("usage", "ext-storage FILE DSET DATAFILE");
        v = ramp(rank, dims, &n);
        if (H5Pset_external(dcpl, argv[4], 0, (hsize_t)(n * sizeof(float))) < 0) return fail("external", argv[4]);
        if (argc > 5 && !strcmp(argv[5], "nowrite")) {
            H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER); /* nothing is written to DATAFILE */
            free(v);
            v = NULL;
        }
    } else if (!strcmp(cmd, "huge")) {
        rank = argc - 4;
        if (rank < 1 || rank > 32) return fail("usage", "huge FILE DSET D0 [D1 ...]");
        hsize_t chunk[32];
        for (int i = 0; i < rank; i++) {
            dims[i] = strtoull(argv[4 + i], NULL, 10);
            chunk[i] = dims[i] < 16 ? (dims[i] ? dims[i] : 1) : 16;
        }
        H5Pset_chunk(dcpl, rank, chunk);
    } else if (!strcmp(cmd, "filter")) {
        H5Z_class2_t cls = {H5Z_CLASS_T_VERS, (H5Z_filter_t)32000, 1, 1, "onnxc-hostile", NULL, NULL, passthrough};
        if (H5Zregister(&cls) < 0) return fail("cannot register filter", "32000");
        hsize_t chunk[32];
        for (int i = 0; i < rank; i++) chunk[i] = dims[i] ? dims[i] : 1;
        H5Pset_chunk(dcpl, rank, chunk);
        if (H5Pset_filter(dcpl, (H5Z_filter_t)32000, H5Z_FLAG_MANDATORY, 0, NULL) < 0)
            return fail("cannot set filter", path);
        v = ramp(rank, dims, &n);
    } else if (!strcmp(cmd, "dtype")) {
        if (argc < 5) return fail("usage", "dtype FILE DSET int32|string");
        if (!strcmp(argv[4], "int32")) {
            type = H5T_STD_I32LE;
        } else {
            type = H5Tcopy(H5T_C_S1);
            H5Tset_size(type, 4);
        }
    } else if (!strcmp(cmd, "vds")) {
        if (argc < 6) return fail("usage", "vds FILE DSET SRCFILE SRCDSET");
        hid_t vs = H5Screate_simple(rank, dims, NULL);
        if (H5Pset_virtual(dcpl, vs, argv[4], argv[5], vs) < 0) return fail("cannot map", argv[4]);
        H5Sclose(vs);
    }
    hid_t d = replace_dataset(file, path, type, rank, dims, dcpl);
    if (d < 0) return fail("cannot create dataset", path);
    if (v && H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0) return fail("cannot write", path);
    H5Dclose(d);
    H5Pclose(dcpl);
    free(v);
    return 0;
}

static int deep_groups(hid_t file, const char *group, long depth)
{
    hid_t g = H5Gopen2(file, group, H5P_DEFAULT);
    if (g < 0) return fail("no group", group);
    for (long i = 0; i < depth; i++) {
        hid_t c = H5Gcreate2(g, "g", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (c < 0) return fail("cannot create group", "g");
        H5Gclose(g);
        g = c;
    }
    H5Gclose(g);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: make_hostile_h5 COMMAND FILE ... (see the source)\n");
        return 2;
    }
    const char *cmd = argv[1];
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hid_t file = H5Fopen(argv[2], strcmp(cmd, "ls") && strcmp(cmd, "get-attr") ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
    if (file < 0) return fail("cannot open", argv[2]);
    int rc;
    if (!strcmp(cmd, "ls"))
        rc = H5Ovisit(file, H5_INDEX_NAME, H5_ITER_NATIVE, print_obj, NULL) < 0;
    else if (!strcmp(cmd, "get-attr") && argc == 5)
        rc = get_attr(file, argv[3], argv[4]);
    else if (!strcmp(cmd, "set-attr") && argc >= 6)
        rc = set_attr(file, argv[3], argv[4], argv[5], argc > 6 && !strcmp(argv[6], "vlen"));
    else if ((!strcmp(cmd, "soft") || !strcmp(cmd, "hard")) && argc == 5)
        rc = link_cmd(file, cmd, argv[3], argv[4], NULL);
    else if (!strcmp(cmd, "external") && argc == 6)
        rc = link_cmd(file, cmd, argv[3], argv[4], argv[5]);
    else if ((!strcmp(cmd, "ext-storage") || !strcmp(cmd, "huge") || !strcmp(cmd, "filter") ||
              !strcmp(cmd, "dtype") || !strcmp(cmd, "vds")) && argc >= 4)
        rc = dataset_cmd(file, argc, argv);
    else if (!strcmp(cmd, "deep-groups") && argc == 5)
        rc = deep_groups(file, argv[3], strtol(argv[4], NULL, 10));
    else
        rc = fail("unknown command or wrong arguments", cmd);
    H5Fclose(file);
    H5Pclose(fapl);
    return rc;
}
