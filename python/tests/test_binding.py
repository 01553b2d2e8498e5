"""Tests of the Python binding (python/onnxc) against outside references.

Run from the repository with the standard library's runner (pytest is not
needed):

    ONNXC_LIBRARY=build/libonnxc.so /usr/bin/python3 -m unittest discover -s python/tests -v
    /usr/bin/python3 python/tests/test_binding.py -v

tests/test_python.c runs this file from ctest with ONNXC_LIBRARY pointing at
the build's library and ONNXC_ABI holding the C compiler's structure layout.

References:
  - shared/models/real/NAME.output.npy: ONNX Runtime 1.30 on NAME.input.npy
    (shared/models/real/PROVENANCE.md), tolerance 1e-4 absolute for
    |expected| <= 1, relative above (as tests/test_real_models.c);
  - input/output names, dtypes and shapes: the PROVENANCE.md table;
  - Fashion-MNIST labels (/usr/share/datasets/fashion-mnist), read here with
    gzip + numpy, not by the library;
  - forward passes computed with numpy from get_weights();
  - the onnx package's reader for saved files (when importable).
"""
import contextlib
import ctypes
import gzip
import io
import os
import sys
import tempfile
import unittest

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "python"))

import onnxc  # noqa: E402
from onnxc import _lib  # noqa: E402

SHARED = os.environ.get("ONNXC_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared")
REAL = os.path.join(SHARED, "models", "real")
FASHION = "/usr/share/datasets/fashion-mnist"
TOL = 1e-4

MNIST_ONNX = os.path.join(REAL, "tf2onnx-1.17_op13_ohhmkar_gopherRT_mnist.onnx")


def real_models(exts):
    if not os.path.isdir(REAL):
        return []
    return sorted(os.path.join(REAL, f) for f in os.listdir(REAL) if f.endswith(exts))


def stem(path):
    return os.path.splitext(path)[0]


def close_enough(got, expected, tol=TOL):
    """(ok, why): |got - expected| <= tol * max(1, |expected|) everywhere."""
    if got.shape != expected.shape:
        return False, "shape %s, expected %s" % (got.shape, expected.shape)
    diff = np.abs(got.astype(np.float64) - expected.astype(np.float64))
    bound = tol * np.maximum(1.0, np.abs(expected.astype(np.float64)))
    bad = np.argwhere(diff > bound)
    if len(bad):
        i = tuple(bad[0])
        return False, "%d elements off, first at %s: got %r, expected %r" % (
            len(bad), i, got[i], expected[i])
    return True, ""


def read_idx(path):
    """An idx file (MNIST format), from its description: magic 0x00 0x00 type
    ndims, then ndims big-endian uint32 dims, then uint8 data."""
    with gzip.open(path) as f:
        data = f.read()
    ndims = data[3]
    dims = np.frombuffer(data, ">u4", count=ndims, offset=4).astype(int)
    return np.frombuffer(data, np.uint8, offset=4 + 4 * ndims).reshape(dims)


_FASHION = {}


def fashion(split):
    if split not in _FASHION:
        prefix = os.path.join(FASHION, split)
        _FASHION[split] = (read_idx(prefix + "-images-idx3-ubyte.gz"),
                           read_idx(prefix + "-labels-idx1-ubyte.gz"))
    return _FASHION[split]


def dense_forward(weights, x, activations):
    """numpy reference for a Sequential network: weights [W0, b0, W1, b1, ...]."""
    h = x.astype(np.float64)
    for k, act in enumerate(activations):
        h = h @ weights[2 * k].astype(np.float64) + weights[2 * k + 1].astype(np.float64)
        if act == "relu":
            h = np.maximum(h, 0)
        elif act == "softmax":
            e = np.exp(h - h.max(axis=1, keepdims=True))
            h = e / e.sum(axis=1, keepdims=True)
    return h


