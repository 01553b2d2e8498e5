/*
 * `cmake --install` gives a usable package: the shared library with a
 * versioned soname that exports only the onnxc_* API, the header, the CLI, a
 * pkg-config file and a CMake package config. Each test installs this build
 * tree into a fresh temporary prefix and uses it from the outside, as a user
 * would: tests/install/consumer.c (public API only) is compiled once with
 * `cc $(pkg-config --cflags --libs onnxc)` and once as a CMake project with
 * find_package(onnxc) (shared and static), then run on a real model; its
 * printed output must match the model's reference output (.output.npy,
 * written by the original framework).
 *
 * In a sanitizer build the installed library is instrumented, so the
 * consumers are compiled with the same -fsanitize flags (an uninstrumented
 * program cannot load an ASan library).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compare.h"
#include "onnxc.h"
#include "testutil.h"

#define CONSUMER_DIR ONNXC_SOURCE_DIR "/tests/install"
#define MODEL ONNXC_SHARED_DIR "/models/real/tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist"
#define REAL_TOL 1e-4

#ifdef TU_SANITIZED
#define SAN_FLAGS "-fsanitize=address,undefined -fno-omit-frame-pointer"
#else
#define SAN_FLAGS ""
#endif

/* A fresh install of this build tree. */
typedef struct install {
    char *tmp;      /* temporary folder holding everything */
    char *prefix;   /* <tmp>/prefix */
    char *libdir;   /* folder of libonnxc.so (lib, lib64 or lib/<multiarch>) */
} install;

/* Run argv with a generous timeout; fail the test, with its output, unless
 * it exits 0. Returns stdout (caller frees). */
static char *must_run(const char *const *argv, unsigned timeout_s)
{
    tu_proc p;
    tu_run(argv, timeout_s, &p);
    char *cmd = tu_argv_str(argv);
    cr_assert_eq(p.status, 0, "`%s` exited %d\nstdout: %s\nstderr: %s", cmd, p.status, p.out,
                 p.err);
    free(cmd);
    free(p.err);
    return p.out;
}

/* `sh -c script`, for commands that need $(...) or environment settings. */
static char *must_sh(const char *script, unsigned timeout_s)
{
    return must_run((const char *[]){"/bin/sh", "-c", script, NULL}, timeout_s);
}

/* First folder under `dir` (depth-first, sorted) that holds a file `name`. */
static char *find_dir_with(const char *dir, const char *name, int depth)
{
    char *candidate = tu_path("%s/%s", dir, name);
    bool here = tu_exists(candidate);
    free(candidate);
    if (here) return tu_strdup(dir);
    if (depth == 0) return NULL;
    size_t n;
    char **entries = tu_list(dir, "", &n);
    char *found = NULL;
    for (size_t i = 0; i < n && !found; i++)
        if (tu_is_dir(entries[i])) found = find_dir_with(entries[i], name, depth - 1);
    tu_list_free(entries, n);
    return found;
}

static void install_tree(install *in)
{
    const char *tools[] = {"cmake", "cc", "pkg-config", "nm", "readelf"};
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++)
        cr_assert(tu_have_program(tools[i]), "the install test needs `%s` in PATH", tools[i]);
    /* ctest builds the test executables' dependencies only; installing
     * needs every installed target (`cmake --build` builds them all). */
    const char *built[] = {ONNXC_BINARY_DIR "/libonnxc.so", ONNXC_BINARY_DIR "/libonnxc.a"};
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++)
        cr_assert(tu_exists(built[i]), "%s is missing: build all targets before this test",
                  built[i]);
    in->tmp = tu_tmpdir("install");
    in->prefix = tu_path("%s/prefix", in->tmp);
    free(must_run((const char *[]){"cmake", "--install", ONNXC_BINARY_DIR, "--prefix", in->prefix,
                                   NULL},
                  300));
    in->libdir = find_dir_with(in->prefix, "libonnxc.so", 3);
    cr_assert_not_null(in->libdir, "no libonnxc.so anywhere under %s", in->prefix);
}

static void install_free(install *in)
{
    tu_rmtree(in->tmp);
    free(in->tmp);
    free(in->prefix);
    free(in->libdir);
}

/* Parses the consumer's printout (see consumer.c) and compares output 0 with
 * the model's reference output. */
