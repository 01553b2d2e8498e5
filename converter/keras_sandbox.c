/*
 * oc_keras_to_onnx: the conversion (keras_convert.c) runs in a child
 * process, and only its result comes back through a pipe.
 *
 * Why: libhdf5 1.10 (Debian 12) is not memory-safe on every corrupted file.
 * Its variable-length string reader trusts the lengths and heap indices it
 * decodes (H5HG_read / H5T__conv_vlen), so a few flipped bits in a Keras
 * 2.7+ file can make it read or write out of bounds or loop for ever; a
 * fuzz run over bit-flipped copies of the shared Keras files crashed or hung
 * it about once in a hundred. keras_hdf5.c refuses the corrupt heaps it can
 * recognize, and the child process contains the rest: a crash becomes a
 * clean ONNXC_ERR_PARSE, a hang a refusal after a deadline.
 *
 * The child resets crash-signal handlers (a host's handler must not run on
 * libhdf5's fault), caps the memory it may add to what it inherited (a
 * corrupt length or B-tree can make libhdf5 allocate without bound, which
 * the deadline alone would let grow until it expires), writes {status,
 * message, bytes} and leaves with _exit, so no atexit handler or stdio
 * buffer of the host runs twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "keras.h"
#include "keras_hdf5.h"

/* What the child writes: this header, the message, the ONNX bytes. */
typedef struct reply {
    int32_t status;
    uint32_t msg_len;
    uint64_t size;
} reply;

/* Seconds the child may take: generous for the file's size (libhdf5 and
 * the builder run at hundreds of MB/s; a 5 MB model converts in well under
 * a second, sanitizers included), so only a hang reaches it, and a caller
 * with its own timeout still gets a refusal rather than a kill. */
static int deadline_s(const char *path)
{
    struct stat st;
    uint64_t mb = stat(path, &st) == 0 ? (uint64_t)st.st_size >> 20 : 0;
    return (int)(10 + (mb > 100000 ? 100000 : mb) / 4);
}

static bool write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}

/* Address space the child may map beyond what it inherited: the file is
 * held once in memory, the weights a few times over (HDF5 reads, the ONNX
 * builder, the reply), plus 512 MiB for libhdf5 itself and for a
 * sanitizer's quarantine in test builds. fuzz_keras found an 11 KB file
 * whose corrupt symbol-table B-tree has libhdf5 allocate small blocks
 * without end (tests/fuzz_regressions/keras-sandbox); with the cap the
 * allocation fails at the limit and the file is refused. */
static void cap_memory(const char *path)
{
    struct stat st;
    uint64_t file = stat(path, &st) == 0 && st.st_size > 0 ? (uint64_t)st.st_size : 0;
    uint64_t budget = ((uint64_t)512 << 20) + (file > ((uint64_t)1 << 40) ? ((uint64_t)1 << 43) : 8 * file);
    /* What the child inherited: the first field of statm, in pages. */
    char text[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
    if (fd >= 0) close(fd);
    if (n <= 0) return;
    text[n] = '\0';
    long page = sysconf(_SC_PAGESIZE);
    unsigned long long pages = strtoull(text, NULL, 10);
    if (page <= 0 || pages == 0 || pages > UINT64_MAX / (uint64_t)page) return;
    uint64_t inherited = pages * (uint64_t)page;
    if (inherited > UINT64_MAX - budget) return;
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0) return;
    rlim_t want = (rlim_t)(inherited + budget);
    if (rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max) want = rl.rlim_max;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= want) return;
    rl.rlim_cur = want;
    setrlimit(RLIMIT_AS, &rl);
}

static void child(int fd, const char *path, const char *arch_spec, const onnxc_limits *limits)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGSYS, SIGPIPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], SIG_DFL);
    /* Whatever libhdf5 (or a sanitizer) says on its way down goes nowhere:
     * the library never prints on the host's streams. */
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        close(null);
    }
    oc_h5_fork_child();
    cap_memory(path);
    onnxc_error err;
    oc_error_clear(&err);
    void *bytes = NULL;
    size_t size = 0;
    onnxc_status st = oc_keras_convert_local(path, arch_spec, limits, &bytes, &size, &err);
    reply r = {.status = (int32_t)st, .msg_len = (uint32_t)strlen(err.message), .size = st == ONNXC_OK ? size : 0};
    bool ok = write_all(fd, &r, sizeof r) && write_all(fd, err.message, r.msg_len) &&
              (st != ONNXC_OK || write_all(fd, bytes, size));
    _exit(ok ? 0 : 1);
}

