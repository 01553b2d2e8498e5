#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

onnxc_status oc_atomic_open(oc_atomic_file *f, const char *path, onnxc_error *err)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path);
    f->final_path = oc_strdup(path);
    f->tmp_path = oc_malloc(n + 16);
    if (!f->final_path || !f->tmp_path) {
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory preparing the save", path);
    }
    memcpy(f->tmp_path, path, n);
    memcpy(f->tmp_path + n, ".tmp.XXXXXX", 12);
    int fd = mkstemp(f->tmp_path);
    if (fd < 0) {
        int e = errno;
        oc_free(f->tmp_path);
        f->tmp_path = NULL;
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(e));
    }
    /* mkstemp makes 0600; saved models should get the usual umask mode. */
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        int e = errno;
        close(fd);
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: %s", path, strerror(e));
    }
    return ONNXC_OK;
}

static void fsync_parent(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(copy);
}

onnxc_status oc_atomic_commit(oc_atomic_file *f, onnxc_error *err)
{
    const char *path = f->final_path ? f->final_path : "?";
    int failed = 0, e = 0;
    if (fflush(f->fp) != 0 || ferror(f->fp)) failed = 1, e = errno;
    if (!failed && fsync(fileno(f->fp)) != 0) failed = 1, e = errno;
    if (fclose(f->fp) != 0 && !failed) failed = 1, e = errno;
    f->fp = NULL;
    if (!failed && rename(f->tmp_path, f->final_path) != 0) failed = 1, e = errno;
    if (failed) {
        onnxc_status st = oc_fail(err, ONNXC_ERR_IO, "%s: save failed, old file kept: %s", path,
                                  strerror(e ? e : EIO));
        oc_atomic_abort(f);
        return st;
    }
    fsync_parent(f->final_path);
    oc_free(f->tmp_path);
    f->tmp_path = NULL;
    oc_atomic_abort(f);
    return ONNXC_OK;
}

void oc_atomic_abort(oc_atomic_file *f)
{
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->tmp_path) {
        unlink(f->tmp_path);
        oc_free(f->tmp_path);
        f->tmp_path = NULL;
    }
    oc_free(f->final_path);
    f->final_path = NULL;
}

onnxc_status oc_atomic_write(const char *path, const void *data, size_t size, onnxc_error *err)
{
    oc_atomic_file f;
    OC_TRY(oc_atomic_open(&f, path, err));
    if (size && fwrite(data, 1, size, f.fp) != size) {
        int e = errno;
        oc_atomic_abort(&f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: write failed, old file kept: %s", path, strerror(e));
    }
    return oc_atomic_commit(&f, err);
}
