/* Files, folders, processes and .npy for end-to-end tests; see testutil.h. */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "compare.h"

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "testutil: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

char *tu_path(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fprintf(stderr, "testutil: out of memory\n");
        abort();
    }
    return s;
}

char *tu_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

char *tu_tmpdir(const char *tag)
{
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0') base = "/tmp";
    char *path = tu_path("%s/onnxc-%s-XXXXXX", base, tag);
    if (mkdtemp(path) == NULL) {
        fprintf(stderr, "testutil: mkdtemp %s: %s\n", path, strerror(errno));
        abort();
    }
    return path;
}

void tu_rmtree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d != NULL) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char *child = tu_path("%s/%s", path, e->d_name);
                tu_rmtree(child);
                free(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

bool tu_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool tu_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t tu_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

bool tu_read_file(const char *path, void **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL) return false;
    size_t cap = 1 << 16, len = 0;
    char *buf = xmalloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len < cap) break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (nb == NULL) abort();
        buf = nb;
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return true;
}

bool tu_write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (f == NULL) return false;
    bool ok = fwrite(data, 1, size, f) == size;
    ok = (fclose(f) == 0) && ok;
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

char **tu_list(const char *dir, const char *suffix, size_t *count)
{
    *count = 0;
    size_t cap = 16;
    char **list = xmalloc(cap * sizeof *list);
    DIR *d = opendir(dir);
    if (d == NULL) return list;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if (!ends_with(e->d_name, suffix)) continue;
        if (*count == cap) {
            cap *= 2;
            char **nl = realloc(list, cap * sizeof *list);
            if (nl == NULL) abort();
            list = nl;
        }
        list[(*count)++] = tu_path("%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(list, *count, sizeof *list, cmp_str);
    return list;
}

void tu_list_free(char **list, size_t count)
{
    if (list == NULL) return;
    for (size_t i = 0; i < count; i++) free(list[i]);
    free(list);
}

size_t tu_count_files(const char *dir)
{
    size_t n = 0;
    char **files = tu_list(dir, "", &n); /* before n is read below */
    tu_list_free(files, n);
    return n;
}

tu_blob tu_blob_read(const char *path)
{
    tu_blob b = {0};
    if (!tu_read_file(path, &b.data, &b.size)) {
        fprintf(stderr, "testutil: cannot read %s\n", path);
        abort();
    }
    return b;
}

bool tu_blob_matches(const tu_blob *b, const char *path)
{
    void *d;
    size_t n;
    if (!tu_read_file(path, &d, &n)) return false;
    bool same = n == b->size && memcmp(d, b->data, n) == 0;
    free(d);
    return same;
}

char *tu_basename(const char *path, const char *suffix)
{
    const char *slash = strrchr(path, '/');
    char *name = tu_strdup(slash ? slash + 1 : path);
    if (suffix != NULL && *suffix && ends_with(name, suffix))
        name[strlen(name) - strlen(suffix)] = '\0';
    return name;
}

bool tu_have_program(const char *name)
{
    if (strchr(name, '/') != NULL) return access(name, X_OK) == 0;
    const char *path = getenv("PATH");
    if (path == NULL) return false;
    char *copy = tu_strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *full = tu_path("%s/%s", *dir ? dir : ".", name);
        found = access(full, X_OK) == 0 && !tu_is_dir(full);
        free(full);
    }
    free(copy);
    return found;
}

/* Read a whole (possibly empty) temporary capture file into a string. */
static char *slurp_fd(int fd)
{
    size_t cap = 4096, len = 0;
    char *buf = xmalloc(cap + 1);
    lseek(fd, 0, SEEK_SET);
    for (;;) {
        ssize_t got = read(fd, buf + len, cap - len);
        if (got <= 0) break;
        len += (size_t)got;
        if (len == cap) {
            cap *= 2;
            char *nb = realloc(buf, cap + 1);
            if (nb == NULL) abort();
            buf = nb;
        }
    }
    buf[len] = '\0';
    return buf;
}

/* An unlinked temporary file for capturing a child's output: files rather
 * than pipes, so a chatty child can never block on a full pipe. */
static int capture_fd(void)
{
    char tmpl[] = "/tmp/onnxc-capture-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0) {
        fprintf(stderr, "testutil: mkstemp: %s\n", strerror(errno));
        abort();
    }
    unlink(tmpl);
    return fd;
}

char *tu_generate(const char *script, const char *tag, unsigned timeout_s, char *why,
                  size_t why_size)
{
    char *dir = tu_tmpdir(tag);
    const char *argv[] = {"/usr/bin/python3", script, dir, NULL};
    tu_proc p;
    bool ok = tu_run(argv, timeout_s, &p);
    if (!ok) {
        snprintf(why, why_size, "%s failed (%d): %s", script, p.status, p.err ? p.err : "");
        tu_rmtree(dir);
        free(dir);
        dir = NULL;
    }
    tu_proc_free(&p);
    return dir;
}

