"""LoRA (low-rank adaptation) for Dense, EinsumDense and Embedding, as Keras 3's ``layer.enable_lora(rank)``: the
kernel is frozen and two trainable factors ``A`` (``(rows, rank)``, ``he_uniform``) and ``B`` (``(rank, cols)``,
zeros) are added; the layer computes with ``kernel + (lora_alpha / rank) * A @ B``.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(3)
>>> dense.build((None, 4))
>>> dense.enable_lora(2)
>>> [tuple(w.shape) for w in dense.trainable_weights]
[(3,), (4, 2), (2, 3)]
"""

from __future__ import annotations

from typing import Any

import torch

from lamina import initializers


def names(layer: Any) -> tuple[str, str, str]:
    """(frozen weight, factor A, factor B) of the layer: ``kernel``/``lora_kernel_a``/``lora_kernel_b`` for Dense,
    ``embeddings``/``lora_embeddings_a``/``lora_embeddings_b`` for Embedding."""
    base = type(layer).QUANTIZATION[0]
    return base, f"lora_{base}_a", f"lora_{base}_b"


def enable(layer: Any, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
           b_initializer: Any = "zeros", regularizer: Any = None) -> None:
    """Freeze the layer's kernel and add the LoRA factors (what ``layer.enable_lora`` runs). A kernel of more
    than two axes (EinsumDense) gets ``A`` of shape ``kernel.shape[:-1] + (rank,)`` and ``B`` of ``(rank,
    kernel.shape[-1])``; ``regularizer`` applies to both (EinsumDense passes its kernel's, as Keras)."""
    if getattr(type(layer), "QUANTIZATION", None) is None:
        raise NotImplementedError(f"Layer {type(layer).__name__} does not support LoRA; lamina enables it on "
                                  "Dense and Embedding layers.")
    if not layer.built:
        raise ValueError(f"Cannot enable lora on a layer that isn't yet built: build layer '{layer.name}' (call it "
                         "on data, or pass lora_rank to its constructor) first.")
    if getattr(layer, "lora_enabled", False):
        raise ValueError(f"lora is already enabled on layer '{layer.name}'. This can only be done once per layer.")
    if getattr(layer.dtype_policy, "quantization_mode", None) == "float8":
        raise NotImplementedError(f"Layer '{layer.name}' is quantized to float8, which does not support LoRA (as in "
                                  "Keras 3). Enable LoRA on a float or int8 layer.")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0:
        raise ValueError(f"enable_lora: rank must be a positive int; received {rank!r}.")
    base, a_name, b_name = names(layer)
    weight = layer._parameters.get(base)
    frozen = weight if weight is not None else layer._buffers[base]
    *rows, cols = frozen.shape
    if weight is not None:
        weight.requires_grad_(False)  # as Keras: the kernel's own flag (layer.trainable = True sets it back)
    layer.add_weight(shape=(*rows, rank), initializer=initializers.get(a_initializer), regularizer=regularizer,
                     name=a_name)
    layer.add_weight(shape=(rank, cols), initializer=initializers.get(b_initializer), regularizer=regularizer,
                     name=b_name)
    layer.lora_rank = rank
    layer.lora_alpha = lora_alpha if lora_alpha is not None else rank
    layer.lora_enabled = True
    layer._lora_initializers = (initializers.get(a_initializer), initializers.get(b_initializer))


def restart(layer: Any) -> None:
    """After the merged kernel was loaded into the frozen one (as Keras loads it): draw ``A`` afresh and set
    ``B`` to its initial value (zeros), so that the update starts from nothing again."""
    _, a_name, b_name = names(layer)
    with torch.no_grad():
        for key, init in zip((a_name, b_name), layer._lora_initializers, strict=True):
            weight = layer._parameters[key]
            weight.copy_(torch.as_tensor(init(tuple(weight.shape), dtype=weight.dtype)))


def delta(layer: Any) -> torch.Tensor:
    """``(lora_alpha / rank) * A @ B``: what LoRA adds to the kernel."""
    _, a_name, b_name = names(layer)
    return (layer.lora_alpha / layer.lora_rank) * torch.matmul(layer._parameters[a_name], layer._parameters[b_name])


def merged(layer: Any, weight: torch.Tensor) -> torch.Tensor:
    """The kernel the layer computes with: ``weight`` plus the LoRA delta when LoRA is enabled."""
    if not getattr(layer, "lora_enabled", False):
        return weight
    return weight.to(torch.float32 if not weight.is_floating_point() else weight.dtype) + delta(layer)


def config(layer: Any) -> dict:
    """The ``lora_rank``/``lora_alpha`` entries of the layer's config (none when LoRA is off, as Keras)."""
    if getattr(layer, "lora_enabled", False) or getattr(layer, "_lora_rank_arg", None) is not None:
        rank = getattr(layer, "lora_rank", None) or layer._lora_rank_arg
        alpha = getattr(layer, "lora_alpha", None) or layer._lora_alpha_arg or rank
        return {"lora_rank": rank, "lora_alpha": alpha}
    return {}
