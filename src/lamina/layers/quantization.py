"""``layer.quantize(mode)`` for Dense, EinsumDense and Embedding, as Keras 3 does it: the dtype policies of a
quantized layer (``"int8_from_float32"``, ``"float8_from_float32"``), the swap of the float kernel for an int8
kernel and its per-channel scale (or, for float8, the scaling state), and the int8 forward pass.

int8: the kernel is quantized once with abs-max per output channel (``kernel_scale``: one scale per unit of a
Dense, per row of an Embedding) and stored as an int8 tensor; a Dense quantizes its inputs on each call (abs-max
over the last axis), multiplies the integers exactly and divides by both scales.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(3)
>>> dense.build((None, 4))
>>> dense.quantize("int8")
>>> dense.kernel.dtype, tuple(dense.kernel_scale.shape), dense.dtype_policy.name
(torch.int8, (3,), 'int8_from_float32')
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

from lamina import quantizers
from lamina.core import dtype_policy
from lamina.layers import float8
from lamina.quantizers.config import get_config_object, serialize_config

MODES = ("int8", "float8")
AMAX_HISTORY_LENGTH = 1024


class QuantizedDTypePolicy(dtype_policy.DTypePolicy):
    """The policy of a quantized layer: ``mode`` (``"int8"``) with its source policy (``"float32"``...), named
    ``"<mode>_from_<source>"``; weights other than the quantized kernel and the computation keep the source's
    dtypes.

    >>> QuantizedDTypePolicy("int8", "float32").name
    'int8_from_float32'
    """

    def __init__(self, mode: str, source_name: str | None = None):
        source = dtype_policy.DTypePolicy(source_name)
        super().__init__(source.name)
        self._mode = mode
        self._source_name = source.name
        self._name = f"{mode}_from_{source.name}"

    @property
    def quantization_mode(self) -> str:
        return self._mode

    def get_config(self) -> dict:
        return {"mode": self._mode, "source_name": self._source_name}

    def serialize(self) -> dict:
        """Keras 3's dict for the layer config's ``"dtype"``."""
        return {"module": "keras.dtype_policies", "class_name": type(self).__name__, "config": self.get_config(),
                "registered_name": None}

    def __repr__(self) -> str:
        return f'<{type(self).__name__} "{self._name}">'


class QuantizedFloat8DTypePolicy(QuantizedDTypePolicy):
    """The float8 policy: also the length of the amax histories of delayed scaling (1024 by default)."""

    def __init__(self, mode: str = "float8", source_name: str | None = None,
                 amax_history_length: int = AMAX_HISTORY_LENGTH):
        super().__init__(mode, source_name)
        if not isinstance(amax_history_length, int) or amax_history_length <= 0:
            raise ValueError(f"amax_history_length must be a positive int; received {amax_history_length!r}.")
        self.amax_history_length = amax_history_length

    def get_config(self) -> dict:
        return {**super().get_config(), "amax_history_length": self.amax_history_length}


def make_policy(mode: str, source: str) -> QuantizedDTypePolicy:
    return QuantizedFloat8DTypePolicy(mode, source) if mode == "float8" else QuantizedDTypePolicy(mode, source)


def policy_from(dtype: Any) -> Any:
    """A layer's ``dtype`` argument with quantized policies resolved: ``"int8_from_float32"`` or Keras's
    ``{"class_name": "QuantizedDTypePolicy", "config": {...}}`` become policy objects; other values pass as they are.

    >>> policy_from("int8_from_float32").quantization_mode
    'int8'
    """
    if isinstance(dtype, str) and "_from_" in dtype:
        mode, _, source = dtype.partition("_from_")
        return make_policy(_check_mode(mode, MODES), source)
    if isinstance(dtype, dict) and dtype.get("class_name") in ("QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy"):
        cfg = dict(dtype.get("config") or {})
        mode = _check_mode(cfg.pop("mode", None), MODES)
        return QuantizedFloat8DTypePolicy(mode, **cfg) if mode == "float8" else QuantizedDTypePolicy(mode, **cfg)
    return dtype


def mode_of(layer: Any) -> str | None:
    """The layer's quantization mode, from its dtype policy (None when not quantized)."""
    return getattr(layer.dtype_policy, "quantization_mode", None)


