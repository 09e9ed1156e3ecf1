"""``SKLearnTransformer``: a lamina model as a scikit-learn transformer (Keras's ``keras.wrappers``): ``fit``
trains the model on ``(X, y)``, ``transform`` returns its outputs, e.g. an embedding for the next step of a
``Pipeline``. (A transformer in scikit-learn's sense, not the attention architecture.)

>>> import numpy as np, lamina
>>> from lamina.wrappers import SKLearnTransformer
>>> def encoder(X, y, size=2):
...     model = lamina.Sequential([lamina.Input((X.shape[1],)), lamina.layers.Dense(size)])
...     model.compile(loss="mse", optimizer="sgd")
...     return model
>>> X = np.random.default_rng(0).normal(size=(8, 3))
>>> t = SKLearnTransformer(encoder, model_kwargs={"size": 1}, fit_kwargs={"epochs": 1, "verbose": 0})
>>> t.fit_transform(X, X[:, 0]).shape  # Model.predict's progress line first, as in Keras
1/1 - ...
(8, 1)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.wrappers import _sklearn
from lamina.wrappers.base import SKLBase

__all__ = ["SKLearnTransformer"]


class SKLearnTransformer(_sklearn.TransformerMixin, SKLBase):
    """scikit-learn compatible transformer wrapper for lamina (Keras) models.

    Args:
        model: a compiled ``Model`` (cloned for each ``fit`` unless ``warm_start``), or a callable
            ``model(X=X, y=y, **model_kwargs)`` returning one; it is trained on ``(X, y)`` (``y`` 1-D becomes one
            column), and its outputs are the transformed data.
        warm_start: when True, each ``fit`` goes on training the previous fit's model.
        model_kwargs: keyword arguments for ``model`` when it is a callable.
        fit_kwargs: keyword arguments for ``Model.fit``; those given to ``fit`` take precedence.

    Attributes (after ``fit``): ``model_``, ``history_``, ``n_features_in_``.

    Example (``encoder(X, y)`` as in the module's example; the transformer feeds the next step of a pipeline):

    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> pipe = make_pipeline(SKLearnTransformer(model=lambda X, y: None), LogisticRegression())
    >>> [name for name, _ in pipe.steps]
    ['sklearntransformer', 'logisticregression']
    """

    def transform(self, X: Any) -> np.ndarray:
        """The model's outputs for ``X`` (``(n_samples, n_features)``): ``(n_samples, n_outputs)``."""
        return self._outputs(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = []  # outputs are the model's float32, whatever X was
        return tags

    def _more_tags(self) -> dict:
        return {**super()._more_tags(), "preserves_dtype": []}
