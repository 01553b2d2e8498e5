"""Optimizer settings for Model.compile, with Keras's names and defaults.

    m.compile(optimizer="adam")                              # Keras defaults
    m.compile(optimizer=onnxc.optimizers.Adam(learning_rate=3e-4))
    m.compile(optimizer={"name": "sgd", "learning_rate": 0.1, "momentum": 0.9})

An optimizer is only a description here; the library holds the state (moments,
iteration count) inside the trainer that compile() creates.
"""
import ctypes

from . import _lib
from .errors import ArgumentError, check

HYPER_PARAMETERS = ("learning_rate", "beta_1", "beta_2", "epsilon", "momentum", "rho",
                    "weight_decay", "initial_accumulator_value")

# Keras class names and aliases -> onnxc_optimizer_from_name names.
_ALIASES = {"sgd": "sgd", "momentum": "momentum", "nesterov": "nesterov", "adam": "adam",
            "adamw": "adamw", "rmsprop": "rmsprop", "adagrad": "adagrad"}


class Optimizer:
    """A named optimizer and the hyper-parameters that differ from its defaults."""

    def __init__(self, name, **hyper):
        unknown = sorted(set(hyper) - set(HYPER_PARAMETERS) - {"nesterov"})
        if unknown:
            raise ArgumentError("optimizer %s: unknown hyper-parameter(s) %s; expected %s"
                                % (name, ", ".join(unknown), ", ".join(HYPER_PARAMETERS)))
        self.name = str(name).lower()
        self.hyper = {k: v for k, v in hyper.items() if v is not None}

    def __repr__(self):
        args = "".join(", %s=%r" % kv for kv in sorted(self.hyper.items()))
        return "Optimizer(%r%s)" % (self.name, args)

    def to_c(self):
        """The onnxc_optimizer structure: the library's defaults for the name,
        then the given hyper-parameters over them."""
        hyper = dict(self.hyper)
        name = _ALIASES.get(self.name)
        if name is None:
            raise ArgumentError("unknown optimizer '%s': expected one of %s"
                                % (self.name, ", ".join(sorted(_ALIASES))))
        # Keras spells SGD-with-momentum as SGD(momentum=m, nesterov=b).
        nesterov = bool(hyper.pop("nesterov", False))
        if name == "sgd" and (nesterov or hyper.get("momentum", 0.0) > 0.0):
            name = "nesterov" if nesterov else "momentum"
        opt = _lib.Optimizer()
        err = _lib.Error()
        check(_lib.lib.onnxc_optimizer_from_name(name.encode(), ctypes.byref(opt),
                                                   ctypes.byref(err)), err)
        for key, value in hyper.items():
            setattr(opt, key, float(value))
        return opt


def SGD(learning_rate=0.01, momentum=0.0, nesterov=False):
    return Optimizer("sgd", learning_rate=learning_rate, momentum=momentum, nesterov=nesterov)


def Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return Optimizer("adam", learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2,
                     epsilon=epsilon)


def AdamW(learning_rate=0.001, weight_decay=0.004, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    return Optimizer("adamw", learning_rate=learning_rate, weight_decay=weight_decay,
                     beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


def RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
    return Optimizer("rmsprop", learning_rate=learning_rate, rho=rho, momentum=momentum,
                     epsilon=epsilon)


def Adagrad(learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7):
    return Optimizer("adagrad", learning_rate=learning_rate,
                     initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)


def get(spec):
    """An Optimizer from a name, a dict ({"name": ..., hyper-parameters}), an
    Optimizer, or any object with a `name` (or class name) and hyper-parameter
    attributes, such as a Keras optimizer."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return Optimizer(spec)
    if isinstance(spec, dict):
        d = dict(spec)
        name = d.pop("name", None) or d.pop("class_name", None)
        if name is None:
            raise ArgumentError("optimizer dict needs a 'name' key, got keys %s" % sorted(spec))
        return Optimizer(name, **d)
    name = getattr(spec, "name", None) or type(spec).__name__
    hyper = {}
    for key in HYPER_PARAMETERS + ("nesterov",):
        value = getattr(spec, key, None)
        if isinstance(value, (int, float, bool)):
            hyper[key] = value
    return Optimizer(name, **hyper)
