"""Layers: the building blocks of models."""

from lamina.layers.core import Activation, Dense, Dropout, Identity, Input, InputLayer, TorchModuleWrapper
from lamina.layers.layer import InputSpec, Layer
from lamina.layers.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from lamina.layers.reshaping import Flatten, Reshape

__all__ = [
    "Activation", "Add", "Average", "Concatenate", "Dense", "Dot", "Dropout", "Flatten", "Identity", "Input",
    "InputLayer", "InputSpec", "Layer", "Maximum", "Minimum", "Multiply", "Reshape", "Subtract",
    "TorchModuleWrapper", "add", "average", "concatenate", "dot", "maximum", "minimum", "multiply", "subtract",
]
