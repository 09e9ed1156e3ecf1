"""Attention layers: MultiHeadAttention, Attention (dot-product, Luong-style) and AdditiveAttention (Bahdanau-style).

Masks follow Keras: a bool tensor ``(batch, steps)`` riding on an input as ``_keras_mask`` (True = keep). A query
mask hides rows of the attention matrix (and rides on the output), a value/key mask hides its columns.

>>> import torch
>>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
>>> x = torch.ones(3, 5, 8)
>>> tuple(mha(x, x).shape)
(3, 5, 8)
>>> out, scores = Attention()([torch.ones(3, 5, 8), torch.ones(3, 7, 8)], return_attention_scores=True)
>>> tuple(out.shape), tuple(scores.shape)
((3, 5, 8), (3, 5, 7))
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina import constraints, initializers, regularizers
from lamina.core import config
from lamina.layers.layer import Layer, format_shape

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]


def _positive_int(value: Any, name: str, allow_none: bool = False) -> Any:
    if allow_none and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"MultiHeadAttention: `{name}` must be a positive int; received {name}={value!r}.")
    return value


def _sdpa_kernel(math_only: bool) -> Any:
    """The math kernel for ``scaled_dot_product_attention`` when flash attention is disabled, else PyTorch's
    own choice (also where ``torch.nn.attention.sdpa_kernel`` is missing)."""
    if not math_only:
        return contextlib.nullcontext()
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:  # older PyTorch: no per-call kernel choice
        return contextlib.nullcontext()
    return sdpa_kernel(SDPBackend.MATH)


def _causal_mask(t: int, s: int, device: torch.device) -> torch.Tensor:
    """(t, s) bool, True where column j <= row i (top-left aligned, as Keras builds it)."""
    return torch.ones(t, s, dtype=torch.bool, device=device).tril()


def _as_bool(mask: Any, device: torch.device) -> torch.Tensor | None:
    if mask is None:
        return None
    mask = torch.as_tensor(mask, device=device)
    return mask if mask.dtype == torch.bool else mask > 0.5 if mask.is_floating_point() else mask != 0


def _and(a: torch.Tensor | None, b: torch.Tensor | None) -> torch.Tensor | None:
    if a is None:
        return b
    return a if b is None else a & b


def _masked_probs(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Softmax over the last axis where ``mask`` keeps; hidden entries (and fully hidden rows) get weight 0."""
    if mask is None:
        return torch.softmax(scores, dim=-1)
    scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
    return torch.softmax(scores, dim=-1).masked_fill(~mask, 0.0)


