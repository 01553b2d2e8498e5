/* Crash-safe file replacement; see atomic_file.h for the protocol. */
#define _GNU_SOURCE 1 /* O_CLOEXEC, fdopendir, flock */
#include "atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"

#define TMP_INFIX ".tmp."
#define TMP_RANDOM 6               /* letters or digits after the infix */
#define TMP_ATTEMPTS 64

/* ------------------------------------------------------------------------ */
/* Stale temporaries                                                         */

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* `name` is "<base>.tmp.XXXXXX" with six letters or digits. */
static bool is_temp_of(const char *name, const char *base, size_t base_len)
{
    if (strncmp(name, base, base_len) != 0) return false;
    name += base_len;
    if (strncmp(name, TMP_INFIX, sizeof TMP_INFIX - 1) != 0) return false;
    name += sizeof TMP_INFIX - 1;
    for (int i = 0; i < TMP_RANDOM; i++)
        if (!is_alnum(name[i])) return false;
    return name[TMP_RANDOM] == '\0';
}

/*
 * Removes base's temporaries that nobody holds locked. A live writer keeps
 * an exclusive flock on its temporary until it has renamed it, so taking
 * the lock proves the writer is gone (the kernel drops a killed process's
 * locks). The name is checked to still be that file before unlinking.
 */
static void clean_stale_at(int dir_fd, const char *base)
{
    int scan_fd = dup(dir_fd);
    if (scan_fd < 0) return;
    DIR *d = fdopendir(scan_fd);
    if (!d) {
        close(scan_fd);
        return;
    }
    size_t base_len = strlen(base);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_temp_of(e->d_name, base, base_len)) continue;
        int fd = openat(dir_fd, e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) continue;
        struct stat held, named;
        if (fstat(fd, &held) == 0 && S_ISREG(held.st_mode) && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
            fstatat(dir_fd, e->d_name, &named, AT_SYMLINK_NOFOLLOW) == 0 &&
            held.st_dev == named.st_dev && held.st_ino == named.st_ino)
            (void)unlinkat(dir_fd, e->d_name, 0);
        close(fd);
    }
    closedir(d);
}

/* dirname/basename of `path` into new strings. */
static bool split_path(const char *path, char **dir, char **base)
{
    char *a = oc_strdup(path), *b = oc_strdup(path);
    *dir = *base = NULL;
    if (a && b) {
        *dir = oc_strdup(dirname(a));
        *base = oc_strdup(basename(b));
    }
    oc_free(a);
    oc_free(b);
    if (*dir && *base) return true;
    oc_free(*dir);
    oc_free(*base);
    *dir = *base = NULL;
    return false;
}

void oc_atomic_clean_stale(const char *path)
{
    char *dir, *base;
    if (!split_path(path, &dir, &base)) return;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        clean_stale_at(dfd, base);
        close(dfd);
    }
    oc_free(dir);
    oc_free(base);
}

/* ------------------------------------------------------------------------ */
/* Writing                                                                   */

/* Six letters or digits, different for every call in every process. */
static void random_suffix(char *out)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static uint64_t counter;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t x = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) * 0x9e3779b97f4a7c15ull;
    x ^= (uint64_t)getpid() << 32 ^ (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec * 0xbf58476d1ce4e5b9ull;
    /* splitmix64 finalizer */
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    for (int i = 0; i < TMP_RANDOM; i++, x /= 62) out[i] = alphabet[x % 62];
}

/*
 * Creates and locks a new temporary. open(O_EXCL) with mode 0666 lets the
 * umask decide the saved file's mode, as for any new file. A cleaner may
 * grab a temporary in the instant between its creation and our flock; then
 * the lock fails or the name no longer leads to our file, and we try again
 * under another name.
 */
static int create_locked_temp(char *tmp_path, size_t suffix_at)
{
    for (int attempt = 0; attempt < TMP_ATTEMPTS; attempt++) {
        random_suffix(tmp_path + suffix_at);
        int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            if (errno == EEXIST) continue;
            return -1;
        }
        struct stat held, named;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &held) == 0 &&
            stat(tmp_path, &named) == 0 && held.st_dev == named.st_dev && held.st_ino == named.st_ino)
            return fd;
        close(fd); /* the cleaner that took it removes it */
    }
    errno = EEXIST;
    return -1;
}

