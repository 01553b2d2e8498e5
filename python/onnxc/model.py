"""Model: one onnxc_model plus the session and trainer built on it.

Ownership, mirroring the C API's borrowing rules:
  - a Model owns its onnxc_model* and frees it in close() (also on garbage
    collection and at the end of a `with` block);
  - the onnxc_session used by run() is created on first use and borrows the
    model; when the weights change (fit's steps, set_weights through
    onnxc_model_weights_changed) it re-packs them at its next run();
  - the onnxc_trainer is created by compile(), borrows the model, and is freed
    before it.
Arrays returned by run(), get_weights() etc. are copies the caller owns.
A Model is not safe to use from several Python threads at once.
"""
import collections
import ctypes
import os

import numpy as np

from . import _convert, _lib, optimizers
from .callbacks import History, ProgressPrinter
from .errors import ArgumentError, Error, ShapeError, check

lib = _lib.lib

ValueInfo = collections.namedtuple("ValueInfo", "name dtype shape")
ValueInfo.__doc__ = """A graph input or output: name, numpy dtype (None when numpy has no
equivalent), and shape as a tuple with None for symbolic or unknown dims
(or None when the file declares no shape)."""

_CLASSIFICATION_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy",
                          "binary_crossentropy"}


def _fspath(path):
    return os.fsencode(os.fspath(path))


def _value_info(vi):
    shape = None
    if vi.rank >= 0:
        shape = tuple(None if vi.dims[d] < 0 else int(vi.dims[d]) for d in range(vi.rank))
    return ValueInfo(_lib.text(vi.name), _convert.numpy_dtype(vi.dtype), shape)


def _limits(limits):
    """A dict of onnxc_limits fields over the library's defaults, or None."""
    if limits is None:
        return None
    c = _lib.Limits()
    lib.onnxc_limits_default(ctypes.byref(c))
    for key, value in dict(limits).items():
        if key not in dict(_lib.Limits._fields_):
            raise ArgumentError("unknown limit '%s': expected one of %s"
                                % (key, ", ".join(f for f, _ in _lib.Limits._fields_)))
        setattr(c, key, int(value))
    return ctypes.byref(c)


