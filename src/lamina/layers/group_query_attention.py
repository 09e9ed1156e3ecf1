"""``GroupQueryAttention`` (also ``GroupedQueryAttention``, its class's name in Keras): attention whose query
heads share fewer key/value heads (Ainslie et al., 2023).

Masks follow Keras and ``MultiHeadAttention``: a query mask hides rows of the attention matrix (and rides on the
output), value and key masks hide its columns, ``attention_mask`` ``(batch, T, S)`` hides any entry.

>>> import torch
>>> layer = GroupQueryAttention(head_dim=4, num_query_heads=4, num_key_value_heads=2)
>>> tuple(layer(torch.ones(2, 5, 8), torch.ones(2, 7, 8)).shape)
(2, 5, 8)
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.core import config
from lamina.layers.activation import Softmax
from lamina.layers.attention import _and, _as_bool, _causal_mask, _masked_probs, _sdpa_kernel
from lamina.layers.core import Dropout
from lamina.layers.einsum_dense import EinsumDense
from lamina.layers.layer import Layer, format_shape

__all__ = ["GroupQueryAttention", "GroupedQueryAttention"]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"GroupQueryAttention: `{name}` must be a positive int; received {name}={value!r}.")
    return value


class GroupQueryAttention(Layer):
    """Grouped-query attention with Keras 3's weights, config and call signature.

    ``query`` ``(batch, T, dim)`` attends over ``value`` ``(batch, S, dim_v)`` (keyed by ``key``, default
    ``value``). The query is projected to ``num_query_heads`` heads of ``head_dim``, key and value to
    ``num_key_value_heads`` heads; each key/value head serves ``num_query_heads // num_key_value_heads``
    consecutive query heads. The result is projected back to ``dim``. As in Keras, the projections are
    ``EinsumDense`` sub-layers (``_query_dense``, ``_key_dense``, ``_gate_dense``, ``_value_dense``,
    ``_output_dense``), so weights and ``.keras`` files match Keras's. Weights, in Keras's order: query kernel
    ``(dim, Hq, head_dim)`` and bias ``(Hq, head_dim)``, key and value ``(dim, Hkv, head_dim)`` / ``(Hkv,
    head_dim)`` (a gate like the query's between them with ``use_gate=True``), output kernel ``(Hq, head_dim,
    dim)`` and bias ``(dim,)``.

    >>> import torch
    >>> layer = GroupQueryAttention(head_dim=2, num_query_heads=6, num_key_value_heads=3)
    >>> out, scores = layer(torch.ones(1, 4, 5), torch.ones(1, 3, 5), return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((1, 4, 5), (1, 6, 4, 3))
    """

    def __init__(self, head_dim: int, num_query_heads: int, num_key_value_heads: int, dropout: float = 0.0,
                 use_bias: bool = True, sliding_window: int | None = None, flash_attention: bool | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, use_gate: bool = False,
                 seed: int | None = None, **kwargs: Any):
        if kwargs.get("name") is None:  # Keras's default name, from its class GroupedQueryAttention
            kwargs["name"] = config.unique_name("grouped_query_attention")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.head_dim = _positive_int(head_dim, "head_dim")
        self.num_query_heads = _positive_int(num_query_heads, "num_query_heads")
        self.num_key_value_heads = _positive_int(num_key_value_heads, "num_key_value_heads")
        if num_query_heads % num_key_value_heads:
            raise ValueError("GroupQueryAttention: `num_query_heads` must be divisible by `num_key_value_heads`; "
                             f"received num_query_heads={num_query_heads}, "
                             f"num_key_value_heads={num_key_value_heads}.")
        self.num_repeats = num_query_heads // num_key_value_heads
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"GroupQueryAttention: `dropout` must be a float in [0, 1); received {dropout!r}.")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self.use_gate = bool(use_gate)
        self.sliding_window = None if sliding_window is None else _positive_int(sliding_window, "sliding_window")
        if flash_attention:
            raise ValueError("GroupQueryAttention: `flash_attention` is chosen by PyTorch's "
                             "scaled_dot_product_attention in lamina; leave flash_attention=None.")
        self._math_kernel = config.is_flash_attention_enabled() is False
        self.seed = seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._scale = 1.0 / math.sqrt(float(self.head_dim))
        self.supports_masking = True

    # ------------------------------------------------------------------------------------------ build
    def _dense(self, name: str, equation: str, output_shape: tuple, bias_axes: str, input_shape: tuple) -> Any:
        """A built EinsumDense sub-layer named like Keras's (its weights: ``<layer>/<name>/kernel``, ``bias``)."""
        layer = EinsumDense(equation, output_shape=output_shape, bias_axes=bias_axes if self.use_bias else None,
                            kernel_initializer=self.kernel_initializer, bias_initializer=self.bias_initializer,
                            kernel_regularizer=self.kernel_regularizer, bias_regularizer=self.bias_regularizer,
                            kernel_constraint=self.kernel_constraint, bias_constraint=self.bias_constraint,
                            dtype=self.dtype_policy, name=name)
        layer.build(input_shape)
        layer._build_shapes_dict = {"input_shape": input_shape}
        return layer

    def build(self, query_shape: tuple, value_shape: tuple, key_shape: tuple | None = None) -> None:
        key_shape = value_shape if key_shape is None else key_shape
        shapes = {"query": tuple(query_shape), "value": tuple(value_shape), "key": tuple(key_shape)}
        for what, shape in shapes.items():
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"GroupQueryAttention '{self.name}' needs `{what}` of shape (batch, steps, "
                                 f"features) with known features; received {format_shape(shape)}.")
        dim = shapes["query"][-1]
        hq, hkv, hd = self.num_query_heads, self.num_key_value_heads, self.head_dim
        # Sub-layers in Keras's order and attribute names (its weights order and .keras groups follow them).
        self._query_dense = self._dense("query", "bqm,muh->bquh", (None, hq, hd), "uh", shapes["query"])
        self._key_dense = self._dense("key", "bkm,mvh->bkvh", (None, hkv, hd), "vh", shapes["key"])
        if self.use_gate:
            self._gate_dense = self._dense("gate", "bqm,muh->bquh", (None, hq, hd), "uh", shapes["query"])
        self._value_dense = self._dense("value", "bkm,mvh->bkvh", (None, hkv, hd), "vh", shapes["value"])
        self._output_dense = self._dense("attention_output", "bquh,uhm->bqm", (None, dim), "m",
                                         (None, shapes["query"][1], hq, hd))
        self._dropout_layer = Dropout(self.dropout, seed=self.seed, dtype=self.dtype_policy)
        self._softmax = Softmax(axis=-1, dtype=self.dtype_policy)
        self.built = True

    # ------------------------------------------------------------------------------------------ call
    def _project(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        """(B, L, dim) -> (B, heads, L, head_dim)."""
        dense = getattr(self, f"_{prefix}_dense")
        if dense.quantization_mode is not None:  # quantized by model.quantize (as Keras): its own int8/float8 call
            return dense(x).transpose(1, 2)  # (B, L, heads, head_dim) -> (B, heads, L, head_dim)
        kernel, bias = dense.kernel, dense.bias  # (dim, heads, head_dim), (heads, head_dim)
        dim, heads, size = kernel.shape
        y = F.linear(x, kernel.reshape(dim, heads * size).T, None if bias is None else bias.reshape(-1))
        return y.unflatten(-1, (heads, size)).transpose(1, 2)

    def _mask(self, query_mask: Any, value_mask: Any, key_mask: Any, attention_mask: Any, use_causal_mask: bool,
              t: int, s: int, device: torch.device) -> torch.Tensor | None:
        """(B or 1, 1, T, S) bool, True = attend; None when nothing is hidden."""
        mask = None if query_mask is None else _as_bool(query_mask, device)[:, :, None]
        mask = _and(mask, None if value_mask is None else _as_bool(value_mask, device)[:, None, :])
        mask = _and(mask, None if key_mask is None else _as_bool(key_mask, device)[:, None, :])
        if attention_mask is not None:
            am = _as_bool(attention_mask, device)
            mask = _and(mask, am if am.ndim > 2 else am[None])
        if use_causal_mask:
            mask = _and(mask, _causal_mask(t, s, device)[None])
        if self.sliding_window is not None:
            rows = torch.arange(t, device=device)[:, None]
            cols = torch.arange(s, device=device)[None, :]
            mask = _and(mask, ((rows - cols).abs() < self.sliding_window)[None])
        return None if mask is None else mask.unsqueeze(-3)

    def call(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        if query_mask is None:
            query_mask = getattr(query, "_keras_mask", None)
        if value_mask is None:
            value_mask = getattr(value, "_keras_mask", None)
        if key is None:
            key = value
        elif key_mask is None and key is not value:
            key_mask = getattr(key, "_keras_mask", None)
        dtype = self._dtype
        value = value.to(dtype) if value.is_floating_point() and value.dtype != dtype else value
        key = key.to(dtype) if key.is_floating_point() and key.dtype != dtype else key
        device = query.device
        t, s = query.shape[1], value.shape[1]
        causal_only = (use_causal_mask and self.sliding_window is None and attention_mask is None
                       and query_mask is None and value_mask is None and key_mask is None)
        mask = None if causal_only else self._mask(query_mask, value_mask, key_mask, attention_mask,
                                                   use_causal_mask, t, s, device)

        q = self._project("query", query)  # (B, Hq, T, hd)
        k = self._project("key", key).repeat_interleave(self.num_repeats, dim=1)  # (B, Hq, S, hd)
        v = self._project("value", value).repeat_interleave(self.num_repeats, dim=1)  # (B, Hq, S, hd)
        drop = self.dropout if training else 0.0
        scores = None
        if return_attention_scores:
            if causal_only:
                mask = _causal_mask(t, s, device)[None, None]
            scores = _masked_probs(torch.matmul(q * self._scale, k.transpose(-1, -2)), mask)  # (B, Hq, T, S)
            probs = F.dropout(scores, drop, training=True) if drop else scores
            context = torch.matmul(probs, v)
        elif mask is None:
            with _sdpa_kernel(self._math_kernel):
                context = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal_only,
                                                         scale=self._scale)
        else:
            any_kept = mask.any(dim=-1, keepdim=True)  # a fully hidden row attends nowhere: weight 0, output 0
            with _sdpa_kernel(self._math_kernel):
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~any_kept, dropout_p=drop,
                                                         scale=self._scale)
            context = context.masked_fill(~any_kept, 0.0)
        if self.use_gate:
            context = context * torch.sigmoid(self._project("gate", query))
        if self._output_dense.quantization_mode is not None:
            output = self._output_dense(context.transpose(1, 2))  # (B, T, Hq, hd) -> (B, T, dim)
        else:
            kernel, bias = self._output_dense.kernel, self._output_dense.bias  # (Hq, hd, dim), (dim,)
            context = context.transpose(1, 2).flatten(2)  # (B, T, Hq * hd)
            output = F.linear(context, kernel.reshape(context.shape[-1], -1).T, bias)
        if query_mask is not None:
            output._keras_mask = _as_bool(query_mask, device)
        if return_attention_scores:
            return output, scores
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None  # the query's mask rides on the output (set in call)

    def get_config(self) -> dict:
        return {
            **super().get_config(), "head_dim": self.head_dim, "num_query_heads": self.num_query_heads,
            "num_key_value_heads": self.num_key_value_heads, "use_bias": self.use_bias, "use_gate": self.use_gate,
            "sliding_window": self.sliding_window, "dropout": self.dropout,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint), "seed": self.seed,
        }


GroupedQueryAttention = GroupQueryAttention  # the Keras class's own name (its default layer name follows it)
