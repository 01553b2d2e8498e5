/*
 * What users expect around the core, through the onnxc executable:
 *
 *   - `info --dot` draws every edge of the graph and every node with its op,
 *     output shape and parameter count, checked against the model as the
 *     `onnx` Python package reads it (edges, float initializer elements,
 *     shapes from onnx.shape_inference), and the output renders with
 *     Graphviz's `dot -Tsvg` without a warning;
 *   - `info --ops` lists operators whose versions are ONNX schema versions
 *     (onnx.defs), Gemm, MatMul and Softmax among them;
 *   - `plot` and `train --plot` write well-formed SVG (parsed with Python's
 *     xml.etree): two panels with axis labels, a legend, one polyline per
 *     series whose points are an affine image of the log's (epoch, value)
 *     pairs, ticks that sit on the gridlines their labels name; PNG through
 *     gnuplot, or a clear error without it;
 *   - `--version` prints the version of CMakeLists.txt's project();
 *   - the man page renders without a groff warning and names every
 *     subcommand and every option their --help shows;
 *   - Doxygen builds the API reference from include/onnxc.h without a
 *     warning, with each function's header comment in it.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "onnxc.h"
#include "testutil.h"

#ifndef ONNXC_TEST_PYTHON
#define ONNXC_TEST_PYTHON "/usr/bin/python3"
#endif

#define MODELS ONNXC_SHARED_DIR "/models/real/"

/* Run onnxc with the arguments; fail with both streams unless it exits `code`. */
#define EXPECT_EXIT(p, code, ...)                                                                   \
    do {                                                                                            \
        const char *argv_[] = {ONNXC_CLI, __VA_ARGS__, NULL};                                       \
        tu_run(argv_, 600, (p));                                                                    \
        char *cmd_ = tu_argv_str(argv_);                                                            \
        cr_assert_eq((p)->status, (code), "`%s` exited %d, expected %d\nstdout: %s\nstderr: %s", cmd_, \
                     (p)->status, (code), (p)->out, (p)->err);                                      \
        free(cmd_);                                                                                 \
    } while (0)

/* Run a Python check script with up to four arguments; it prints the
 * problems it finds and exits 1 when there are any. */
static void python_check(const char *what, const char *script, const char *a1, const char *a2, const char *a3,
                         const char *a4)
{
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_PYTHON, "-c", script, a1, a2, a3, a4, NULL}, 300, &p);
    cr_assert_eq(p.status, 0, "%s: %s%s", what, p.out, p.err);
    tu_proc_free(&p);
}

static void require_program(const char *name, const char *package)
{
    cr_assert(tu_have_program(name), "'%s' is not installed: apt-get install %s (scripts/install-deps.sh)", name,
              package);
}

/* ------------------------------------------------------------------------ */
/* info --dot                                                                */

/* argv: model, dot file, svg rendered from it, comma list of op types onnxc
 * does not implement (drawn as unsupported, without shapes). */
