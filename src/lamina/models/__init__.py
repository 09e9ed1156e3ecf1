"""Models: Sequential, functional (``Model(inputs, outputs)``) and subclassed."""

from lamina.models.model import Model, load_model
from lamina.models.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model"]
