/*
 * The Python binding (python/onnxc) through its own unittest suite,
 * python/tests/test_binding.py, run by /usr/bin/python3 against this build's
 * libonnxc.so. The suite compares with the same outside references as the C
 * tests (ONNX Runtime outputs in shared/models/real, Fashion-MNIST labels,
 * numpy forward passes, the onnx package's reader).
 *
 * This test also hands the suite the C compiler's layout of every public
 * structure (its sizeof, and each field's offsetof and sizeof, in
 * $ONNXC_ABI), which the suite checks against the ctypes declarations in
 * python/onnxc/_lib.py: a field added to onnxc.h, or a type changed, without
 * the binding following fails here.
 *
 * Under AddressSanitizer the library needs the sanitizer runtimes loaded
 * first, so the ones this test process runs with are passed in LD_PRELOAD;
 * leak checking is off for the child, as CPython does not free everything at
 * exit.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <link.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc.h"
#include "testutil.h"

#define PY "/usr/bin/python3"
#define SUITE ONNXC_SOURCE_DIR "/python/tests/test_binding.py"
#define LIBRARY ONNXC_BINARY_DIR "/libonnxc.so"

/* ---- layout of the public structures ------------------------------------- */

typedef struct field {
    const char *name;
    size_t offset, size;
} field;

#define F(type, member) {#member, offsetof(type, member), sizeof(((type *)0)->member)}

/* Append "name=size:f@off+size,f@off+size;" to buf. */
static void put_struct(char *buf, size_t size, const char *name, size_t sz, const field *f,
                       size_t n)
{
    size_t used = strlen(buf);
    used += (size_t)snprintf(buf + used, size - used, "%s=%zu:", name, sz);
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s@%zu+%zu", i ? "," : "",
                                 f[i].name, f[i].offset, f[i].size);
    if (used < size) snprintf(buf + used, size - used, ";");
}

#define PUT(buf, type, ...)                                                                   \
    do {                                                                                      \
        const field fields_[] = {__VA_ARGS__};                                                \
        put_struct(buf, sizeof buf, #type, sizeof(type), fields_,                             \
                   sizeof fields_ / sizeof fields_[0]);                                        \
    } while (0)

static void abi_string(char (*out)[4096])
{
    char buf[4096] = "";
    PUT(buf, onnxc_error, F(onnxc_error, status), F(onnxc_error, message));
    PUT(buf, onnxc_tensor, F(onnxc_tensor, name), F(onnxc_tensor, dtype), F(onnxc_tensor, rank),
        F(onnxc_tensor, dims), F(onnxc_tensor, data), F(onnxc_tensor, capacity));
    PUT(buf, onnxc_limits, F(onnxc_limits, max_file_bytes), F(onnxc_limits, max_tensor_bytes),
        F(onnxc_limits, max_total_bytes), F(onnxc_limits, max_nodes),
        F(onnxc_limits, max_graph_depth));
    PUT(buf, onnxc_save_options, F(onnxc_save_options, external_data),
        F(onnxc_save_options, external_threshold), F(onnxc_save_options, external_file));
    PUT(buf, onnxc_value_info, F(onnxc_value_info, name), F(onnxc_value_info, dtype),
        F(onnxc_value_info, rank), F(onnxc_value_info, dims), F(onnxc_value_info, dim_names));
    PUT(buf, onnxc_model_meta, F(onnxc_model_meta, ir_version),
        F(onnxc_model_meta, producer_name), F(onnxc_model_meta, producer_version),
        F(onnxc_model_meta, graph_name), F(onnxc_model_meta, opset_onnx),
        F(onnxc_model_meta, opset_count));
    PUT(buf, onnxc_node_info, F(onnxc_node_info, name), F(onnxc_node_info, op_type),
        F(onnxc_node_info, domain), F(onnxc_node_info, input_count),
        F(onnxc_node_info, output_count), F(onnxc_node_info, first_output),
        F(onnxc_node_info, param_count));
    PUT(buf, onnxc_node_shape, F(onnxc_node_shape, dtype), F(onnxc_node_shape, rank),
        F(onnxc_node_shape, dims), F(onnxc_node_shape, dim_names));
    PUT(buf, onnxc_session_options, F(onnxc_session_options, threads),
        F(onnxc_session_options, seed));
    PUT(buf, onnxc_optimizer, F(onnxc_optimizer, kind), F(onnxc_optimizer, learning_rate),
        F(onnxc_optimizer, beta_1), F(onnxc_optimizer, beta_2), F(onnxc_optimizer, epsilon),
        F(onnxc_optimizer, momentum), F(onnxc_optimizer, rho), F(onnxc_optimizer, weight_decay),
        F(onnxc_optimizer, initial_accumulator_value));
    PUT(buf, onnxc_trainer_options, F(onnxc_trainer_options, loss),
        F(onnxc_trainer_options, optimizer), F(onnxc_trainer_options, threads),
        F(onnxc_trainer_options, seed), F(onnxc_trainer_options, from_logits));
    PUT(buf, onnxc_batch_result, F(onnxc_batch_result, loss), F(onnxc_batch_result, correct),
        F(onnxc_batch_result, count));
    PUT(buf, onnxc_epoch_log, F(onnxc_epoch_log, epoch), F(onnxc_epoch_log, loss),
        F(onnxc_epoch_log, accuracy), F(onnxc_epoch_log, has_validation),
        F(onnxc_epoch_log, val_loss), F(onnxc_epoch_log, val_accuracy),
        F(onnxc_epoch_log, seconds), F(onnxc_epoch_log, samples_per_second),
        F(onnxc_epoch_log, data_seconds), F(onnxc_epoch_log, one_thread_steps));
    PUT(buf, onnxc_fit_options, F(onnxc_fit_options, epochs), F(onnxc_fit_options, batch_size),
        F(onnxc_fit_options, validation_split), F(onnxc_fit_options, validation),
        F(onnxc_fit_options, no_shuffle), F(onnxc_fit_options, checkpoint_path),
        F(onnxc_fit_options, resume_path), F(onnxc_fit_options, progress),
        F(onnxc_fit_options, progress_user));
    memcpy(*out, buf, sizeof buf);
}