/* Read exactly n bytes before the deadline; false on EOF, error or time. */
static bool read_all(int fd, void *p, size_t n, const struct timespec *deadline, bool *timed_out)
{
    char *c = p;
    while (n > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long ms = (deadline->tv_sec - now.tv_sec) * 1000LL + (deadline->tv_nsec - now.tv_nsec) / 1000000;
        if (ms <= 0) {
            *timed_out = true;
            return false;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, ms > 60000 ? 60000 : (int)ms);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0) return false;
        if (pr == 0) continue;
        ssize_t r = read(fd, c, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

/* The child's result, or a refusal naming how it ended. */
static onnxc_status parent(int fd, pid_t pid, const char *path, const onnxc_limits *limits, void **onnx,
                           size_t *size, onnxc_error *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int limit_s = deadline_s(path);
    deadline.tv_sec += limit_s;
    bool timed_out = false;
    reply r;
    onnxc_status st = ONNXC_OK;
    char *buf = NULL;
    bool got = read_all(fd, &r, sizeof r, &deadline, &timed_out);
    /* The ONNX bytes are about the size of the weights, which the limits cap. */
    uint64_t slack = 64u << 20, cap = limits->max_file_bytes > UINT64_MAX - slack ? UINT64_MAX
                                                                                  : limits->max_file_bytes + slack;
    if (got && (r.msg_len >= ONNXC_ERROR_MESSAGE_SIZE || r.size > cap || r.size > SIZE_MAX / 2))
        got = false;
    if (got) {
        char msg[ONNXC_ERROR_MESSAGE_SIZE];
        got = read_all(fd, msg, r.msg_len, &deadline, &timed_out);
        msg[got ? r.msg_len : 0] = '\0';
        if (got && r.status != ONNXC_OK) {
            /* A status the library does not have (a damaged reply) is a
             * refusal of the file, not anything the caller did. */
            st = r.status > ONNXC_OK && r.status <= ONNXC_ERR_NUMERIC ? (onnxc_status)r.status : ONNXC_ERR_PARSE;
            if (err) {
                err->status = st;
                memcpy(err->message, msg, (size_t)r.msg_len + 1);
            }
        } else if (got) {
            buf = oc_malloc(r.size ? (size_t)r.size : 1);
            if (!buf) st = oc_fail(err, ONNXC_ERR_NOMEM, "%s: out of memory for %llu bytes", path,
                                   (unsigned long long)r.size);
            else got = read_all(fd, buf, (size_t)r.size, &deadline, &timed_out);
        }
    }
    if (timed_out) kill(pid, SIGKILL);
    close(fd);
    int ws = 0;
    pid_t w;
    while ((w = waitpid(pid, &ws, 0)) < 0 && errno == EINTR) {}
    if (st == ONNXC_OK && !got) {
        oc_free(buf);
        buf = NULL;
        if (timed_out)
            st = oc_fail(err, ONNXC_ERR_PARSE,
                         "%s: reading the file did not finish in %d s (libhdf5 looping on a corrupt file?); refused",
                         path, limit_s);
        else if (w == pid && WIFSIGNALED(ws))
            st = oc_fail(err, ONNXC_ERR_PARSE,
                         "%s: the file crashed the HDF5/zip reader (signal %d): it is corrupt; refused", path,
                         WTERMSIG(ws));
        else
            st = oc_fail(err, ONNXC_ERR_PARSE, "%s: the reader process failed (exit status %d): corrupt file?",
                         path, w == pid && WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    }
    if (st == ONNXC_OK) {
        *onnx = buf;
        *size = (size_t)r.size;
    }
    return st;
}

onnxc_status oc_keras_to_onnx(const char *path, const char *arch_spec, const onnxc_limits *limits,
                              void **onnx, size_t *size, onnxc_error *err)
{
    if (!path || !onnx || !size) return oc_fail(err, ONNXC_ERR_ARGUMENT, "oc_keras_to_onnx: NULL argument");
    onnxc_limits lim;
    if (limits) lim = *limits;
    else onnxc_limits_default(&lim);
    *onnx = NULL;
    *size = 0;
    int fds[2];
    /* Without a pipe or a process (no fork under strict overcommit, or a
     * process limit) convert here: less isolated, but still converting. */
    if (pipe(fds) != 0) return oc_keras_convert_local(path, arch_spec, &lim, onnx, size, err);
    /* Not inherited by programs the host starts later. */
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    oc_h5_fork_prepare();
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        child(fds[1], path, arch_spec, &lim);
    }
    oc_h5_fork_parent();
    close(fds[1]);
    if (pid < 0) {
        close(fds[0]);
        return oc_keras_convert_local(path, arch_spec, &lim, onnx, size, err);
    }
    return parent(fds[0], pid, path, &lim, onnx, size, err);
}
