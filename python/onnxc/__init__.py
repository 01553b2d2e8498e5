"""onnxc for Python: read, run, train and write ONNX models on the CPU.

A thin ctypes layer over libonnxc.so, with numpy arrays in and out:

    import onnxc
    m = onnxc.load("model.onnx")              # also Keras .h5 / .keras
    m.inputs                                  # [ValueInfo(name, dtype, shape), ...]
    y = m.run(x)                              # or m.run({"input": x})

    m = onnxc.Sequential("784,64:relu,64:relu,10:softmax", seed=1)
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    h = m.fit(x_train, y_train, epochs=5, batch_size=32, validation_split=0.1)
    h.history["val_accuracy"]
    loss, acc = m.evaluate(x_test, y_test)
    m.save("trained.onnx")

The library is found through $ONNXC_LIBRARY, then build/libonnxc.so of the
source tree this package sits in, then the system's library path.
Every failure raises onnxc.Error (one subclass per onnxc_status) carrying the
library's message.
"""
from . import _lib, optimizers
from .callbacks import Callback, History
from .errors import (ArgumentError, Error, ExecutionError, FileError, LimitError, ModelError,
                     NumericError, OutOfMemoryError, ParseError, ShapeError, UnsupportedError)
from .model import Model, Sequential, ValueInfo, from_bytes, load

__version__ = _lib.text(_lib.lib.onnxc_version())
library_path = _lib.path

__all__ = [
    "load", "from_bytes", "Model", "Sequential", "ValueInfo", "History", "Callback",
    "optimizers", "Error", "ArgumentError", "FileError", "ParseError", "ModelError",
    "UnsupportedError", "LimitError", "ShapeError", "ExecutionError", "OutOfMemoryError",
    "NumericError", "__version__", "library_path",
]
