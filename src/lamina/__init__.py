"""lamina: Keras-style deep learning on PyTorch.

>>> import lamina as keras
>>> model = keras.Sequential([keras.layers.Dense(10, activation="softmax", input_shape=(784,))])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""

import importlib

from lamina import (
    activations,
    applications,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distillation,
    distribution,
    dtype_policies,
    export,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    quantizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
    visualization,
)
from lamina.core.config import clear_session, epsilon, floatx, set_epsilon, set_floatx
from lamina.core.device import device, get_device, set_device, set_flush_denormal
from lamina.core.scopes import RematScope, StatelessScope, SymbolicScope, name_scope, remat
from lamina.core.variable import Variable
from lamina.dtype_policies import DTypePolicy, FloatDTypePolicy
from lamina.initializers import Initializer
from lamina.layers import Input, InputSpec, Layer
from lamina.layers import Layer as Operation  # Keras's base of layers and ops; a lamina op on tensors is a Layer
from lamina.layers.symbolic import SymbolicTensor as KerasTensor
from lamina.losses import Loss
from lamina.metrics import Metric
from lamina.models import Model, Sequential
from lamina.models.function import Function
from lamina.optimizers import Optimizer
from lamina.quantizers import Quantizer
from lamina.regularizers import Regularizer

__version__ = "0.1.0"

def version() -> str:
    """lamina's version (Keras's ``keras.version()`` gives Keras's)."""
    return __version__


def __getattr__(name: str) -> object:  # lamina.wrappers imports scikit-learn: only when first used
    if name == "wrappers":
        return importlib.import_module("lamina.wrappers")
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "wrappers"})


__all__ = [
    "DTypePolicy", "FloatDTypePolicy", "Function", "Initializer", "Input", "InputSpec", "KerasTensor", "Layer",
    "Loss", "Metric", "Model", "Operation", "Optimizer", "Quantizer", "Regularizer", "RematScope", "Sequential",
    "StatelessScope", "SymbolicScope", "Variable", "activations", "applications", "backend", "callbacks",
    "clear_session", "config",
    "constraints", "datasets", "device", "distillation", "distribution", "dtype_policies", "epsilon", "export",
    "floatx", "get_device", "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "name_scope",
    "ops", "optimizers", "preprocessing", "quantizers", "random", "regularizers", "remat", "saving", "set_device",
    "set_epsilon", "set_floatx", "set_flush_denormal", "tree", "utils", "version", "visualization", "wrappers",
]