def separable(n, dims=4, seed=0):
    """Labels from a random hyperplane through the origin, with a margin."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=dims)
    x = rng.normal(size=(n * 2, dims))
    s = x @ w
    keep = np.abs(s) > 0.2 * np.linalg.norm(w)
    x, s = x[keep][:n], s[keep][:n]
    return x.astype(np.float32), (s > 0).astype(np.int64)


class StructLayout(unittest.TestCase):
    """The ctypes structures against the C compiler's layout ($ONNXC_ABI,
    written by tests/test_python.c)."""

    CLASSES = {
        "onnxc_error": _lib.Error, "onnxc_tensor": _lib.Tensor, "onnxc_limits": _lib.Limits,
        "onnxc_save_options": _lib.SaveOptions, "onnxc_value_info": _lib.ValueInfo,
        "onnxc_model_meta": _lib.ModelMeta, "onnxc_node_info": _lib.NodeInfo,
        "onnxc_node_shape": _lib.NodeShape, "onnxc_session_options": _lib.SessionOptions,
        "onnxc_optimizer": _lib.Optimizer, "onnxc_trainer_options": _lib.TrainerOptions,
        "onnxc_batch_result": _lib.BatchResult, "onnxc_epoch_log": _lib.EpochLog,
        "onnxc_fit_options": _lib.FitOptions,
    }

    def test_matches_c(self):
        abi = os.environ.get("ONNXC_ABI")
        if not abi:
            self.skipTest("ONNXC_ABI not set (it is when tests/test_python.c runs this suite)")
        seen = set()
        for entry in filter(None, abi.split(";")):
            head, fields = entry.split(":", 1)
            name, size = head.split("=")
            cls = self.CLASSES.get(name)
            self.assertIsNotNone(cls, "no ctypes class for C struct %s" % name)
            seen.add(name)
            self.assertEqual(ctypes.sizeof(cls), int(size), "sizeof(%s)" % name)
            c_fields = [f.split("@") for f in fields.split(",")]
            self.assertEqual([f for f, _ in c_fields], [f for f, _ in cls._fields_],
                             "%s: field names/order" % name)
            for fname, place in c_fields:
                off, fsize = place.split("+")
                self.assertEqual(getattr(cls, fname).offset, int(off),
                                 "offsetof(%s, %s)" % (name, fname))
                self.assertEqual(getattr(cls, fname).size, int(fsize),
                                 "sizeof(%s.%s)" % (name, fname))
        self.assertEqual(seen, set(self.CLASSES))

    def test_version(self):
        self.assertRegex(onnxc.__version__, r"^\d+\.\d+\.\d+$")


class RealModels(unittest.TestCase):
    """Every real model runs to ONNX Runtime's output."""

    def check_model(self, path):
        m = onnxc.load(path)
        with m:
            x = np.load(stem(path) + ".input.npy")
            expected = np.load(stem(path) + ".output.npy")
            self.assertEqual(len(m.inputs), 1)
            self.assertEqual(len(m.outputs), 1)
            (iname, idtype, ishape), = m.inputs
            self.assertEqual(idtype, np.float32)
            self.assertEqual(len(ishape), x.ndim, "declared input rank")
            for d, n in zip(ishape, x.shape):
                self.assertIn(d, (None, n), "declared input shape %s vs data %s"
                              % (ishape, x.shape))
            got = m.run(x)
            self.assertIsInstance(got, np.ndarray)
            self.assertEqual(got.dtype, np.float32)
            ok, why = close_enough(got, expected)
            self.assertTrue(ok, why)
            # The same through every calling convention.
            np.testing.assert_array_equal(m.run({iname: x}), got)
            np.testing.assert_array_equal(m.run([x]), got)
            np.testing.assert_array_equal(m.predict(x), got)
            np.testing.assert_array_equal(m.run(x.astype(np.float64)), got)
            # Outputs are copies: a second run must not change the first result.
            keep = got.copy()
            m.run(np.zeros_like(x))
            np.testing.assert_array_equal(got, keep)

    def test_onnx_models(self):
        models = real_models(".onnx")
        self.assertGreater(len(models), 0, "no .onnx in %s" % REAL)
        for path in models:
            with self.subTest(model=os.path.basename(path)):
                self.check_model(path)

    def test_keras_models(self):
        models = real_models((".h5", ".keras"))
        self.assertGreater(len(models), 0, "no .h5/.keras in %s" % REAL)
        for path in models:
            with self.subTest(model=os.path.basename(path)):
                try:
                    self.check_model(path)
                except onnxc.UnsupportedError as e:
                    self.skipTest("onnxc reports %s unsupported: %s"
                                  % (os.path.basename(path), e))

    def test_metadata(self):
        # Names, dtypes and shapes from shared/models/real/PROVENANCE.md.
        m = onnxc.load(MNIST_ONNX)
        self.assertEqual(m.inputs, [("input_layer", np.float32, (None, 784))])
        self.assertEqual(m.outputs, [("output_0", np.float32, (None, 10))])
        self.assertEqual(m.inputs[0].name, "input_layer")
        self.assertEqual(m.meta["producer_name"], "tf2onnx")
        self.assertEqual(m.meta["ir_version"], 7)
        self.assertEqual(m.count_params(), 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10)
        m.check()
        m2 = onnxc.load(os.path.join(REAL,
                                     "pytorch-2.2_op10_0x18a6_verifiable-nn_mnist_model.onnx"))
        self.assertEqual(m2.inputs, [("onnx::Gemm_0", np.float32, (1, 196))])
        self.assertEqual(m2.outputs, [("7", np.float32, (1, 10))])
        ops = [n["op_type"] for n in m2.nodes()]
        self.assertEqual(ops, ["Gemm", "Relu", "Gemm"])
        self.assertEqual(m2.nodes()[-1]["output_shape"], (1, 10))

    def test_summary(self):
        m = onnxc.load(MNIST_ONNX)
        lines = []
        m.summary(print_fn=lines.append)
        text = "\n".join(lines)
        self.assertIn("MatMul", text)
        self.assertIn("Softmax", text)
        self.assertIn("Total params: 109,386", text)   # 784*128+128+128*64+64+64*10+10

    def test_threads_do_not_change_results(self):
        m = onnxc.load(MNIST_ONNX)
        x = np.random.default_rng(1).random((64, 784), dtype=np.float32)
        m.threads = 1
        one = m.run(x)
        m.threads = 2
        np.testing.assert_array_equal(m.run(x), one)


