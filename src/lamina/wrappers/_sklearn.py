"""scikit-learn, optional: its base classes when it is installed, stand-ins when it is not, and the few helpers
of its API whose location changed between versions (``validate_data``, metadata routing).

lamina imports without scikit-learn; a wrapper created without it raises the ImportError of ``require``.

>>> from lamina.wrappers import _sklearn
>>> isinstance(_sklearn.AVAILABLE, bool)
True
"""

from __future__ import annotations

from typing import Any

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError:  # scikit-learn is optional (pip install lamina[sklearn])
    sklearn = None

    class BaseEstimator:  # type: ignore[no-redef]
        """Stand-in base class: the wrappers can be defined (and ``import lamina`` works) without scikit-learn."""

    class ClassifierMixin:  # type: ignore[no-redef]
        """Stand-in for ``sklearn.base.ClassifierMixin``."""

    class RegressorMixin:  # type: ignore[no-redef]
        """Stand-in for ``sklearn.base.RegressorMixin``."""

    class TransformerMixin:  # type: ignore[no-redef]
        """Stand-in for ``sklearn.base.TransformerMixin``."""

AVAILABLE = sklearn is not None

__all__ = ["AVAILABLE", "BaseEstimator", "ClassifierMixin", "RegressorMixin", "TransformerMixin", "require",
           "validate_data", "check_is_fitted", "type_of_target", "routing_enabled", "metadata_request"]


def require(name: str) -> None:
    """Raise ImportError naming the install command when scikit-learn is missing (``name``: who needs it)."""
    if not AVAILABLE:
        raise ImportError(f"{name} requires scikit-learn, which is not installed. Run `pip install scikit-learn` "
                          "(or `pip install lamina[sklearn]`) to install it.")


def validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn's input validation (``check_array``/``check_X_y`` plus ``n_features_in_``) of ``X`` or of
    ``X, y``: the function ``sklearn.utils.validation.validate_data`` from 1.6 on, the estimator's
    ``_validate_data`` method before."""
    try:
        from sklearn.utils.validation import validate_data as validate
    except ImportError:  # scikit-learn < 1.6
        return estimator._validate_data(*args, **kwargs)
    return validate(estimator, *args, **kwargs)


def check_is_fitted(estimator: Any) -> None:
    """Raise sklearn's NotFittedError when ``estimator`` has not been fitted."""
    from sklearn.utils.validation import check_is_fitted as check

    check(estimator)


def type_of_target(y: Any) -> str:
    """sklearn's name for the kind of target ``y`` is ("binary", "multiclass", "continuous", ...); a target of
    no known kind is a ValueError, as scikit-learn's own estimators have it."""
    from sklearn.utils.multiclass import type_of_target as kind_of

    kind = kind_of(y, input_name="y")
    if kind == "unknown":
        raise ValueError(f"Unknown label type for y: {y!r:.200}")
    return kind


def routing_enabled() -> bool:
    """Whether ``sklearn.set_config(enable_metadata_routing=True)`` is in effect."""
    return bool(sklearn.get_config().get("enable_metadata_routing", False))


def metadata_request(estimator: Any) -> Any:
    """The estimator's current ``MetadataRequest`` (its own, or the one its class declares), to add requests to."""
    return estimator._get_metadata_request()
