"""``ReversibleEmbedding``: an embedding that can also map vectors back to logits over its vocabulary (the output
layer of a language model whose input and output embeddings are tied).

>>> import torch
>>> layer = ReversibleEmbedding(input_dim=100, output_dim=8)
>>> hidden = layer(torch.tensor([[1, 2, 3]]))
>>> tuple(hidden.shape), tuple(layer(hidden, reverse=True).shape)
((1, 3, 8), (1, 3, 100))
"""

from __future__ import annotations

from typing import Any

import torch

from lamina import constraints, regularizers
from lamina.core import config
from lamina.layers.embedding import Embedding
from lamina.layers.layer import Layer

__all__ = ["ReversibleEmbedding"]


class ReversibleEmbedding(Embedding):
    """An ``Embedding`` whose ``call(inputs, reverse=True)`` projects ``(..., output_dim)`` vectors to
    ``(..., input_dim)`` logits.

    With ``tie_weights=True`` (the default) the reverse projection is ``inputs @ embeddings.T``; otherwise a
    separate weight ``reverse_embeddings`` ``(output_dim, input_dim)`` (created after ``embeddings``, with the
    same initializer) is used. ``reverse_dtype`` computes the reverse projection in another dtype (e.g.
    ``"float32"`` under mixed precision); ``logit_soft_cap`` bounds the logits to ``(-cap, cap)`` with
    ``tanh(logits / cap) * cap``. The forward direction is ``Embedding``'s, ``mask_zero`` included; the logits
    carry no mask.

    lamina's ReversibleEmbedding supports neither ``quantize()`` nor LoRA: both raise (``quantize_model`` skips
    it).

    >>> layer = ReversibleEmbedding(10, 4, tie_weights=False, logit_soft_cap=5.0)
    >>> logits = layer(torch.randn(2, 4), reverse=True)
    >>> tuple(logits.shape), bool(logits.abs().max() < 5.0), len(layer.weights)
    ((2, 10), True, 2)
    """

    QUANTIZATION = ("embeddings", -1, ())  # no mode: quantize_model leaves it alone

    def __init__(self, input_dim: int, output_dim: int, tie_weights: bool = True,
                 embeddings_initializer: Any = "uniform", embeddings_regularizer: Any = None,
                 embeddings_constraint: Any = None, mask_zero: bool = False, reverse_dtype: Any = None,
                 logit_soft_cap: float | None = None, **kwargs: Any):
        if kwargs.get("lora_rank") is not None:
            raise NotImplementedError("ReversibleEmbedding: LoRA (`lora_rank`) is not supported by lamina's "
                                      "ReversibleEmbedding; leave lora_rank=None.")
        if kwargs.get("quantization_config") is not None:
            raise NotImplementedError("ReversibleEmbedding: quantization is not supported by lamina's "
                                      "ReversibleEmbedding; leave quantization_config=None.")
        kwargs.pop("lora_rank", None), kwargs.pop("lora_alpha", None), kwargs.pop("quantization_config", None)
        super().__init__(input_dim, output_dim, embeddings_initializer=embeddings_initializer,
                         embeddings_regularizer=embeddings_regularizer, embeddings_constraint=embeddings_constraint,
                         mask_zero=mask_zero, **kwargs)
        if logit_soft_cap is not None and (isinstance(logit_soft_cap, bool) or float(logit_soft_cap) <= 0):
            raise ValueError("ReversibleEmbedding: `logit_soft_cap` must be a positive number or None; received "
                             f"logit_soft_cap={logit_soft_cap!r}.")
        self.tie_weights = bool(tie_weights)
        self.reverse_dtype = None if reverse_dtype is None else config.dtype_name(config.standardize_dtype(
            reverse_dtype))
        self.logit_soft_cap = logit_soft_cap

    def build(self, input_shape: Any = None) -> None:
        super().build(input_shape)
        if not self.tie_weights:
            self.reverse_embeddings = self.add_weight(shape=(self.output_dim, self.input_dim),
                                                      initializer=self.embeddings_initializer,
                                                      regularizer=self.embeddings_regularizer,
                                                      constraint=self.embeddings_constraint,
                                                      name="reverse_embeddings")

    def call(self, inputs: torch.Tensor, reverse: bool = False) -> torch.Tensor:
        if not reverse:
            return super().call(inputs)
        kernel = self.embeddings.T if self.tie_weights else self.reverse_embeddings  # (output_dim, input_dim)
        if self.reverse_dtype is not None:
            dtype = config.standardize_dtype(self.reverse_dtype)
            # In that dtype even inside a mixed-precision (autocast) region, e.g. float32 logits under bfloat16.
            with torch.autocast(inputs.device.type, enabled=False):
                logits = torch.matmul(inputs.to(dtype), kernel.to(dtype))
        else:
            logits = torch.matmul(inputs, kernel.to(inputs.dtype))
        if self.logit_soft_cap is not None:
            cap = float(self.logit_soft_cap)
            logits = torch.tanh(logits / cap) * cap
        return logits

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(inputs, torch.Tensor) and inputs.is_floating_point():
            return None  # reverse mode (vectors in, logits out): no mask, as in Keras
        return super().compute_mask(inputs, mask)

    def quantize(self, mode: str | None = None, type_check: bool = True, config: Any = None) -> None:
        """Not supported by lamina's ReversibleEmbedding (Keras quantizes it to int8/int4)."""
        raise NotImplementedError(f"ReversibleEmbedding layer '{self.name}': quantization is not supported by "
                                  "lamina's ReversibleEmbedding.")

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Not supported by lamina's ReversibleEmbedding."""
        raise NotImplementedError(f"ReversibleEmbedding layer '{self.name}': LoRA is not supported by lamina's "
                                  "ReversibleEmbedding.")

    def save_own_variables(self, store: Any) -> None:
        """``embeddings`` then (untied) ``reverse_embeddings``, in Keras's order."""
        Layer.save_own_variables(self, store)

    def load_own_variables(self, store: Any) -> None:
        Layer.load_own_variables(self, store)

    def get_config(self) -> dict:
        return {**super().get_config(),
                "embeddings_regularizer": regularizers.serialize(regularizers.get(self.embeddings_regularizer)),
                "embeddings_constraint": constraints.serialize(constraints.get(self.embeddings_constraint)),
                "tie_weights": self.tie_weights, "reverse_dtype": self.reverse_dtype,
                "logit_soft_cap": self.logit_soft_cap}