def config_dtype(layer: Any) -> Any:
    """The ``"dtype"`` entry of the layer's config: Keras's dict for a quantized policy, else the policy name."""
    policy = layer.dtype_policy
    return policy.serialize() if isinstance(policy, QuantizedDTypePolicy) else policy.name


def _check_mode(mode: Any, supported: tuple[str, ...], layer: Any = None) -> str:
    if mode not in supported:
        what = f"{type(layer).__name__} layer '{layer.name}'" if layer is not None else "lamina"
        raise ValueError(f"Invalid quantization mode {mode!r} for {what}: supported modes are "
                         f"{', '.join(repr(m) for m in supported)}. ('int4', 'gptq' and 'awq' are not provided by "
                         "lamina.)")
    return mode


# ---------------------------------------------------------------------------------------------- the weights
def stored(layer: Any, name: str) -> torch.Tensor | None:
    """The tensor the layer holds under ``name`` (parameter or buffer), without LoRA merged in."""
    found = layer._parameters.get(name)
    return found if found is not None else layer._buffers.get(name)


def _drop(layer: Any, name: str) -> None:
    layer._parameters.pop(name, None)
    layer._buffers.pop(name, None)
    layer._weight_info.pop(name, None)


def add_int8_weights(layer: Any, name: str, shape: tuple, scale_shape: tuple) -> None:
    """Create the int8 ``name`` and float ``<name>_scale`` (non-trainable) in place of the float weight."""
    _drop(layer, name)
    layer.add_weight(shape=shape, initializer="zeros", dtype="int8", trainable=False, name=name)
    layer.add_weight(shape=scale_shape, initializer="ones", trainable=False, name=f"{name}_scale")


def quantize(layer: Any, mode: str, config: Any = None, type_check: bool = True) -> None:
    """Quantize a built Dense or Embedding in place (what ``layer.quantize(mode)`` runs).

    Args:
        layer: the layer; its ``QUANTIZATION`` class attribute gives the weight name, the axis reduced by its
            per-channel scale and the supported modes.
        mode: ``"int8"``, or ``"float8"`` (Dense only).
        config: an optional ``lamina.quantizers.QuantizationConfig`` of that mode (for int8: the weight
            quantizer's ``value_range``/``epsilon`` and the activation quantizer; None for Keras's defaults).
        type_check: accepted for Keras compatibility (lamina checks the layer's kind in any case).
    """
    spec = getattr(type(layer), "QUANTIZATION", None)
    if spec is None:
        raise NotImplementedError(f"Layer {type(layer).__name__} does not have a `quantize` method implemented: "
                                  "lamina quantizes Dense, EinsumDense and Embedding layers.")
    name, axis, supported = spec
    if mode is None and config is not None:
        mode = get_config_object(config).mode
    _check_mode(mode, supported, layer)
    if not layer.built:
        raise ValueError(f"Cannot quantize a layer that isn't yet built. Layer '{layer.name}' (of type "
                         f"'{type(layer).__name__}') is not built yet: call it on data or build it first.")
    if mode_of(layer) is not None:
        raise ValueError(f"Layer '{layer.name}' is already quantized with mode {mode_of(layer)!r}; quantize the "
                         "float model instead.")
    if mode == "int8" and layer.compute_dtype == "float16":
        raise ValueError(f"Quantization mode='int8' doesn't work well with compute_dtype='float16' (layer "
                         f"'{layer.name}'): int8 scales overflow half precision. Quantize a float32 or "
                         "'mixed_bfloat16' layer instead.")
    if mode == "float8" and getattr(layer, "lora_enabled", False):
        raise NotImplementedError(f"Layer '{layer.name}' has LoRA enabled, which float8 does not support (as in "
                                  "Keras 3). Quantize it to 'int8', or merge the LoRA update first.")
    config = get_config_object(config)
    if config is not None and config.mode != mode:
        raise ValueError(f"quantize: mode={mode!r} but the config is for mode {config.mode!r}.")
    source = layer.dtype_policy.name
    own = getattr(layer, "_quantize_int8_kernel", None)  # a kernel of another rank (EinsumDense) lays out its own
    if mode == "int8" and own is not None:
        own(config)
    elif mode == "int8":
        weight = stored(layer, name).detach()
        default = quantizers.AbsMaxQuantizer(axis=axis)
        weight_quantizer = quantizers.QuantizationConfig.weight_quantizer_or_default(config, default)
        quantized, scale = weight_quantizer(weight)
        add_int8_weights(layer, name, tuple(weight.shape), (weight.shape[1 - axis % 2],))
        with torch.no_grad():
            stored(layer, name).copy_(quantized)
            stored(layer, f"{name}_scale").copy_(scale.reshape(-1))
    else:
        float8.add_state(layer, AMAX_HISTORY_LENGTH)
    layer._quantization_config = config if config is not None else (
        quantizers.Int8QuantizationConfig() if mode == "int8" else quantizers.Float8QuantizationConfig())
    layer.dtype_policy = make_policy(mode, source)


