"""Core layers: Input, Dense, Activation, Dropout, Identity, and a wrapper for any ``torch.nn.Module``.

>>> import torch
>>> from lamina import layers
>>> layers.Dense(4, activation="relu")(torch.ones(2, 3)).shape
torch.Size([2, 4])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lamina import activations, constraints, initializers, regularizers
from lamina.core import config, serialization, tree
from lamina.core.random import SeedGenerator
from lamina.layers import float8, lora, quantization
from lamina.layers.layer import InputSpec, Layer, format_shape
from lamina.layers.quantizable import QuantizableLayer
from lamina.layers.symbolic import Node, SymbolicTensor


class InputLayer(Layer):
    """The layer behind ``Input``: it has no weights and produces the model's symbolic input."""

    def __init__(self, shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None,
                 sparse: bool | None = None, batch_shape: tuple | None = None, input_tensor: Any = None,
                 optional: bool = False, name: str | None = None, **kwargs: Any):
        if batch_shape is None and "batch_input_shape" in kwargs:
            batch_shape = kwargs.pop("batch_input_shape")
        self._string = dtype == "string"  # strings stay NumPy arrays on the host (host_inputs.py)
        super().__init__(name=name or config.unique_name("input_layer"), dtype=None if self._string else dtype,
                         **kwargs)
        if sparse:
            raise ValueError("Sparse inputs are not supported by lamina; pass dense arrays or tensors.")
        if batch_shape is None:
            if shape is None:
                raise ValueError("Input needs a shape: Input(shape=(28, 28, 1)) (the batch dimension is implied).")
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        self.batch_shape = tuple(None if d is None else int(d) for d in batch_shape)
        self.optional = optional
        self.built = True
        node = Node(self, (), {})
        self.output_tensor = SymbolicTensor(self.batch_shape, "string" if self._string else self._dtype,
                                            name=self.name, node=node)
        node.outputs = self.output_tensor
        self._inbound_nodes.append(node)

    def get_config(self) -> dict:
        return {"batch_shape": self.batch_shape, "dtype": "string" if self._string else self.dtype, "sparse": False,
                "name": self.name,
                "optional": self.optional}


def Input(shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None, sparse: bool | None = None,
          batch_shape: tuple | None = None, name: str | None = None, tensor: Any = None,
          optional: bool = False) -> SymbolicTensor:
    """A symbolic input for the functional API (shape without the batch dimension).

    >>> x = Input(shape=(28, 28, 1)); x.shape
    (None, 28, 28, 1)
    """
    layer = InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse, batch_shape=batch_shape,
                       name=name, optional=optional)
    return layer.output_tensor


class Dense(QuantizableLayer, Layer):
    """A densely connected layer applied to the last axis: ``activation(inputs @ kernel + bias)``.

    The kernel is kept in Keras's layout ``(input_dim, units)``. ``quantize("int8" | "float8")`` and
    ``enable_lora(rank)`` (or ``lora_rank=``) work as in Keras 3 (layers/quantizable.py).

    >>> layer = Dense(32, activation="relu")
    >>> layer(torch.ones(8, 16)).shape, tuple(layer.kernel.shape)
    (torch.Size([8, 32]), (16, 32))
    """

    QUANTIZATION = ("kernel", 0, ("int8", "float8"))

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, lora_rank: int | None = None,
                 lora_alpha: float | None = None, quantization_config: Any = None, **kwargs: Any):
        kwargs["dtype"] = quantization.policy_from(kwargs.get("dtype"))
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: `units` must be a positive int; received {units!r}.")
        self._init_quantizable(lora_rank, lora_alpha, quantization_config)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True  # as Keras: the input's mask passes through

    def build(self, input_shape: tuple) -> None:
        in_dim = input_shape[-1]
        if in_dim is None:
            raise ValueError(
                f"Dense layer '{self.name}' needs the last axis of its input to be known, but received input "
                f"shape {format_shape(tuple(input_shape))}. Give Input/input_shape a fixed last dimension."
            )
        self.kernel = self.add_weight(shape=(in_dim, self.units), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        self.input_spec = InputSpec(min_ndim=2, axes={-1: in_dim})
        self.built = True
        self._build_quantizable()

    @property
    def kernel(self) -> torch.Tensor:
        """The kernel ``(input_dim, units)``, with the LoRA update merged in when LoRA is enabled (int8 once
        quantized to int8)."""
        return self._compute_weight()

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.quantization_mode is not None:
            return self.quantized_call(inputs)
        bias, kernel = self.bias, self.kernel
        if inputs.ndim == 2 and bias is not None:
            x = torch.addmm(bias, inputs, kernel)  # (batch, in) @ (in, units) + (units,)
        else:
            x = F.linear(inputs, kernel.T, bias)  # (..., in) @ (in, units) + (units,)
        return activations.activate_fresh(self.activation, x)

    def quantized_call(self, inputs: torch.Tensor) -> torch.Tensor:
        """The int8 or float8 forward pass (layers/quantization.py, layers/float8.py)."""
        if self.quantization_mode == "int8":
            x = quantization.int8_dense_output(self, inputs)
            if self.lora_enabled:
                x = x + torch.matmul(inputs.to(x.dtype), lora.delta(self).to(x.dtype))
            if self.bias is not None:
                x = x + self.bias.to(x.dtype)
        else:
            x = float8.dense_output(self, inputs, self.kernel, self.bias)
        return activations.activate_fresh(self.activation, x)

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), **self._quantizable_config()}