static const char dot_check[] =
    "import sys, re, math, onnx, xml.etree.ElementTree as ET\n"
    "from onnx import shape_inference\n"
    "model, dot, svg, unsupported = sys.argv[1:5]\n"
    "unsupported = set(filter(None, unsupported.split(',')))\n"
    "m = onnx.load(model); g = m.graph; text = open(dot).read(); bad = []\n"
    "inits = {t.name: t for t in g.initializer}\n"
    "inputs = [i for i in g.input if i.name not in inits]\n"
    "producer = {i.name: 'in%d' % k for k, i in enumerate(inputs)}\n"
    "for k, n in enumerate(g.node):\n"
    "    for o in n.output:\n"
    "        if o: producer[o] = 'n%d' % k\n"
    "want = {(producer[x], 'n%d' % k) for k, n in enumerate(g.node) for x in n.input if x in producer}\n"
    "want |= {(producer[o.name], 'out%d' % k) for k, o in enumerate(g.output) if o.name in producer}\n"
    "got = set(re.findall(r'^\\s*(\\w+) -> (\\w+);$', text, re.M))\n"
    "if got != want: bad.append('edges: missing %s, extra %s' % (sorted(want - got), sorted(got - want)))\n"
    "labels = dict(re.findall(r'^\\s*(\\w+) \\[.*?label=<(.*)>\\];$', text, re.M))\n"
    "for k, i in enumerate(inputs):\n"
    "    if len(i.name) <= 40 and '<b>%s</b>' % i.name not in labels.get('in%d' % k, ''): bad.append('input ' + i.name)\n"
    "for k, o in enumerate(g.output):\n"
    "    if len(o.name) <= 40 and '<b>%s</b>' % o.name not in labels.get('out%d' % k, ''): bad.append('output ' + o.name)\n"
    "vi = {v.name: v for v in list(shape_inference.infer_shapes(m).graph.value_info) + list(g.output)}\n"
    "for k, n in enumerate(g.node):\n"
    "    lab = labels.get('n%d' % k)\n"
    "    if lab is None: bad.append('node %d (%s) is not drawn' % (k, n.op_type)); continue\n"
    "    if '<b>%s</b>' % n.op_type not in lab: bad.append('node %d: no op %s in %s' % (k, n.op_type, lab))\n"
    "    if (n.op_type in unsupported) != ('(unsupported)' in lab): bad.append('node %d: unsupported mark' % k)\n"
    "    params = sum(math.prod(inits[x].dims) for x in n.input if x in inits and inits[x].data_type in (1, 11))\n"
    "    words = re.findall(r'>([\\d,]+) params?<', lab)\n"
    "    if words != (['{:,}'.format(params)] if params else []): bad.append('node %d: params %s, want %d' % (k, words, params))\n"
    "    if unsupported: continue\n"
    "    v = vi.get(n.output[0])\n"
    "    if not v or not v.type.tensor_type.HasField('shape'): continue\n"
    "    dims = v.type.tensor_type.shape.dim\n"
    "    shown = re.findall(r'<font point-size=\"9\">\\[(.*?)\\]</font>', lab)\n"
    "    if len(shown) != 1: bad.append('node %d: no shape in %s' % (k, lab)); continue\n"
    "    items = shown[0].split(', ') if shown[0] else []\n"
    "    if len(items) != len(dims): bad.append('node %d: shape [%s], rank %d' % (k, shown[0], len(dims))); continue\n"
    "    for d, s in zip(dims, items):\n"
    "        if d.HasField('dim_value') and s != str(d.dim_value): bad.append('node %d: [%s] vs %s' % (k, shown[0], dims))\n"
    "        if d.HasField('dim_param') and s.isdigit(): bad.append('node %d: [%s] has a number for %s' % (k, shown[0], d.dim_param))\n"
    "svg_text = ' '.join(''.join(t.itertext()) for t in ET.parse(svg).getroot().iter('{http://www.w3.org/2000/svg}text'))\n"
    "for op in {n.op_type for n in g.node}:\n"
    "    if op not in svg_text: bad.append('op %s missing from the rendered SVG' % op)\n"
    "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n";

static void check_dot(const char *model, const char *unsupported)
{
    require_program("dot", "graphviz");
    char *dir = tu_tmpdir("dot");
    char *dot = tu_path("%s/g.dot", dir), *svg = tu_path("%s/g.svg", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "info", "--dot", model);
    cr_assert(tu_write_file(dot, p.out, strlen(p.out)));
    tu_proc_free(&p);
    tu_run((const char *[]){"dot", "-Tsvg", dot, "-o", svg, NULL}, 120, &p);
    cr_assert_eq(p.status, 0, "dot -Tsvg failed on the output for %s: %s", model, p.err);
    cr_expect_str_empty(p.err, "dot warned about the output for %s: %s", model, p.err);
    tu_proc_free(&p);
    python_check(model, dot_check, model, dot, svg, unsupported);
    free(dot);
    free(svg);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_extras, dot_tf2onnx) { check_dot(MODELS "tf2onnx-1.14_op15_qianxyz_mnist-webui_model.onnx", ""); }
Test(cli_extras, dot_pytorch_gemm) { check_dot(MODELS "pytorch-1.11_op10_michbogos_mnist.onnx", ""); }
Test(cli_extras, dot_keras2onnx) { check_dot(MODELS "keras2onnx-1.7_op11_Bobbinson_fyp2021_keras_model.onnx", ""); }

/* Branches and joins: x feeds ReduceMax and Sub, Exp feeds ReduceSum and Div. */
Test(cli_extras, dot_branches)
{
    check_dot(ONNX_TESTDATA_DIR "/node/test_softmax_axis_1_expanded/model.onnx", "");
}