bool tu_case_npy(const char *dir, const char *name, const char *suffix, onnxc_tensor *out,
                 char *why, size_t why_size)
{
    char *path = tu_path("%s/%s.%s.npy", dir, name, suffix);
    bool ok = tu_npy_read(path, out, why, why_size);
    if (!ok) {
        /* name the file in front of the reason */
        char reason[512];
        snprintf(reason, sizeof reason, "%s", why);
        snprintf(why, why_size, "%s: %s", path, reason);
    }
    free(path);
    return ok;
}

bool tu_run(const char *const *argv, unsigned timeout_s, tu_proc *p)
{
    p->status = -1;
    p->out = NULL;
    p->err = NULL;
    int out_fd = capture_fd(), err_fd = capture_fd();
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "testutil: fork: %s\n", strerror(errno));
        abort();
    }
    if (pid == 0) {
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd >= 0) dup2(null_fd, 0);
        dup2(out_fd, 1);
        dup2(err_fd, 2);
        /* SIGALRM's default action ends the program; the alarm survives exec. */
        signal(SIGALRM, SIG_DFL);
        if (timeout_s) alarm(timeout_s);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "cannot execute %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR) {
            st = -1;
            break;
        }
    }
    if (st == -1) p->status = -1;
    else if (WIFEXITED(st)) p->status = WEXITSTATUS(st);
    else if (WIFSIGNALED(st)) p->status = 128 + WTERMSIG(st);
    p->out = slurp_fd(out_fd);
    p->err = slurp_fd(err_fd);
    close(out_fd);
    close(err_fd);
    return p->status == 0;
}

void tu_proc_free(tu_proc *p)
{
    free(p->out);
    free(p->err);
    p->out = p->err = NULL;
}

char *tu_argv_str(const char *const *argv)
{
    size_t len = 1;
    for (size_t i = 0; argv[i]; i++) len += strlen(argv[i]) + 1;
    char *s = xmalloc(len);
    s[0] = '\0';
    for (size_t i = 0; argv[i]; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* ---- .npy ---------------------------------------------------------------- */

static const struct {
    const char *descr; /* without the byte-order character */
    onnxc_dtype dtype;
} npy_types[] = {
    {"f4", ONNXC_FLOAT}, {"f8", ONNXC_DOUBLE}, {"i1", ONNXC_INT8},   {"i2", ONNXC_INT16},
    {"i4", ONNXC_INT32}, {"i8", ONNXC_INT64},  {"u1", ONNXC_UINT8},  {"u2", ONNXC_UINT16},
    {"u4", ONNXC_UINT32}, {"u8", ONNXC_UINT64}, {"b1", ONNXC_BOOL},  {"f2", ONNXC_FLOAT16},
};

/* Value text following 'key': in a header dict, or NULL. */
static const char *npy_field(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (p == NULL) return NULL;
    p = strchr(p + strlen(pat), ':');
    if (p == NULL) return NULL;
    p++;
    while (*p == ' ') p++;
    return p;
}

bool tu_npy_read(const char *path, onnxc_tensor *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof *out);
    void *raw = NULL;
    size_t size = 0;
    if (!tu_read_file(path, &raw, &size)) {
        snprintf(why, why_size, "%s: cannot read: %s", path, strerror(errno));
        return false;
    }
    const unsigned char *b = raw;
    bool ok = false;
    size_t hlen = 0, hstart = 0;
    if (size < 10 || memcmp(b, "\x93NUMPY", 6) != 0) {
        snprintf(why, why_size, "%s: not a .npy file (no \\x93NUMPY magic)", path);
        goto done;
    }
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if ((b[6] == 2 || b[6] == 3) && size >= 12) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        snprintf(why, why_size, "%s: npy format version %d.%d not supported", path, b[6], b[7]);
        goto done;
    }
    if (hstart + hlen > size) {
        snprintf(why, why_size, "%s: header of %zu bytes runs past the end", path, hlen);
        goto done;
    }
    char *hdr = xmalloc(hlen + 1);
    memcpy(hdr, b + hstart, hlen);
    hdr[hlen] = '\0';
    const char *descr = npy_field(hdr, "descr"), *fo = npy_field(hdr, "fortran_order"),
               *shape = npy_field(hdr, "shape");
    if (descr == NULL || fo == NULL || shape == NULL || *descr != '\'' || *shape != '(') {
        snprintf(why, why_size, "%s: header lacks descr/fortran_order/shape: %s", path, hdr);
        free(hdr);
        goto done;
    }
    if (strncmp(fo, "False", 5) != 0) {
        snprintf(why, why_size, "%s: Fortran-order arrays not supported", path);
        free(hdr);
        goto done;
    }
    /* descr is e.g. '<f4', '|b1'; big-endian '>' is refused. */
    char order = descr[1];
    out->dtype = ONNXC_UNDEFINED;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (strncmp(descr + 2, npy_types[i].descr, 2) == 0 && descr[4] == '\'')
            out->dtype = npy_types[i].dtype;
    if (out->dtype == ONNXC_UNDEFINED || order == '>') {
        snprintf(why, why_size, "%s: dtype %.6s not supported", path, descr);
        free(hdr);
        goto done;
    }
    const char *s = shape + 1;
    out->rank = 0;
    while (*s && *s != ')') {
        while (*s == ' ' || *s == ',') s++;
        if (*s == ')') break;
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s || v < 0 || out->rank == ONNXC_MAX_RANK) {
            snprintf(why, why_size, "%s: bad shape %s", path, shape);
            free(hdr);
            goto done;
        }
        out->dims[out->rank++] = v;
        s = end;
    }
    free(hdr);
    int64_t n = cmp_numel(out);
    size_t bytes = (size_t)n * cmp_dtype_size(out->dtype), start = hstart + hlen;
    if (n < 0 || size - start != bytes) {
        snprintf(why, why_size, "%s: expected %zu data bytes for the shape, found %zu", path,
                 bytes, size - start);
        goto done;
    }
    out->data = xmalloc(bytes);
    memcpy(out->data, b + start, bytes);
    out->capacity = bytes;
    ok = true;
