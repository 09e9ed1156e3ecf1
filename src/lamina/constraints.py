"""Weight constraints with Keras 3 names, arguments, formulas and configs.

A constraint is called on a weight tensor and returns the projected weight; the optimizer writes it back
after every update. Norms are taken over ``axis`` (Keras's default 0: the input axis of a Dense kernel, so
each unit's incoming weight vector is constrained) and divided with Keras's ``epsilon`` fuzz.

>>> import torch
>>> from lamina import constraints
>>> constraints.NonNeg()(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> constraints.get("max_norm")
MaxNorm(max_value=2, axis=0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lamina.core import config
from lamina.core.registry import Registry, deserialize_object

__all__ = [
    "CONSTRAINTS", "Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "deserialize", "get",
    "max_norm", "min_max_norm", "non_neg", "serialize", "unit_norm",
]

CONSTRAINTS = Registry("constraint")


def _dims(axis: Any) -> int | tuple[int, ...]:
    return tuple(int(a) for a in axis) if isinstance(axis, (list, tuple)) else int(axis)


def _norms(w: torch.Tensor, axis: Any) -> torch.Tensor:
    return w.square().sum(dim=_dims(axis), keepdim=True).sqrt()


class Constraint:
    """Base class: subclasses implement ``__call__(weight) -> projected weight`` and ``get_config()``.
    The base constraint leaves the weight as it is."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Constraint:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


CONSTRAINTS.register("Constraint", Constraint)


@CONSTRAINTS("MaxNorm", "max_norm")
class MaxNorm(Constraint):
    """Rescales each weight vector (along ``axis``) whose L2 norm exceeds ``max_value`` down to it.

    >>> MaxNorm(1.0)(torch.tensor([[3.0], [4.0]])).flatten()
    tensor([0.6000, 0.8000])
    """

    def __init__(self, max_value: float = 2, axis: int | list[int] = 0):
        self.max_value = max_value
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        desired = norms.clamp(0, self.max_value)
        return w * (desired / (config.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


@CONSTRAINTS("MinMaxNorm", "min_max_norm")
class MinMaxNorm(Constraint):
    """Moves each weight vector's norm into ``[min_value, max_value]``; ``rate`` < 1 moves only part of the way:
    ``desired = rate * clip(norm, min, max) + (1 - rate) * norm``."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0,
                 axis: int | list[int] = 0):
        self.min_value = min_value
        self.max_value = max_value
        self.rate = rate
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (config.epsilon() + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


@CONSTRAINTS("NonNeg", "non_neg")
class NonNeg(Constraint):
    """Clips negative weights to zero."""

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp(min=0)


@CONSTRAINTS("UnitNorm", "unit_norm")
class UnitNorm(Constraint):
    """Divides each weight vector (along ``axis``) by its L2 norm (plus epsilon)."""

    def __init__(self, axis: int | list[int] = 0):
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (config.epsilon() + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


# Keras's lowercase names are the classes themselves (keras.constraints.max_norm is MaxNorm).
max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm


def get(identifier: Any) -> Constraint | Callable[..., Any] | None:
    """A constraint from None, a name ('max_norm', 'non_neg', class names, ...), a ``{"class_name", "config"}``
    dict, a class, an instance, or a plain callable (returned as it is).

    >>> get({"class_name": "UnitNorm", "config": {"axis": 1}})
    UnitNorm(axis=1)
    """
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, type) and not issubclass(identifier, Constraint):
        raise ValueError(f"Could not interpret constraint identifier {identifier!r}: not a Constraint subclass.")
    return CONSTRAINTS.resolve(identifier, Constraint, wrap=lambda fn: fn)


def serialize(constraint: Constraint | None) -> dict[str, Any] | None:
    """The ``{"class_name": ..., "config": ...}`` dict of a constraint (``None`` for ``None``)."""
    constraint = get(constraint)  # names and config dicts too
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise TypeError(
            f"Only lamina constraints can be serialized; received {constraint!r}. Subclass "
            "lamina.constraints.Constraint and implement get_config()."
        )
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def deserialize(config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None) -> Constraint | None:
    """A constraint from ``serialize``'s dict (extra keys such as Keras's ``module`` are ignored) or a name;
    classes are looked up in ``custom_objects`` first, then in lamina's registry."""
    return deserialize_object(config, custom_objects, get)


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