/* An op onnxc cannot run is still drawn, marked, with its three inputs. */
Test(cli_extras, dot_unsupported_op) { check_dot(ONNX_TESTDATA_DIR "/node/test_lstm_defaults/model.onnx", "LSTM"); }

Test(cli_extras, dot_and_ops_usage)
{
    tu_proc p;
    EXPECT_EXIT(&p, 2, "info", "--dot", "/nonexistent/model.onnx");
    cr_expect(strstr(p.err, "/nonexistent/model.onnx"), "%s", p.err);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 1, "info", "--ops", MODELS "tf2onnx-1.14_op15_qianxyz_mnist-webui_model.onnx");
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 1, "info", "--dots", "m.onnx");
    cr_expect(strstr(p.err, "--dots"), "%s", p.err);
    tu_proc_free(&p);
}

/* ------------------------------------------------------------------------ */
/* info --ops and --version                                                  */

/* argv: the listing. Versions are compared with the ONNX schemas the
 * installed onnx package knows (up to its newest opset). */
static const char ops_check[] =
    "import sys, re, onnx.defs as d\n"
    "lines = open(sys.argv[1]).read().splitlines(); bad = []\n"
    "head = re.match(r'^onnxc \\S+: ai.onnx opsets up to (\\d+); (\\d+) operators$', lines[0])\n"
    "if not head: sys.exit('bad first line: ' + lines[0])\n"
    "rows = [re.match(r'^(\\S+)\\s+(\\S+)\\s+(\\d+(?:, \\d+)*)\\s+(backward|-)$', l) for l in lines[2:]]\n"
    "if not all(rows): bad.append('unparsable rows: %s' % [l for l, r in zip(lines[2:], rows) if not r])\n"
    "rows = [r.groups() for r in rows if r]\n"
    "if len(rows) != int(head.group(2)): bad.append('%d rows, header says %s' % (len(rows), head.group(2)))\n"
    "known = {}\n"
    "for s in d.get_all_schemas_with_history(): known.setdefault((s.domain, s.name), set()).add(s.since_version)\n"
    "newest = d.onnx_opset_version()\n"
    "seen = {}\n"
    "for dom, op, vers, train in rows:\n"
    "    v = [int(x) for x in vers.split(', ')]; seen[op] = v\n"
    "    if v != sorted(set(v)): bad.append('%s: versions not ascending: %s' % (op, v))\n"
    "    ref = known.get(('' if dom == 'ai.onnx' else dom, op))\n"
    "    if ref is None: bad.append('%s %s: no such ONNX operator' % (dom, op)); continue\n"
    "    checkable = [x for x in v if x <= newest]\n"
    "    want = sorted(x for x in ref if v[0] <= x <= newest)\n"
    "    if checkable != want: bad.append('%s %s: lists %s, ONNX schema versions %s' % (dom, op, v, want))\n"
    "for op in ('Gemm', 'MatMul', 'Softmax'):\n"
    "    if op not in seen: bad.append(op + ' is not listed')\n"
    "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n";

Test(cli_extras, ops_listing)
{
    tu_proc p;
    EXPECT_EXIT(&p, 0, "info", "--ops");
    char buf[64];
    snprintf(buf, sizeof buf, "ai.onnx opsets up to %d;", ONNXC_MAX_OPSET);
    cr_expect(strstr(p.out, buf), "%s", p.out);
    /* Hand-checked against the ONNX operator docs: Gemm changed at opsets
     * 1, 6, 7, 9, 11, 13 (onnxc implements 7 on), MatMul at 1, 9, 13,
     * Softmax at 1, 11, 13; all three have backward passes. */
    static const char *const rows[][2] = {{"Gemm", "7, 9, 11, 13"}, {"MatMul", "1, 9, 13"}, {"Softmax", "1, 11, 13"}};
    for (size_t i = 0; i < 3; i++) {
        char row[128];
        snprintf(row, sizeof row, "\n%-26s %-26s %-28s backward\n", "ai.onnx", rows[i][0], rows[i][1]);
        cr_expect(strstr(p.out, row), "no row '%s' in:\n%s", row + 1, p.out);
    }
    char *dir = tu_tmpdir("ops");
    char *listing = tu_path("%s/ops.txt", dir);
    cr_assert(tu_write_file(listing, p.out, strlen(p.out)));
    tu_proc_free(&p);
    python_check("info --ops", ops_check, listing, NULL, NULL, NULL);
    free(listing);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_extras, version)
{
    /* The version CMake builds with, from project(onnxc VERSION x.y.z). */
    void *data;
    size_t size;
    cr_assert(tu_read_file(ONNXC_SOURCE_DIR "/CMakeLists.txt", &data, &size));
    const char *at = strstr(data, "project(onnxc VERSION ");
    cr_assert_not_null(at, "no project() line in CMakeLists.txt");
    char version[32], want[64];
    cr_assert_eq(sscanf(at, "project(onnxc VERSION %31[0-9.]", version), 1);
    free(data);
    snprintf(want, sizeof want, "onnxc %s\n", version);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "--version");
    cr_expect_str_eq(p.out, want);
    tu_proc_free(&p);
    cr_expect_str_eq(onnxc_version(), version);
    snprintf(want, sizeof want, "%d.%d.%d", ONNXC_VERSION_MAJOR, ONNXC_VERSION_MINOR, ONNXC_VERSION_PATCH);
    cr_expect_str_eq(want, version, "onnxc.h says %s, CMakeLists.txt %s", want, version);
}