done:
    free(raw);
    return ok;
}

bool tu_npy_write(const char *path, const onnxc_tensor *t)
{
    const char *d = NULL;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++)
        if (npy_types[i].dtype == t->dtype) d = npy_types[i].descr;
    int64_t n = cmp_numel(t);
    if (d == NULL || n < 0) return false;
    char shape[256];
    size_t used = (size_t)snprintf(shape, sizeof shape, "(");
    for (int i = 0; i < t->rank; i++)
        used += (size_t)snprintf(shape + used, sizeof shape - used, "%" PRId64 ",%s", t->dims[i],
                                 i + 1 < t->rank ? " " : "");
    if (t->rank > 1) shape[--used] = '\0'; /* numpy writes "(3, 4)" but "(3,)" */
    snprintf(shape + used, sizeof shape - used, ")");
    char dict[512];
    int dl = snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
                      t->dtype == ONNXC_BOOL || cmp_dtype_size(t->dtype) == 1 ? '|' : '<', d,
                      shape);
    /* Pad with spaces and a newline so data starts on a 64-byte boundary. */
    size_t total = 10 + (size_t)dl + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)dl + pad + 1;
    size_t bytes = (size_t)n * cmp_dtype_size(t->dtype);
    unsigned char *buf = xmalloc(10 + hlen + bytes);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, (size_t)dl);
    memset(buf + 10 + dl, ' ', pad);
    buf[10 + hlen - 1] = '\n';
    if (bytes) memcpy(buf + 10 + hlen, t->data, bytes);
    bool ok = tu_write_file(path, buf, 10 + hlen + bytes);
    free(buf);
    return ok;
}

/* ---- random numbers ------------------------------------------------------ */

uint64_t tu_rng_next(tu_rng *r)
{
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double tu_rng_uniform(tu_rng *r, double lo, double hi)
{
    /* 53 random bits -> [0, 1). */
    double u = (double)(tu_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return lo + (hi - lo) * u;
}

uint64_t tu_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool tu_initializer(const onnxc_model *m, const char *name, onnxc_tensor *out)
{
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++)
        if (onnxc_model_initializer(m, i, out) == ONNXC_OK && !strcmp(out->name, name)) return true;
    return false;
}

bool tu_weight_bytes(const onnxc_model *m, char **data, size_t *size)
{
    *data = NULL, *size = 0;
    for (size_t i = 0; i < onnxc_model_initializer_count(m); i++) {
        onnxc_tensor v;
        char *grown = onnxc_model_initializer(m, i, &v) == ONNXC_OK ? realloc(*data, *size + v.capacity + 1) : NULL;
        if (!grown) {
            free(*data);
            *data = NULL;
            return false;
        }
        *data = grown;
        memcpy(*data + *size, v.data, v.capacity);
        *size += v.capacity;
    }
    return true;
}

void tu_random_batch(int rows, int features, int classes, onnxc_tensor *x, onnxc_tensor *y)
{
    tu_rng r = {42};
    float *xd = malloc(sizeof(float) * (size_t)rows * (size_t)features);
    int64_t *yd = malloc(sizeof(int64_t) * (size_t)rows);
    for (int i = 0; xd && i < rows * features; i++) xd[i] = (float)tu_rng_uniform(&r, -1, 1);
    for (int i = 0; yd && i < rows; i++) yd[i] = (int64_t)(tu_rng_next(&r) % (uint64_t)classes);
    *x = (onnxc_tensor){.dtype = ONNXC_FLOAT, .rank = 2, .dims = {rows, features}, .data = xd};
    *y = (onnxc_tensor){.dtype = ONNXC_INT64, .rank = 1, .dims = {rows}, .data = yd};
}
