"""ctypes declarations of include/onnxc.h, the library lookup and error mapping.

Every structure here mirrors its C counterpart field for field (same order,
same types), so ctypes lays it out exactly as the C compiler does. If the
header changes, this file must change with it: tests/test_python.c passes the
C compiler's sizeof/offsetof for every structure to the Python suite, which
compares them with ctypes's (test_binding.StructLayout).
"""
import ctypes
import ctypes.util
import os

import numpy as np

# --------------------------------------------------------------------------
# Constants from the header

ERROR_MESSAGE_SIZE = 8192
MAX_RANK = 8

OK = 0
ERR_ARGUMENT = 1
ERR_IO = 2
ERR_PARSE = 3
ERR_MODEL = 4
ERR_UNSUPPORTED = 5
ERR_LIMIT = 6
ERR_SHAPE = 7
ERR_RUNTIME = 8
ERR_NOMEM = 9
ERR_NUMERIC = 10

# onnxc_dtype (ONNX TensorProto.DataType) <-> numpy, for the types numpy holds.
DTYPE_TO_NUMPY = {
    1: np.dtype(np.float32),
    2: np.dtype(np.uint8),
    3: np.dtype(np.int8),
    4: np.dtype(np.uint16),
    5: np.dtype(np.int16),
    6: np.dtype(np.int32),
    7: np.dtype(np.int64),
    9: np.dtype(np.bool_),
    10: np.dtype(np.float16),
    11: np.dtype(np.float64),
    12: np.dtype(np.uint32),
    13: np.dtype(np.uint64),
}
NUMPY_TO_DTYPE = {v: k for k, v in DTYPE_TO_NUMPY.items()}

ONNXC_FLOAT = 1
ONNXC_UINT8 = 2
ONNXC_INT64 = 7

LOSS_NAMES = {
    "sparse_categorical_crossentropy": 0,
    "categorical_crossentropy": 1,
    "binary_crossentropy": 2,
    "mse": 3,
    "mean_squared_error": 3,
}

# --------------------------------------------------------------------------
# Structures (field order and types exactly as in onnxc.h)

Dims = ctypes.c_int64 * MAX_RANK
DimNames = ctypes.c_char_p * MAX_RANK


class Error(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int),
                ("message", ctypes.c_char * ERROR_MESSAGE_SIZE)]


class Tensor(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p),
                ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int),
                ("dims", Dims),
                ("data", ctypes.c_void_p),
                ("capacity", ctypes.c_size_t)]


class Limits(ctypes.Structure):
    _fields_ = [("max_file_bytes", ctypes.c_uint64),
                ("max_tensor_bytes", ctypes.c_uint64),
                ("max_total_bytes", ctypes.c_uint64),
                ("max_nodes", ctypes.c_uint64),
                ("max_graph_depth", ctypes.c_uint32)]


class SaveOptions(ctypes.Structure):
    _fields_ = [("external_data", ctypes.c_int),
                ("external_threshold", ctypes.c_size_t),
                ("external_file", ctypes.c_char_p)]


class ValueInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p),
                ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int),
                ("dims", Dims),
                ("dim_names", DimNames)]


class ModelMeta(ctypes.Structure):
    _fields_ = [("ir_version", ctypes.c_int64),
                ("producer_name", ctypes.c_char_p),
                ("producer_version", ctypes.c_char_p),
                ("graph_name", ctypes.c_char_p),
                ("opset_onnx", ctypes.c_int64),
                ("opset_count", ctypes.c_size_t)]


class NodeInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p),
                ("op_type", ctypes.c_char_p),
                ("domain", ctypes.c_char_p),
                ("input_count", ctypes.c_size_t),
                ("output_count", ctypes.c_size_t),
                ("first_output", ctypes.c_char_p),
                ("param_count", ctypes.c_uint64)]


class NodeShape(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int),
                ("rank", ctypes.c_int),
                ("dims", Dims),
                ("dim_names", DimNames)]


class SessionOptions(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int),
                ("seed", ctypes.c_uint64)]


class Optimizer(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int),
                ("learning_rate", ctypes.c_double),
                ("beta_1", ctypes.c_double),
                ("beta_2", ctypes.c_double),
                ("epsilon", ctypes.c_double),
                ("momentum", ctypes.c_double),
                ("rho", ctypes.c_double),
                ("weight_decay", ctypes.c_double),
                ("initial_accumulator_value", ctypes.c_double)]


