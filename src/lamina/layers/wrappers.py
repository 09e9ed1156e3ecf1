"""``Wrapper``, the base of layers that wrap another layer, and ``SpectralNormalization``.

>>> import torch
>>> from lamina.layers.core import Dense
>>> layer = SpectralNormalization(Dense(3))
>>> layer(torch.ones(2, 4), training=True).shape
torch.Size([2, 3])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina import initializers
from lamina.core import serialization
from lamina.layers.layer import Layer
from lamina.layers.weights import WeightInfo

__all__ = ["SpectralNormalization", "Wrapper"]


def serialize_wrapped(layer: Layer) -> dict:
    """The wrapped layer's ``{"module", "class_name", "config", "registered_name"}``, with its ``build_config``
    once built (as Keras writes it)."""
    spec = serialization.serialize(layer)
    build_config = layer.get_build_config()
    if build_config:
        spec["build_config"] = build_config
    return spec


def deserialize_wrapped(spec: Any) -> Any:
    """A wrapped layer from ``serialize_wrapped``'s output, through the registry only (built if it was)."""
    if not isinstance(spec, dict):
        return spec
    layer = serialization.deserialize({k: v for k, v in spec.items() if k in serialization.OBJECT_KEYS},
                                      kind="layers")
    if spec.get("build_config") and isinstance(layer, Layer) and not layer.built:
        layer.build_from_config(spec["build_config"])
    return layer


class Wrapper(Layer):
    """Base class of layers that wrap another layer (``self.layer``); subclasses define ``call``.

    ``build`` builds the wrapped layer on the same input shape if it is not built yet; the config holds the
    wrapped layer's config under ``"layer"``, as in Keras 3.

    >>> from lamina.layers.core import Dense
    >>> class Twice(Wrapper):
    ...     def call(self, inputs):
    ...         return 2 * self.layer(inputs)
    >>> Twice(Dense(3))(torch.ones(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, layer: Layer, **kwargs: Any):
        if not isinstance(layer, Layer):
            raise ValueError(f"Layer {layer!r} supplied to {type(self).__name__} isn't a supported layer type. "
                             "Please ensure the wrapped layer is a lamina (Keras-style) Layer.")
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape: Any = None) -> None:
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer._build_shapes_dict = {"input_shape": input_shape}
            self.layer.built = True
        self.built = True

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `call` method implemented: "
                                  "subclass Wrapper and define `call`.")

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": serialize_wrapped(self.layer)}

    @classmethod
    def from_config(cls, config: dict) -> Wrapper:
        config = dict(config)
        config["layer"] = deserialize_wrapped(config["layer"])
        return cls(**config)


class SpectralNormalization(Wrapper):
    """Divides the wrapped layer's ``kernel`` (or ``embeddings``) by its largest singular value, estimated by power
    iteration (Miyato et al., 2018).

    In training (``training=True``), ``power_iterations`` steps refine the non-trainable estimate ``vector_u``
    ``(1, units)``, and the kernel, seen in Keras's layout as a matrix ``(-1, units)``, is replaced by itself over
    ``sigma = v @ W @ u.T``; both updates are outside the gradient, as in Keras. In inference the kernel is
    used as it is. Weights, in Keras's order: the kernel (also ``self.kernel``, of Keras-layout shape
    ``kernel_shape``), ``vector_u``, then the wrapped layer's other weights.

    >>> from lamina.layers.core import Dense
    >>> layer = SpectralNormalization(Dense(3), power_iterations=2)
    >>> _ = layer(torch.ones(1, 4)); [tuple(w.shape) for w in layer.weights]
    [(4, 3), (1, 3), (3,)]
    """

    def __init__(self, layer: Layer, power_iterations: int = 1, **kwargs: Any):
        super().__init__(layer, **kwargs)
        if isinstance(power_iterations, bool) or not isinstance(power_iterations, int) or power_iterations <= 0:
            raise ValueError("SpectralNormalization: `power_iterations` should be greater than zero. Received: "
                             f"`power_iterations={power_iterations!r}`.")
        self.power_iterations = power_iterations

    def build(self, input_shape: Any = None) -> None:
        super().build(input_shape)
        inner = self.layer
        key = next((k for k in ("kernel", "embeddings") if k in inner._parameters), None)
        if key is None:
            raise ValueError(f"SpectralNormalization: {type(inner).__name__} layer '{inner.name}' has no "
                             "attribute 'kernel' nor 'embeddings': wrap a layer with one (Dense, Conv, Embedding...).")
        self._key = key
        # The kernel (or embeddings) is also this layer's own first weight ``kernel`` (Keras lists it before
        # vector_u); its regularizer and constraint stay with the wrapped layer, so that they count once.
        self.kernel = inner._parameters[key]
        self._weight_info["kernel"] = WeightInfo(True)
        self.kernel_shape = tuple(self._keras_kernel().shape)
        units = self.kernel_shape[-1]
        self.vector_u = self.add_weight(shape=(1, units), initializer=initializers.TruncatedNormal(stddev=0.02),
                                        trainable=False, name="vector_u")
        self.built = True

    def _keras_kernel(self) -> torch.Tensor:
        return self.layer.weight_to_keras(self._key, self.layer._parameters[self._key])

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "kernel":  # the wrapped layer's kernel, in its Keras layout
            return self.layer.weight_to_keras(self._key, value)
        return value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        if name == "kernel":
            return self.layer.weight_from_keras(self._key, value)
        return value

    def normalized_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(new vector_u, kernel / sigma)`` (the kernel in Keras's layout), without changing the layer."""
        kernel = self._keras_kernel()
        w = kernel.reshape(-1, kernel.shape[-1])  # (n, units)
        u = self.vector_u.to(w.dtype)  # (1, units)
        v = u
        for _ in range(self.power_iterations):
            v = F.normalize(u @ w.T, dim=-1, eps=1e-12)  # (1, n)
            u = F.normalize(v @ w, dim=-1, eps=1e-12)  # (1, units)
        sigma = (v @ w @ u.T).reshape(())
        return u, kernel / sigma

    def call(self, inputs: Any, training: bool | None = False) -> Any:
        if training:
            with torch.no_grad():
                u, kernel = self.normalized_weights()
                self.vector_u.copy_(u.to(self.vector_u.dtype))
                stored = self.layer._parameters[self._key]
                stored.copy_(self.layer.weight_from_keras(self._key, kernel).to(stored.dtype))
        return self.layer(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "power_iterations": self.power_iterations}