class Errors(unittest.TestCase):
    """Failures raise onnxc.Error subclasses carrying the library's message."""

    def test_missing_file(self):
        with self.assertRaises(onnxc.FileError) as cm:
            onnxc.load("/nonexistent/dir/model.onnx")
        self.assertIsInstance(cm.exception, onnxc.Error)
        self.assertIn("/nonexistent/dir/model.onnx", str(cm.exception))
        self.assertEqual(cm.exception.status, _lib.ERR_IO)

    def test_garbage_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "garbage.onnx")
            with open(path, "wb") as f:
                f.write(b"\xff\xff\xff\xff this is not protobuf")
            with self.assertRaises(onnxc.Error) as cm:
                onnxc.load(path)
            self.assertIn("garbage.onnx", str(cm.exception))
            self.assertIn(type(cm.exception), (onnxc.ParseError, onnxc.ModelError))

    def test_wrong_input_shape(self):
        m = onnxc.load(MNIST_ONNX)
        with self.assertRaises(onnxc.ShapeError) as cm:
            m.run(np.zeros((3, 785), np.float32))
        msg = str(cm.exception)
        self.assertIn("input_layer", msg)
        self.assertIn("785", msg)
        # The model still works after a failed run.
        self.assertEqual(m.run(np.zeros((2, 784), np.float32)).shape, (2, 10))

    def test_wrong_input_dtype_and_binding(self):
        m = onnxc.load(MNIST_ONNX)
        with self.assertRaises(onnxc.ShapeError) as cm:
            m.run(np.zeros((1, 784), np.complex64))
        self.assertIn("float32", str(cm.exception))
        with self.assertRaises(onnxc.ArgumentError) as cm:
            m.run({"no_such_input": np.zeros((1, 784))})
        self.assertIn("no_such_input", str(cm.exception))
        with self.assertRaises(onnxc.ArgumentError):
            m.run([np.zeros((1, 784)), np.zeros((1, 784))])

    def test_bad_spec_and_compile(self):
        with self.assertRaises(onnxc.Error) as cm:
            onnxc.Sequential("784,64:nonsense", seed=1)
        self.assertIn("nonsense", str(cm.exception))
        m = onnxc.Sequential("4,2:softmax")
        with self.assertRaises(onnxc.ArgumentError) as cm:
            m.compile(optimizer="no_such_optimizer")
        self.assertIn("no_such_optimizer", str(cm.exception))
        with self.assertRaises(onnxc.ArgumentError) as cm:
            m.compile(loss="no_such_loss")
        self.assertIn("no_such_loss", str(cm.exception))
        with self.assertRaises(onnxc.ArgumentError):
            m.evaluate(np.zeros((2, 4)), np.zeros(2))      # not compiled

    def test_fit_shape_mismatch(self):
        m = onnxc.Sequential("4,2:softmax")
        m.compile()
        with self.assertRaises(onnxc.ShapeError):
            m.fit(np.zeros((10, 4)), np.zeros(9), verbose=0)
        with self.assertRaises(onnxc.Error):
            m.fit(np.zeros((10, 5)), np.zeros(10), verbose=0)

    def test_closed_model(self):
        with onnxc.load(MNIST_ONNX) as m:
            pass
        with self.assertRaises(onnxc.Error):
            m.run(np.zeros((1, 784)))
        m.close()   # twice is fine


