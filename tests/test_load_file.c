/*
 * onnxc_model_load reads large initializer payloads straight from the file
 * into their final buffers (runtime/loader.c) instead of unpacking a whole
 * in-memory image. These tests check that this gives exactly the model that
 * protobuf itself reads, on the wire-format corners where the two could
 * part, and that it does not hold the weights twice:
 *
 *   - initializers in raw_data and in packed float_data, large (read from
 *     the file) and small (left in the unpacked image), interleaved with
 *     nodes, with an unknown field inside a TensorProto, a tensor whose
 *     raw_data appears twice (protobuf keeps the last), and a model whose
 *     graph field is split in two (protobuf merges them): every initializer
 *     must equal what the Python protobuf parser reads (written as .npy by
 *     the script below), and saving must give the same bytes as loading the
 *     same file from memory (the plain protobuf-c path);
 *   - loading a 48 MB model in a child process grows its peak RSS by less
 *     than 1.3x the file size (reading the file whole and unpacking it took
 *     2x);
 *   - a file refused by the wire-format scan, or by the checks after
 *     unpacking, leaves no mapping of it behind (/proc/self/maps).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

/*
 * argv: folder. Writes corners.onnx and split.onnx, and for each the
 * initializers as protobuf parses them: <model>.<index>.npy. Wire bytes are
 * put together by hand where onnx's serializer would normalize them.
 */
static const char make_models[] =
    "import sys, numpy as np, onnx\n"
    "from onnx import helper as h, TensorProto as T, numpy_helper as nh\n"
    "d = sys.argv[1]; rng = np.random.default_rng(5)\n"
    "def varint(v):\n"
    "    out = b''\n"
    "    while v >= 0x80: out += bytes([v & 0x7f | 0x80]); v >>= 7\n"
    "    return out + bytes([v])\n"
    "def field(num, payload): return varint(num << 3 | 2) + varint(len(payload)) + payload\n"
    "W1 = rng.standard_normal((64, 300)).astype(np.float32)   # 76800 bytes: read from the file\n"
    "b1 = rng.standard_normal(300).astype(np.float32)\n"
    "W2 = rng.standard_normal((300, 40)).astype(np.float32)\n"
    "nodes = [h.make_node('MatMul', ['x', 'W1'], ['h1']), h.make_node('Add', ['h1', 'b1'], ['h2']),\n"
    "         h.make_node('MatMul', ['h2', 'W2'], ['y'])]\n"
    "graph = h.make_graph(nodes, 'g', [h.make_tensor_value_info('x', T.FLOAT, ['N', 64])],\n"
    "                     [h.make_tensor_value_info('y', T.FLOAT, ['N', 40])])\n"
    "model = h.make_model(graph, opset_imports=[h.make_opsetid('', 13)]); model.ir_version = 7\n"
    "w1 = nh.from_array(W1, 'W1')                                      # raw_data, large\n"
    "b1t = nh.from_array(b1, 'b1')                                     # raw_data, small\n"
    "w2 = h.make_tensor('W2', T.FLOAT, [300, 40], W2.flatten().tolist()) # packed float_data, large\n"
    "assert len(w2.float_data) == 12000 and not w2.raw_data\n"
    "# An unknown field (number 99, bytes) inside a tensor, before its data.\n"
    "w1_bytes = field(99, b'keep me') + w1.SerializeToString()\n"
    "# Unused tensors: raw_data twice (the last counts), large and small.\n"
    "dup = nh.from_array(rng.standard_normal(2000).astype(np.float32), 'dup')\n"
    "dup_bytes = dup.SerializeToString() + field(9, rng.standard_normal(2000).astype(np.float32).tobytes())\n"
    "g = model.graph\n"
    "head = onnx.GraphProto(); head.CopyFrom(g); del head.node[:]\n"
    "graph_bytes = (head.SerializeToString() + field(1, g.node[0].SerializeToString()) + field(5, w1_bytes)\n"
    "               + field(1, g.node[1].SerializeToString()) + field(5, b1t.SerializeToString())\n"
    "               + field(5, dup_bytes) + field(1, g.node[2].SerializeToString()) + field(5, w2.SerializeToString()))\n"
    "top = onnx.ModelProto(); top.CopyFrom(model); top.ClearField('graph')\n"
    "files = {'corners': top.SerializeToString() + field(7, graph_bytes)}\n"
    "# The same graph split into two graph fields, which protobuf merges.\n"
    "extra = nh.from_array(rng.standard_normal((50, 50)).astype(np.float32), 'extra')\n"
    "files['split'] = files['corners'] + field(7, field(5, extra.SerializeToString()))\n"
    "for name, data in files.items():\n"
    "    open('%s/%s.onnx' % (d, name), 'wb').write(data)\n"
    "    m = onnx.load('%s/%s.onnx' % (d, name))\n"
    "    for i, t in enumerate(m.graph.initializer): np.save('%s/%s.%d.npy' % (d, name, i), nh.to_array(t))\n"
    "    print(name, len(m.graph.initializer))\n"
    "# 48 MB of weights for the memory check.\n"
    "big = rng.standard_normal((3000, 4000)).astype(np.float32)\n"
    "bg = h.make_graph([h.make_node('MatMul', ['x', 'W'], ['y'])], 'big',\n"
    "                  [h.make_tensor_value_info('x', T.FLOAT, ['N', 3000])],\n"
    "                  [h.make_tensor_value_info('y', T.FLOAT, ['N', 4000])], [nh.from_array(big, 'W')])\n"
    "bm = h.make_model(bg, opset_imports=[h.make_opsetid('', 13)]); bm.ir_version = 7\n"
    "onnx.save(bm, d + '/big.onnx')\n";