class MultiHeadAttention(Layer):
    """Multi-head attention (Vaswani et al., 2017) with Keras 3's weights and call signature.

    ``query`` ``(batch, T, dim)`` attends over ``value`` ``(batch, S, dim_v)`` (keyed by ``key``, default
    ``value``). Each of ``num_heads`` heads projects the query and key to ``key_dim`` and the value to
    ``value_dim``; the heads' results are projected back to the query's last size (or ``output_shape``).
    Weights, in Keras's layout and order: query kernel ``(dim, heads, key_dim)`` and bias ``(heads, key_dim)``,
    the same for key and value, then the output kernel ``(heads, value_dim, *output_shape)`` and bias
    ``output_shape``.

    Inputs with several steps axes (``(batch, T1, T2, dim)``) attend over all of them jointly
    (``attention_axes=None``).

    >>> import torch
    >>> layer = MultiHeadAttention(num_heads=2, key_dim=3, output_shape=6)
    >>> out, scores = layer(torch.ones(4, 5, 8), torch.ones(4, 7, 8), return_attention_scores=True)
    >>> tuple(out.shape), tuple(scores.shape)
    ((4, 5, 6), (4, 2, 5, 7))
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape: Any = None, attention_axes: Any = None,
                 sliding_window: int | None = None, flash_attention: bool | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, use_gate: bool = False,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.num_heads = _positive_int(num_heads, "num_heads")
        self.key_dim = _positive_int(key_dim, "key_dim")
        self.value_dim = _positive_int(value_dim, "value_dim", allow_none=True) or key_dim
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"MultiHeadAttention: `dropout` must be a float in [0, 1); received {dropout!r}.")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if output_shape:
            output_shape = (output_shape,) if isinstance(output_shape, int) else tuple(output_shape)
            if not all(isinstance(d, int) and d > 0 for d in output_shape):
                raise ValueError("MultiHeadAttention: `output_shape` must be a positive int or a tuple of them; "
                                 f"received output_shape={output_shape!r}.")
        self.output_shape = output_shape or None
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        elif attention_axes is not None and not isinstance(attention_axes, (list, tuple)):
            raise ValueError("MultiHeadAttention: `attention_axes` must be None, an int, or a tuple of ints; "
                             f"received attention_axes={attention_axes!r}.")
        self.attention_axes = None if attention_axes is None else tuple(attention_axes)
        self.use_gate = bool(use_gate)
        self.sliding_window = sliding_window if sliding_window is None else _positive_int(sliding_window,
                                                                                          "sliding_window")
        if flash_attention:
            raise ValueError("MultiHeadAttention: `flash_attention` is chosen by PyTorch's "
                             "scaled_dot_product_attention in lamina; leave flash_attention=None.")
        # lamina.config.disable_flash_attention() before creating the layer: PyTorch's math kernel (Keras reads
        # the flag at construction too).
        self._math_kernel = config.is_flash_attention_enabled() is False
        self.seed = seed
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._scale = 1.0 / math.sqrt(float(self.key_dim))

    # ------------------------------------------------------------------------------------------ build
    def _projection(self, prefix: str, dim: int, out: tuple, in_axes: int = 1) -> None:
        """A kernel ``(dim, *out)`` (or ``(*in, *out)``) and bias ``out``, named like Keras's sub-layers."""
        kernel_shape = (dim, *out) if in_axes == 1 else (*dim, *out)
        self.add_weight(shape=kernel_shape, initializer=self.kernel_initializer, regularizer=self.kernel_regularizer,
                        constraint=self.kernel_constraint, name=f"{prefix}_kernel")
        if self.use_bias:
            self.add_weight(shape=out, initializer=self.bias_initializer, regularizer=self.bias_regularizer,
                            constraint=self.bias_constraint, name=f"{prefix}_bias")

    def build(self, query_shape: tuple, value_shape: tuple, key_shape: tuple | None = None) -> None:
        key_shape = value_shape if key_shape is None else key_shape
        query_shape, value_shape, key_shape = (tuple(s) for s in (query_shape, value_shape, key_shape))
        rank = len(query_shape)
        if rank < 3 or len(value_shape) != rank or len(key_shape) != rank:
            raise ValueError(
                f"MultiHeadAttention '{self.name}' needs query, value and key of the same rank >= 3 (batch, steps..., "
                f"features); received query {format_shape(query_shape)}, value {format_shape(value_shape)}, "
                f"key {format_shape(key_shape)}.")
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': all dimensions of `value` and `key` except the last must be "
                f"equal; received value {format_shape(value_shape)} and key {format_shape(key_shape)}.")
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if shape[-1] is None:
                raise ValueError(f"MultiHeadAttention '{self.name}' needs the last axis of `{what}` to be known; "
                                 f"received {format_shape(shape)}.")
        if self.attention_axes is not None:
            axes = tuple(sorted(a + rank if a < 0 else a for a in self.attention_axes))
            if axes != tuple(range(1, rank - 1)):
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': lamina attends over all axes between batch and features "
                    f"(attention_axes={tuple(range(1, rank - 1))} for rank-{rank} inputs); received "
                    f"attention_axes={self.attention_axes}. Use attention_axes=None, or move the other axes into "
                    "the batch axis with a Reshape/Permute first.")
        heads = self.num_heads
        self._projection("query", query_shape[-1], (heads, self.key_dim))
        self._projection("key", key_shape[-1], (heads, self.key_dim))
        if self.use_gate:
            self._projection("gate", query_shape[-1], (heads, self.value_dim))
        self._projection("value", value_shape[-1], (heads, self.value_dim))
        out = self.output_shape or (query_shape[-1],)
        self._projection("output", (heads, self.value_dim), tuple(out), in_axes=2)
        self.built = True

    # ------------------------------------------------------------------------------------------ call
    def _project(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        """(B, L, dim) -> (B, heads, L, size)."""
        kernel = getattr(self, f"{prefix}_kernel")  # (dim, heads, size)
        bias = getattr(self, f"{prefix}_bias") if self.use_bias else None
        dim, heads, size = kernel.shape
        y = F.linear(x, kernel.reshape(dim, heads * size).T, None if bias is None else bias.reshape(-1))
        return y.unflatten(-1, (heads, size)).transpose(1, 2)  # (B, L, H*size) -> (B, H, L, size)

    def call(self, query: torch.Tensor, value: torch.Tensor, key: torch.Tensor | None = None,
             query_mask: Any = None, value_mask: Any = None, key_mask: Any = None, attention_mask: Any = None,
             return_attention_scores: bool = False, training: bool | None = None,
             use_causal_mask: bool = False) -> Any:
        device = query.device
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

        # Several steps axes attend jointly: flatten them into one.  q: (B, T, dim), k/v: (B, S, dim)
        q_steps, v_steps = tuple(query.shape[1:-1]), tuple(value.shape[1:-1])
        batch = query.shape[0]
        q_in = query.reshape(batch, -1, query.shape[-1])
        k_in = key.reshape(key.shape[0], -1, key.shape[-1])
        v_in = value.reshape(value.shape[0], -1, value.shape[-1])
        t, s = q_in.shape[1], v_in.shape[1]

        query_mask, value_mask, key_mask = (None if m is None else _as_bool(m, device).reshape(m.shape[0], -1)
                                            for m in (query_mask, value_mask, key_mask))
        mask = None  # (B or 1, T, S) bool, True = attend
        if query_mask is not None:
            mask = query_mask[:, :, None]
        mask = _and(mask, None if value_mask is None else value_mask[:, None, :])
        mask = _and(mask, None if key_mask is None else key_mask[:, None, :])
        if attention_mask is not None:
            am = _as_bool(attention_mask, device)
            n = len(q_steps)
            am = am.reshape(*am.shape[: am.ndim - 2 * n], t, s) if am.ndim >= 2 * n else am
            mask = _and(mask, am if am.ndim > 2 else am[None])
        causal_only = use_causal_mask and mask is None and self.sliding_window is None
        if use_causal_mask and not causal_only:
            mask = _and(mask, _causal_mask(t, s, device)[None])
        if self.sliding_window is not None:
            rows = torch.arange(t, device=device)[:, None]
            cols = torch.arange(s, device=device)[None, :]
            mask = _and(mask, ((rows - cols).abs() < self.sliding_window)[None])
        if mask is not None:
            while mask.ndim < 4:
                mask = mask.unsqueeze(-3)  # (B, T, S) -> (B, 1, T, S): the same for every head

        q = self._project("query", q_in)  # (B, H, T, key_dim)
        k = self._project("key", k_in)  # (B, H, S, key_dim)
        v = self._project("value", v_in)  # (B, H, S, value_dim)
        scores = None
        drop = self.dropout if training else 0.0
        if return_attention_scores:
            logits = torch.matmul(q * self._scale, k.transpose(-1, -2))  # (B, H, T, S)
            if causal_only:
                mask = _causal_mask(t, s, device)[None, None]
            scores = _masked_probs(logits, mask)
            probs = F.dropout(scores, drop, training=True) if drop else scores
            context = torch.matmul(probs, v)  # (B, H, T, value_dim)
        elif mask is None:
            with _sdpa_kernel(self._math_kernel):
                context = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=causal_only,
                                                         scale=self._scale)
        else:
            # A row with nothing to attend to gets weight 0 everywhere (as Keras's masked softmax gives); open
            # it for the kernel so it stays finite, then zero its result.
            any_kept = mask.any(dim=-1, keepdim=True)  # (B, 1, T, 1)
            with _sdpa_kernel(self._math_kernel):
                context = F.scaled_dot_product_attention(q, k, v, attn_mask=mask | ~any_kept, dropout_p=drop,
                                                         scale=self._scale)
            context = context.masked_fill(~any_kept, 0.0)
        if self.use_gate:
            context = context * torch.sigmoid(self._project("gate", q_in))

        kernel = self.output_kernel  # (H, value_dim, *out)
        out_shape = tuple(kernel.shape[2:])
        context = context.transpose(1, 2).reshape(batch, t, -1)  # (B, T, H*value_dim)
        bias = self.output_bias.reshape(-1) if self.use_bias else None
        output = F.linear(context, kernel.reshape(context.shape[-1], -1).T, bias)  # (B, T, prod(out))
        output = output.reshape(batch, *q_steps, *out_shape)
        if query_mask is not None:
            output._keras_mask = query_mask.reshape(batch, *q_steps)
        if return_attention_scores:
            return output, scores.reshape(batch, self.num_heads, *q_steps, *v_steps)
        return output

    def get_config(self) -> dict:
        return {
            **super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
            "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
            "output_shape": self.output_shape, "attention_axes": self.attention_axes,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            "activity_regularizer": regularizers.serialize(self.activity_regularizer),
            "kernel_constraint": constraints.serialize(self.kernel_constraint),
            "bias_constraint": constraints.serialize(self.bias_constraint),
            "use_gate": self.use_gate, "sliding_window": self.sliding_window, "seed": self.seed,
        }


