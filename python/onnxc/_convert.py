"""numpy arrays <-> onnxc_tensor.

Arrays going in are made C-contiguous and of a dtype the library takes; the
caller keeps the array alive for the duration of the call (the tensor only
points at its memory). Tensors coming out are copied into new arrays, because
session-owned buffers are only valid until the next run.
"""
import ctypes

import numpy as np

from . import _lib
from .errors import ArgumentError, ShapeError, UnsupportedError


def numpy_dtype(code):
    """The numpy dtype of an onnxc_dtype code, or None when numpy has none."""
    return _lib.DTYPE_TO_NUMPY.get(code)


def _fits(a, want):
    """Values of integer array `a` all representable in integer dtype `want`."""
    if a.size == 0:
        return True
    info = np.iinfo(want)
    return int(a.min()) >= info.min and int(a.max()) <= info.max


def coerce(value, want, what):
    """`value` as a C-contiguous array of dtype `want` (None: keep its own).

    Conversions numpy calls "same_kind" are made (float64 -> float32,
    int -> float, bool -> anything numeric); integer narrowing only when every
    value fits. Anything else (float -> int, complex -> float, strings) is a
    ShapeError naming `what`.
    """
    a = np.asarray(value)
    if want is not None and a.dtype != want:
        ok = np.can_cast(a.dtype, want, casting="same_kind")
        if ok and a.dtype.kind in "iu" and want.kind in "iu" and \
                not np.can_cast(a.dtype, want, casting="safe"):
            ok = _fits(a, want)
        if not ok:
            raise ShapeError("%s: expected dtype %s, got %s, which cannot be converted "
                             "without losing values" % (what, want.name, a.dtype.name))
        a = a.astype(want)
    if a.dtype not in _lib.NUMPY_TO_DTYPE:
        raise ShapeError("%s: dtype %s is not supported; expected one of %s"
                         % (what, a.dtype.name,
                            ", ".join(sorted(d.name for d in _lib.NUMPY_TO_DTYPE))))
    if a.ndim > _lib.MAX_RANK:
        raise ShapeError("%s: rank %d exceeds the maximum of %d" % (what, a.ndim, _lib.MAX_RANK))
    return np.ascontiguousarray(a)


def fill_tensor(t, a, name=None):
    """Point onnxc_tensor `t` at array `a` (already coerced). `name` is bytes or None."""
    t.name = name
    t.dtype = _lib.NUMPY_TO_DTYPE[a.dtype]
    t.rank = a.ndim
    for d, n in enumerate(a.shape):
        t.dims[d] = n
    t.data = a.ctypes.data if a.size else None
    t.capacity = a.nbytes
    return t


def tensor(a, name=None):
    """A new onnxc_tensor viewing array `a` (already coerced)."""
    return fill_tensor(_lib.Tensor(), a, name)


def to_numpy(t, what):
    """A new array holding a copy of tensor `t`'s data."""
    dt = numpy_dtype(t.dtype)
    if dt is None:
        raise UnsupportedError("%s: the library returned dtype %s, which numpy cannot hold"
                               % (what, _lib.dtype_name(t.dtype)))
    if t.rank < 0 or t.rank > _lib.MAX_RANK:
        raise ArgumentError("%s: the library returned rank %d" % (what, t.rank))
    shape = tuple(int(t.dims[d]) for d in range(t.rank))
    count = int(np.prod(shape, dtype=np.int64))
    if count == 0 or not t.data:
        return np.zeros(shape, dtype=dt)
    buf = (ctypes.c_char * (count * dt.itemsize)).from_address(t.data)
    return np.frombuffer(buf, dtype=dt).reshape(shape).copy()


def view(t):
    """An array aliasing tensor `t`'s memory (no copy): valid while its owner lives."""
    dt = numpy_dtype(t.dtype)
    shape = tuple(int(t.dims[d]) for d in range(t.rank))
    count = int(np.prod(shape, dtype=np.int64))
    if dt is None:
        return None
    if count == 0 or not t.data:
        return np.zeros(shape, dtype=dt)
    buf = (ctypes.c_char * (count * dt.itemsize)).from_address(t.data)
    return np.frombuffer(buf, dtype=dt).reshape(shape)