static char *dir;

static void setup(void)
{
    dir = tu_tmpdir("loadfile");
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_PYTHON, "-c", make_models, dir, NULL}, 300, &p);
    cr_assert_eq(p.status, 0, "writing the test models: %s%s", p.out, p.err);
    tu_proc_free(&p);
}

static void teardown(void)
{
    tu_rmtree(dir);
    free(dir);
}

/* Every initializer of `name`.onnx equals protobuf's reading, and the file
 * path saves the same bytes as the memory path. Returns the count. */
static size_t check_model(const char *name, size_t expected_inits)
{
    char *path = tu_path("%s/%s.onnx", dir, name);
    onnxc_error err;
    onnxc_model *m = NULL, *ref = NULL;
    cr_assert_eq(onnxc_model_load(path, NULL, &m, &err), ONNXC_OK, "%s: %s", name, err.message);
    size_t n = onnxc_model_initializer_count(m);
    cr_assert_eq(n, expected_inits, "%s: %zu initializers, expected %zu", name, n, expected_inits);
    for (size_t i = 0; i < n; i++) {
        onnxc_tensor view, want;
        char why[256];
        char *npy = tu_path("%s/%s.%zu.npy", dir, name, i);
        cr_assert(tu_npy_read(npy, &want, why, sizeof why), "%s: %s", npy, why);
        cr_assert_eq(onnxc_model_initializer(m, i, &view), ONNXC_OK);
        cr_expect_eq(view.dtype, want.dtype, "%s initializer %zu ('%s'): dtype", name, i, view.name);
        cr_assert_eq(view.rank, want.rank, "%s initializer %zu ('%s'): rank", name, i, view.name);
        size_t count = 1;
        for (int d = 0; d < view.rank; d++) {
            cr_expect_eq(view.dims[d], want.dims[d], "%s '%s' dim %d", name, view.name, d);
            count *= (size_t)view.dims[d];
        }
        cr_expect(!memcmp(view.data, want.data, count * sizeof(float)),
                  "%s initializer %zu ('%s'): values differ from protobuf's", name, i, view.name);
        free(want.data);
        free(npy);
    }
    void *file_bytes = NULL, *saved = NULL, *ref_saved = NULL;
    size_t file_size, saved_size, ref_size;
    cr_assert(tu_read_file(path, &file_bytes, &file_size));
    cr_assert_eq(onnxc_model_load_memory(file_bytes, file_size, dir, name, NULL, &ref, &err), ONNXC_OK, "%s",
                 err.message);
    cr_assert_eq(onnxc_model_save_memory(m, &saved, &saved_size, &err), ONNXC_OK, "%s", err.message);
    cr_assert_eq(onnxc_model_save_memory(ref, &ref_saved, &ref_size, &err), ONNXC_OK, "%s", err.message);
    cr_expect(saved_size == ref_size && !memcmp(saved, ref_saved, saved_size),
              "%s: saving after a file load gives %zu bytes, after a memory load %zu (or different bytes)", name,
              saved_size, ref_size);
    free(saved);
    free(ref_saved);
    free(file_bytes);
    onnxc_model_free(ref);
    onnxc_model_free(m);
    free(path);
    return n;
}

