"""Embedding (integer ids -> dense vectors) and Masking (skip time steps whose features all equal a value).

Both can start a mask: a bool tensor ``(batch, steps)`` that rides on the output as ``_keras_mask`` and tells
recurrent layers downstream which steps to skip.

>>> import torch
>>> emb = Embedding(10, 4, mask_zero=True)
>>> out = emb(torch.tensor([[3, 1, 0]]))
>>> tuple(out.shape), out._keras_mask.tolist()
((1, 3, 4), [[True, True, False]])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina import initializers
from lamina.layers import lora, quantization
from lamina.layers.layer import Layer
from lamina.layers.quantizable import QuantizableLayer


class Embedding(QuantizableLayer, Layer):
    """Turns non-negative integer ids into dense vectors: row ``i`` of ``embeddings`` (``(input_dim, output_dim)``).

    With ``mask_zero=True``, id 0 is padding: the output carries the mask ``inputs != 0``, and ``input_dim``
    should count the padding id (vocabulary size + 1). ``quantize("int8")`` and ``enable_lora(rank)`` (or
    ``lora_rank=``) work as in Keras 3 (layers/quantizable.py).
    """

    QUANTIZATION = ("embeddings", -1, ("int8",))

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 quantization_config: Any = None, **kwargs: Any):
        kwargs.pop("input_length", None)  # Keras 2 argument; the sequence length comes from the data
        kwargs["dtype"] = quantization.policy_from(kwargs.get("dtype"))
        super().__init__(**kwargs)
        for arg, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Embedding: `{arg}` must be a positive int; received {value!r}.")
        self._init_quantizable(lora_rank, lora_alpha, quantization_config)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = embeddings_regularizer
        self.embeddings_constraint = embeddings_constraint
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self._initial_weights = weights

    def build(self, input_shape: Any = None) -> None:
        self.embeddings = self.add_weight(shape=(self.input_dim, self.output_dim),
                                          initializer=self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")
        self.built = True
        self._build_quantizable()
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    @property
    def embeddings(self) -> torch.Tensor:
        """The table ``(input_dim, output_dim)``, with the LoRA update merged in when LoRA is enabled (int8 once
        quantized)."""
        return self._compute_weight()

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        ids = inputs if inputs.dtype in (torch.int64, torch.int32) else inputs.long()
        if self.quantization_mode is not None:
            return self.quantized_call(ids)
        return F.embedding(ids, self.embeddings)  # (..., ) ids -> (..., output_dim)

    def quantized_call(self, ids: torch.Tensor) -> torch.Tensor:
        """Rows of the int8 table over their scales (plus LoRA's rows when enabled)."""
        out = quantization.int8_embedding_output(self, ids)
        if self.lora_enabled:
            out = out + F.embedding(ids, lora.delta(self))
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_zero:
            return None
        return inputs != 0

    def get_config(self) -> dict:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": None, "activity_regularizer": None, "embeddings_constraint": None,
                "mask_zero": self.mask_zero, **self._quantizable_config()}


class Masking(Layer):
    """Masks time steps whose features all equal ``mask_value``: the output mask is
    ``any(inputs != mask_value, axis=-1)``, and masked steps of the output are zeros (as in Keras).

    >>> x = torch.tensor([[[1.0, 2.0], [0.0, 0.0]]])
    >>> Masking()(x)._keras_mask.tolist()
    [[True, False]]
    """

    def __init__(self, mask_value: float = 0.0, **kwargs: Any):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return (inputs != self.mask_value).any(dim=-1)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = (inputs != self.mask_value).any(dim=-1, keepdim=True)  # (..., 1)
        return inputs * keep.to(inputs.dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "mask_value": self.mask_value}
