"""Label encoding and array helpers of ``keras.utils``: ``to_categorical``, ``pad_sequences``, ``normalize``.

>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
>>> pad_sequences([[1, 2, 3], [4]])
array([[1, 2, 3],
       [0, 0, 4]], dtype=int32)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

__all__ = ["normalize", "pad_sequences", "to_categorical"]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot encode integer class ids (last axis added), as ``keras.utils.to_categorical``."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels[..., 0]
    if labels.size and (labels.min() < 0 or not np.issubdtype(labels.dtype, np.integer)
                        and not np.all(labels == np.round(labels))):
        raise ValueError("to_categorical expects non-negative integer class ids.")
    labels = labels.astype(np.int64)
    n = int(num_classes) if num_classes is not None else int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= n:
        raise ValueError(f"to_categorical: class id {int(labels.max())} does not fit num_classes={n}.")
    return np.eye(n, dtype="float32")[labels]


def pad_sequences(sequences: Iterable[Any], maxlen: int | None = None, dtype: Any = "int32", padding: str = "pre",
                  truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pad (or cut) sequences to one length, as ``keras.utils.pad_sequences``: ``(len(sequences), maxlen, ...)``,
    ``padding``/``truncating`` ``"pre"`` or ``"post"`` choose the end that is filled with ``value`` or cut."""
    if padding not in ("pre", "post"):
        raise ValueError(f'Padding type "{padding}" not understood')
    if truncating not in ("pre", "post"):
        raise ValueError(f'Truncating type "{truncating}" not understood')
    rows = []
    for seq in sequences:
        if not hasattr(seq, "__len__"):
            raise ValueError(f"`sequences` must be a list of iterables. Found non-iterable: {seq}")
        rows.append(list(seq))
    length = max((len(r) for r in rows), default=0) if maxlen is None else int(maxlen)
    kind = np.dtype(dtype)
    if isinstance(value, str) and kind.kind != "O" and not np.issubdtype(kind, np.str_):
        raise ValueError(f"`dtype` {dtype} is not compatible with `value`'s type: {type(value)}\n"
                         "You should set `dtype=object` for variable length strings.")
    inner = next((np.asarray(r).shape[1:] for r in rows if r), ())
    out = np.full((len(rows), length, *inner), value, dtype=kind)
    for i, row in enumerate(rows):
        kept = row[-length:] if truncating == "pre" else row[:length]
        if not kept or length == 0:
            continue
        part = np.asarray(kept, dtype=kind)
        if part.shape[1:] != inner:
            raise ValueError(f"Shape of sample {part.shape[1:]} of sequence at position {i} is different from "
                             f"expected shape {inner}")
        if padding == "post":
            out[i, :len(part)] = part
        else:
            out[i, length - len(part):] = part
    return out


def normalize(x: Any, axis: int = -1, order: int = 2) -> Any:
    """``x`` divided by its ``order``-norm along ``axis`` (zero norms left as zeros), as ``keras.utils.normalize``:
    a NumPy array for a NumPy array, else a tensor. As in Keras, for a NumPy array ``axis=0`` puts the norms back
    on the last axis (Keras 3.15 reads ``axis or -1``): only ``axis=-1``/``1`` of a 2-D array behave as documented."""
    if isinstance(x, np.ndarray):
        norm = np.atleast_1d(np.linalg.norm(x, order, axis))
        norm[norm == 0] = 1
        return x / np.expand_dims(norm, axis or -1)
    tensor = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype="float32"))
    norm = torch.linalg.vector_norm(tensor, ord=order, dim=axis, keepdim=True)
    return tensor / torch.where(norm == 0, torch.ones_like(norm), norm)