/* ------------------------------------------------------------------------ */
/* Plots                                                                     */

/* argv: svg, log, "1" when validation series are expected. Checks the
 * structure, that each polyline is an affine image of its series (same
 * mapping for both series of a panel, x growing with the epoch, y falling
 * with the value), that every point lies in the plot area, and that each
 * tick label sits on a gridline at the place the mapping gives its value. */
static const char plot_check[] =
    "import sys, json, math, xml.etree.ElementTree as ET\n"
    "svg, log, with_val = sys.argv[1], sys.argv[2], sys.argv[3] == '1'\n"
    "NS = '{http://www.w3.org/2000/svg}'; bad = []\n"
    "root = ET.parse(svg).getroot()\n"
    "if root.tag != NS + 'svg': sys.exit('root is ' + root.tag)\n"
    "recs = {}\n"
    "for line in open(log):\n"
    "    if line.strip(): r = json.loads(line); recs[r['epoch']] = r\n"
    "epochs = sorted(recs)\n"
    "def cls(e): return (e.get('class') or '').split()\n"
    "def text(e): return ''.join(e.itertext())\n"
    "def fit(pairs):\n"
    "    (u0, p0), (u1, p1) = min(pairs), max(pairs)\n"
    "    a = (p1 - p0) / (u1 - u0); return a, p0 - a * u0\n"
    "panels = [g for g in root.iter(NS + 'g') if 'panel' in cls(g)]\n"
    "if len(panels) != 2: sys.exit('%d panels' % len(panels))\n"
    "for panel, metric in zip(panels, ('loss', 'accuracy')):\n"
    "    name = metric.capitalize()\n"
    "    labels = [text(t) for t in panel.iter(NS + 'text') if 'axis-label' in cls(t)]\n"
    "    if labels != ['Epoch', name]: bad.append('%s axis labels %s' % (metric, labels))\n"
    "    if name not in [text(t) for t in panel.iter(NS + 'text') if 'panel-title' in cls(t)]: bad.append(metric + ': no title')\n"
    "    area = [r for r in panel.iter(NS + 'rect') if 'plot-area' in cls(r)][0]\n"
    "    x0, y0 = float(area.get('x')), float(area.get('y')); x1, y1 = x0 + float(area.get('width')), y0 + float(area.get('height'))\n"
    "    lines = list(panel.iter(NS + 'polyline'))\n"
    "    want = ['train', 'validation'] if with_val else ['train']\n"
    "    if sorted(c for l in lines for c in cls(l) if c != 'series') != want: bad.append('%s series %s' % (metric, [l.get('class') for l in lines]))\n"
    "    xs, ys = [], []\n"
    "    for l in lines:\n"
    "        key = ('val_' if 'validation' in cls(l) else '') + metric\n"
    "        data = [(e, recs[e][key]) for e in epochs if isinstance(recs[e].get(key), (int, float))]\n"
    "        pts = [tuple(map(float, xy.split(','))) for xy in l.get('points').split()]\n"
    "        if len(pts) != len(data): bad.append('%s: %d points for %d values' % (key, len(pts), len(data))); continue\n"
    "        xs += [(e, p[0]) for (e, v), p in zip(data, pts)]; ys += [(v, p[1]) for (e, v), p in zip(data, pts)]\n"
    "        if not all(x0 - .05 <= x <= x1 + .05 and y0 - .05 <= y <= y1 + .05 for x, y in pts): bad.append(key + ': point outside the plot area')\n"
    "    (ax, bx), (ay, by) = fit(xs), fit(ys)\n"
    "    if not (ax > 0 and ay < 0): bad.append('%s: x scale %g, y scale %g' % (metric, ax, ay))\n"
    "    if any(abs(ax * u + bx - p) > 0.15 for u, p in xs) or any(abs(ay * u + by - p) > 0.15 for u, p in ys):\n"
    "        bad.append(metric + ': points are not an affine image of (epoch, value)')\n"
    "    grid = [l for g in panel.iter(NS + 'g') if 'grid' in cls(g) for l in g.iter(NS + 'line')]\n"
    "    hgrid = [float(l.get('y1')) for l in grid if l.get('y1') == l.get('y2')]\n"
    "    vgrid = [float(l.get('x1')) for l in grid if l.get('x1') == l.get('x2')]\n"
    "    ticks = [t for g in panel.iter(NS + 'g') if 'tick-labels' in cls(g) for t in g.iter(NS + 'text')]\n"
    "    yt = [float(text(t)) for t in ticks if t.get('text-anchor') == 'end']\n"
    "    xt = [float(text(t)) for t in ticks if t.get('text-anchor') == 'middle']\n"
    "    if len(yt) < 2 or len(xt) < 1: bad.append('%s: ticks %s %s' % (metric, xt, yt))\n"
    "    for v in yt:\n"
    "        if not any(abs(ay * v + by - h) < 0.6 for h in hgrid): bad.append('%s: y tick %g is not on a gridline' % (metric, v))\n"
    "    for v in xt:\n"
    "        if not any(abs(ax * v + bx - w) < 0.6 for w in vgrid): bad.append('%s: x tick %g is not on a gridline' % (metric, v))\n"
    "legend = [g for g in root.iter(NS + 'g') if 'legend' in cls(g)]\n"
    "names = [text(t) for g in legend for t in g.iter(NS + 'text')]\n"
    "if names != (['train', 'validation'] if with_val else ['train']): bad.append('legend %s' % names)\n"
    "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n";

