"""Weight regularizers with Keras 3 names, arguments, formulas and configs.

A regularizer is called on a weight tensor and returns a 0-d penalty tensor (same dtype and device) that
joins the training loss. Formulas follow Keras exactly: ``L2(l2)`` is ``l2 * sum(w**2)`` (no factor 1/2).

>>> import torch
>>> from lamina import regularizers
>>> regularizers.L2(0.1)(torch.tensor([1.0, 2.0]))
tensor(0.5000)
>>> regularizers.get("l1_l2")
L1L2(l1=0.0, l2=0.0)
>>> regularizers.serialize(regularizers.L1(0.5))
{'class_name': 'L1', 'config': {'l1': 0.5}}
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from lamina.core import config
from lamina.core.registry import Registry, deserialize_object

__all__ = [
    "L1", "L1L2", "L2", "OrthogonalRegularizer", "REGULARIZERS", "Regularizer", "deserialize", "get", "l1",
    "l1_l2", "l2", "orthogonal_regularizer", "serialize",
]

REGULARIZERS = Registry("regularizer")


def _non_negative(value: Any, name: str, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value) \
            or value < 0:
        raise ValueError(f"Regularizer argument `{name}` must be a non-negative finite float; received {value!r}.")
    return float(value)


class Regularizer:
    """Base class: subclasses implement ``__call__(weight) -> 0-d tensor`` and ``get_config()``."""

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.zeros((), dtype=x.dtype, device=x.device)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Regularizer:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


REGULARIZERS.register("Regularizer", Regularizer)


@REGULARIZERS("L1L2", "l1_l2")
class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``.

    >>> L1L2(l1=1.0, l2=1.0)(torch.tensor([-1.0, 2.0]))
    tensor(8.)
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _non_negative(l1, "l1", 0.0)
        self.l2 = _non_negative(l2, "l2", 0.0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        penalty = torch.zeros((), dtype=x.dtype, device=x.device)
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


@REGULARIZERS("L1", "l1")
class L1(Regularizer):
    """``l1 * sum(|w|)``."""

    def __init__(self, l1: float = 0.01):
        self.l1 = _non_negative(l1, "l1", 0.01)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l1 * x.abs().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


@REGULARIZERS("L2", "l2")
class L2(Regularizer):
    """``l2 * sum(w**2)`` (Keras's convention: no factor 1/2, unlike torch's ``weight_decay``)."""

    def __init__(self, l2: float = 0.01):
        self.l2 = _non_negative(l2, "l2", 0.01)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.l2 * x.square().sum()

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


@REGULARIZERS("OrthogonalRegularizer", "orthogonal_regularizer")
class OrthogonalRegularizer(Regularizer):
    """Pushes the rows (``mode='rows'``) or columns of a rank-2 kernel towards orthogonality: ``factor`` times
    the mean absolute cosine similarity over distinct pairs (Keras's formula)."""

    def __init__(self, factor: float = 0.01, mode: str = "rows"):
        self.factor = _non_negative(factor, "factor", 0.01)
        if mode not in ("rows", "columns"):
            raise ValueError(f"OrthogonalRegularizer: mode must be 'rows' or 'columns'; received {mode!r}.")
        self.mode = mode

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 2:
            raise ValueError(
                f"OrthogonalRegularizer applies to rank-2 weights (e.g. a Dense kernel); received a weight of "
                f"shape {tuple(x.shape)}."
            )
        vectors = x if self.mode == "rows" else x.T  # (n, d): the vectors to decorrelate
        # L2-normalize as Keras does: multiply by rsqrt(sum of squares), capped at 1/epsilon.
        inv_norm = torch.rsqrt(vectors.square().sum(dim=1, keepdim=True)).clamp(max=1.0 / config.epsilon())
        unit = vectors * inv_norm
        n = unit.shape[0]
        product = unit @ unit.T  # (n, n)
        off_diagonal = product * (1.0 - torch.eye(n, dtype=x.dtype, device=x.device))
        pairs = n * (n - 1.0) / 2.0
        return self.factor * 0.5 * off_diagonal.abs().sum() / pairs

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor, "mode": self.mode}


# Keras's lowercase names are the classes themselves (keras.regularizers.l1 is L1).
l1 = L1
l1_l2 = L1L2
l2 = L2
orthogonal_regularizer = OrthogonalRegularizer


def get(identifier: Any) -> Regularizer | Callable[..., Any] | None:
    """A regularizer from None, a name ('l1', 'l2', 'l1_l2', class names), a ``{"class_name", "config"}``
    dict, a class, an instance, or a plain callable (returned as it is).

    >>> get({"class_name": "L2", "config": {"l2": 0.5}})
    L2(l2=0.5)
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, type) and not issubclass(identifier, Regularizer):
        raise ValueError(f"Could not interpret regularizer identifier {identifier!r}: not a Regularizer subclass.")
    return REGULARIZERS.resolve(identifier, Regularizer, wrap=lambda fn: fn)


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """The ``{"class_name": ..., "config": ...}`` dict of a regularizer (``None`` for ``None``)."""
    regularizer = get(regularizer)  # names and config dicts too
    if regularizer is None:
        return None
    if not isinstance(regularizer, Regularizer):
        raise TypeError(
            f"Only lamina regularizers can be serialized; received {regularizer!r}. Subclass "
            "lamina.regularizers.Regularizer and implement get_config()."
        )
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None) -> Regularizer | None:
    """A regularizer from ``serialize``'s dict (extra keys such as Keras's ``module`` are ignored) or a name;
    classes are looked up in ``custom_objects`` first, then in lamina's registry."""
    return deserialize_object(config, custom_objects, get)


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
