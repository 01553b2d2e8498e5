/*
 * `onnxc bench` through the executable:
 *
 *   - on a dense network from `onnxc init`, --json prints one object that
 *     Python's json module parses, with one result per --batch size holding
 *     positive timings in the order min <= median <= p90, exactly --iters
 *     calls, a throughput equal to batch / median, and --check-threads
 *     reporting bit-identical outputs at 1 and 2 threads;
 *   - the table form names the input, its batch dim, and the thread check;
 *   - integer inputs are synthesized (a Gather whose int64 indices must stay
 *     inside a 4-row table), a fixed-shape model runs at its own batch and
 *     refuses another, a string input is refused by name;
 *   - bad arguments exit 1 with a one-line message naming the option, and
 *     a missing file exits 2.
 *
 * The special models are written by the onnx Python package, independently
 * of onnxc's writer.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

/* Run onnxc with the arguments; fail with both streams unless it exits `code`. */
#define EXPECT_EXIT(p, code, ...)                                                                   \
    do {                                                                                            \
        const char *argv_[] = {ONNXC_CLI, __VA_ARGS__, NULL};                                       \
        tu_run(argv_, 300, (p));                                                                    \
        char *cmd_ = tu_argv_str(argv_);                                                            \
        cr_assert_eq((p)->status, (code), "`%s` exited %d, expected %d\nstdout: %s\nstderr: %s", cmd_, \
                     (p)->status, (code), (p)->out, (p)->err);                                      \
        free(cmd_);                                                                                 \
    } while (0)

/* Run a Python script with up to three arguments; it prints what is wrong
 * and exits 1 when anything is. */
static void python(const char *what, const char *script, const char *a1, const char *a2, const char *a3)
{
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_PYTHON, "-c", script, a1, a2, a3, NULL}, 120, &p);
    cr_assert_eq(p.status, 0, "%s: %s%s", what, p.out, p.err);
    tu_proc_free(&p);
}

/* argv: the JSON text, the comma list of batches, the --iters value. */
static const char json_check[] =
    "import sys, json\n"
    "r = json.loads(sys.argv[1]); batches = [int(b) for b in sys.argv[2].split(',')]; iters = int(sys.argv[3])\n"
    "bad = []\n"
    "if r['threads'] != 2: bad.append('threads %r' % r['threads'])\n"
    "if [x['batch'] for x in r['results']] != batches: bad.append('batches %r' % r['results'])\n"
    "for x in r['results']:\n"
    "    if x['iters'] != iters: bad.append('iters %r' % x)\n"
    "    if not (0 < x['min_us'] <= x['median_us'] <= x['p90_us']): bad.append('order %r' % x)\n"
    "    if not x['mean_us'] > 0: bad.append('mean %r' % x)\n"
    "    want = x['batch'] * 1e6 / x['median_us']\n"
    "    if abs(x['samples_per_s'] - want) > 1e-3 * want + 0.01: bad.append('throughput %r, want %g' % (x, want))\n"
    "c = r.get('check_threads')\n"
    "if c != {'threads': [1, 2], 'identical': True}: bad.append('check_threads %r' % c)\n"
    "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n";

/* argv: folder. gather.onnx: y = table[idx], idx int64 [N], table [4, 3];
 * fixed.onnx: Relu on x float [2, 3]; text.onnx: Identity on a string [N]. */
static const char make_models[] =
    "import sys, numpy as np, onnx\n"
    "from onnx import helper as h, TensorProto as T, numpy_helper as nh\n"
    "d = sys.argv[1]\n"
    "def save(name, nodes, ins, outs, inits=()):\n"
    "    m = h.make_model(h.make_graph(nodes, name, ins, outs, list(inits)), opset_imports=[h.make_opsetid('', 13)])\n"
    "    m.ir_version = 7; onnx.checker.check_model(m); onnx.save(m, d + '/' + name + '.onnx')\n"
    "table = nh.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), 'table')\n"
    "save('gather', [h.make_node('Gather', ['table', 'idx'], ['y'], axis=0)],\n"
    "     [h.make_tensor_value_info('idx', T.INT64, ['N'])], [h.make_tensor_value_info('y', T.FLOAT, ['N', 3])], [table])\n"
    "save('fixed', [h.make_node('Relu', ['x'], ['y'])],\n"
    "     [h.make_tensor_value_info('x', T.FLOAT, [2, 3])], [h.make_tensor_value_info('y', T.FLOAT, [2, 3])])\n"
    "save('text', [h.make_node('Identity', ['s'], ['t'])],\n"
    "     [h.make_tensor_value_info('s', T.STRING, ['N'])], [h.make_tensor_value_info('t', T.STRING, ['N'])])\n";

typedef struct fixture {
    char *dir, *dense;
} fixture;

static fixture setup_models(void)
{
    fixture f;
    f.dir = tu_tmpdir("bench");
    f.dense = tu_path("%s/dense.onnx", f.dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "init", "20,16:relu,8:relu,4:softmax", "-o", f.dense, "--seed", "3");
    tu_proc_free(&p);
    python("writing the test models", make_models, f.dir, NULL, NULL);
    return f;
}

