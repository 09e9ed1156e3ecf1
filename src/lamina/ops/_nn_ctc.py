"""Connectionist temporal classification of ``keras.ops.nn``: ``ctc_loss`` and ``ctc_decode``.

Both take logits of shape ``(batch, max_length, num_classes)``; ``mask_index`` is the blank class.
``ctc_decode``'s beam search is the exact CTC prefix beam search, vectorized over the batch and the beams
(one loop over time steps); its scores are the log probabilities of whole label sequences.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops import dtypes
from lamina.ops.dispatch import op, tensor

__all__ = ["ctc_decode", "ctc_loss"]

_HASH_BASE = 1_000_003  # a prefix's hash: h -> h * base + label + 1 (int64, wrapping)


def _logits(x: Any) -> torch.Tensor:
    x = tensor(x)
    if x.ndim != 3:
        raise ValueError(f"CTC takes logits of shape (batch, max_length, num_classes); received {tuple(x.shape)}.")
    if x.dtype in (torch.float16, torch.bfloat16) or not x.dtype.is_floating_point:
        x = x.to(dtypes.to_torch(None))
    return x


@op
def ctc_loss(target: Any, output: Any, target_length: Any, output_length: Any, mask_index: int = 0) -> torch.Tensor:
    """Per-sample CTC loss (negative log likelihood) of integer ``target`` ``(batch, max_label_length)`` under
    logits ``output``; float16/bfloat16 logits compute in float32 (as Keras), float64 stays float64."""
    output = _logits(output)
    device = output.device
    target = tensor(target, device=device).to(torch.int64)
    target_length = tensor(target_length, device=device).to(torch.int64).reshape(-1)
    output_length = tensor(output_length, device=device).to(torch.int64).reshape(-1)
    log_probs = torch.log_softmax(output, dim=-1).transpose(0, 1)  # (time, batch, classes)
    return F.ctc_loss(log_probs, target, output_length, target_length, blank=mask_index, reduction="none",
                      zero_infinity=False)


def _greedy(x: torch.Tensor, lengths: torch.Tensor, merge_repeated: bool, blank: int):
    batch, steps, _ = x.shape
    best, ids = torch.max(x, dim=-1)
    valid = torch.arange(steps, device=x.device) < lengths[:, None]
    ids = torch.where(valid, ids, blank)
    keep = valid & (ids != blank)
    if merge_repeated and steps > 1:
        keep[:, 1:] &= ids[:, 1:] != ids[:, :-1]
    slots = torch.where(keep, torch.cumsum(keep.to(torch.int64), dim=1) - 1, steps)  # kept labels packed left
    decoded = torch.full((batch, steps + 1), -1, dtype=torch.int64, device=x.device)
    decoded.scatter_(1, slots, torch.where(keep, ids, -1))
    scores = -torch.sum(torch.where(valid, best, 0), dim=1, keepdim=True)
    return decoded[None, :, :steps].to(torch.int32), scores


def _beam_search(x: torch.Tensor, lengths: torch.Tensor, beam_width: int, top_paths: int, blank: int):
    batch, steps, classes = x.shape
    dev, width = x.device, beam_width
    ninf = torch.tensor(float("-inf"), dtype=x.dtype, device=dev)
    log_probs = torch.log_softmax(x, dim=-1)
    prefix = torch.full((batch, width, steps), -1, dtype=torch.int64, device=dev)
    size = torch.zeros((batch, width), dtype=torch.int64, device=dev)
    last = torch.full((batch, width), -1, dtype=torch.int64, device=dev)
    code = torch.zeros((batch, width), dtype=torch.int64, device=dev)
    p_blank = torch.full((batch, width), float("-inf"), dtype=x.dtype, device=dev)
    p_blank[:, 0] = 0.0  # one live beam: the empty prefix
    p_label = torch.full((batch, width), float("-inf"), dtype=x.dtype, device=dev)
    labels = torch.arange(classes, device=dev)
    rows = torch.arange(batch, device=dev)[:, None]

    for t in range(steps):
        lp = log_probs[:, t]  # (batch, classes)
        total = torch.logaddexp(p_blank, p_label)
        alive = total > ninf
        # Paths that keep their prefix: a blank, or the last label repeated.
        stay_blank = total + lp[:, blank, None]
        stay_label = torch.where(last >= 0, p_label + torch.gather(lp, 1, last.clamp(min=0)), ninf)
        # Paths that extend it by label c (after a blank if c repeats the last label).
        base = torch.where(labels == last[..., None], p_blank[..., None], total[..., None])
        grow = base + lp[:, None, :]
        grow = torch.where(labels == blank, ninf, grow)  # (batch, width, classes)
        grow_code = code[..., None] * _HASH_BASE + labels + 1
        # An extension may equal another beam's prefix: add its probability there and drop it.
        same = ((grow_code[..., None] == code[:, None, None, :])
                & ((size[..., None] + 1)[..., None] == size[:, None, None, :])
                & alive[:, None, None, :])  # (batch, width, classes, width)
        extra = torch.logsumexp(torch.where(same, grow[..., None], ninf).flatten(1, 2), dim=1)
        stay_label = torch.logaddexp(stay_label, extra)
        grow = torch.where(same.any(-1), ninf, grow)

        scores = torch.cat([torch.logaddexp(stay_blank, stay_label), grow.flatten(1)], dim=1)
        _, pick = torch.topk(scores, width, dim=1)
        is_grow = pick >= width
        parent = torch.where(is_grow, (pick - width) // classes, pick)
        label = torch.where(is_grow, (pick - width) % classes, -1)
        new_prefix = prefix[rows, parent]
        new_size = size[rows, parent]
        written = new_prefix.scatter(2, new_size.clamp(max=steps - 1)[..., None], label[..., None])
        new_prefix = torch.where(is_grow[..., None], written, new_prefix)
        grown = grow.flatten(1).gather(1, (pick - width).clamp(min=0))
        new_state = (
            new_prefix,
            new_size + is_grow.to(torch.int64),
            torch.where(is_grow, label, last[rows, parent]),
            torch.where(is_grow, grow_code.flatten(1).gather(1, (pick - width).clamp(min=0)), code[rows, parent]),
            torch.where(is_grow, ninf, stay_blank[rows, parent]),
            torch.where(is_grow, grown, stay_label[rows, parent]),
        )
        active = (t < lengths)[:, None]
        prefix = torch.where(active[..., None], new_state[0], prefix)
        size, last, code, p_blank, p_label = (torch.where(active, new, old) for new, old in
                                              zip(new_state[1:], (size, last, code, p_blank, p_label), strict=True))

    total = torch.logaddexp(p_blank, p_label)
    best, order = torch.topk(total, min(top_paths, width), dim=1)
    decoded = torch.where(best[..., None] > ninf, prefix[rows, order], -1)  # paths of no probability: all -1
    decoded = decoded.transpose(0, 1)  # (top_paths, batch, steps)
    return decoded.to(torch.int32), best


@op
def ctc_decode(inputs: Any, sequence_lengths: Any, strategy: str = "greedy", beam_width: int = 100,
               top_paths: int = 1, merge_repeated: bool = True, mask_index: int = 0) -> tuple[torch.Tensor, ...]:
    """Decodes CTC logits: ``(decoded, scores)`` with ``decoded`` int32 ``(paths, batch, max_length)`` padded
    with -1. Greedy: one path, scores ``-sum`` of each step's best logit ``(batch, 1)``. Beam search:
    ``top_paths`` paths, scores their log probabilities ``(batch, top_paths)``; ``merge_repeated`` applies to
    greedy decoding only (as on Keras's torch backend)."""
    x = _logits(inputs)
    lengths = tensor(sequence_lengths, device=x.device).to(torch.int64).reshape(-1)
    if strategy == "greedy":
        return _greedy(x, lengths, merge_repeated, mask_index)
    if strategy == "beam_search":
        if top_paths > beam_width:
            raise ValueError(f"ctc_decode: top_paths ({top_paths}) must not exceed beam_width ({beam_width}).")
        return _beam_search(x, lengths, beam_width, top_paths, mask_index)
    raise ValueError(f"ctc_decode: strategy must be 'greedy' or 'beam_search'; received {strategy!r}.")