class Training(unittest.TestCase):

    def test_separable_problem(self):
        x, y = separable(1200)
        m = onnxc.Sequential("4,16:relu,2:softmax", seed=3)
        m.compile(optimizer=onnxc.optimizers.Adam(learning_rate=0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            h = m.fit(x[:1000], y[:1000], epochs=8, batch_size=32, validation_split=0.1,
                      verbose=2)
        self.assertEqual(sorted(h.history), ["accuracy", "loss", "val_accuracy", "val_loss"])
        for key, values in h.history.items():
            self.assertEqual(len(values), 8, key)
        self.assertEqual(h.epoch, list(range(8)))
        self.assertEqual(h.params["steps"], 29)        # ceil(900 / 32)
        self.assertGreater(h.history["accuracy"][-1], 0.9)
        self.assertGreater(h.history["val_accuracy"][-1], 0.9)
        self.assertLess(h.history["loss"][-1], h.history["loss"][0])
        printed = out.getvalue()
        self.assertIn("Epoch 8/8", printed)
        self.assertIn("val_accuracy:", printed)
        loss, acc = m.evaluate(x[1000:], y[1000:])
        self.assertGreater(acc, 0.9)
        # evaluate's accuracy is the fraction predict() gets right.
        pred = m.predict(x[1000:]).argmax(axis=1)
        self.assertAlmostEqual(acc, float((pred == y[1000:]).mean()), places=12)

    def test_validation_data_and_silence(self):
        x, y = separable(600, seed=5)
        m = onnxc.Sequential([4, "8:relu", "2:softmax"], seed=1)
        m.compile(optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            h = m.fit(x[:500], y[:500], epochs=3, validation_data=(x[500:], y[500:]), verbose=0,
                      shuffle=False)
        self.assertEqual(out.getvalue(), "")
        self.assertEqual(len(h.history["val_loss"]), 3)
        # The reported validation figures are evaluate() on the same data.
        loss, acc = m.evaluate(x[500:], y[500:])
        self.assertAlmostEqual(h.history["val_loss"][-1], loss, places=6)
        self.assertAlmostEqual(h.history["val_accuracy"][-1], acc, places=12)

    def test_callbacks_stop_and_errors(self):
        x, y = separable(200, seed=2)
        m = onnxc.Sequential("4,2:softmax")
        m.compile()

        class StopAfterTwo(onnxc.Callback):
            def on_epoch_end(self, epoch, logs=None):
                if epoch == 1:
                    self.model.stop_training = True

        h = m.fit(x, y, epochs=10, verbose=0, callbacks=[StopAfterTwo()])
        self.assertEqual(len(h.history["loss"]), 2)

        class Boom(Exception):
            pass

        class Raise(onnxc.Callback):
            def on_epoch_end(self, epoch, logs=None):
                raise Boom("from a callback")

        with self.assertRaises(Boom):
            m.fit(x, y, epochs=3, verbose=0, callbacks=[Raise()])
        self.assertEqual(m.run(x[:3]).shape, (3, 2))   # still usable

    def test_checkpoint_resume(self):
        # Three epochs straight vs two, a checkpoint, and a fresh model resumed
        # for the third: the library promises the same weights bit for bit.
        x, y = separable(256, seed=11)

        def fresh():
            m = onnxc.Sequential("4,8:relu,2:softmax", seed=4)
            m.compile(optimizer="adam")
            return m

        straight = fresh()
        straight.fit(x, y, epochs=3, batch_size=16, verbose=0)
        with tempfile.TemporaryDirectory() as d:
            ckpt = os.path.join(d, "run.ckpt")
            first = fresh()
            first.fit(x, y, epochs=2, batch_size=16, verbose=0, checkpoint=ckpt)
            self.assertTrue(os.path.exists(ckpt))
            resumed = fresh()
            h = resumed.fit(x, y, epochs=3, batch_size=16, verbose=0, resume=ckpt)
            self.assertEqual(len(h.history["loss"]), 1)   # only the third epoch ran
        for a, b in zip(resumed.get_weights(), straight.get_weights()):
            np.testing.assert_array_equal(a, b)

    @unittest.skipUnless(os.path.isdir(FASHION), "no Fashion-MNIST in " + FASHION)
    def test_fashion_mnist(self):
        xs, ys = fashion("train")
        xt, yt = fashion("t10k")
        m = onnxc.Sequential("784,64:relu,64:relu,10:softmax", seed=1)
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
        h = m.fit(xs[:5000], ys[:5000], epochs=1, batch_size=32, verbose=0)
        self.assertEqual(len(h.history["accuracy"]), 1)
        loss, acc = m.evaluate(xt[:2000], yt[:2000])
        self.assertGreater(acc, 0.75)
        # Independent check of run() and get_weights(): a numpy forward pass.
        x = xt[:2000].reshape(2000, 784).astype(np.float32) / 255.0
        ref = dense_forward(m.get_weights(), x, ["relu", "relu", "softmax"])
        got = m.predict(x)
        ok, why = close_enough(got, ref, 1e-5)
        self.assertTrue(ok, why)
        self.assertAlmostEqual(acc, float((ref.argmax(1) == yt[:2000]).mean()), delta=1e-3)
        # Keras's test loss: mean -log p[label].
        ce = -np.log(ref[np.arange(2000), yt[:2000]]).mean()
        self.assertAlmostEqual(loss, ce, delta=1e-4)


class SaveAndWeights(unittest.TestCase):

    def trained(self):
        x, y = separable(300, seed=7)
        m = onnxc.Sequential("4,8:relu,2:softmax", seed=2)
        m.compile()
        m.fit(x, y, epochs=2, verbose=0)
        return m, x

    def test_save_then_load(self):
        m, x = self.trained()
        before = m.predict(x)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "trained.onnx")
            m.save(path)
            m2 = onnxc.load(path)
            np.testing.assert_array_equal(m2.predict(x), before)
            self.assertEqual(m2.inputs, m.inputs)
            for a, b in zip(m2.get_weights(), m.get_weights()):
                np.testing.assert_array_equal(a, b)
            # External data, and bytes in memory.
            ext = os.path.join(d, "ext.onnx")
            m.save(ext, external_data=True, external_threshold=16)
            self.assertTrue(os.path.exists(ext + ".data") or
                            any(f.endswith(".data") for f in os.listdir(d)))
            np.testing.assert_array_equal(onnxc.load(ext).predict(x), before)
            np.testing.assert_array_equal(onnxc.from_bytes(m.to_bytes()).predict(x), before)
            self.check_with_onnx(path, m)

    def check_with_onnx(self, path, m):
        """The onnx package reads back the weights we wrote (an outside reader)."""
        try:
            import onnx
            from onnx import numpy_helper
        except ImportError:
            return
        proto = onnx.load(path)
        onnx.checker.check_model(proto)
        inits = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        for name, w in zip(m.weight_names, m.get_weights()):
            np.testing.assert_array_equal(inits[name], w)

    def test_weights_round_trip(self):
        m, x = self.trained()
        weights = m.get_weights()
        self.assertEqual([w.shape for w in weights], [(4, 8), (8,), (8, 2), (2,)])
        self.assertEqual(len(m.weight_names), 4)
        before = m.predict(x)
        ok, why = close_enough(before, dense_forward(weights, x, ["relu", "softmax"]), 1e-5)
        self.assertTrue(ok, why)

        # New values take effect on the next run (the session re-packs them).
        changed = [w * 0.5 for w in weights]
        m.set_weights(changed)
        for a, b in zip(m.get_weights(), changed):
            np.testing.assert_array_equal(a, b.astype(np.float32))
        ok, why = close_enough(m.predict(x), dense_forward(changed, x, ["relu", "softmax"]), 1e-5)
        self.assertTrue(ok, why)

        # float64 input is converted; a copy returned earlier is not aliased.
        weights[0][...] = 99.0
        m.set_weights([w.astype(np.float64) for w in m.get_weights()])
        self.assertFalse(np.any(m.get_weights()[0] == 99.0))

        # Wrong count or shape: an error, and nothing is written.
        current = m.get_weights()
        with self.assertRaises(onnxc.ShapeError):
            m.set_weights(current[:3])
        with self.assertRaises(onnxc.ShapeError) as cm:
            m.set_weights([np.zeros((4, 9))] + current[1:])
        self.assertIn(m.weight_names[0], str(cm.exception))
        for a, b in zip(m.get_weights(), current):
            np.testing.assert_array_equal(a, b)

        # Restoring the originals restores the predictions bit for bit.
        m.set_weights([w * 2 for w in changed])
        np.testing.assert_array_equal(m.predict(x), before)

    def test_weights_of_a_loaded_model(self):
        m = onnxc.load(MNIST_ONNX)
        ws = m.get_weights()
        self.assertEqual(sorted(w.shape for w in ws),
                         sorted([(784, 128), (128,), (128, 64), (64,), (64, 10), (10,)]))
        self.assertEqual(sum(w.size for w in ws), m.count_params())


if __name__ == "__main__":
    unittest.main()
