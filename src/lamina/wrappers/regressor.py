"""``SKLearnRegressor``: a lamina model as a scikit-learn regressor (Keras's ``keras.wrappers``).

A 1-D ``y`` reaches the model as one column (so a model-building callable reads ``y.shape[1]`` outputs) and
``predict`` returns 1-D again; ``score`` is R².

>>> import numpy as np, lamina
>>> from lamina.wrappers import SKLearnRegressor
>>> def build(X, y):
...     model = lamina.Sequential([lamina.Input((X.shape[1],)), lamina.layers.Dense(y.shape[1])])
...     model.compile(loss="mse", optimizer="sgd")
...     return model
>>> X = np.random.default_rng(0).normal(size=(8, 2))
>>> reg = SKLearnRegressor(build, fit_kwargs={"epochs": 1, "verbose": 0}).fit(X, X.sum(axis=1))
>>> reg.predict(X).shape  # Model.predict's progress line first, as in Keras
1/1 - ...
(8,)
"""

from __future__ import annotations

from typing import Any

from lamina.wrappers import _sklearn
from lamina.wrappers.base import SKLBase

__all__ = ["SKLearnRegressor"]

class SKLearnRegressor(_sklearn.RegressorMixin, SKLBase):
    """scikit-learn compatible regressor wrapper for lamina (Keras) models.

    Args:
        model: a compiled ``Model`` (cloned for each ``fit`` unless ``warm_start``), or a callable
            ``model(X=X, y=y, **model_kwargs)`` returning one; its ``y`` is ``(n_samples, 1)``.
        warm_start: when True, each ``fit`` goes on training the previous fit's model.
        model_kwargs: keyword arguments for ``model`` when it is a callable.
        fit_kwargs: keyword arguments for ``Model.fit``; those given to ``fit`` take precedence.

    Attributes (after ``fit``): ``model_``, ``history_``, ``n_features_in_``.

    Example (``build(X, y)`` as in the module's example):

    >>> reg = SKLearnRegressor(model=lambda X, y: None, fit_kwargs={"epochs": 5})
    >>> reg.set_params(fit_kwargs={"epochs": 1}).fit_kwargs, reg.warm_start
    ({'epochs': 1}, False)
    """

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        return tags

    def _more_tags(self) -> dict:
        return {**super()._more_tags(), "poor_score": True}

