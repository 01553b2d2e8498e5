"""Exceptions: one class per onnxc_status, all derived from onnxc.Error.

The message is the library's own (it names the file, node or tensor, and
says what was expected and what was found); several problems are separated
by newlines, as in the C API. Problems the binding finds itself (a wrong
number of inputs, a dtype numpy cannot convert) raise the same classes.
"""
from . import _lib


class Error(Exception):
    """A failing onnxc call. `status` is the onnxc_status code,
    `status_name` its short name ("parse error", ...)."""

    status = None

    def __init__(self, message, status=None):
        super().__init__(message)
        if status is not None:
            self.status = status
        self.message = message

    @property
    def status_name(self):
        return _lib.status_name(self.status) if self.status is not None else None


class ArgumentError(Error, ValueError):
    """The caller passed something invalid."""
    status = _lib.ERR_ARGUMENT


class FileError(Error, OSError):
    """A file could not be opened, read or written (ONNXC_ERR_IO)."""
    status = _lib.ERR_IO


class ParseError(Error):
    """The bytes are not well-formed protobuf / npy / HDF5 / ..."""
    status = _lib.ERR_PARSE


class ModelError(Error):
    """Well-formed, but not a valid ONNX model."""
    status = _lib.ERR_MODEL


class UnsupportedError(Error):
    """Valid ONNX (or Keras) that onnxc does not implement."""
    status = _lib.ERR_UNSUPPORTED


class LimitError(Error):
    """A configured safety limit was exceeded."""
    status = _lib.ERR_LIMIT


class ShapeError(Error, ValueError):
    """A tensor's dtype or shape does not fit."""
    status = _lib.ERR_SHAPE


class ExecutionError(Error):
    """A kernel failed on the data (ONNXC_ERR_RUNTIME)."""
    status = _lib.ERR_RUNTIME


class OutOfMemoryError(Error, MemoryError):
    """An allocation failed inside the library."""
    status = _lib.ERR_NOMEM


class NumericError(Error, ArithmeticError):
    """NaN or Inf where a finite value is required (e.g. a diverging loss)."""
    status = _lib.ERR_NUMERIC


_BY_STATUS = {cls.status: cls for cls in (
    ArgumentError, FileError, ParseError, ModelError, UnsupportedError, LimitError,
    ShapeError, ExecutionError, OutOfMemoryError, NumericError)}


def from_status(status, message):
    cls = _BY_STATUS.get(status, Error)
    return cls(message, status)


def check(status, err):
    """Raise the exception for a failed call; `err` is the _lib.Error it filled."""
    if status == _lib.OK:
        return
    message = err.message.decode("utf-8", "replace") if err is not None else ""
    if not message:
        message = _lib.status_name(status) or "onnxc error %d" % status
    raise from_status(status, message)