class TrainerOptions(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_int),
                ("optimizer", Optimizer),
                ("threads", ctypes.c_int),
                ("seed", ctypes.c_uint64),
                ("from_logits", ctypes.c_bool)]


class BatchResult(ctypes.Structure):
    _fields_ = [("loss", ctypes.c_double),
                ("correct", ctypes.c_size_t),
                ("count", ctypes.c_size_t)]


class EpochLog(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_int),
                ("loss", ctypes.c_double),
                ("accuracy", ctypes.c_double),
                ("has_validation", ctypes.c_bool),
                ("val_loss", ctypes.c_double),
                ("val_accuracy", ctypes.c_double),
                ("seconds", ctypes.c_double),
                ("samples_per_second", ctypes.c_double),
                ("data_seconds", ctypes.c_double),
                ("one_thread_steps", ctypes.c_size_t)]


# int (*)(void *user, int epoch, int epochs, size_t step, size_t steps,
#         double loss, double accuracy, const onnxc_epoch_log *log)
ProgressFn = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int,
                              ctypes.c_size_t, ctypes.c_size_t, ctypes.c_double,
                              ctypes.c_double, ctypes.POINTER(EpochLog))


class FitOptions(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_int),
                ("batch_size", ctypes.c_int),
                ("validation_split", ctypes.c_double),
                ("validation", ctypes.c_void_p),
                ("no_shuffle", ctypes.c_bool),
                ("checkpoint_path", ctypes.c_char_p),
                ("resume_path", ctypes.c_char_p),
                ("progress", ProgressFn),
                ("progress_user", ctypes.c_void_p)]


# --------------------------------------------------------------------------
# Finding and loading the shared library

def _candidates():
    env = os.environ.get("ONNXC_LIBRARY")
    if env:
        # An explicit choice: use it or fail, never fall back silently.
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))   # python/onnxc -> repo root
    paths = [os.path.join(repo, "build", "libonnxc.so")]
    found = ctypes.util.find_library("onnxc")
    if found:
        paths.append(found)
    return paths, False


def _load():
    paths, explicit = _candidates()
    tried = []
    for path in paths:
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (no such file)" % path)
            continue
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append("%s (%s)" % (path, e))
    hint = ("ONNXC_LIBRARY is set but unusable" if explicit else
            "build the library (cmake --build build --target onnxc), install it, "
            "or set ONNXC_LIBRARY=/path/to/libonnxc.so")
    raise ImportError("onnxc: cannot load libonnxc.so: tried %s; %s"
                      % ("; ".join(tried) or "nothing", hint))


lib = _load()
path = getattr(lib, "_name", None)

_P = ctypes.POINTER
_VP = ctypes.c_void_p
_ST = ctypes.c_int          # onnxc_status
_SZ = ctypes.c_size_t
_ERR = _P(Error)

