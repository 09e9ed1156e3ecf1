"""``SKLearnClassifier``: a lamina model as a scikit-learn classifier (Keras's ``keras.wrappers``).

The model is built for (and trained on) one-hot targets: ``y`` given to a model-building callable has one column
per class of ``classes_``; ``predict`` gives the class of the highest output, ``decision_function`` the raw
outputs, ``score`` the accuracy.

>>> import numpy as np, lamina
>>> from lamina.wrappers import SKLearnClassifier
>>> def build(X, y, units=8):
...     model = lamina.Sequential([lamina.Input((X.shape[1],)), lamina.layers.Dense(units, activation="relu"),
...                                lamina.layers.Dense(y.shape[1], activation="softmax")])
...     model.compile(loss="categorical_crossentropy", optimizer="adam")
...     return model
>>> X, y = np.random.default_rng(0).normal(size=(12, 3)), np.array(["cat", "dog", "fish"] * 4)
>>> clf = SKLearnClassifier(build, model_kwargs={"units": 4}, fit_kwargs={"epochs": 2, "verbose": 0}).fit(X, y)
>>> clf.classes_.tolist(), clf.decision_function(X).shape  # Model.predict's progress line first, as in Keras
1/1 - ...
(['cat', 'dog', 'fish'], (12, 3))
>>> set(clf.predict(X)) <= {"cat", "dog", "fish"}, 0.0 <= clf.score(X, y) <= 1.0
1/1 - ...
1/1 - ...
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.wrappers import _sklearn
from lamina.wrappers.base import SKLBase
from lamina.wrappers.targets import OneHotLabels

__all__ = ["SKLearnClassifier"]


class SKLearnClassifier(_sklearn.ClassifierMixin, SKLBase):
    """scikit-learn compatible classifier wrapper for lamina (Keras) models.

    Args:
        model: a compiled ``Model`` (cloned for each ``fit`` unless ``warm_start``), or a callable
            ``model(X=X, y=y, **model_kwargs)`` returning one; its ``y`` is one-hot, ``(n_samples, n_classes)``.
        warm_start: when True, each ``fit`` goes on training the previous fit's model.
        model_kwargs: keyword arguments for ``model`` when it is a callable.
        fit_kwargs: keyword arguments for ``Model.fit`` (``epochs``, ``batch_size``, ``verbose``, ...); those
            given to ``fit`` take precedence.

    Attributes (after ``fit``): ``model_``, ``history_``, ``classes_`` (the sorted labels), ``n_features_in_``.

    Only binary and multiclass targets are supported; there is no ``predict_proba`` (as in Keras):
    ``decision_function`` gives the model's outputs.

    Example (``build(X, y)`` as in the module's example; ``clone`` makes the unfitted copies ``GridSearchCV``
    trains):

    >>> from sklearn.base import clone
    >>> clf = SKLearnClassifier(model=lambda X, y: None, model_kwargs={"units": 4}, fit_kwargs={"epochs": 5})
    >>> clone(clf).set_params(model_kwargs={"units": 8}).get_params()["model_kwargs"]
    {'units': 8}
    """

    _y_numeric = False

    def _encode_target(self, y: np.ndarray, reset: bool) -> np.ndarray:
        kind = _sklearn.type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(f"Only binary and multiclass target types are supported. Target type: {kind}")
        if reset:
            self._target_encoder = OneHotLabels.fit(y)
            self.classes_ = self._target_encoder.classes_
        return self._target_encoder.encode(y)

    def decision_function(self, X: Any) -> np.ndarray:
        """The model's raw outputs for ``X``: one score per class, ``(n_samples, n_classes)``."""
        return self._outputs(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True  # a few epochs on tiny data: scikit-learn's score checks relax
        return tags

    def _more_tags(self) -> dict:
        return {**super()._more_tags(), "poor_score": True}