/* A log as `onnxc train --log` writes it, with what a real one can hold:
 * extra keys, a null (non-finite) value, and epoch 3 written twice (a run
 * resumed from an earlier checkpoint), whose second record must win. */
static const char log_with_val[] =
    "{\"epoch\":1,\"loss\":0.9123,\"accuracy\":0.61,\"val_loss\":0.95,\"val_accuracy\":0.6,\"seconds\":1.5}\n"
    "{\"epoch\":2,\"loss\":0.61,\"accuracy\":0.75,\"val_loss\":0.7,\"val_accuracy\":0.71,\"seconds\":1.4}\n"
    "{\"epoch\":3,\"loss\":0.8,\"accuracy\":0.5,\"val_loss\":0.9,\"val_accuracy\":0.5}\n"
    "\n"
    "{\"epoch\":3,\"loss\":0.47,\"accuracy\":0.82,\"val_loss\":null,\"val_accuracy\":0.78,\"extra\":[1,{\"a\":\"b\"}]}\n"
    "{\"epoch\":4,\"loss\":0.40,\"accuracy\":0.86,\"val_loss\":0.52,\"val_accuracy\":0.8}\n"
    "{\"epoch\":5,\"loss\":0.36,\"accuracy\":0.875,\"val_loss\":0.5,\"val_accuracy\":0.81}\n"
    "{\"epoch\":6,\"loss\":0.33,\"accuracy\":0.89,\"val_loss\":0.51,\"val_accuracy\":0.815}\n"
    "{\"epoch\":7,\"loss\":0.31,\"accuracy\":0.9,\"val_loss\":0.53,\"val_accuracy\":0.812}\n";

static char *write_log(const char *dir, const char *name, const char *text)
{
    char *path = tu_path("%s/%s", dir, name);
    cr_assert(tu_write_file(path, text, strlen(text)));
    return path;
}