onnxc_status oc_atomic_open(oc_atomic_file *f, const char *path, onnxc_error *err)
{
    memset(f, 0, sizeof *f);
    size_t n = strlen(path);
    char *dir = NULL, *base = NULL;
    f->final_path = oc_strdup(path);
    f->tmp_path = oc_malloc(n + sizeof TMP_INFIX + TMP_RANDOM);
    if (!f->final_path || !f->tmp_path || !split_path(path, &dir, &base)) {
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory preparing the save", path);
    }
    f->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    oc_free(dir);
    if (f->dir_fd < 0) {
        oc_free(base);
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot open the folder to save into: %s", path, strerror(e));
    }
    f->dir_open = true;
    clean_stale_at(f->dir_fd, base);
    oc_free(base);

    memcpy(f->tmp_path, path, n);
    memcpy(f->tmp_path + n, TMP_INFIX, sizeof TMP_INFIX - 1);
    f->tmp_path[n + sizeof TMP_INFIX - 1 + TMP_RANDOM] = '\0';
    int fd = create_locked_temp(f->tmp_path, n + sizeof TMP_INFIX - 1);
    if (fd < 0) {
        e = errno;
        oc_free(f->tmp_path);
        f->tmp_path = NULL;
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: cannot create a temporary file beside it: %s", path,
                       strerror(e));
    }
    f->fp = fdopen(fd, "wb");
    if (!f->fp) {
        e = errno;
        close(fd);
        oc_atomic_abort(f);
        return oc_fail(err, ONNXC_ERR_IO, "%s: %s", path, strerror(e));
    }
    return ONNXC_OK;
}

/*
 * The rename happens while the temporary is still open, so its lock is held
 * until the name is gone and a cleaner can never remove a finished file
 * between our fsync and our rename.
 */
onnxc_status oc_atomic_commit(oc_atomic_file *f, onnxc_error *err)
{
    int e = 0;
    if (!f->fp) e = EBADF;
    if (!e && (fflush(f->fp) != 0 || ferror(f->fp))) e = errno ? errno : EIO;
    if (!e && fsync(fileno(f->fp)) != 0) e = errno;
    if (!e && rename(f->tmp_path, f->final_path) != 0) e = errno;
    if (e) return oc_atomic_fail(f, e, err);
    /* Renamed: the new file is in place whatever happens below. */
    oc_free(f->tmp_path);
    f->tmp_path = NULL;
    if (f->dir_open) (void)fsync(f->dir_fd);
    oc_atomic_abort(f);
    return ONNXC_OK;
}

onnxc_status oc_atomic_fail(oc_atomic_file *f, int errnum, onnxc_error *err)
{
    onnxc_status st = oc_fail(err, ONNXC_ERR_IO, "%s: write failed: %s; the old file is kept",
                              f->final_path ? f->final_path : "?", strerror(errnum ? errnum : EIO));
    oc_atomic_abort(f);
    return st;
}

void oc_atomic_abort(oc_atomic_file *f)
{
    /* Unlink before closing: the lock keeps cleaners off until the name is gone. */
    if (f->tmp_path) {
        unlink(f->tmp_path);
        oc_free(f->tmp_path);
        f->tmp_path = NULL;
    }
    if (f->fp) {
        fclose(f->fp);
        f->fp = NULL;
    }
    if (f->dir_open) {
        close(f->dir_fd);
        f->dir_open = false;
    }
    oc_free(f->final_path);
    f->final_path = NULL;
}

onnxc_status oc_atomic_write(const char *path, const void *data, size_t size, onnxc_error *err)
{
    oc_atomic_file f;
    OC_TRY(oc_atomic_open(&f, path, err));
    if (size && fwrite(data, 1, size, f.fp) != size) return oc_atomic_fail(&f, errno, err);
    return oc_atomic_commit(&f, err);
}
