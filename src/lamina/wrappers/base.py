"""``SKLBase``: what the three scikit-learn wrappers share. It holds the four parameters, builds (or clones) the
model on ``fit``, trains it with the merged fit arguments and predicts with it; the subclasses say how targets
are encoded and which scikit-learn mixin (score, transform) they take.

>>> import numpy as np, lamina
>>> from lamina.wrappers import SKLearnRegressor
>>> def build(X, y):
...     model = lamina.Sequential([lamina.Input((X.shape[1],)), lamina.layers.Dense(y.shape[1])])
...     model.compile(loss="mse", optimizer="sgd")
...     return model
>>> est = SKLearnRegressor(build, fit_kwargs={"epochs": 1, "verbose": 0})
>>> sorted(est.get_params())
['fit_kwargs', 'model', 'model_kwargs', 'warm_start']
>>> est.fit(np.zeros((4, 2)), np.zeros(4)).epoch_
1
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.models import Model, clone_model
from lamina.wrappers import _sklearn
from lamina.wrappers.targets import ColumnTarget


def _check_model(model: Any) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"`model` must be a lamina Model or a callable returning one; got {type(model).__name__}.")
    if not model.compiled or model.loss is None or model.optimizer is None:
        raise RuntimeError("Given model needs to be compiled, and have a loss and an optimizer: call "
                           "model.compile(optimizer=..., loss=...) before handing it (or returning it) to the wrapper.")


class SKLBase(_sklearn.BaseEstimator):
    """The shared base of ``SKLearnClassifier``, ``SKLearnRegressor`` and ``SKLearnTransformer``.

    Args:
        model: a compiled ``Model``, or a callable ``model(X=X, y=y, **model_kwargs)`` returning one, built for the
            (validated, encoded) training data. A ``Model`` is cloned (``clone_model``, new weights, same
            compile arguments) on each ``fit`` unless ``warm_start`` is True.
        warm_start: when True, ``fit`` goes on training the model of the previous fit (a given ``Model`` is
            trained itself, not a clone).
        model_kwargs: keyword arguments for ``model`` when it is a callable.
        fit_kwargs: keyword arguments for ``Model.fit``; those given to ``fit`` take precedence.

    Attributes (after ``fit``): ``model_`` (the trained model), ``history_`` (the ``History`` that
    ``Model.fit`` returned), ``n_features_in_``, ``epoch_`` (epochs run by the last fit).

    ``predict`` (and ``transform``, ``decision_function``, ``score``) call ``Model.predict`` with its default
    verbosity, as Keras's wrappers do: a progress line each.
    """

    def __init__(self, model: Any, warm_start: bool = False, model_kwargs: dict | None = None,
                 fit_kwargs: dict | None = None) -> None:
        _sklearn.require(type(self).__name__)
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    # ------------------------------------------------------------------ scikit-learn's estimator protocol
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True  # weights start random, and training shuffles
        return tags

    def _more_tags(self) -> dict:  # the tags of scikit-learn < 1.6
        return {"non_deterministic": True}

    @property
    def epoch_(self) -> int:
        """The number of epochs the last ``fit`` ran (0 before any)."""
        history = getattr(self, "history_", None)
        epochs = getattr(history, "epoch", None)
        return int(epochs[-1]) + 1 if epochs else 0

    def set_fit_request(self, **kwargs: Any) -> SKLBase:
        """Ask metadata routing (``sklearn.set_config(enable_metadata_routing=True)``) to pass the named
        arguments (e.g. ``sample_weight=True``) to ``fit``, which hands them to ``Model.fit``.

        Each keyword is ``param=alias`` with alias True, False, None or a string, as in scikit-learn.
        """
        if not _sklearn.routing_enabled():
            raise RuntimeError("This method is only available when metadata routing is enabled. You can enable it "
                               "using sklearn.set_config(enable_metadata_routing=True).")
        requests = _sklearn.metadata_request(self)
        for param, alias in kwargs.items():
            requests.fit.add_request(param=param, alias=alias)
        self._metadata_request = requests
        return self

    # ------------------------------------------------------------------ targets (overridden by the classifier)
    def _encode_target(self, y: np.ndarray, reset: bool) -> np.ndarray:
        _sklearn.type_of_target(y)
        if reset:
            self._target_encoder = ColumnTarget.fit(y)
        return self._target_encoder.encode(y)

    def _decode_output(self, outputs: np.ndarray) -> np.ndarray:
        return self._target_encoder.decode(outputs)

    _y_numeric = True  # regressors and transformers want numbers; a classifier's labels may be anything

    # ------------------------------------------------------------------ fit / predict
    def _continues(self) -> bool:
        return bool(self.warm_start) and hasattr(self, "model_")

    def _get_model(self, X: np.ndarray, y: np.ndarray) -> Model:
        if self._continues():
            return self.model_
        if isinstance(self.model, Model):
            if self.warm_start:
                return self.model
            model = clone_model(self.model)
            model.compile_from_config(self.model.get_compile_config())
            return model
        if not callable(self.model):
            raise TypeError(f"`model` must be a lamina Model or a callable returning one; got "
                            f"{type(self.model).__name__}.")
        return self.model(X=X, y=y, **(self.model_kwargs or {}))

    def fit(self, X: Any, y: Any, **kwargs: Any) -> SKLBase:
        """Build (or clone, or keep with ``warm_start``) the model and train it on ``X`` (``(n_samples,
        n_features)``) and ``y``; ``kwargs`` go to ``Model.fit`` over ``fit_kwargs``. Returns ``self``."""
        continuing = self._continues()
        X, y = _sklearn.validate_data(self, X, y, reset=not continuing, y_numeric=self._y_numeric)
        if self._y_numeric and y.dtype.kind not in "biuf":
            y = y.astype(np.float64)  # strings: "could not convert string to float: ..."
        y = self._encode_target(y, reset=not continuing)
        model = self._get_model(X, y)
        _check_model(model)
        self.history_ = model.fit(X, y, **{**(self.fit_kwargs or {}), **kwargs})
        self.model_ = model
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        _sklearn.check_is_fitted(self)
        X = _sklearn.validate_data(self, X, reset=False)
        return self.model_.predict(X)

    def predict(self, X: Any) -> np.ndarray:
        """The model's predictions for ``X``, as targets (labels for a classifier)."""
        return self._decode_output(self._outputs(X))

