/*
 * "The library never exits, aborts or prints on bad input" (include/onnxc.h),
 * checked on the built binaries rather than by reading the source: the
 * undefined symbols of libonnxc.so (`nm -D --undefined-only`) may not
 * include anything that ends the process or writes to the host's streams,
 * and the few process-control calls the Keras sandbox needs are confined to
 * its object file (`nm --undefined-only libonnxc.a`, per member).
 *
 * Allowed, and why:
 *   - _exit, fork, kill, signal, write in keras_sandbox.c.o only: the Keras
 *     converter runs in a forked child (libhdf5 is not memory-safe on
 *     corrupt files), which resets crash handlers, writes its result to a
 *     pipe and leaves with _exit so no atexit handler or stdio buffer of the
 *     host runs twice; the parent SIGKILLs a child past its deadline.
 *   - __assert_fail in builds without NDEBUG: asserts guard internal
 *     invariants (STYLE.md), never input checks, and NDEBUG builds (Release,
 *     RelWithDebInfo: what is installed and what CI tests) compile them out,
 *     so there it must not appear at all.
 *   - __stack_chk_fail: the compiler's stack protector, not a library call.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define SHARED_LIB ONNXC_BINARY_DIR "/libonnxc.so"
#define STATIC_LIB ONNXC_BINARY_DIR "/libonnxc.a"

/* Symbols library code must never reference. */
static const char *const forbidden[] = {
    "exit", "_Exit", "abort", "quick_exit", "at_quick_exit", "__assert_perror_fail",
    "err", "errx", "verr", "verrx", "warn", "warnx", "error", "error_at_line",
    "printf", "vprintf", "__printf_chk", "__vprintf_chk", "puts", "putchar", "perror", "psignal",
    "stdout", "stderr", "system", "popen", "execv", "execve", "execvp", "execl", "execlp", "execle",
    "raise", "pthread_exit",
};

/* Allowed only inside keras_sandbox.c.o (see the top of the file). */
static const char *const sandbox_only[] = {"_exit", "fork", "kill", "signal", "write"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(name, list[i])) return true;
    return false;
}

/* "name@GLIBC_2.2.5" or "name@@..." -> "name" (in place). */
static char *bare(char *sym)
{
    char *at = strchr(sym, '@');
    if (at) *at = '\0';
    return sym;
}

static tu_proc nm(const char *const *argv)
{
    cr_assert(tu_have_program("nm"), "nm (binutils) is needed to inspect the library");
    tu_proc p;
    tu_run(argv, 120, &p);
    cr_assert_eq(p.status, 0, "nm failed: %s", p.err);
    return p;
}

Test(no_exit, shared_library_imports_nothing_that_ends_the_process)
{
    tu_proc p = nm((const char *[]){"nm", "-D", "--undefined-only", SHARED_LIB, NULL});
    size_t symbols = 0;
    char *save = NULL;
    for (char *line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char kind[8], sym[512];
        if (sscanf(line, " %7s %511s", kind, sym) != 2) continue;
        const char *name = bare(sym);
        symbols++;
        cr_expect(!in_list(name, forbidden, sizeof forbidden / sizeof forbidden[0]),
                  "libonnxc.so calls %s: library code must return an error status instead", name);
#ifdef NDEBUG
        cr_expect(strcmp(name, "__assert_fail") != 0,
                  "libonnxc.so calls __assert_fail although NDEBUG is set: an abort outside an assert()");
#endif
    }
    cr_expect_gt(symbols, 20, "nm listed only %zu undefined symbols; wrong file?", symbols);
    tu_proc_free(&p);
}

Test(no_exit, process_control_only_in_the_keras_sandbox)
{
    tu_proc p = nm((const char *[]){"nm", "--undefined-only", STATIC_LIB, NULL});
    char object[512] = "";
    size_t objects = 0, sandbox_hits = 0;
    char *save = NULL;
    for (char *line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        size_t len = strlen(line);
        if (len > 3 && !strcmp(line + len - 3, ".o:")) {
            snprintf(object, sizeof object, "%.*s", (int)(len - 1), line);
            objects++;
            continue;
        }
        char kind[8], sym[512];
        if (sscanf(line, " %7s %511s", kind, sym) != 2) continue;
        const char *name = bare(sym);
        if (!in_list(name, sandbox_only, sizeof sandbox_only / sizeof sandbox_only[0])) continue;
        bool sandbox = strstr(object, "keras_sandbox") != NULL;
        sandbox_hits += sandbox;
        cr_expect(sandbox, "%s calls %s; only the Keras sandbox (keras_sandbox.c) may", object, name);
    }
    cr_expect_gt(objects, 20, "nm listed only %zu objects in %s", objects, STATIC_LIB);
    cr_expect_gt(sandbox_hits, 0, "keras_sandbox.c.o no longer forks: update this test and SECURITY.md");
    tu_proc_free(&p);
}
