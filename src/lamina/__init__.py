"""lamina: Keras-style deep learning on PyTorch.

>>> import lamina as keras
>>> model = keras.Sequential([keras.layers.Dense(10, activation="softmax", input_shape=(784,))])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
"""

from lamina import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    quantizers,
    random,
    regularizers,
    saving,
    tree,
    utils,
)
from lamina.core.config import clear_session, epsilon, floatx, set_epsilon, set_floatx
from lamina.core.device import get_device, set_device, set_flush_denormal
from lamina.core.variable import Variable
from lamina.layers import Input, InputSpec, Layer
from lamina.models import Model, Sequential
from lamina.quantizers import Quantizer

__version__ = "0.1.0"

__all__ = [
    "Input", "InputSpec", "Layer", "Model", "Quantizer", "Sequential", "Variable", "activations", "backend",
    "callbacks", "clear_session", "config", "constraints", "datasets", "distribution", "epsilon", "floatx",
    "get_device", "initializers", "layers", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers",
    "quantizers", "random", "regularizers", "saving", "set_device", "set_epsilon", "set_flush_denormal",
    "set_floatx", "tree", "utils",
]