def quantized_build(layer: Any, mode: str, shape: tuple | None = None) -> None:
    """Create the quantized weights of a layer built from a quantized config (before its weights are loaded):
    for int8, an int8 kernel of ``shape`` (default: the float kernel's) and its scale in place of the float one."""
    name, axis, supported = type(layer).QUANTIZATION
    _check_mode(mode, supported, layer)
    if mode == "int8":
        shape = tuple(shape) if shape is not None else tuple(stored(layer, name).shape)
        own = getattr(layer, "_build_int8", None)
        if own is not None:
            own(shape)
        else:
            add_int8_weights(layer, name, shape, (shape[1 - axis % 2],))
    else:
        float8.add_state(layer, getattr(layer.dtype_policy, "amax_history_length", AMAX_HISTORY_LENGTH))


def serialize_quantization_config(layer: Any) -> Any:
    """The ``"quantization_config"`` entry of the layer's config (None when not quantized)."""
    return serialize_config(getattr(layer, "_quantization_config", None))


# ---------------------------------------------------------------------------------------------- int8 compute
def _no_autocast(device_type: str) -> Any:
    """Leave an enclosing ``torch.autocast`` region (the int8 product is computed in the dtypes given)."""
    if device_type in ("cpu", "cuda") and torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


class _Int8Matmul(torch.autograd.Function):
    """``(x_q @ k_q) / (x_scale * k_scale)`` with the integer product exact; the gradient reaches the inputs
    through the dequantized kernel (the int8 kernel itself is not trained)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, kernel: torch.Tensor, kernel_scale: torch.Tensor,
                activation_quantizer: Any) -> torch.Tensor:
        ctx.save_for_backward(kernel, kernel_scale)
        # float32 holds every integer sum of up to 1040 products of int8s exactly; float64 beyond that
        exact = torch.float32 if kernel.shape[0] <= 1040 else torch.float64
        with _no_autocast(x.device.type):
            if activation_quantizer is None:
                return (x.to(exact) @ kernel.to(exact)).to(x.dtype) / kernel_scale
            x_q, x_scale = activation_quantizer(x)
            product = (x_q.to(exact) @ kernel.to(exact)).to(x.dtype)
            return product / (x_scale * kernel_scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        kernel, kernel_scale = ctx.saved_tensors
        dequantized = kernel.to(grad.dtype) / kernel_scale
        return grad @ dequantized.T, None, None, None


def int8_dense_output(layer: Any, inputs: torch.Tensor) -> torch.Tensor:
    """The int8 Dense product ``inputs @ kernel`` (before bias and activation)."""
    config = getattr(layer, "_quantization_config", None)
    activation_quantizer = quantizers.QuantizationConfig.activation_quantizer_or_default(
        config, quantizers.AbsMaxQuantizer(axis=-1))
    compute = layer._compute_dtype  # as Keras, the float variables take part in the compute dtype
    scale = stored(layer, "kernel_scale").to(compute)
    return _Int8Matmul.apply(inputs.to(compute), stored(layer, "kernel"), scale, activation_quantizer)


def int8_embedding_output(layer: Any, ids: torch.Tensor) -> torch.Tensor:
    """Rows of the int8 table divided by their scales."""
    table, scale = stored(layer, "embeddings"), stored(layer, "embeddings_scale").to(layer._compute_dtype)
    return table[ids].to(scale.dtype) / scale[ids].unsqueeze(-1)