class Attention(Layer):
    """Dot-product attention: ``softmax(query @ key^T) @ value`` (Luong-style), optionally scaled.

    Called on ``[query, value]`` or ``[query, value, key]`` (``(batch, Tq, dim)``, ``(batch, Tv, dim)``);
    ``mask=[query_mask, value_mask]`` (taken from the inputs' masks if not given). ``score_mode="concat"``
    scores with ``sum(tanh(query + key))`` instead. Weights: a scalar ``scale`` (``use_scale=True``) and, in
    "concat" mode, a scalar ``concat_score_weight``.

    >>> import torch
    >>> Attention(use_scale=True)([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
    torch.Size([2, 3, 4])
    """

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"{type(self).__name__}: `score_mode` must be 'dot' or 'concat'; received "
                             f"score_mode={score_mode!r}.")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
            raise ValueError(f"{type(self).__name__}: `dropout` must be a float in [0, 1); received {dropout!r}.")
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = float(dropout)
        self.seed = seed
        self.scale = None
        self.concat_score_weight = None

    def _check_inputs(self, inputs: Any, mask: Any = None) -> None:
        name = type(self).__name__
        if not isinstance(inputs, (list, tuple)) or not 2 <= len(inputs) <= 3:
            raise ValueError(f"{name} layer '{self.name}' must be called on a list [query, value] or "
                             f"[query, value, key]; received {type(inputs).__name__}"
                             f"{'' if not isinstance(inputs, (list, tuple)) else f' of length {len(inputs)}'}.")
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(f"{name} layer '{self.name}': `mask` must be a list [query_mask, value_mask]; "
                             f"received {type(mask).__name__}.")

    def build(self, input_shape: Any) -> None:
        self._check_inputs(input_shape)
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(shape=(), initializer="ones", name="concat_score_weight")
        self.built = True

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        """(B, Tq, dim), (B, Tv, dim) -> (B, Tq, Tv)."""
        if self.score_mode == "dot":
            scores = torch.matmul(query, key.transpose(-1, -2))
            return scores * self.scale if self.use_scale else scores
        pairs = query.unsqueeze(-2) + key.unsqueeze(-3)  # (B, Tq, Tv, dim)
        if self.use_scale:
            pairs = self.scale * pairs
        return self.concat_score_weight * torch.tanh(pairs).sum(dim=-1)

    def call(self, inputs: Any, mask: Any = None, training: bool | None = None,
             return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        self._check_inputs(inputs, mask)
        dtype = self._dtype
        query, value = (t.to(dtype) if t.is_floating_point() else t for t in inputs[:2])
        key = inputs[2].to(dtype) if len(inputs) > 2 else value
        device = query.device
        q_mask = _as_bool(mask[0], device) if mask else None
        v_mask = _as_bool(mask[1], device) if mask else None
        scores = self._scores(query, key)  # (B, Tq, Tv)
        keep = None if v_mask is None else v_mask.unsqueeze(-2)  # (B, 1, Tv)
        if use_causal_mask:
            keep = _and(keep, _causal_mask(scores.shape[-2], scores.shape[-1], device)[None])
        if keep is not None:
            # Hidden positions lose 1e9 (Keras's bias): a row with everything hidden stays a uniform average.
            scores = torch.where(keep, scores, scores - (65504.0 if scores.dtype == torch.float16 else 1e9))
        weights = torch.softmax(scores, dim=-1)
        probs = F.dropout(weights, self.dropout, training=True) if training and self.dropout else weights
        output = torch.matmul(probs, value)  # (B, Tq, dim_v)
        if q_mask is not None:
            output = torch.where(q_mask.unsqueeze(-1), output, 0.0)
            output._keras_mask = q_mask
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self) -> dict:
        return {**super().get_config(), "use_scale": self.use_scale, "score_mode": self.score_mode,
                "dropout": self.dropout, "seed": self.seed}


