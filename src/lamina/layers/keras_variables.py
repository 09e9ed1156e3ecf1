"""The variables a quantized or LoRA-enabled Dense/Embedding saves in Keras's files, in Keras's order: the kernel
(LoRA merged in; an int8 kernel re-quantized after the merge), the bias, then the quantization state (the int8
scale, or float8's scales and amax histories). LoRA's factors are not saved: Keras merges them into the kernel.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(2)
>>> dense.build((None, 3))
>>> dense.quantize("int8")
>>> [tuple(v.shape) for v in saved_values(dense)]
[(3, 2), (2,), (2,)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.layers import lora
from lamina.layers.quantization import stored
from lamina.layers.spec import format_shape
from lamina.quantizers.functions import abs_max_quantize


def saved_names(layer: Any) -> list[str]:
    """The names of the saved variables, in Keras's order."""
    base, a_name, b_name = lora.names(layer)
    head = [base] + (["bias"] if stored(layer, "bias") is not None else [])
    return head + [n for n in layer._weight_info if n not in (*head, a_name, b_name)]


def _merged_kernel(layer: Any) -> dict[str, torch.Tensor]:
    """The kernel (and for int8 its scale) with LoRA merged in."""
    base = lora.names(layer)[0]
    weight = stored(layer, base).detach()
    if not getattr(layer, "lora_enabled", False):
        return {base: weight}
    delta = lora.delta(layer).detach()
    if weight.is_floating_point():
        return {base: weight + delta}
    own = getattr(layer, "_requantized_with_lora", None)  # a kernel of another rank (EinsumDense)
    if own is not None:
        return own()
    axis = type(layer).QUANTIZATION[1]
    scale = stored(layer, f"{base}_scale").detach()
    dequantized = weight.to(scale.dtype) / (scale if axis == 0 else scale.unsqueeze(-1))
    quantized, new_scale = abs_max_quantize(dequantized + delta, axis=axis)
    return {base: quantized, f"{base}_scale": new_scale.reshape(-1)}


def saved_values(layer: Any) -> list[np.ndarray]:
    """The saved variables as NumPy arrays (bfloat16 as float32)."""
    merged = _merged_kernel(layer)
    out = []
    for name in saved_names(layer):
        value = merged.get(name, stored(layer, name)).detach().cpu()
        out.append((value.float() if value.dtype == torch.bfloat16 else value).numpy().copy())
    return out


def load_values(layer: Any, store: Any) -> None:
    """Set the variables from ``store["0"]``, ``"1"``...: count and shapes are checked before anything changes."""
    names = saved_names(layer)
    keys = list(store.keys())
    if len(keys) != len(names):
        raise ValueError(f"Layer '{layer.name}' expected {len(names)} variables ({', '.join(names)}), but received "
                         f"{len(keys)} ({keys[:20]}) while loading.")
    pairs = []
    for i, name in enumerate(names):
        target, value = stored(layer, name), torch.as_tensor(np.asarray(store[str(i)]))
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(f"Layer '{layer.name}': variable '{name}' has shape {format_shape(tuple(target.shape))}, "
                             f"but the file holds {format_shape(tuple(value.shape))}.")
        pairs.append((target, value))
    with torch.no_grad():
        for target, value in pairs:
            target.copy_(value.to(device=target.device, dtype=target.dtype))
    if getattr(layer, "lora_enabled", False):
        lora.restart(layer)
