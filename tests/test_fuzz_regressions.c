/*
 * Every input with which a fuzzer (fuzz/, scripts/fuzz.sh) found a bug,
 * replayed through the entry of the target that found it:
 *
 *     tests/fuzz_regressions/<target>/<name>   target: onnx npy idx keras spec cli
 *
 * The entries (fuzz/fuzz_entries.c, fuzz/fuzz_cli_entry.c) are compiled
 * into this test, so a file goes through exactly the calls and contract
 * checks it went through under libFuzzer, here in the ordinary build (and
 * under ASan + UBSan in the sanitizer pass). Passing means: no crash, no
 * sanitizer report, and the contract holds (a refusal is clean, with a
 * message; what loads re-saves and reloads; no HDF5 handle left open).
 * Command lines run the real onnxc binary in a fresh empty folder.
 *
 *     tests/fuzz_regressions/keras-sandbox/<name>
 *
 * holds files on which libhdf5 itself loops or allocates without bound;
 * those cannot run in this process, so they go through the public,
 * process-isolated onnxc_model_load_keras, which must refuse them quickly
 * with a message.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "onnxc.h"
#include "testutil.h"

/* tests/CMakeLists.txt builds each test from its one file plus
 * tests/support; the entries live with the fuzz targets they serve. */
#include "../fuzz/fuzz_cli_entry.c"
#include "../fuzz/fuzz_entries.c"

/* libhdf5 mallocs sizes read from corrupt headers and copes with NULL;
 * under ASan such a request must return NULL too (as in test_keras.c).
 * Full malloc stacks: libhdf5 has no frame pointers, and the suppression
 * below names a libhdf5 function. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1:fast_unwind_on_malloc=0"; }

/* Leaks inside libhdf5 on corrupt files, not caused by onnxc (see
 * fuzz/lsan.supp, which scripts/fuzz.sh uses). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:H5G_mkroot\nleak:H5O__obj_class\n"; }

#define REGRESSIONS ONNXC_SOURCE_DIR "/tests/fuzz_regressions"

typedef int (*entry_fn)(const uint8_t *data, size_t size);

/* Feed every file of tests/fuzz_regressions/<target> to `entry`. */
static void replay(const char *target, entry_fn entry)
{
    char *dir = tu_path("%s/%s", REGRESSIONS, target);
    size_t n = 0;
    char **files = tu_is_dir(dir) ? tu_list(dir, "", &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t size;
        cr_assert(tu_read_file(files[i], &data, &size), "cannot read %s", files[i]);
        cr_log_info("%s: %s (%zu bytes)", target, files[i], size);
        entry(data, size);
        free(data);
    }
    tu_list_free(files, n);
    free(dir);
}

TestSuite(fuzz_regressions, .timeout = 600);

Test(fuzz_regressions, onnx) { replay("onnx", oc_fuzz_onnx); }
Test(fuzz_regressions, npy) { replay("npy", oc_fuzz_npy); }
Test(fuzz_regressions, idx) { replay("idx", oc_fuzz_idx); }
Test(fuzz_regressions, keras) { replay("keras", oc_fuzz_keras); }
Test(fuzz_regressions, spec) { replay("spec", oc_fuzz_spec); }

/* ------------------------------------------------------------------------ */
/* Command lines                                                             */

/* The seconds one command line may take before it counts as a hang. */
#define CLI_LIMIT_S 60

/* Exit code of the last command line run_cli ran. */
static int last_rc = -1;

/* Run the onnxc binary with argv (argv[0] "onnxc") in the current folder;
 * the exit code, or 128 + the signal that ended it. */
static int run_cli(int argc, char **argv)
{
    (void)argc;
    pid_t pid = fork();
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, STDIN_FILENO);
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
        }
        /* A sanitizer report must end in a signal, not exit status 1 (a
         * usage error). */
        const char *asan = getenv("ASAN_OPTIONS");
        char opts[1024];
        snprintf(opts, sizeof opts, "%s%sabort_on_error=1", asan ? asan : "", asan && *asan ? ":" : "");
        setenv("ASAN_OPTIONS", opts, 1);
        setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1", 1);
        alarm(CLI_LIMIT_S); /* survives exec: a hang ends in SIGALRM */
        execv(ONNXC_CLI, argv);
        _exit(127);
    }
    cr_assert(pid > 0, "fork: %s", strerror(errno));
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    last_rc = WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
    return last_rc;
}

static int cli_entry(const uint8_t *data, size_t size) { return oc_fuzz_cli(data, size, run_cli); }

Test(fuzz_regressions, cli)
{
    /* The runner itself, on lines that must succeed: help, and `init`
     * writing a model into the empty folder. */
    static const char *const smoke[] = {"--help", "info\n--help", "init\n3,2:relu,1\n-o\nm.onnx"};
    for (size_t i = 0; i < sizeof smoke / sizeof smoke[0]; i++) {
        last_rc = -1;
        cr_expect_eq(cli_entry((const uint8_t *)smoke[i], strlen(smoke[i])), 0, "'%s' was refused", smoke[i]);
        cr_expect_eq(last_rc, 0, "'%s' exited %d", smoke[i], last_rc);
    }
    /* Refused before anything runs: a path, stdin. */
    static const char *const refused[] = {"info\n/etc/passwd", "run\nm.onnx\n-i\n-"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        cr_expect_eq(cli_entry((const uint8_t *)refused[i], strlen(refused[i])), -1, "'%s' ran", refused[i]);
    replay("cli", cli_entry);
}

/* ------------------------------------------------------------------------ */
/* libhdf5's own failures, through the process-isolated importer            */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

Test(fuzz_regressions, keras_sandbox)
{
    char *dir = tu_path("%s/keras-sandbox", REGRESSIONS);
    size_t n = 0;
    char **files = tu_is_dir(dir) ? tu_list(dir, "", &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        onnxc_error err;
        onnxc_model *m = NULL;
        double t0 = now_s();
        onnxc_status st = onnxc_model_load_keras(files[i], "3,2:relu,1", NULL, &m, &err);
        double dt = now_s() - t0;
        cr_expect_neq(st, ONNXC_OK, "%s: expected a refusal", files[i]);
        cr_expect(st == ONNXC_OK || err.message[0], "%s: refused without a message", files[i]);
        /* Well inside the importer's 30 s deadline: the memory cap, not
         * the clock, must stop libhdf5. */
        cr_expect(dt < 20, "%s: took %.1f s", files[i], dt);
        cr_log_info("%s: %.2f s: %s", files[i], dt, st == ONNXC_OK ? "loaded" : err.message);
        onnxc_model_free(m);
    }
    tu_list_free(files, n);
    free(dir);
}