class AdditiveAttention(Attention):
    """Additive attention (Bahdanau-style): scores ``sum(scale * tanh(query + key))`` over the features.

    Called like ``Attention``. Weight: ``scale`` of shape ``(dim,)`` when ``use_scale=True``.

    >>> import torch
    >>> AdditiveAttention()([torch.ones(2, 3, 4), torch.ones(2, 5, 4)]).shape
    torch.Size([2, 3, 4])
    """

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, **kwargs: Any):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape: Any) -> None:
        self._check_inputs(input_shape)
        dim = input_shape[0][-1]
        if self.use_scale:
            if dim is None:
                raise ValueError(f"AdditiveAttention '{self.name}' needs the last axis of the query to be known; "
                                 f"received {format_shape(tuple(input_shape[0]))}.")
            self.scale = self.add_weight(shape=(dim,), initializer="glorot_uniform", name="scale")
        self.built = True

    def _scores(self, query: torch.Tensor, key: torch.Tensor) -> torch.Tensor:
        pairs = torch.tanh(query.unsqueeze(-2) + key.unsqueeze(-3))  # (B, Tq, Tv, dim)
        return (pairs * self.scale).sum(dim=-1) if self.use_scale else pairs.sum(dim=-1)

    def get_config(self) -> dict:
        config = super().get_config()
        del config["score_mode"]
        return config