class Activation(Layer):
    """Applies an activation function, by name or callable.

    >>> Activation("relu")(torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def get_config(self) -> dict:
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Identity(Layer):
    """Returns its input unchanged."""

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: Any) -> Any:
        return inputs


class Dropout(Layer):
    """Sets a fraction ``rate`` of inputs to 0 during training and scales the rest by ``1 / (1 - rate)``.

    >>> Dropout(0.5)(torch.ones(4), training=False)
    tensor([1., 1., 1., 1.])
    """

    def __init__(self, rate: float, noise_shape: tuple | None = None, seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if not 0 <= rate <= 1:
            raise ValueError(f"Dropout: `rate` must be in [0, 1]; received {rate!r}.")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._seed_generator = SeedGenerator(seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if not training or self.rate == 0:
            return inputs
        if self.rate == 1:
            return torch.zeros_like(inputs)
        if self.noise_shape is None and self.seed is None:
            return F.dropout(inputs, self.rate, training=True)
        shape = inputs.shape if self.noise_shape is None else tuple(
            inputs.shape[i] if d is None else d for i, d in enumerate(self.noise_shape))
        keep = torch.empty(shape, dtype=inputs.dtype, device=inputs.device)
        keep.bernoulli_(1 - self.rate, generator=self._seed_generator.for_device(inputs.device))
        return inputs * keep / (1 - self.rate)

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape, "seed": self.seed}


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``function(inputs, **arguments)``.

    Saved by reference, never as code: the config holds the function's registered name
    (``@lamina.saving.register_serializable``), and loading needs that function registered or in
    ``custom_objects``. ``output_shape`` (a shape without the batch axis, or a function of the input shape) is
    needed only when the function cannot run on PyTorch's meta device.

    >>> Lambda(torch.abs)(torch.tensor([[-1.0, 2.0]]))
    tensor([[1., 2.]])
    """

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None, arguments: dict | None = None,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(function, (str, dict, list, tuple)):
            function = serialization.deserialize(_function_spec(function), kind="activations")
        if not callable(function):
            raise TypeError(f"Lambda expects a callable; received {function!r}.")
        self.function = function
        self.output_shape_spec = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None
        self.built = True

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        spec = self.output_shape_spec
        if spec is None:
            return super().compute_output_spec(*args, **kwargs)
        first = args[0] if args else next(iter(kwargs.values()))
        leaves = [t for t in tree.flatten(first) if isinstance(t, SymbolicTensor)]
        in_shape = leaves[0].shape if isinstance(first, SymbolicTensor) else tree.map_structure(
            lambda t: t.shape, first)
        shape = spec(in_shape) if callable(spec) else (leaves[0].shape[0], *tuple(spec))
        return SymbolicTensor(tuple(shape), leaves[0].dtype if leaves else self._dtype)

    def get_config(self) -> dict:
        name = serialization.get_registered_name(self.function)
        if name == "<lambda>" or not isinstance(getattr(self.function, "__name__", None), str):
            raise ValueError(
                f"Lambda layer '{self.name}' wraps an anonymous function, which lamina cannot save: files hold "
                "functions by name, never as code. Define it with `def`, register it with "
                "@lamina.saving.register_serializable(package=...), and pass it in custom_objects when loading.")
        for what, value in (("output_shape", self.output_shape_spec), ("mask", self.mask)):
            if callable(value):
                raise ValueError(f"Lambda layer '{self.name}': a callable {what} cannot be saved; give a shape.")
        return {**super().get_config(), "function": serialization.serialize(self.function),
                "output_shape": None if self.output_shape_spec is None else list(self.output_shape_spec),
                "arguments": self.arguments}


def _function_spec(spec: Any) -> Any:
    """A Lambda's saved function: a registered name only. Keras's marshalled bytecode or source is refused."""
    if isinstance(spec, (list, tuple)):  # Keras 2: [marshalled bytecode, defaults, closure]
        raise serialization.UnsafeObjectError(
            "A Lambda layer's function is saved as code (Keras 2's marshalled bytecode); lamina never runs code "
            "from a file. Register the function and save it by name.")
    if isinstance(spec, dict):
        serialization.check_no_code(spec, "Lambda layer's config")
        if spec.get("class_name") != "function" or not isinstance(spec.get("config"), str):
            raise serialization.UnsafeObjectError(
                "A Lambda layer's function must be saved as a registered name ({'class_name': 'function', "
                f"'config': 'package>name'}}); received {str(spec)[:200]}. lamina never runs code from a file.")
    return spec


class TorchModuleWrapper(Layer):
    """Use any ``torch.nn.Module`` as a lamina layer (in Sequential and functional models).

    Its parameters and buffers become the layer's weights, in PyTorch's own layout.

    >>> layer = TorchModuleWrapper(torch.nn.Linear(3, 2))
    >>> layer(torch.ones(4, 3)).shape
    torch.Size([4, 2])
    """

    def __init__(self, module: nn.Module, name: str | None = None, output_shape: tuple | None = None,
                 **kwargs: Any):
        if not isinstance(module, nn.Module):
            raise TypeError(f"TorchModuleWrapper expects a torch.nn.Module; received {type(module).__name__}.")
        super().__init__(name=name, **kwargs)  # automatic name: "torch_module_wrapper", as Keras
        self.module = module
        self.output_shape_hint = output_shape

    def build(self, input_shape: Any) -> None:
        has_lazy = any(isinstance(p, nn.parameter.UninitializedParameter) for p in self.module.parameters())
        if has_lazy and isinstance(input_shape, tuple):
            # Lazy torch modules initialize on their first real call: give them one sample of zeros.
            sample = torch.zeros([1 if d is None else d for d in input_shape], device=self._build_device)
            with torch.no_grad():
                self.module(sample)
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        return self.module(inputs, *args, **kwargs)

    def get_config(self) -> dict:
        raise TypeError(
            "A TorchModuleWrapper holds arbitrary PyTorch code, which lamina never serializes. Save its weights "
            "with save_weights, and rebuild the module in code."
        )