Test(load_file, matches_protobuf_on_wire_corners, .init = setup, .fini = teardown, .timeout = 300)
{
    check_model("corners", 4);
    check_model("split", 5);
}

static long statm_resident_kb(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

Test(load_file, weights_are_held_once, .init = setup, .fini = teardown, .timeout = 300)
{
    char *path = tu_path("%s/big.onnx", dir);
    int64_t file_size = tu_file_size(path);
    cr_assert_gt(file_size, 40 << 20);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* Growth of the peak RSS over the resident set before loading. */
        close(fds[0]);
        long before = statm_resident_kb();
        onnxc_error err;
        onnxc_model *m = NULL;
        long growth = -1;
        if (onnxc_model_load(path, NULL, &m, &err) == ONNXC_OK) {
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            growth = ru.ru_maxrss - before;
        }
        onnxc_model_free(m);
        if (write(fds[1], &growth, sizeof growth) != sizeof growth) _exit(2);
        _exit(0);
    }
    close(fds[1]);
    long growth_kb = -1;
    cr_assert_eq(read(fds[0], &growth_kb, sizeof growth_kb), (ssize_t)sizeof growth_kb);
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_geq(growth_kb, 0, "the model did not load");
    double ratio = (double)growth_kb * 1024.0 / (double)file_size;
    cr_expect_lt(ratio, 1.3, "loading a %lld-byte model grew the peak RSS by %ld KiB = %.2fx the file",
                 (long long)file_size, growth_kb, ratio);
    cr_expect_gt(ratio, 0.9, "the weights (%lld bytes) are not all resident after loading: %.2fx",
                 (long long)file_size, ratio);
    free(path);
}

/* Mappings of `path` in this process. */
static int mappings_of(const char *path)
{
    FILE *f = fopen("/proc/self/maps", "r");
    cr_assert_not_null(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, path)) n++;
    fclose(f);
    return n;
}

Test(load_file, refused_files_leave_no_mapping, .init = setup, .fini = teardown, .timeout = 300)
{
    void *data;
    size_t size;
    char *big = tu_path("%s/big.onnx", dir), *cut = tu_path("%s/cut.onnx", dir), *bad = tu_path("%s/bad.onnx", dir);
    cr_assert(tu_read_file(big, &data, &size));
    /* Truncated inside the weights: refused by the scan. */
    cr_assert(tu_write_file(cut, data, size / 2));
    /* ir_version 99 (field 1, the first bytes onnx writes): refused after unpacking. */
    cr_assert_eq(((unsigned char *)data)[0], 0x08);
    ((unsigned char *)data)[1] = 99;
    cr_assert(tu_write_file(bad, data, size));
    free(data);
    const char *files[] = {cut, bad};
    const onnxc_status want[] = {ONNXC_ERR_PARSE, ONNXC_ERR_UNSUPPORTED};
    for (int i = 0; i < 2; i++) {
        onnxc_error err;
        onnxc_model *m = NULL;
        cr_expect_eq(onnxc_model_load(files[i], NULL, &m, &err), want[i], "%s: %s", files[i], err.message);
        cr_expect(strstr(err.message, files[i]), "the message does not name the file: %s", err.message);
        cr_expect_null(m);
        cr_expect_eq(mappings_of(files[i]), 0, "%s is still mapped after a failed load", files[i]);
    }
    free(big);
    free(cut);
    free(bad);
}
