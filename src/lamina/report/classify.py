"""What a classifier got right and wrong: labels and predicted classes from ``(y, y_pred)``, the confusion
matrix, per-class precision and recall, the most confidently wrong examples, and images as PNG data URIs (a
PNG encoder on ``zlib``: no Pillow needed).

>>> import numpy as np
>>> y_pred = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
>>> result = classify(np.array([0, 1, 1]), y_pred)
>>> result.confusion.tolist(), result.wrong.tolist()
([[1, 0], [1, 1]], [2])
"""

from __future__ import annotations

import base64
import struct
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Classification:
    """Labels, predictions (class and its probability), the confusion matrix (rows: true class, columns:
    predicted class), per-class precision/recall/F1/support, and the indices of wrong predictions, most
    confident first."""

    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    support: np.ndarray
    wrong: np.ndarray

    @property
    def accuracy(self) -> float:
        return float((self.labels == self.predicted).mean()) if self.labels.size else float("nan")


class NotAClassifier(ValueError):
    """Raised when ``(y, y_pred)`` do not look like class labels and class scores; the message says why."""


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def probabilities(y_pred: Any) -> np.ndarray:
    """Class probabilities ``(n, classes)`` from a model's outputs: probabilities are kept; logits (values
    outside [0, 1], or rows that do not sum to 1) go through softmax (sigmoid for one output unit)."""
    p = np.asarray(y_pred, dtype=np.float64)
    if p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1):
        p = p.reshape(-1)
        if p.size and (p.min() < 0 or p.max() > 1):
            p = 1 / (1 + np.exp(-p))
        return np.stack([1 - p, p], axis=1)
    if p.ndim != 2:
        raise NotAClassifier(f"the model's output has shape {p.shape}; a classifier's is (samples, classes).")
    if p.size and (p.min() < 0 or p.max() > 1 or not np.allclose(p.sum(axis=1), 1, atol=1e-3)):
        p = _softmax(p)
    return p


def labels_of(y: Any, classes: int) -> np.ndarray:
    """Integer labels from ``y``: class indices ``(n,)``/``(n, 1)``, or one-hot/soft rows ``(n, classes)``."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == classes and classes > 1:
        return y.argmax(axis=1)
    y = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1:
        raise NotAClassifier(f"y has shape {y.shape}; class labels are (samples,) integers or one-hot rows "
                             f"(samples, {classes}).")
    if y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise NotAClassifier("y holds non-integer numbers, so the model is treated as a regressor.")
    elif y.dtype.kind not in "iub":
        raise NotAClassifier(f"y has dtype {y.dtype}; class labels are integers.")
    y = y.astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= classes):
        raise NotAClassifier(f"y holds labels from {y.min()} to {y.max()}, but the model scores {classes} classes.")
    return y


def classify(y: Any, y_pred: Any) -> Classification:
    """Compare labels ``y`` with a model's outputs ``y_pred`` (probabilities or logits)."""
    p = probabilities(y_pred)
    n, classes = p.shape
    labels = labels_of(y, classes)
    if labels.shape[0] != n:
        raise ValueError(f"y has {labels.shape[0]} samples but the predictions have {n}: pass the x and y of the "
                         "same samples.")
    predicted = p.argmax(axis=1)
    confidence = p[np.arange(n), predicted]
    confusion = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    hits = np.diag(confusion).astype(np.float64)
    predicted_count, support = confusion.sum(axis=0), confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):  # a class never predicted (or absent) has no precision
        precision = np.where(predicted_count > 0, hits / predicted_count, np.nan)
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    f1 = np.where(np.isnan(precision) | np.isnan(recall), np.nan, f1)
    wrong = np.flatnonzero(predicted != labels)
    wrong = wrong[np.argsort(-confidence[wrong], kind="stable")]
    return Classification(labels, predicted, confidence, confusion, precision, recall, f1, support, wrong)


# ------------------------------------------------------------------------------------------------ images
def image_kind(x: Any) -> str | None:
    """``"gray"`` or ``"color"`` when ``x`` is a batch of images (``(n, h, w)`` or channels-last
    ``(n, h, w, 1|3|4)``, at least 4x4 pixels), else None."""
    shape = getattr(x, "shape", None)
    if shape is None or len(shape) not in (3, 4) or min(shape[1], shape[2]) < 4:
        return None
    if len(shape) == 3 or shape[3] == 1:
        return "gray"
    return "color" if shape[3] in (3, 4) else None


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Pixels as 0-255 bytes: values in [0, 1] are scaled by 255, values in [0, 255] kept, anything else
    stretched from its minimum to its maximum."""
    a = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = float(a.min()), float(a.max())
    if low >= 0 and high <= 1:
        a = a * 255
    elif not (low >= 0 and high <= 255):
        a = (a - low) / (high - low or 1) * 255
    return np.clip(np.round(a), 0, 255).astype(np.uint8)


def png_bytes(pixels: np.ndarray) -> bytes:
    """A PNG file of ``pixels``: ``(h, w)`` gray, ``(h, w, 1)``, ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA bytes."""
    pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    height, width = pixels.shape[:2]
    color_type = {2: 0, 3: 2, 4: 6}[pixels.ndim if pixels.ndim == 2 else pixels.shape[2]]
    rows = pixels.reshape(height, -1)
    raw = b"".join(b"\x00" + rows[r].tobytes() for r in range(height))  # filter type 0 on every row

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b""))


def image_data_uri(image: np.ndarray) -> str:
    """One image (``(h, w)`` or ``(h, w, c)``, any numeric range) as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(to_uint8(image))).decode("ascii")
