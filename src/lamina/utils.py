"""Utilities: seeds, label encoding, sequence padding, a progress bar, and the serialization registry's names.

>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
>>> pad_sequences([[1, 2, 3], [4]])
array([[1, 2, 3],
       [0, 0, 4]], dtype=int32)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from lamina.core.random import set_random_seed
from lamina.core.serialization import (
    custom_object_scope,
    deserialize,
    find_registered_object,
    get_custom_objects,
    get_registered_name,
    register_serializable,
    serialize,
)
from lamina.data.adapters import pack_x_y_sample_weight, unpack_x_y_sample_weight
from lamina.data.py_dataset import PyDataset, Sequence  # noqa: F401  (re-exported: keras.utils names)

# Keras's names for the registry (``keras.utils`` and ``keras.saving`` carry them).
register_keras_serializable = register_serializable
serialize_keras_object = serialize
deserialize_keras_object = deserialize
get_registered_object = find_registered_object

__all__ = [
    "Progbar", "custom_object_scope", "deserialize_keras_object", "get_custom_objects", "get_registered_name",
    "get_registered_object", "normalize", "pack_x_y_sample_weight", "pad_sequences", "register_keras_serializable",
    "serialize_keras_object", "set_random_seed", "to_categorical", "unpack_x_y_sample_weight",
]


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


class Progbar:
    """A text progress bar, as ``keras.utils.Progbar``: ``update(current, values)`` or ``add(n, values)`` with
    ``values`` a list of ``(name, number)``; numbers are averaged over the steps since the start (weighted by the
    steps each covers), except ``stateful_metrics`` (shown as given). ``verbose=1`` redraws one line, ``verbose=2``
    prints one line at the end, ``verbose=0`` prints nothing. ``target=None`` when the total is unknown."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Iterable[str] | None = None, stateless_metrics: Iterable[str] | None = None,
                 unit_name: str = "step"):
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = set(stateless_metrics or ())
        self._values: dict[str, list[float]] = {}
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._prev_width = 0

    def update(self, current: int, values: Iterable[tuple[str, Any]] | None = None,
               finalize: bool | None = None) -> None:
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            number = float(np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value))
            if name in self.stateful_metrics or finalize:
                self._values[name] = [number, 1]
            else:
                steps = max(current - self._seen_so_far, 1)
                total = self._values.setdefault(name, [0.0, 0])
                total[0] += number * steps
                total[1] += steps
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 1 and (finalize or now - self._last_update >= self.interval):
            self._write(self._line(current, now, finalize, bar=True), finalize)
        elif self.verbose == 2 and finalize:
            self._write(self._line(current, now, finalize, bar=False), finalize)
        self._last_update = now

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        self.update(self._seen_so_far + n, values)

    def _line(self, current: int, now: float, finalize: bool, bar: bool) -> str:
        elapsed = now - self._start
        per_unit = elapsed / current if current else 0.0
        if self.target is None:
            head = f"{current:7d}/Unknown"
        elif bar:
            digits = len(str(self.target))
            filled = min(int(self.width * current / self.target), self.width) if self.target else self.width
            head = (f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m \x1b[32m{'━' * filled}\x1b[0m"
                    f"\x1b[37m{'━' * (self.width - filled)}\x1b[0m")
        else:
            head = f"{current}/{self.target}"
        seconds = elapsed if finalize or self.target is None else per_unit * (self.target - current)
        if per_unit >= 1:
            rate = f"{per_unit:.0f}s/{self.unit_name}"
        elif per_unit >= 1e-3:
            rate = f"{per_unit * 1e3:.0f}ms/{self.unit_name}"
        else:
            rate = f"{per_unit * 1e6:.0f}us/{self.unit_name}"
        parts = [head, f"\x1b[1m{seconds:.0f}s\x1b[0m {rate}" if bar else f"{seconds:.0f}s - {rate}"]
        line = " ".join(parts) if bar else " - ".join(parts)
        for name, (total, count) in self._values.items():
            mean = total / max(count, 1)
            line += f" - {name}: " + (f"{mean:.4f}" if abs(mean) > 1e-3 else f"{mean:.4e}")
        return line

    def _write(self, line: str, finalize: bool) -> None:
        padded = line + " " * max(self._prev_width - len(line), 0)
        self._prev_width = len(line)
        sys.stdout.write(("\r" + padded if self.verbose == 1 else padded) + ("\n" if finalize else ""))
        sys.stdout.flush()