# name: (restype, argtypes)
_PROTOTYPES = {
    "onnxc_version": (ctypes.c_char_p, []),
    "onnxc_status_name": (ctypes.c_char_p, [ctypes.c_int]),
    "onnxc_dtype_name": (ctypes.c_char_p, [ctypes.c_int]),
    "onnxc_tensor_load": (_ST, [ctypes.c_char_p, _P(Tensor), _ERR]),
    "onnxc_tensor_save": (_ST, [ctypes.c_char_p, _P(Tensor), _ERR]),
    "onnxc_tensor_release": (None, [_P(Tensor)]),
    "onnxc_limits_default": (None, [_P(Limits)]),
    "onnxc_model_load": (_ST, [ctypes.c_char_p, _P(Limits), _P(_VP), _ERR]),
    "onnxc_model_load_memory": (_ST, [ctypes.c_void_p, _SZ, ctypes.c_char_p, ctypes.c_char_p,
                                      _P(Limits), _P(_VP), _ERR]),
    "onnxc_model_free": (None, [_VP]),
    "onnxc_model_load_keras": (_ST, [ctypes.c_char_p, ctypes.c_char_p, _P(Limits), _P(_VP),
                                     _ERR]),
    "onnxc_model_from_spec": (_ST, [ctypes.c_char_p, ctypes.c_uint64, _P(_VP), _ERR]),
    "onnxc_model_save": (_ST, [_VP, ctypes.c_char_p, _P(SaveOptions), _ERR]),
    "onnxc_model_save_memory": (_ST, [_VP, _P(_VP), _P(_SZ), _ERR]),
    "onnxc_model_input_count": (_SZ, [_VP]),
    "onnxc_model_output_count": (_SZ, [_VP]),
    "onnxc_model_input": (_ST, [_VP, _SZ, _P(ValueInfo)]),
    "onnxc_model_output": (_ST, [_VP, _SZ, _P(ValueInfo)]),
    "onnxc_model_get_meta": (None, [_VP, _P(ModelMeta)]),
    "onnxc_model_opset": (_ST, [_VP, _SZ, _P(ctypes.c_char_p), _P(ctypes.c_int64)]),
    "onnxc_model_node_count": (_SZ, [_VP]),
    "onnxc_model_node": (_ST, [_VP, _SZ, _P(NodeInfo)]),
    "onnxc_model_check": (_ST, [_VP, _ERR]),
    "onnxc_model_initializer_count": (_SZ, [_VP]),
    "onnxc_model_initializer": (_ST, [_VP, _SZ, _P(Tensor)]),
    "onnxc_model_weights_changed": (None, [_VP]),
    "onnxc_model_param_totals": (None, [_VP, _P(ctypes.c_uint64), _P(ctypes.c_uint64)]),
    "onnxc_model_infer_shapes": (_ST, [_VP, _P(NodeShape), _ERR]),
    "onnxc_session_create": (_ST, [_VP, _P(SessionOptions), _P(_VP), _ERR]),
    "onnxc_session_free": (None, [_VP]),
    "onnxc_session_set_threads": (_ST, [_VP, ctypes.c_int, _ERR]),
    "onnxc_session_threads": (ctypes.c_int, [_VP]),
    "onnxc_session_run": (_ST, [_VP, _P(Tensor), _SZ, _P(Tensor), _SZ, _ERR]),
    "onnxc_dataset_from_tensors": (_ST, [_P(Tensor), _P(Tensor), _P(_VP), _ERR]),
    "onnxc_dataset_size": (_SZ, [_VP]),
    "onnxc_dataset_classes": (_SZ, [_VP]),
    "onnxc_dataset_free": (None, [_VP]),
    "onnxc_loss_from_name": (_ST, [ctypes.c_char_p, _P(ctypes.c_int), _ERR]),
    "onnxc_loss_name": (ctypes.c_char_p, [ctypes.c_int]),
    "onnxc_optimizer_defaults": (None, [ctypes.c_int, _P(Optimizer)]),
    "onnxc_optimizer_from_name": (_ST, [ctypes.c_char_p, _P(Optimizer), _ERR]),
    "onnxc_trainer_options_default": (None, [_P(TrainerOptions)]),
    "onnxc_trainer_create": (_ST, [_VP, _P(TrainerOptions), _P(_VP), _ERR]),
    "onnxc_trainer_free": (None, [_VP]),
    "onnxc_trainer_set_threads": (_ST, [_VP, ctypes.c_int, _ERR]),
    "onnxc_trainer_params": (None, [_VP, _P(_SZ), _P(_SZ)]),
    "onnxc_trainer_step": (_ST, [_VP, _P(Tensor), _P(Tensor), _P(BatchResult), _ERR]),
    "onnxc_trainer_evaluate_batch": (_ST, [_VP, _P(Tensor), _P(Tensor), _P(BatchResult),
                                           _P(ctypes.c_uint64), _SZ, _ERR]),
    "onnxc_trainer_iterations": (ctypes.c_uint64, [_VP]),
    "onnxc_trainer_fit": (_ST, [_VP, _VP, _P(FitOptions), _P(EpochLog), _SZ, _ERR]),
    "onnxc_trainer_evaluate": (_ST, [_VP, _VP, ctypes.c_int, _P(ctypes.c_double),
                                     _P(ctypes.c_double), _P(ctypes.c_uint64), _SZ, _ERR]),
}

for _name, (_res, _args) in _PROTOTYPES.items():
    _fn = getattr(lib, _name)     # AttributeError here means an out-of-date library
    _fn.restype = _res
    _fn.argtypes = _args

# onnxc_model_save_memory hands back a buffer the caller releases with free().
_libc = ctypes.CDLL(None)
c_free = _libc.free
c_free.restype = None
c_free.argtypes = [ctypes.c_void_p]


def text(b):
    """A C string from the library as str (None stays None)."""
    return None if b is None else b.decode("utf-8", "replace")


def dtype_name(code):
    return text(lib.onnxc_dtype_name(code))


def status_name(code):
    return text(lib.onnxc_status_name(code))