static void teardown_models(fixture *f)
{
    tu_rmtree(f->dir);
    free(f->dir);
    free(f->dense);
}

Test(cli_bench, json_results_and_thread_check, .timeout = 300)
{
    fixture f = setup_models();
    tu_proc p;
    EXPECT_EXIT(&p, 0, "bench", f.dense, "--batch", "1,7,64", "--iters", "25", "--warmup", "2", "--threads", "2",
                "--check-threads", "--json");
    cr_expect_str_empty(p.err, "stderr: %s", p.err);
    python("bench --json", json_check, p.out, "1,7,64", "25");
    tu_proc_free(&p);

    /* The table: the input, its batch dim, one row per batch, the check. */
    EXPECT_EXIT(&p, 0, "bench", f.dense, "--batch", "3", "--seconds", "0.05", "--threads", "1", "--check-threads");
    cr_expect(strstr(p.out, "input 'input': float [N, 20], batch in dim 0"), "no input line: %s", p.out);
    cr_expect(strstr(p.out, "samples/s"), "no table header: %s", p.out);
    cr_expect(strstr(p.out, "threads 1 vs 2: outputs bit-identical at every batch size"), "%s", p.out);
    tu_proc_free(&p);
    teardown_models(&f);
}

Test(cli_bench, synthesized_inputs, .timeout = 300)
{
    fixture f = setup_models();
    tu_proc p;
    char *gather = tu_path("%s/gather.onnx", f.dir), *fixed = tu_path("%s/fixed.onnx", f.dir),
         *text = tu_path("%s/text.onnx", f.dir);
    /* int64 indices in 0..3: a value outside the table would fail the run. */
    EXPECT_EXIT(&p, 0, "bench", gather, "--batch", "1,100", "--iters", "5", "--check-threads");
    cr_expect(strstr(p.out, "input 'idx': int64 [N], batch in dim 0"), "%s", p.out);
    tu_proc_free(&p);

    /* A static model runs at its own batch, and says so when asked for another. */
    EXPECT_EXIT(&p, 0, "bench", fixed, "--iters", "5", "--json");
    cr_expect(strstr(p.out, "\"batch\":2,"), "%s", p.out);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 2, "bench", fixed, "--batch", "5", "--iters", "5");
    cr_expect(strstr(p.err, "fixed shape") && strstr(p.err, "expected --batch 2, got 5"), "%s", p.err);
    tu_proc_free(&p);

    EXPECT_EXIT(&p, 2, "bench", text, "--iters", "5");
    cr_expect(strstr(p.err, "input 's' has type string"), "%s", p.err);
    tu_proc_free(&p);
    free(gather);
    free(fixed);
    free(text);
    teardown_models(&f);
}

Test(cli_bench, bad_arguments, .timeout = 120)
{
    fixture f = setup_models();
    /* Each: arguments after `bench MODEL`, and a word the message must hold. */
    static const struct {
        const char *args[3];
        const char *says;
    } cases[] = {
        {{"--batch", "0"}, "--batch expects"},
        {{"--batch", "1,,2"}, "--batch expects"},
        {{"--batch", "4,"}, "--batch expects"},
        {{"--batch", "x"}, "--batch expects"},
        {{"--threads", "0"}, "--threads expects 1..4096, got '0'"},
        {{"--iters", "-3"}, "--iters expects"},
        {{"--seconds", "0"}, "--seconds expects"},
        {{"--seconds", "abc"}, "--seconds expects"},
        {{"--warmup", "x"}, "--warmup expects"},
        {{"--frobnicate"}, "unknown option '--frobnicate'"},
        {{"--batch"}, "option '--batch' needs a value"},
        {{"extra.onnx"}, "expected one MODEL"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tu_proc p;
        const char *argv[] = {ONNXC_CLI, "bench", f.dense, cases[i].args[0], cases[i].args[1], NULL};
        tu_run(argv, 60, &p);
        char *cmd = tu_argv_str(argv);
        cr_expect_eq(p.status, 1, "`%s` exited %d, expected 1: %s", cmd, p.status, p.err);
        cr_expect(strstr(p.err, "onnxc bench: ") && strstr(p.err, cases[i].says),
                  "`%s`: expected a message with \"%s\", got: %s", cmd, cases[i].says, p.err);
        cr_expect_str_empty(p.out, "`%s` printed on stdout: %s", cmd, p.out);
        free(cmd);
        tu_proc_free(&p);
    }
    tu_proc p;
    EXPECT_EXIT(&p, 1, "bench");
    cr_expect(strstr(p.err, "expected a MODEL argument"), "%s", p.err);
    tu_proc_free(&p);
    char *missing = tu_path("%s/missing.onnx", f.dir);
    EXPECT_EXIT(&p, 2, "bench", missing);
    cr_expect(strstr(p.err, missing), "the message does not name the file: %s", p.err);
    tu_proc_free(&p);
    free(missing);
    EXPECT_EXIT(&p, 0, "bench", "--help");
    cr_expect(strstr(p.out, "usage: onnxc bench MODEL"), "%s", p.out);
    tu_proc_free(&p);
    teardown_models(&f);
}