static void check_consumer_output(const char *out, const char *how)
{
    char version[64], name[256], dtype[32], dims[128];
    int used = 0;
    cr_assert_eq(sscanf(out, "version %63s output %255s %31s %127s%n", version, name, dtype, dims,
                        &used),
                 4, "%s: consumer printed an unexpected header:\n%s", how, out);
    char want_version[64];
    snprintf(want_version, sizeof want_version, "%d.%d.%d", ONNXC_VERSION_MAJOR,
             ONNXC_VERSION_MINOR, ONNXC_VERSION_PATCH);
    cr_expect_str_eq(version, want_version, "%s: onnxc_version() of the installed library", how);
    cr_assert_str_eq(dtype, "float", "%s: output dtype", how);

    onnxc_tensor got = {.dtype = ONNXC_FLOAT};
    for (char *tok = strtok(dims, "x"); tok; tok = strtok(NULL, "x")) {
        cr_assert_lt(got.rank, ONNXC_MAX_RANK, "%s: too many dims", how);
        got.dims[got.rank++] = strtoll(tok, NULL, 10);
    }
    int64_t n = cmp_numel(&got);
    cr_assert_gt(n, 0, "%s: empty output", how);
    float *values = calloc((size_t)n, sizeof *values);
    cr_assert_not_null(values);
    const char *p = out + used;
    for (int64_t i = 0; i < n; i++) {
        char *end;
        values[i] = strtof(p, &end);
        cr_assert_neq(end, p, "%s: consumer printed fewer than %lld values", how, (long long)n);
        p = end;
    }
    got.data = values;

    onnxc_tensor want;
    char why[1024];
    cr_assert(tu_npy_read(MODEL ".output.npy", &want, why, sizeof why), "%s", why);
    cr_expect(cmp_tensor(&got, &want, cmp_abs_or_rel(REAL_TOL), why, sizeof why),
              "%s: output of the installed library differs from the reference: %s", how, why);
    free(want.data);
    free(values);
}

Test(install, layout_cli_soname_and_exports)
{
    install in;
    install_tree(&in);
    const char *files[] = {"include/onnxc.h", "bin/onnxc"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *f = tu_path("%s/%s", in.prefix, files[i]);
        cr_expect(tu_exists(f), "%s was not installed", f);
        free(f);
    }
    char *pc_dir = find_dir_with(in.prefix, "onnxc.pc", 4);
    char *config_dir = find_dir_with(in.prefix, "onnxcConfig.cmake", 5);
    cr_expect_not_null(pc_dir, "no onnxc.pc installed");
    cr_expect_not_null(config_dir, "no onnxcConfig.cmake installed");
    if (config_dir) {
        char *version_file = tu_path("%s/onnxcConfigVersion.cmake", config_dir);
        cr_expect(tu_exists(version_file), "no onnxcConfigVersion.cmake next to the config");
        free(version_file);
    }

    /* The installed CLI finds the installed library by itself (RUNPATH). */
    char *cli = tu_path("%s/bin/onnxc", in.prefix);
    char *out = must_run((const char *[]){cli, "--version", NULL}, 60);
    char want[64];
    snprintf(want, sizeof want, "onnxc %d.%d.%d\n", ONNXC_VERSION_MAJOR, ONNXC_VERSION_MINOR,
             ONNXC_VERSION_PATCH);
    cr_expect_str_eq(out, want, "installed `onnxc --version`");
    free(out);
    const char *model = MODEL ".onnx";
    out = must_run((const char *[]){cli, "check", model, NULL}, 60);
    free(out);

    /* libonnxc.so -> libonnxc.so.MAJOR -> libonnxc.so.MAJOR.MINOR.PATCH, and
     * the soname is the MAJOR name, so programs survive minor upgrades. */
    char *so = tu_path("%s/libonnxc.so", in.libdir);
    char *so_major = tu_path("%s/libonnxc.so.%d", in.libdir, ONNXC_VERSION_MAJOR);
    struct stat st;
    cr_expect(lstat(so_major, &st) == 0 && S_ISLNK(st.st_mode), "%s is not a symlink", so_major);
    cr_expect(lstat(so, &st) == 0 && S_ISLNK(st.st_mode), "%s is not a symlink", so);
    char real[PATH_MAX];
    cr_assert_not_null(realpath(so_major, real), "%s: %s", so_major, strerror(errno));
    char *real_name = tu_basename(real, NULL);
    char want_real[64];
    snprintf(want_real, sizeof want_real, "libonnxc.so.%d.%d.%d", ONNXC_VERSION_MAJOR,
             ONNXC_VERSION_MINOR, ONNXC_VERSION_PATCH);
    cr_expect_str_eq(real_name, want_real, "%s resolves to %s", so_major, real);
    free(real_name);

    out = must_run((const char *[]){"readelf", "-d", so_major, NULL}, 60);
    char want_soname[64];
    snprintf(want_soname, sizeof want_soname, "Library soname: [libonnxc.so.%d]",
             ONNXC_VERSION_MAJOR);
    cr_expect_not_null(strstr(out, want_soname), "readelf -d %s has no '%s':\n%s", so_major,
                       want_soname, out);
    free(out);

    /* Exported symbols: the public API and nothing else (the protobuf-c
     * generated onnx__* code, kernels and helpers stay hidden). */
    out = must_run((const char *[]){"nm", "-D", "--defined-only", so_major, NULL}, 60);
    int exported = 0, foreign = 0;
    char foreign_list[1024] = "";
    bool has_load = false;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        const char *sym = strrchr(line, ' ');
        sym = sym ? sym + 1 : line;
        exported++;
        if (!strcmp(sym, "onnxc_model_load")) has_load = true;
        if (strncmp(sym, "onnxc_", 6) != 0) {
            if (foreign++ < 10) {
                size_t used = strlen(foreign_list);
                snprintf(foreign_list + used, sizeof foreign_list - used, " %s", sym);
            }
        }
    }
    cr_expect_eq(foreign, 0, "%d of %d exported symbols are not onnxc_*, e.g.%s", foreign,
                 exported, foreign_list);
    cr_expect(has_load, "onnxc_model_load is not exported");
    free(out);

    /* Nothing installed may point back into the build or source tree. */
    char *script = tu_path("grep -rlF -e '%s' -e '%s' '%s' --include='*.cmake' --include='*.pc' "
                           "|| true",
                           ONNXC_BINARY_DIR, ONNXC_SOURCE_DIR, in.prefix);
    out = must_sh(script, 60);
    cr_expect_str_eq(out, "", "installed files mention the build or source tree:\n%s", out);
    free(out);
    free(script);

    free(so);
    free(so_major);
    free(cli);
    free(pc_dir);
    free(config_dir);
    install_free(&in);
}