class Model:
    """An ONNX model held by the library. Make one with onnxc.load(),
    onnxc.from_bytes() or onnxc.Sequential()."""

    def __init__(self, _handle, source=None, seed=1):
        if not isinstance(_handle, ctypes.c_void_p) or not _handle:
            raise ArgumentError("Model() is not called directly; use onnxc.load(path), "
                                "onnxc.from_bytes(data) or onnxc.Sequential(spec)")
        self._model = _handle
        self._session = None
        self._trainer = None
        self._threads = 0
        self._seed = seed
        self._loss = None
        self._metrics = []
        self._inputs = None
        self._outputs = None
        self.source = source
        self.stop_training = False

    # -- lifetime ------------------------------------------------------------

    def close(self):
        """Free the session, trainer and model. Further use raises onnxc.Error."""
        self._drop_session()
        if getattr(self, "_trainer", None):
            lib.onnxc_trainer_free(self._trainer)
            self._trainer = None
        if getattr(self, "_model", None):
            lib.onnxc_model_free(self._model)
            self._model = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:   # interpreter shutdown: the library may be gone already
            pass

    def _handle(self):
        if not self._model:
            raise ArgumentError("this model was closed")
        return self._model

    def _drop_session(self):
        if getattr(self, "_session", None):
            lib.onnxc_session_free(self._session)
            self._session = None

    def __repr__(self):
        if not self._model:
            return "<onnxc.Model (closed)>"
        return "<onnxc.Model %s inputs=%s outputs=%s>" % (
            self.source or "", [i.name for i in self.inputs], [o.name for o in self.outputs])

    # -- introspection -------------------------------------------------------

    @property
    def inputs(self):
        """Graph inputs (initializers excluded) as ValueInfo(name, dtype, shape)."""
        if self._inputs is None:
            m = self._handle()
            vi = _lib.ValueInfo()
            out = []
            for i in range(lib.onnxc_model_input_count(m)):
                check(lib.onnxc_model_input(m, i, ctypes.byref(vi)), None)
                out.append(_value_info(vi))
            self._inputs = out
        return list(self._inputs)

    @property
    def outputs(self):
        """Graph outputs as ValueInfo(name, dtype, shape)."""
        if self._outputs is None:
            m = self._handle()
            vi = _lib.ValueInfo()
            out = []
            for i in range(lib.onnxc_model_output_count(m)):
                check(lib.onnxc_model_output(m, i, ctypes.byref(vi)), None)
                out.append(_value_info(vi))
            self._outputs = out
        return list(self._outputs)

    @property
    def meta(self):
        """Producer, IR version, graph name and opset imports, as a dict."""
        m = self._handle()
        meta = _lib.ModelMeta()
        lib.onnxc_model_get_meta(m, ctypes.byref(meta))
        opsets = {}
        for i in range(meta.opset_count):
            dom, ver = ctypes.c_char_p(), ctypes.c_int64()
            check(lib.onnxc_model_opset(m, i, ctypes.byref(dom), ctypes.byref(ver)), None)
            opsets[_lib.text(dom.value) or ""] = ver.value
        return {"ir_version": meta.ir_version, "producer_name": _lib.text(meta.producer_name),
                "producer_version": _lib.text(meta.producer_version),
                "graph_name": _lib.text(meta.graph_name), "opsets": opsets}

    def check(self):
        """Raise (UnsupportedError, ShapeError, ...) with every problem that stops
        the model from running; return None when it can run."""
        err = _lib.Error()
        check(lib.onnxc_model_check(self._handle(), ctypes.byref(err)), err)

    def count_params(self):
        """Floating-point initializer elements, as Keras counts parameters."""
        count, size = ctypes.c_uint64(), ctypes.c_uint64()
        lib.onnxc_model_param_totals(self._handle(), ctypes.byref(count), ctypes.byref(size))
        return count.value

    def nodes(self):
        """One dict per node in execution order: name, op_type, domain,
        output_shape (None dims vary with the batch; None when unknown), params."""
        m = self._handle()
        n = lib.onnxc_model_node_count(m)
        shapes = (_lib.NodeShape * max(n, 1))()
        err = _lib.Error()
        have_shapes = lib.onnxc_model_infer_shapes(m, shapes, ctypes.byref(err)) == _lib.OK
        info = _lib.NodeInfo()
        out = []
        for i in range(n):
            check(lib.onnxc_model_node(m, i, ctypes.byref(info)), None)
            shape = None
            if have_shapes and shapes[i].rank >= 0:
                s = shapes[i]
                shape = tuple(None if s.dims[d] < 0 or s.dim_names[d] else int(s.dims[d])
                              for d in range(s.rank))
            out.append({"name": _lib.text(info.name) or _lib.text(info.first_output),
                        "op_type": _lib.text(info.op_type), "domain": _lib.text(info.domain),
                        "output_shape": shape, "params": int(info.param_count)})
        return out

    def summary(self, print_fn=None):
        """Print a Keras-like table: one row per node with its output shape and
        parameter count, then the totals."""
        emit = print_fn or print
        rule = "_" * 88
        emit('Model: "%s"' % (self.meta["graph_name"] or self.source or "model"))
        emit(rule)
        emit(" %-44s %-28s %12s" % ("Node (type)", "Output Shape", "Param #"))
        emit("=" * 88)
        for node in self.nodes():
            shape = node["output_shape"]
            text = "?" if shape is None else \
                "(" + ", ".join("None" if d is None else str(d) for d in shape) + \
                ("," if len(shape) == 1 else "") + ")"
            emit(" %-44s %-28s %12s" % ("%s (%s)" % (node["name"], node["op_type"]), text,
                                        "{:,}".format(node["params"])))
        count, size = ctypes.c_uint64(), ctypes.c_uint64()
        lib.onnxc_model_param_totals(self._handle(), ctypes.byref(count), ctypes.byref(size))
        emit("=" * 88)
        emit("Total params: {:,} ({:.2f} KB)".format(count.value, size.value / 1024.0))
        emit(rule)

    # -- weights -------------------------------------------------------------

    def _weight_views(self):
        """(name, tensor) for every floating-point initializer numpy can hold."""
        m = self._handle()
        out = []
        for i in range(lib.onnxc_model_initializer_count(m)):
            t = _lib.Tensor()
            check(lib.onnxc_model_initializer(m, i, ctypes.byref(t)), None)
            dt = _convert.numpy_dtype(t.dtype)
            if dt is not None and dt.kind == "f":
                out.append((_lib.text(t.name), t))
        return out

    @property
    def weight_names(self):
        """Names of the arrays get_weights() returns, in the same order."""
        return [name for name, _ in self._weight_views()]

    def get_weights(self):
        """Copies of the floating-point initializers (the parameters), in file order."""
        return [_convert.to_numpy(t, "initializer '%s'" % name)
                for name, t in self._weight_views()]

    def set_weights(self, weights):
        """Overwrite the parameters with `weights` (same order, shapes and count as
        get_weights()); values are converted to each initializer's dtype."""
        views = self._weight_views()
        weights = list(weights)
        if len(weights) != len(views):
            raise ShapeError("set_weights: expected %d arrays (one per floating-point "
                             "initializer), got %d" % (len(views), len(weights)))
        staged = []
        for (name, t), w in zip(views, weights):
            want = _convert.numpy_dtype(t.dtype)
            a = _convert.coerce(w, want, "set_weights: initializer '%s'" % name)
            shape = tuple(int(t.dims[d]) for d in range(t.rank))
            if a.shape != shape:
                raise ShapeError("set_weights: initializer '%s': expected shape %s, got %s"
                                 % (name, shape, a.shape))
            staged.append((t, a))
        # Only write once everything is known to fit: a failure leaves no half-update.
        for t, a in staged:
            if a.nbytes:
                ctypes.memmove(t.data, a.ctypes.data, a.nbytes)
        lib.onnxc_model_weights_changed(self._handle())

    # -- inference -----------------------------------------------------------

    @property
    def threads(self):
        """Threads for kernels (0: OpenMP's default). Results do not depend on it."""
        return self._threads

    @threads.setter
    def threads(self, n):
        n = int(n)
        if n < 0:
            raise ArgumentError("threads must be >= 0, got %d" % n)
        self._threads = n
        err = _lib.Error()
        if self._session:
            check(lib.onnxc_session_set_threads(self._session, n, ctypes.byref(err)), err)
        if self._trainer:
            check(lib.onnxc_trainer_set_threads(self._trainer, n, ctypes.byref(err)), err)

    def _session_handle(self):
        if not self._session:
            opts = _lib.SessionOptions(threads=self._threads, seed=self._seed)
            sess = ctypes.c_void_p()
            err = _lib.Error()
            check(lib.onnxc_session_create(self._handle(), ctypes.byref(opts), ctypes.byref(sess),
                                           ctypes.byref(err)), err)
            self._session = sess
        return self._session

    def _feeds(self, x):
        """[(name bytes or None, array)] for run(): binds by name for a dict,
        by position for a list/tuple, or feeds a lone array to the only input."""
        infos = self.inputs
        by_name = {i.name: i for i in infos}
        if isinstance(x, dict):
            feeds = []
            for name, value in x.items():
                if name not in by_name:
                    raise ArgumentError("run: the model has no input '%s'; its inputs are %s"
                                        % (name, ", ".join(repr(i.name) for i in infos)))
                info = by_name[name]
                feeds.append((name.encode(), _convert.coerce(value, info.dtype,
                                                             "input '%s'" % name)))
            missing = [i.name for i in infos if i.name not in x]
            if missing:
                raise ArgumentError("run: no value for input(s) %s"
                                    % ", ".join(repr(n) for n in missing))
            return feeds
        # A list of arrays is positional; a nested list of numbers is data for
        # a single-input model.
        positional = isinstance(x, (list, tuple)) and (
            len(infos) != 1 or (len(x) > 0 and all(isinstance(v, np.ndarray) for v in x)))
        if not positional:
            if len(infos) != 1:
                raise ArgumentError("run: the model has %d inputs (%s); pass a list or a dict "
                                    "by name" % (len(infos), ", ".join(i.name for i in infos)))
            x = [x]
        if len(x) != len(infos):
            raise ArgumentError("run: expected %d input(s) (%s), got %d"
                                % (len(infos), ", ".join(i.name for i in infos), len(x)))
        return [(None, _convert.coerce(v, i.dtype, "input '%s'" % i.name))
                for v, i in zip(x, infos)]

    def run(self, x):
        """Run the model. `x`: an array (single-input model), a list of arrays in
        input order, or a dict {input name: array}. Inputs are converted to the
        declared dtype when no value changes kind (float64 -> float32 is fine,
        float -> int is not). Returns a new array for a single-output model,
        else a list of arrays in output order."""
        feeds = self._feeds(x)
        n_out = len(self.outputs)
        ins = (_lib.Tensor * max(len(feeds), 1))()
        for k, (name, a) in enumerate(feeds):
            _convert.fill_tensor(ins[k], a, name)
        outs = (_lib.Tensor * max(n_out, 1))()
        err = _lib.Error()
        check(lib.onnxc_session_run(self._session_handle(), ins, len(feeds), outs, n_out,
                                    ctypes.byref(err)), err)
        # Session-owned buffers are reused by the next run: copy them out now.
        results = [_convert.to_numpy(outs[k], "output '%s'" % self._outputs[k].name)
                   for k in range(n_out)]
        return results[0] if n_out == 1 else results

    __call__ = run

    def predict(self, x, batch_size=None, verbose=0):
        """run() for a single-input, single-output model, in chunks of
        `batch_size` samples when given (None: all at once)."""
        if len(self.outputs) != 1 or len(self.inputs) != 1:
            raise ArgumentError("predict: needs one input and one output, the model has %d and "
                                "%d; use run()" % (len(self.inputs), len(self.outputs)))
        x = np.asarray(x)
        if not batch_size or len(x) <= batch_size:
            return self.run(x)
        return np.concatenate([self.run(x[i:i + batch_size])
                               for i in range(0, len(x), int(batch_size))])

    # -- saving --------------------------------------------------------------

    def save(self, path, external_data=False, external_threshold=1024, external_file=None):
        """Write the model with its current weights as ONNX, atomically. With
        external_data, initializers of at least `external_threshold` bytes go to
        a side file (default "<model>.data")."""
        opts = _lib.SaveOptions(external_data=1 if external_data else 0,
                                external_threshold=int(external_threshold),
                                external_file=None if external_file is None
                                else os.fsencode(external_file))
        err = _lib.Error()
        check(lib.onnxc_model_save(self._handle(), _fspath(path), ctypes.byref(opts),
                                   ctypes.byref(err)), err)

    def to_bytes(self):
        """The serialized ONNX model (everything inline)."""
        data, size = ctypes.c_void_p(), ctypes.c_size_t()
        err = _lib.Error()
        check(lib.onnxc_model_save_memory(self._handle(), ctypes.byref(data), ctypes.byref(size),
                                          ctypes.byref(err)), err)
        try:
            return ctypes.string_at(data, size.value)
        finally:
            _lib.c_free(data)

    # -- training ------------------------------------------------------------

    def compile(self, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=None,
                from_logits=False, seed=None, threads=None):
        """Prepare for training (creates the trainer; optimizer state starts fresh).
        optimizer: a name ("adam", "sgd", "rmsprop", ...), a dict with "name" and
        hyper-parameters, or an onnxc.optimizers.Optimizer. loss: a Keras loss
        name. metrics: accepted for Keras compatibility; accuracy is always
        reported for classification losses. seed: shuffling and dropout
        (default: the Sequential seed, else 1)."""
        loss_name = loss if isinstance(loss, str) else getattr(loss, "name", None)
        if not isinstance(loss_name, str):
            raise ArgumentError("compile: loss must be a Keras loss name such as "
                                "'sparse_categorical_crossentropy', got %r" % (loss,))
        from_logits = bool(from_logits or getattr(loss, "from_logits", False))
        opts = _lib.TrainerOptions()
        lib.onnxc_trainer_options_default(ctypes.byref(opts))
        err = _lib.Error()
        code = ctypes.c_int()
        check(lib.onnxc_loss_from_name(loss_name.encode(), ctypes.byref(code),
                                       ctypes.byref(err)), err)
        opts.loss = code.value
        opts.optimizer = optimizers.get(optimizer).to_c()
        if threads is not None:
            self._threads = int(threads)
        opts.threads = self._threads
        opts.seed = self._seed if seed is None else int(seed)
        opts.from_logits = from_logits
        trainer = ctypes.c_void_p()
        check(lib.onnxc_trainer_create(self._handle(), ctypes.byref(opts), ctypes.byref(trainer),
                                       ctypes.byref(err)), err)
        if self._trainer:
            lib.onnxc_trainer_free(self._trainer)
        self._trainer = trainer
        self._loss = _lib.text(lib.onnxc_loss_name(opts.loss))
        wanted = [m for m in (metrics or []) if isinstance(m, str)]
        self._metrics = ["accuracy"] if (self._loss in _CLASSIFICATION_LOSSES or
                                         any(m in ("accuracy", "acc") for m in wanted)) else []

    def _trainer_handle(self, what):
        self._handle()
        if not self._trainer:
            raise ArgumentError("%s: call compile() first" % what)
        return self._trainer

    @staticmethod
    def _dataset(x, y, what):
        """An onnxc_dataset copied from arrays: uint8 x stays uint8 (scaled by
        1/255 per batch by the library), other numbers become float."""
        x = np.asarray(x)
        if x.dtype != np.uint8 and x.dtype not in (np.float32, np.float64, np.int32, np.int64):
            x = _convert.coerce(x, np.dtype(np.float32), "%s: x" % what)
        x = _convert.coerce(x, None, "%s: x" % what)
        y = _convert.coerce(y, None, "%s: y" % what)
        if x.ndim < 1 or y.ndim < 1 or len(x) != len(y):
            raise ShapeError("%s: x and y need the same number of samples along the first axis, "
                             "got x %s and y %s" % (what, x.shape, y.shape))
        ds = ctypes.c_void_p()
        err = _lib.Error()
        check(lib.onnxc_dataset_from_tensors(ctypes.byref(_convert.tensor(x)),
                                             ctypes.byref(_convert.tensor(y)), ctypes.byref(ds),
                                             ctypes.byref(err)), err)
        return ds

    def _logs(self, loss, accuracy, prefix=""):
        logs = {prefix + "loss": float(loss)}
        if "accuracy" in self._metrics:
            logs[prefix + "accuracy"] = float(accuracy)
        return logs

    def fit(self, x, y, epochs=1, batch_size=32, validation_split=0.0, validation_data=None,
            shuffle=True, verbose=1, callbacks=None, checkpoint=None, resume=None):
        """Keras's fit(): returns a History whose .history holds per-epoch "loss",
        "accuracy" and, with validation, "val_loss" and "val_accuracy".
        validation_split takes the last fraction of x/y before shuffling;
        validation_data=(x_val, y_val) overrides it. checkpoint: a path written
        after every epoch; resume: continue from such a checkpoint."""
        trainer = self._trainer_handle("fit")
        history = History()
        cbs = [history] + list(callbacks or [])
        for cb in cbs:
            if hasattr(cb, "set_model"):
                cb.set_model(self)
        train = val = None
        try:
            train = self._dataset(x, y, "fit")
            if validation_data is not None:
                if len(validation_data) != 2:
                    raise ArgumentError("fit: validation_data must be (x_val, y_val)")
                val = self._dataset(validation_data[0], validation_data[1],
                                    "fit: validation_data")
            n = lib.onnxc_dataset_size(train)
            n_train = n if val else n - int(np.floor(n * float(validation_split)))
            bs = max(1, min(int(batch_size or 32), max(n_train, 1)))
            steps = (n_train + bs - 1) // bs
            history.params = {"epochs": int(epochs), "steps": steps, "verbose": verbose}
            return self._fit_loop(trainer, train, val, epochs, bs, validation_split, shuffle,
                                  verbose, cbs, history, steps, checkpoint, resume)
        finally:
            lib.onnxc_dataset_free(train)
            lib.onnxc_dataset_free(val)

    def _fit_loop(self, trainer, train, val, epochs, bs, validation_split, shuffle, verbose,
                  cbs, history, steps, checkpoint, resume):
        printer = ProgressPrinter(int(verbose), int(epochs))
        state = {"error": None, "stopped": False}
        self.stop_training = False

        def call(hook, *args):
            for cb in cbs:
                fn = getattr(cb, hook, None)
                if fn is not None:
                    fn(*args)

        def progress(_user, epoch, _epochs, step, nsteps, loss, accuracy, log):
            # Runs inside onnxc_trainer_fit. An exception must not cross the C
            # frames: keep it, ask the library to stop, re-raise after.
            try:
                if log:
                    entry = log.contents
                    logs = self._logs(entry.loss, entry.accuracy)
                    if entry.has_validation:
                        logs.update(self._logs(entry.val_loss, entry.val_accuracy, "val_"))
                    printer.epoch_end(nsteps, entry.seconds, logs)
                    call("on_epoch_end", epoch - 1, logs)
                else:
                    if step == 1:
                        printer.epoch_begin(epoch)
                        call("on_epoch_begin", epoch - 1, {})
                    printer.batch(step, nsteps, self._logs(loss, accuracy))
            except BaseException as e:   # KeyboardInterrupt included: stop cleanly
                state["error"] = e
                return 1
            if self.stop_training:
                state["stopped"] = True
                return 1
            return 0

        fn = _lib.ProgressFn(progress)   # referenced until fit returns
        opts = _lib.FitOptions(epochs=int(epochs), batch_size=int(bs),
                               validation_split=0.0 if val else float(validation_split),
                               validation=val.value if val else None,
                               no_shuffle=not shuffle,
                               checkpoint_path=None if checkpoint is None else _fspath(checkpoint),
                               resume_path=None if resume is None else _fspath(resume),
                               progress=fn, progress_user=None)
        call("on_train_begin", {})
        err = _lib.Error()
        status = lib.onnxc_trainer_fit(trainer, train, ctypes.byref(opts), None, 0,
                                       ctypes.byref(err))
        if state["error"] is not None:
            raise state["error"]
        if not state["stopped"]:
            check(status, err)
        call("on_train_end", dict((k, v[-1]) for k, v in history.history.items()))
        return history

    def evaluate(self, x, y, batch_size=32, verbose=0, return_dict=False):
        """Loss and accuracy over (x, y) with inference semantics: [loss, accuracy]
        (or a dict with return_dict)."""
        trainer = self._trainer_handle("evaluate")
        ds = self._dataset(x, y, "evaluate")
        try:
            loss, acc = ctypes.c_double(), ctypes.c_double()
            err = _lib.Error()
            check(lib.onnxc_trainer_evaluate(trainer, ds, int(batch_size), ctypes.byref(loss),
                                             ctypes.byref(acc), None, 0, ctypes.byref(err)), err)
        finally:
            lib.onnxc_dataset_free(ds)
        logs = self._logs(loss.value, acc.value)
        if verbose:
            print(" - ".join("%s: %.4f" % kv for kv in logs.items()))
        return logs if return_dict else list(logs.values())


