"""``Sequential``: a plain stack of layers, each taking the previous one's output.

>>> import lamina as keras
>>> model = keras.Sequential([keras.layers.Flatten(input_shape=(28, 28, 1)), keras.layers.Dense(10)])
>>> model.output_shape
(None, 10)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lamina.core import config, scopes, serialization
from lamina.core.serialization import deserialize_layer, serialize_layer
from lamina.layers.core import Input, InputLayer, TorchModuleWrapper
from lamina.layers.layer import Layer, hooked
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.functional import standardize_input
from lamina.models.model import Model


class Sequential(Model):
    """A linear stack of layers. Give the input shape with ``Input`` or ``input_shape=`` on the first layer to
    build it (and check every layer) right away; otherwise it builds on its first batch."""

    def __init__(self, layers: list | None = None, trainable: bool = True, name: str | None = None):
        super().__init__(trainable=trainable, name=name)
        self.__dict__["_stack"] = []
        self.__dict__["_input"] = None  # the symbolic input, when the input shape is known
        self.__dict__["_output"] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Append a layer (a lamina Layer, any torch.nn.Module, or an Input to fix the input shape)."""
        if isinstance(layer, SymbolicTensor) and layer.node is not None and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if self._stack:
                raise ValueError("Sequential: an Input can only be added first, before any other layer.")
            self._set_input(layer.output_tensor)
            return
        if isinstance(layer, nn.Module) and not isinstance(layer, Layer):
            layer = TorchModuleWrapper(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer or torch.nn.Module; received {type(layer).__name__}.")
        if not self._stack and self._input is None and layer._batch_input_shape is not None:
            self._set_input(Input(batch_shape=layer._batch_input_shape))
        self._track_layer(layer)
        self._stack.append(layer)
        if self._input is not None:
            try:  # build and check the new layer now, on shapes alone
                with scopes.name_scope(self.name):  # Keras builds a Sequential's layers under its name
                    self.__dict__["_output"] = layer(self._output if self._output is not None else self._input)
            except Exception:
                self._stack.pop()
                del self._modules[layer.name]
                raise
            self.built = True

    def _set_input(self, tensor: SymbolicTensor) -> None:
        self.__dict__["_input"] = tensor
        self.__dict__["_output"] = None

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._stack:
            raise IndexError("Sequential.pop(): the model has no layers.")
        layer = self._stack.pop()
        del self._modules[layer.name]
        if self._input is not None:
            out = self._input
            for kept in self._stack:
                out = kept(out)
            self.__dict__["_output"] = out if self._stack else None
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    @property
    def inputs(self) -> Any:
        return None if self._input is None else [self._input]

    @property
    def outputs(self) -> Any:
        return None if self._output is None else [self._output]

    @property
    def input_shape(self) -> tuple | None:
        return None if self._input is None else self._input.shape

    @property
    def output_shape(self) -> tuple | None:
        if self._output is not None:
            return self._output.shape
        return self._stack[-1].recorded_output_shape if self._stack else None

    @property
    def output_names(self) -> list[str] | None:
        return [self._stack[-1].name] if self._stack else None

    def build(self, input_shape: Any = None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch first), without data."""
        if input_shape is not None and self._input is None:
            self._set_input(Input(batch_shape=tuple(input_shape)))
            out = self._input
            for layer in self._stack:
                out = layer(out)
            self.__dict__["_output"] = out if self._stack else None
        self.built = True

    def get_build_config(self) -> dict | None:
        """``{"input_shape": ...}`` once the input shape is known (``build_from_config`` builds from it)."""
        if self._input is not None:
            return {"input_shape": tuple(self._input.shape)}
        return super().get_build_config()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        x = args[0] if len(args) == 1 else None
        if type(x) is torch.Tensor and self._runs_plain(kwargs) and not x.is_meta:
            if self._input is not None:
                x = standardize_input(x, self._input, self.name)
            for layer in self._stack:
                x = layer(x)
            return x
        return super().__call__(*args, **kwargs)

    def _runs_plain(self, kwargs: dict) -> bool:
        """Whether a call can skip the model's own wrapper (``Layer.__call__``) and run its layers directly: built,
        nothing around the call (hooks, torch.compile, a distributed route, an activity regularizer, mixed
        precision), and every layer plain (``Layer._is_plain``), so none reads the training flag or the masks
        the wrapper would pass on."""
        return (self.built and (not kwargs or kwargs.keys() == {"training"}) and self._compiled_call_impl is None
                and "_distributed_call" not in self.__dict__ and self.activity_regularizer is None
                and not config.MIXED_IN_USE and not self._mixed and not hooked(self)
                and all([layer._plain for layer in self._stack]))

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        if self._input is not None and isinstance(inputs, torch.Tensor):
            inputs = standardize_input(inputs, self._input, self.name)
        for layer in self._stack:
            inputs = layer(inputs)
        return inputs

    def get_config(self) -> dict:
        """Keras 3's Sequential config: ``name``, ``trainable``, the layers (an ``InputLayer`` first when the
        input shape is known) and ``build_input_shape`` for a model built on data."""
        layers = [serialize_layer(layer) for layer in self._stack]
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self._input is not None:
            layers.insert(0, serialize_layer(self._input.node.layer))
        elif self._stack and isinstance(self._stack[0]._build_shapes_dict, dict):
            shape = self._stack[0]._build_shapes_dict.get("input_shape")
            if isinstance(shape, tuple):
                config["build_input_shape"] = [None, *shape[1:]]
        config["layers"] = layers
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Sequential:
        """Rebuild from ``get_config``'s output; layer classes resolve through the registry only."""
        entries = config.get("layers")
        if not isinstance(entries, list):
            raise ValueError("A Sequential config needs 'layers': a list of layer configs.")
        with serialization.custom_object_scope(custom_objects):
            model = cls(name=config.get("name"))
            for entry in entries:
                model.add(deserialize_layer(entry))
        shape = config.get("build_input_shape")
        if shape is not None and model._input is None and model._stack:
            if not isinstance(shape, list) or not all(d is None or type(d) is int for d in shape):
                raise ValueError(f"Malformed build_input_shape {shape!r:.200} in a Sequential config.")
            model.build(tuple(shape))
        if config.get("trainable") is False:
            model.trainable = False
        return model


serialization.register_builtin("layers", "Sequential", Sequential)
