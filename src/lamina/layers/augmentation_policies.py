"""Augmentation pipelines: ``Pipeline``, a plain layer that applies a list of layers in turn, as Keras 3's.

>>> import torch
>>> from lamina.layers.preprocessing import Rescaling
>>> Pipeline([Rescaling(2.0), Rescaling(0.5, offset=1.0)])(torch.ones(1, 2))
tensor([[2., 2.]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lamina.core import serialization
from lamina.layers.layer import Layer

__all__ = ["Pipeline"]


class Pipeline(Layer):
    """Apply ``layers`` one after the other, passing ``training`` on to each (unlike a ``Sequential`` model it
    is a plain layer: no compile or fit of its own). Augmentation layers in it change images only in training.

    >>> import torch
    >>> from lamina.layers.preprocessing import RandomFlip, Rescaling
    >>> pipeline = Pipeline([Rescaling(1 / 255), RandomFlip(seed=0)])
    >>> pipeline(torch.full((1, 2, 2, 1), 255.0)).flatten()
    tensor([1., 1., 1., 1.])
    """

    def __init__(self, layers: Sequence[Any], name: str | None = None, **kwargs: Any):
        super().__init__(name=name, **kwargs)
        layers = [serialization.deserialize_layer(layer) if isinstance(layer, dict) else layer for layer in layers]
        for layer in layers:
            if not callable(layer):
                raise ValueError(f"Pipeline: every entry must be a layer (a callable); received {layer!r}.")
        self.layers = list(layers)
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        x = inputs
        for layer in self.layers:
            x = layer(x, training=training) if getattr(layer, "_call_has_training", False) else layer(x)
        return x

    def get_config(self) -> dict:
        return {"name": self.name, "layers": [serialization.serialize_layer(layer) for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Pipeline:
        config = dict(config)
        layers = [serialization.deserialize(layer, custom_objects, kind="layers") if isinstance(layer, dict)
                  else layer for layer in config.pop("layers")]
        return cls(layers, **config)