class Sequential(Model):
    """A new dense network from a spec such as "784,64:relu,64:relu,10:softmax"
    (the input width, then units[:activation] per Dense layer), Glorot-uniform
    kernels from `seed`, zero biases. A list such as [784, "64:relu",
    "10:softmax"] is joined with commas."""

    def __init__(self, spec, seed=1):
        if not isinstance(spec, str):
            spec = ",".join(str(s) for s in spec)
        handle = ctypes.c_void_p()
        err = _lib.Error()
        check(lib.onnxc_model_from_spec(spec.encode(), int(seed), ctypes.byref(handle),
                                        ctypes.byref(err)), err)
        super().__init__(handle, source=spec, seed=int(seed))
        self.spec = spec


def load(path, arch=None, limits=None):
    """Load .onnx, Keras .h5 or .keras (picked by the file's signature).
    arch: the architecture spec for a weights-only Keras file. limits: a dict
    of onnxc_limits fields (max_file_bytes, ...) over the defaults."""
    handle = ctypes.c_void_p()
    err = _lib.Error()
    if arch is not None:
        status = lib.onnxc_model_load_keras(_fspath(path), arch.encode(), _limits(limits),
                                            ctypes.byref(handle), ctypes.byref(err))
    else:
        status = lib.onnxc_model_load(_fspath(path), _limits(limits), ctypes.byref(handle),
                                      ctypes.byref(err))
    check(status, err)
    return Model(handle, source=os.fspath(path))


def from_bytes(data, base_dir=None, label=None, limits=None):
    """Load an ONNX model from bytes. base_dir resolves external data (None:
    refused); label names the model in messages."""
    data = bytes(data)
    handle = ctypes.c_void_p()
    err = _lib.Error()
    check(lib.onnxc_model_load_memory(data, len(data),
                                      None if base_dir is None else _fspath(base_dir),
                                      None if label is None else label.encode(),
                                      _limits(limits), ctypes.byref(handle), ctypes.byref(err)),
          err)
    return Model(handle, source=label or "<memory>")


__all__ = ["Model", "Sequential", "ValueInfo", "load", "from_bytes", "Error"]