/* ---- sanitizer runtimes --------------------------------------------------- */


#ifdef TU_SANITIZED
typedef struct preload {
    char list[2048];
} preload;

/* Every loaded libasan/libubsan, ':'-separated, in load order (asan first). */
static int find_sanitizers(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    preload *p = data;
    const char *base = strrchr(info->dlpi_name, '/');
    base = base ? base + 1 : info->dlpi_name;
    if (strncmp(base, "libasan.so", 10) == 0 || strncmp(base, "libubsan.so", 11) == 0 ||
        strncmp(base, "libclang_rt.asan", 16) == 0) {
        size_t used = strlen(p->list);
        snprintf(p->list + used, sizeof p->list - used, "%s%s", used ? ":" : "",
                 info->dlpi_name);
    }
    return 0;
}

static void sanitizer_env(void)
{
    preload p = {""};
    dl_iterate_phdr(find_sanitizers, &p);
    cr_assert(p.list[0] != '\0', "built with AddressSanitizer, but no libasan is loaded");
    setenv("LD_PRELOAD", p.list, 1);
    const char *old = getenv("ASAN_OPTIONS");
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%sdetect_leaks=0", old ? old : "", old && *old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
}
#endif

/* ---- the suite ------------------------------------------------------------- */

Test(python, binding_suite, .timeout = 850)
{
    cr_assert(tu_exists(PY), "%s is missing: the Python binding cannot be tested", PY);
    cr_assert(tu_exists(LIBRARY), "%s was not built", LIBRARY);

    char abi[4096];
    abi_string(&abi);
    setenv("ONNXC_ABI", abi, 1);
    setenv("ONNXC_LIBRARY", LIBRARY, 1);
    setenv("ONNXC_SHARED_DIR", ONNXC_SHARED_DIR, 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1);   /* leave the source tree clean */
    unsetenv("PYTHONPATH");                      /* the suite finds python/onnxc itself */
#ifdef TU_SANITIZED
    sanitizer_env();
#endif

    const char *argv[] = {PY, SUITE, "-v", NULL};
    tu_proc p;
    tu_run(argv, 840, &p);
    /* unittest reports on stderr; show it all on failure. */
    cr_assert_eq(p.status, 0, "`%s %s -v` exited %d\nstdout:\n%s\nstderr:\n%s", PY, SUITE,
                 p.status, p.out, p.err);
    /* A suite that silently ran nothing must not pass. */
    cr_assert(strstr(p.err, "Ran ") != NULL && strstr(p.err, "\nOK") != NULL,
              "the Python suite did not report success:\n%s", p.err);
    tu_proc_free(&p);
}
