/*
 * Public tensor-file entry points (onnxc.h): the file name's extension picks
 * the format, .npy (io_npy.c) or .pb (io_tensor_pb.c), compared without
 * regard to case.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "error.h"
#include "io_npy.h"
#include "io_tensor_pb.h"

typedef enum tensor_format { FORMAT_UNKNOWN, FORMAT_NPY, FORMAT_PB } tensor_format;

static tensor_format format_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return FORMAT_UNKNOWN;
    if (strcasecmp(dot, ".npy") == 0) return FORMAT_NPY;
    if (strcasecmp(dot, ".pb") == 0) return FORMAT_PB;
    return FORMAT_UNKNOWN;
}

static onnxc_status unknown_format(const char *path, onnxc_error *err)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    bool has_ext = dot && !(slash && dot < slash);
    return oc_fail(err, ONNXC_ERR_ARGUMENT,
                   "%s: cannot tell the tensor format, expected a .npy or .pb extension, "
                   "got %s%s%s",
                   path, has_ext ? "'" : "", has_ext ? dot : "none", has_ext ? "'" : "");
}

onnxc_status onnxc_tensor_load(const char *path, onnxc_tensor *out, onnxc_error *err)
{
    if (!out) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_tensor_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_tensor_load: path is NULL");
    switch (format_of(path)) {
    case FORMAT_NPY: return oc_npy_read(path, out, err);
    case FORMAT_PB: return oc_tensor_pb_read(path, out, err);
    default: return unknown_format(path, err);
    }
}

onnxc_status onnxc_tensor_save(const char *path, const onnxc_tensor *t, onnxc_error *err)
{
    if (!path || !t)
        return oc_fail(err, ONNXC_ERR_ARGUMENT, "onnxc_tensor_save: %s is NULL",
                       !path ? "path" : "tensor");
    switch (format_of(path)) {
    case FORMAT_NPY: return oc_npy_write(path, t, err);
    case FORMAT_PB: return oc_tensor_pb_write(path, t, err);
    default: return unknown_format(path, err);
    }
}

void onnxc_tensor_release(onnxc_tensor *t)
{
    if (!t) return;
    /* Both readers allocate with oc_aligned_alloc. */
    oc_aligned_free(t->data);
    t->data = NULL;
    t->capacity = 0;
}