Test(cli_extras, plot_svg)
{
    char *dir = tu_tmpdir("plot");
    char *log = write_log(dir, "history.jsonl", log_with_val);
    char *svg = tu_path("%s/curves.svg", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 0, "plot", log, "-o", svg, "--title", "Fashion <MNIST> & co");
    tu_proc_free(&p);
    python_check("plot with validation", plot_check, svg, log, "1", NULL);
    void *data;
    size_t size;
    cr_assert(tu_read_file(svg, &data, &size));
    cr_expect(strstr(data, "Fashion &lt;MNIST&gt; &amp; co"), "title not escaped");
    free(data);

    /* Without validation: one series per panel, one legend entry. */
    char *train_only = write_log(dir, "train.jsonl",
                                 "{\"epoch\":1,\"loss\":2.3,\"accuracy\":0.1}\n"
                                 "{\"epoch\":2,\"loss\":1.1,\"accuracy\":0.55}\n"
                                 "{\"epoch\":3,\"loss\":0.7,\"accuracy\":0.74}\n");
    EXPECT_EXIT(&p, 0, "plot", train_only, "-o", svg);
    tu_proc_free(&p);
    python_check("plot without validation", plot_check, svg, train_only, "0", NULL);
    free(train_only);
    free(svg);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_extras, plot_errors)
{
    char *dir = tu_tmpdir("plot-err");
    char *log = write_log(dir, "bad.jsonl", "{\"epoch\":1,\"loss\":0.5}\n{\"epoch\":2,\"loss\":0.4}\n{\"epoch\":3,\"loss\":}\n");
    char *out = tu_path("%s/out.svg", dir);
    tu_proc p;
    EXPECT_EXIT(&p, 2, "plot", log, "-o", out);
    cr_expect(strstr(p.err, "bad.jsonl:3: expected a JSON value"), "%s", p.err);
    cr_expect(!tu_exists(out), "a failed plot left %s", out);
    tu_proc_free(&p);
    char *empty = write_log(dir, "empty.jsonl", "\n");
    EXPECT_EXIT(&p, 2, "plot", empty, "-o", out);
    cr_expect(strstr(p.err, "no epochs"), "%s", p.err);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 2, "plot", "/nonexistent.jsonl", "-o", out);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 1, "plot", log, "-o", "curves.pdf");
    cr_expect(strstr(p.err, ".svg or .png"), "%s", p.err);
    tu_proc_free(&p);
    EXPECT_EXIT(&p, 1, "plot", log);
    tu_proc_free(&p);
    free(empty);
    free(out);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

Test(cli_extras, plot_png)
{
    char *dir = tu_tmpdir("plot-png");
    char *log = write_log(dir, "history.jsonl", log_with_val);
    char *png = tu_path("%s/curves.png", dir);
    tu_proc p;
    if (tu_have_program("gnuplot")) {
        EXPECT_EXIT(&p, 0, "plot", log, "-o", png);
        cr_expect_str_empty(p.err, "gnuplot complained: %s", p.err);
        tu_proc_free(&p);
        void *data;
        size_t size;
        cr_assert(tu_read_file(png, &data, &size));
        cr_expect(size > 8000 && !memcmp(data, "\x89PNG\r\n\x1a\n", 8), "%s: %zu bytes, not a PNG", png, size);
        free(data);
        unlink(png);
    } else {
        cr_log_info("gnuplot is not installed: only the PNG error path is tested");
    }
    /* Without gnuplot on PATH: a clear error, and no file. */
    char *old = tu_strdup(getenv("PATH") ? getenv("PATH") : "");
    setenv("PATH", dir, 1);
    EXPECT_EXIT(&p, 2, "plot", log, "-o", png);
    setenv("PATH", old, 1);
    cr_expect(strstr(p.err, "gnuplot") && strstr(p.err, ".svg"), "%s", p.err);
    cr_expect(!tu_exists(png));
    tu_proc_free(&p);
    free(old);
    free(png);
    free(log);
    tu_rmtree(dir);
    free(dir);
}

/* train --plot, then --resume with the same log: the second figure holds
 * every epoch of both runs. The data: two Gaussian clusters drawn by numpy,
 * as in test_cli_train.c. */
