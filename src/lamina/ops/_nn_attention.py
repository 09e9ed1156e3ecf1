"""``dot_product_attention`` of ``keras.ops.nn``, on ``torch.nn.functional.scaled_dot_product_attention``.

Layout as in Keras: query ``(B, T, N, H)``, key and value ``(B, S, K, H)`` with ``N`` a multiple of ``K``
(grouped-query attention when ``K < N``). Masked logits get a very large negative value (not -inf), so a row
with every position masked attends uniformly, as in Keras.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops import dtypes
from lamina.ops.dispatch import op, promoted, tensor

__all__ = ["dot_product_attention"]


@op
def dot_product_attention(query: Any, key: Any, value: Any, bias: Any = None, mask: Any = None,
                          scale: float | None = None, is_causal: bool = False, flash_attention: bool | None = None,
                          attn_logits_soft_cap: float | None = None) -> torch.Tensor:
    """Scaled dot-product attention ``softmax(Q K^T * scale + bias) V`` over ``(B, T, N, H)`` inputs.

    ``mask`` (True = attend) and ``bias`` broadcast to ``(B, N, T, S)``; ``is_causal`` lets query ``t`` see keys
    ``<= t``. ``attn_logits_soft_cap`` maps the (scaled, biased) logits to ``cap * tanh(logits / cap)`` before
    masking (Keras supports it on JAX/TPU only). ``flash_attention`` is a hint: PyTorch picks its kernel.
    """
    (q, k, v), dtype = promoted(query, key, value)
    if not dtype.is_floating_point:
        dtype = dtypes.to_torch(None)
        q, k, v = q.to(dtype), k.to(dtype), v.to(dtype)
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("dot_product_attention takes 4-D inputs (batch, length, heads, head_dim); received "
                         f"query {tuple(q.shape)}, key {tuple(k.shape)}, value {tuple(v.shape)}.")
    heads, kv_heads = q.shape[2], k.shape[2]
    if kv_heads == 0 or heads % kv_heads or v.shape[2] != kv_heads:
        raise ValueError(f"dot_product_attention: query heads ({heads}) must be a multiple of the key/value heads "
                         f"({kv_heads}, {v.shape[2]}).")
    q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, heads, length, dim)
    if kv_heads != heads:
        k = k.repeat_interleave(heads // kv_heads, dim=1)
        v = v.repeat_interleave(heads // kv_heads, dim=1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    t_len, s_len = q.shape[2], k.shape[2]

    additive = None if bias is None else tensor(bias, device=q.device).to(dtype)
    allowed = None
    if mask is not None:
        allowed = tensor(mask, device=q.device).to(torch.bool)
    if is_causal:
        causal = torch.ones((t_len, s_len), dtype=torch.bool, device=q.device).tril()
        allowed = causal if allowed is None else allowed & causal

    if attn_logits_soft_cap is None:
        if allowed is not None:
            block = torch.where(allowed, 0.0, torch.finfo(dtype).min / 2).to(dtype)
            additive = block if additive is None else additive + block
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=additive, scale=scale)
    else:
        logits = torch.matmul(q, k.transpose(-1, -2)) * scale
        if additive is not None:
            logits = logits + additive
        cap = float(attn_logits_soft_cap)
        logits = torch.tanh(logits / cap) * cap
        if allowed is not None:
            logits = logits.masked_fill(~allowed, torch.finfo(dtype).min / 2)
        out = torch.matmul(torch.softmax(logits, dim=-1), v)
    return out.transpose(1, 2)
