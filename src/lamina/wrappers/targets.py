"""How the wrappers hand targets to a model and its outputs back to scikit-learn.

A classifier's labels (any sortable values: ints, strings, floats) become one-hot rows over ``classes_``, and the
model's rows of scores go back to labels by their largest score. A regressor's or transformer's 1-D target
becomes one column (Keras models want 2-D targets) and a one-column output goes back to 1-D.

>>> import numpy as np
>>> enc = OneHotLabels.fit(np.array(["b", "a", "b"]))
>>> enc.classes_.tolist(), enc.encode(np.array(["b", "a"])).tolist()
(['a', 'b'], [[0.0, 1.0], [1.0, 0.0]])
>>> enc.decode(np.array([[0.2, 0.8], [0.9, 0.1]])).tolist()
['b', 'a']
>>> shape = ColumnTarget.fit(np.array([1.0, 2.0]))
>>> shape.encode(np.array([1.0, 2.0])).shape, shape.decode(np.array([[1.0], [2.0]])).shape
((2, 1), (2,))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OneHotLabels:
    """Labels <-> one-hot float rows over the sorted distinct labels ``classes_`` seen by ``fit``."""

    classes_: np.ndarray

    @classmethod
    def fit(cls, y: np.ndarray) -> OneHotLabels:
        """The encoding of the labels in ``y`` (1-D); a single class is a ValueError (nothing to learn)."""
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"Classifier can't train when only one class is present (got {classes.tolist()!r}).")
        return cls(classes)

    def encode(self, y: np.ndarray) -> np.ndarray:
        """``y``'s labels as one-hot rows (float64, shape ``(n, n_classes)``); unseen labels are a ValueError."""
        index = np.searchsorted(self.classes_, y)
        index = np.clip(index, 0, len(self.classes_) - 1)
        unseen = self.classes_[index] != y
        if np.any(unseen):
            raise ValueError(f"y contains labels not seen in the first fit: {np.unique(y[unseen]).tolist()!r} "
                             f"(classes: {self.classes_.tolist()!r}).")
        return np.eye(len(self.classes_))[index]

    def decode(self, scores: np.ndarray) -> np.ndarray:
        """The label of each row's highest score (``scores``: ``(n, n_classes)``, probabilities or logits)."""
        scores = np.asarray(scores)
        if scores.ndim != 2 or scores.shape[1] != len(self.classes_):
            raise ValueError(f"The model's output has shape {scores.shape}; a classifier's model must give one "
                             f"score per class: (n_samples, {len(self.classes_)}).")
        return self.classes_[np.argmax(scores, axis=1)]


@dataclass(frozen=True)
class ColumnTarget:
    """1-D targets <-> one column; targets that were 2-D stay as they are."""

    was_1d: bool

    @classmethod
    def fit(cls, y: np.ndarray) -> ColumnTarget:
        """Remember whether ``y`` was 1-D."""
        return cls(np.ndim(y) == 1)

    def encode(self, y: np.ndarray) -> np.ndarray:
        """``y`` as a column when it is 1-D."""
        return np.reshape(y, (-1, 1)) if np.ndim(y) == 1 else y

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """A one-column output back to 1-D when the targets were 1-D."""
        outputs = np.asarray(outputs)
        if self.was_1d and outputs.ndim == 2 and outputs.shape[1] == 1:
            return outputs[:, 0]
        return outputs