Test(cli_extras, train_plot)
{
    char *dir = tu_tmpdir("train-plot");
    tu_proc p;
    tu_run((const char *[]){ONNXC_TEST_PYTHON, "-c",
                            "import sys, numpy as np\n"
                            "d = sys.argv[1]; rng = np.random.default_rng(11); y = rng.integers(0, 2, 256)\n"
                            "x = rng.normal(0, 0.6, (256, 4)) + np.where(y[:, None] == 1, 1.0, -1.0) * np.array([1, 1, -1, 0.5])\n"
                            "np.save(d + '/x.npy', x.astype(np.float32)); np.save(d + '/y.npy', y.astype(np.int64))\n",
                            dir, NULL},
           120, &p);
    cr_assert_eq(p.status, 0, "%s", p.err);
    tu_proc_free(&p);
    char *model = tu_path("%s/m.onnx", dir), *out = tu_path("%s/t.onnx", dir), *x = tu_path("%s/x.npy", dir),
         *y = tu_path("%s/y.npy", dir), *log = tu_path("%s/log.jsonl", dir), *ck = tu_path("%s/ck.onnx", dir),
         *svg = tu_path("%s/curves.svg", dir), *svg2 = tu_path("%s/all.svg", dir);
    EXPECT_EXIT(&p, 0, "init", "4,8:relu,2:softmax", "-o", model, "--seed", "3");
    tu_proc_free(&p);

    /* An unknown plot format is refused before any training. */
    EXPECT_EXIT(&p, 1, "train", model, "-o", out, "--x", x, "--y", y, "--plot", "curves.jpg");
    cr_expect(!tu_exists(out), "the model was trained despite the bad --plot");
    tu_proc_free(&p);

    EXPECT_EXIT(&p, 0, "train", model, "-o", out, "--x", x, "--y", y, "--epochs", "3", "--validation-split", "0.25",
                "--log", log, "--checkpoint", ck, "--plot", svg);
    cr_expect(strstr(p.out, "Plotted"), "%s", p.out);
    tu_proc_free(&p);
    python_check("train --plot", plot_check, svg, log, "1", NULL);

    EXPECT_EXIT(&p, 0, "train", model, "-o", out, "--x", x, "--y", y, "--epochs", "5", "--validation-split", "0.25",
                "--log", log, "--resume", ck, "--plot", svg2);
    tu_proc_free(&p);
    python_check("train --resume --plot", plot_check, svg2, log, "1", NULL);
    void *data;
    size_t size;
    cr_assert(tu_read_file(svg2, &data, &size));
    /* Epochs 1-5 on the x axis: the resumed figure shows the first run too. */
    const char *train_line = strstr(data, "class=\"series train\"");
    cr_assert_not_null(train_line);
    const char *points = strstr(train_line, "points=\"");
    size_t n_points = 0;
    for (const char *c = points + 8; *c && *c != '"'; c++) n_points += *c == ',';
    cr_expect_eq(n_points, 5, "resumed plot has %zu points per series", n_points);
    free(data);

    /* Without --log, this run's epochs are drawn. */
    EXPECT_EXIT(&p, 0, "train", model, "-o", out, "--x", x, "--y", y, "--epochs", "2", "--plot", svg);
    tu_proc_free(&p);
    cr_assert(tu_read_file(svg, &data, &size));
    cr_expect(strstr(data, "class=\"series train\"") && !strstr(data, "class=\"series validation\""),
              "a run without validation drew a validation series");
    free(data);

    char *paths[] = {model, out, x, y, log, ck, svg, svg2};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) free(paths[i]);
    tu_rmtree(dir);
    free(dir);
}

/* ------------------------------------------------------------------------ */
/* Man page and API reference                                                */

/* "--batch-size" as troff writes it in the page: "\-\-batch\-size". */
static bool page_mentions(const char *page, const char *option)
{
    char troff[128];
    size_t n = 0;
    for (const char *c = option; *c && n + 3 < sizeof troff; c++) {
        if (*c == '-') troff[n++] = '\\';
        troff[n++] = *c;
    }
    troff[n] = '\0';
    return strstr(page, troff) != NULL;
}