Test(install, pkg_config_consumer)
{
    install in;
    install_tree(&in);
    char *pc_dir = find_dir_with(in.prefix, "onnxc.pc", 4);
    cr_assert_not_null(pc_dir, "no onnxc.pc installed");

    /* The .pc file must point at this prefix even though the build was
     * configured for another one. */
    char *script = tu_path("PKG_CONFIG_PATH='%s' pkg-config --cflags --libs onnxc", pc_dir);
    char *flags = must_sh(script, 60);
    free(script);
    cr_expect_not_null(strstr(flags, "-lonnxc"), "pkg-config --libs: %s", flags);
    char *inc = tu_path("%s/include", in.prefix);
    char *real_inc = realpath(inc, NULL);
    cr_assert_not_null(real_inc);
    /* Flags may spell the prefix through ${pcfiledir}/../..: resolve -I. */
    bool inc_ok = false;
    for (char *tok = strtok(flags, " \n"); tok; tok = strtok(NULL, " \n")) {
        if (strncmp(tok, "-I", 2) != 0) continue;
        char *r = realpath(tok + 2, NULL);
        if (r && !strcmp(r, real_inc)) inc_ok = true;
        free(r);
    }
    cr_expect(inc_ok, "pkg-config --cflags has no -I for %s", inc);
    free(flags);

    char *exe = tu_path("%s/consumer_pc", in.tmp);
    script = tu_path("cc %s -o '%s' '%s/consumer.c' $(PKG_CONFIG_PATH='%s' pkg-config --cflags "
                     "--libs onnxc)",
                     SAN_FLAGS, exe, CONSUMER_DIR, pc_dir);
    free(must_sh(script, 300));
    free(script);
    script = tu_path("LD_LIBRARY_PATH='%s' '%s' '%s.onnx' '%s.input.npy'", in.libdir, exe, MODEL,
                     MODEL);
    char *out = must_sh(script, 120);
    check_consumer_output(out, "pkg-config consumer");
    free(out);
    free(script);
    free(exe);
    free(inc);
    free(real_inc);
    free(pc_dir);
    install_free(&in);
}

/* Configure, build and run tests/install as a CMake project against the
 * installed package. */
static void cmake_consumer(bool static_link)
{
    install in;
    install_tree(&in);
    char *build = tu_path("%s/consumer-build", in.tmp);
    char *prefix_path = tu_path("-DCMAKE_PREFIX_PATH=%s", in.prefix);
    char *flags = tu_path("-DCMAKE_C_FLAGS=%s", SAN_FLAGS);
    const char *kind = static_link ? "-DONNXC_CONSUMER_STATIC=ON" : "-DONNXC_CONSUMER_STATIC=OFF";
    free(must_run((const char *[]){"cmake", "-S", CONSUMER_DIR, "-B", build, prefix_path, flags,
                                   kind, NULL},
                  300));
    free(must_run((const char *[]){"cmake", "--build", build, NULL}, 300));
    /* No LD_LIBRARY_PATH: CMake records the imported library's folder in the
     * build RUNPATH, which is part of what find_package provides. */
    char *exe = tu_path("%s/consumer", build);
    char *out = must_run((const char *[]){exe, MODEL ".onnx", MODEL ".input.npy", NULL}, 120);
    check_consumer_output(out, static_link ? "find_package consumer (static)"
                                           : "find_package consumer (shared)");
    free(out);
    free(exe);
    free(build);
    free(prefix_path);
    free(flags);
    install_free(&in);
}

Test(install, find_package_consumer_shared) { cmake_consumer(false); }

Test(install, find_package_consumer_static) { cmake_consumer(true); }
