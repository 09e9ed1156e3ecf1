"""The Keras 3 API that Dense, EinsumDense and Embedding share for quantization and LoRA: ``quantize``,
``quantization_mode``, ``quantized_build``, ``quantized_call``, ``enable_lora`` and the ``kernel`` property that
merges LoRA in (the work is done in ``layers/quantization.py``, ``layers/float8.py`` and ``layers/lora.py``);
and ``quantize_model`` behind ``Model.quantize``.

>>> import torch
>>> from lamina import layers
>>> emb = layers.Embedding(10, 4)
>>> emb.build()
>>> emb.quantize("int8")
>>> emb.quantization_mode, emb(torch.tensor([[1, 2]])).shape
('int8', torch.Size([1, 2, 4]))
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import torch

from lamina.layers import keras_variables, lora, quantization
from lamina.quantizers.config import get_config_object


class QuantizableLayer:
    """Mixed into Dense, EinsumDense and Embedding (before ``Layer``). The class sets ``QUANTIZATION = (weight name,
    axis reduced by the per-channel scale, supported modes)``."""

    QUANTIZATION: tuple[str, int, tuple[str, ...]]

    def _init_quantizable(self, lora_rank: int | None, lora_alpha: float | None, quantization_config: Any) -> None:
        """Called from ``__init__`` (after ``Layer.__init__``)."""
        self.lora_enabled = False
        self._lora_rank_arg, self._lora_alpha_arg = lora_rank, lora_alpha
        # (Keras's attributes before the build: the constructor's LoRA rank, alpha defaulting to the rank)
        self.lora_rank = lora_rank
        self.lora_alpha = lora_alpha if lora_alpha is not None or lora_rank is None else lora_rank
        self._quantization_config = get_config_object(quantization_config)

    @property
    def quantization_config(self) -> Any:
        """The ``quantization_config`` the layer was given (or quantized with), as Keras keeps it."""
        return self._quantization_config

    def _build_quantizable(self) -> None:
        """Called at the end of ``build``: quantized weights for a quantized policy, LoRA for ``lora_rank``."""
        mode = self.quantization_mode
        if mode is not None:
            self.quantized_build(None, mode)
        if self._lora_rank_arg is not None and not self.lora_enabled:
            self.enable_lora(self._lora_rank_arg, self._lora_alpha_arg)

    @property
    def quantization_mode(self) -> str | None:
        """``"int8"`` or ``"float8"`` once quantized, else None."""
        return quantization.mode_of(self)

    def quantize(self, mode: str | None = None, type_check: bool = True, config: Any = None) -> None:
        """Quantize the built layer in place: ``"int8"`` (int8 kernel with a per-channel scale) or, for Dense,
        ``"float8"`` (float8 training with delayed scaling).

        >>> d = Dense(2); d.build((None, 3)); d.quantize("int8"); d.kernel.dtype  # doctest: +SKIP
        torch.int8
        """
        quantization.quantize(self, mode, config, type_check)

    def quantized_build(self, kernel_shape: Any, mode: str, config: Any = None) -> None:
        """Create the weights of ``mode`` in place of the float kernel (a layer loaded from a quantized config);
        ``kernel_shape`` None means the float kernel's shape, ``config`` a ``QuantizationConfig`` to compute with."""
        if config is not None:
            self._quantization_config = get_config_object(config)
        quantization.quantized_build(self, mode, kernel_shape)

    def quantized_call(self, *args: Any, **kwargs: Any) -> Any:
        """The forward pass of the quantized layer (``call`` dispatches here once quantized)."""
        raise NotImplementedError(f"{type(self).__name__} does not define quantized_call.")

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Freeze the kernel and train a low-rank update ``(lora_alpha / rank) * A @ B`` instead (Keras's LoRA);
        ``lora_alpha`` defaults to ``rank``."""
        lora.enable(self, rank, lora_alpha, a_initializer, b_initializer)

    def _quantizable_config(self) -> dict:
        """Keras 3's config entries: the dtype (a dict when quantized), ``quantization_config``, LoRA's."""
        return {"dtype": quantization.config_dtype(self),
                "quantization_config": quantization.serialize_quantization_config(self), **lora.config(self)}

    def save_own_variables(self, store: Any) -> None:
        """Keras's saved variables: the kernel first (LoRA merged in, and for int8 quantized again), then the
        bias, then the quantization state; LoRA's factors are not saved (Keras merges them)."""
        for i, value in enumerate(keras_variables.saved_values(self)):
            store[str(i)] = value

    def load_own_variables(self, store: Any) -> None:
        """The inverse of ``save_own_variables``; with LoRA enabled, the merged kernel goes into the frozen one and
        the factors start again (``A`` drawn afresh, ``B`` zeros), as in Keras."""
        keras_variables.load_values(self, store)

    def _compute_weight(self) -> torch.Tensor:
        """The weight computed with (the stored kernel, LoRA merged in). Before ``build`` it does not exist: the
        AttributeError lets torch register the weight under the property's name."""
        name = type(self).QUANTIZATION[0]
        weight = quantization.stored(self, name)
        if weight is None:
            raise AttributeError(f"{type(self).__name__} layer '{self.name}' has no {name} yet: build it first.")
        return lora.merged(self, weight)


def quantize_model(model: Any, mode: str | None = None, config: Any = None, filters: Any = None) -> None:
    """Quantize every Dense, EinsumDense and Embedding of ``model`` that supports ``mode`` (``filters``: a layer name
    regex, a list of them, or a callable ``layer -> bool`` choosing which layers)."""
    if mode is None and config is not None:
        mode = get_config_object(config).mode
    if mode not in quantization.MODES:
        raise ValueError(f"Invalid quantization mode {mode!r}: supported modes are "
                         f"{', '.join(repr(m) for m in quantization.MODES)}.")
    if not getattr(model, "built", True):
        raise ValueError(f"Cannot quantize model '{model.name}': it is not built yet. Call it on data first.")

    def chosen(layer: Any) -> bool:
        if filters is None:
            return True
        if callable(filters):
            return bool(filters(layer))
        patterns = [filters] if isinstance(filters, str) else list(filters)
        return any(re.search(p, layer.name) for p in patterns)

    done = 0
    for layer in model.modules():
        spec = getattr(type(layer), "QUANTIZATION", None)
        if layer is model or spec is None or mode not in spec[2] or not chosen(layer):
            continue
        layer.quantize(mode, config=config)  # an already quantized layer refuses, as in Keras
        done += 1
    if done == 0:  # Keras warns and goes on
        warnings.warn(f"Model '{model.name}' has no layer that can be quantized with mode {mode!r} (lamina "
                      "quantizes Dense, EinsumDense and Embedding layers; Embedding supports 'int8' only).",
                      stacklevel=2)