Test(cli_extras, man_page)
{
    require_program("groff", "groff-base");
    const char *page_path = ONNXC_SOURCE_DIR "/docs/onnxc.1";
    tu_proc p;
    tu_run((const char *[]){"groff", "-man", "-Tutf8", "-ww", "-z", page_path, NULL}, 60, &p);
    cr_expect_eq(p.status, 0, "groff failed: %s", p.err);
    cr_expect_str_empty(p.err, "groff warnings:\n%s", p.err);
    tu_proc_free(&p);
    if (tu_have_program("man")) {
        tu_run((const char *[]){"man", "--warnings", "-l", page_path, NULL}, 60, &p);
        cr_expect_eq(p.status, 0, "man -l failed: %s", p.err);
        cr_expect_str_empty(p.err, "man -l warnings:\n%s", p.err);
        cr_expect(strstr(p.out, "ONNXC(1)") && strstr(p.out, "EXIT STATUS"), "%s", p.out);
        tu_proc_free(&p);
    }

    /* Every subcommand of `onnxc --help`, and every option its --help shows. */
    void *data;
    size_t size;
    cr_assert(tu_read_file(page_path, &data, &size));
    const char *page = data;
    EXPECT_EXIT(&p, 0, "--help");
    const char *at = strstr(p.out, "commands:\n");
    cr_assert_not_null(at, "%s", p.out);
    size_t commands = 0;
    for (at = strchr(at, '\n') + 1; at[0] == ' ' && at[1] == ' '; at = strchr(at, '\n') + 1) {
        char cmd[32], heading[64];
        cr_assert_eq(sscanf(at, "%31s", cmd), 1);
        commands++;
        snprintf(heading, sizeof heading, ".SS \"onnxc %s", cmd);
        cr_expect(strstr(page, heading), "the man page has no section for 'onnxc %s'", cmd);
        tu_proc h;
        EXPECT_EXIT(&h, 0, cmd, "--help");
        for (const char *o = strstr(h.out, "--"); o; o = strstr(o + 2, "--")) {
            char option[64];
            if (sscanf(o, "--%60[a-z-]", option + 2) != 1) continue;
            memcpy(option, "--", 2);
            cr_expect(page_mentions(page, option), "the man page does not mention 'onnxc %s %s'", cmd, option);
        }
        tu_proc_free(&h);
    }
    cr_expect_geq(commands, 8, "%s", p.out);
    tu_proc_free(&p);
    cr_expect(page_mentions(page, "--version"));
    free(data);
}

/* argv: onnxc.h, the generated onnxc_8h.html. Each function's comment in
 * the header (the block just above its declaration) must appear in the
 * reference, as must every function name. */
static const char doxygen_check[] =
    "import sys, re, html\n"
    "src = open(sys.argv[1]).read(); page = open(sys.argv[2]).read(); bad = []\n"
    "words = lambda s: ' '.join(re.sub(r'[`*/]', ' ', s).split())\n"
    "body = words(html.unescape(re.sub(r'<[^>]+>', ' ', page)))\n"
    "decls = re.findall(r'(/\\*(?:[^*]|\\*(?!/))*\\*/)\\n((?:[a-z][\\w ]*\\**)\\b(onnxc_\\w+)\\()', src)\n"
    "if len(decls) < 30: bad.append('only %d documented functions found in the header' % len(decls))\n"
    "for comment, _, name in decls:\n"
    "    first = words(comment.strip('/*'))[:60].rsplit(' ', 1)[0]\n"
    "    if first not in body: bad.append('%s: comment not in the reference: %s' % (name, first))\n"
    "for name in set(re.findall(r'\\b(onnxc_\\w+)\\(', src)):\n"
    "    if name + '()' not in body and name + ' (' not in body: bad.append(name + ' is not in the reference')\n"
    "print('\\n'.join(bad)); sys.exit(1 if bad else 0)\n";

Test(cli_extras, doxygen_reference, .timeout = 300)
{
    require_program("doxygen", "doxygen");
    char *dir = tu_tmpdir("doxygen");
    tu_proc p;
    tu_run((const char *[]){"sh", "-c", "cd \"$1\" && ONNXC_DOCS_DIR=\"$2\" ONNXC_VERSION=test doxygen docs/Doxyfile",
                            "sh", ONNXC_SOURCE_DIR, dir, NULL},
           240, &p);
    cr_assert_eq(p.status, 0, "doxygen failed: %s%s", p.out, p.err);
    cr_expect_str_empty(p.err, "doxygen warnings:\n%s", p.err);
    tu_proc_free(&p);
    char *page = tu_path("%s/html/onnxc_8h.html", dir);
    cr_assert(tu_exists(page), "no %s", page);
    python_check("doxygen", doxygen_check, ONNXC_SOURCE_DIR "/include/onnxc.h", page, NULL, NULL);
    free(page);
    tu_rmtree(dir);
    free(dir);
}
