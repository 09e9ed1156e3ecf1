"""Losses given as nested structures (one per output, ``None`` to skip one), as the distillation losses and the
``Distiller``'s student loss take them: resolving identifiers as Keras does, applying them to paired outputs,
serializing them, and comparing static shapes.

>>> import torch
>>> apply_losses(prepare(resolve_structure(["mse", None])), [torch.zeros(2, 3), torch.ones(2, 1)],
...              [torch.ones(2, 3), torch.zeros(2, 1)])
tensor(1.)
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping
from typing import Any

import torch

from lamina.core import serialization, tree
from lamina.losses import KLDivergence, Loss, LossFunctionWrapper
from lamina.losses.base import FUNCTIONS, LOSSES


def resolve_loss(identifier: Any) -> Any:
    """One loss as Keras's ``losses.get`` gives it: a function name (``"mse"``, ``"kl_divergence"``) is the
    per-sample function, a class name (``"KLDivergence"``) or a class is an instance, a config dict the object
    it describes; a ``Loss`` or any callable stays as it is; ``None`` stays ``None`` (an output to skip).

    >>> resolve_loss("kld").__name__, type(resolve_loss("KLDivergence")).__name__
    ('kl_divergence', 'KLDivergence')
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        try:
            cls = LOSSES.get(identifier)
        except ValueError:
            cls = None
        if isinstance(cls, type) and cls.__name__ == identifier:
            return cls()
        try:
            return FUNCTIONS.get(identifier)
        except ValueError:
            raise ValueError(f"Could not interpret loss identifier: {identifier!r}. Use the name of a loss "
                             "function ('kl_divergence', 'mse', ...), of a loss class ('KLDivergence'), a Loss "
                             "instance or a callable(y_true, y_pred).") from None
    if isinstance(identifier, Mapping):
        if serialization.is_object_config(identifier):
            return resolve_loss(serialization.deserialize(dict(identifier), kind="losses"))
        raise ValueError(f"Could not interpret loss identifier: {identifier!r}.")
    if isinstance(identifier, type):
        if issubclass(identifier, Loss):
            return identifier()
        raise ValueError(f"Could not interpret loss identifier: {identifier!r} is a class but not a Loss.")
    if callable(identifier):
        return identifier
    raise ValueError(f"Could not interpret loss identifier: {identifier!r}.")


def resolve_structure(loss: Any) -> Any:
    """``loss`` with every leaf resolved by ``resolve_loss`` (lists, tuples and dicts keep their shape)."""
    if isinstance(loss, Mapping) and not serialization.is_object_config(loss):
        return {k: resolve_structure(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return type(loss)(resolve_structure(v) for v in loss)
    return resolve_loss(loss)


def leaves(loss: Any) -> list:
    """The leaves of a loss structure, ``None`` included."""
    if isinstance(loss, Mapping):
        return [leaf for k in sorted(loss) for leaf in leaves(loss[k])]
    if isinstance(loss, (list, tuple)):
        return [leaf for v in loss for leaf in leaves(v)]
    return [loss]


def serialize_structure(loss: Any) -> Any:
    """``get_config``'s form of a loss structure (Keras 3's layout for each loss)."""
    return serialization.serialize(loss)


def deserialize_structure(config: Any) -> Any:
    """The loss structure ``serialize_structure`` (or Keras 3's ``get_config``) described, through lamina's
    registry only."""
    if config is None or isinstance(config, str):
        return config
    if isinstance(config, Mapping):
        if serialization.is_object_config(config):
            return serialization.deserialize(dict(config), kind="losses")
        return {k: deserialize_structure(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [deserialize_structure(v) for v in config]
    raise ValueError(f"Malformed loss in a distillation config: {config!r:.200}.")


def prepare(loss: Any) -> Any:
    """A resolved loss structure as it is called: each bare function wrapped once in a ``LossFunctionWrapper``
    that returns its per-sample values (Keras calls the function itself; the wrapper adds lamina's dtype and
    rank handling), ``Loss`` instances, other callables and ``None`` as they are."""
    if isinstance(loss, Mapping):
        return {k: prepare(v) for k, v in loss.items()}
    if isinstance(loss, (list, tuple)):
        return type(loss)(prepare(v) for v in loss)
    if loss is None or isinstance(loss, Loss) or not isinstance(loss, types.FunctionType):
        return loss
    return LossFunctionWrapper(loss, reduction=None, name=loss.__name__)


def is_kl_divergence(loss: Any) -> bool:
    """Whether ``loss`` is a ``KLDivergence`` instance (the one loss ``LogitsDistillation`` gives probabilities)."""
    return isinstance(loss, KLDivergence)


def pairs(loss: Any, teacher: Any, student: Any, where: str) -> list[tuple[Any, Any, Any, str]]:
    """``(loss, teacher leaf, student leaf, path)`` for every output the loss structure names, skipping ``None``
    losses. A single loss for nested outputs is paired with every output (see ``apply_losses``)."""
    if not tree.is_nested(loss):
        if loss is None:
            return []
        return [(loss, t, s, path) for t, s, path in _zip(teacher, student, where, "outputs")]
    out: list = []
    if isinstance(loss, Mapping):
        if not isinstance(teacher, Mapping) or not isinstance(student, Mapping) \
                or set(loss) != set(teacher) or set(loss) != set(student):
            raise ValueError(f"{where}: the loss is a dict with keys {sorted(loss)}, but the teacher's and "
                             f"student's outputs are {_describe(teacher)} and {_describe(student)}. Give one loss "
                             "per output, keyed as the outputs are.")
        for key in loss:
            out += pairs(loss[key], teacher[key], student[key], f"{where}[{key!r}]")
        return out
    if not isinstance(teacher, (list, tuple)) or not isinstance(student, (list, tuple)) \
            or not len(loss) == len(teacher) == len(student):
        raise ValueError(f"{where}: {len(loss)} losses were given, but the teacher's and student's outputs are "
                         f"{_describe(teacher)} and {_describe(student)}. Give one loss per output (None to skip "
                         "an output).")
    for i, (sub, t, s) in enumerate(zip(loss, teacher, student, strict=True)):
        out += pairs(sub, t, s, f"{where}[{i}]")
    return out


def _zip(teacher: Any, student: Any, where: str, what: str) -> list[tuple[Any, Any, str]]:
    t_leaves, s_leaves = tree.flatten(teacher), tree.flatten(student)
    if len(t_leaves) != len(s_leaves):
        raise ValueError(f"{where}: the teacher has {len(t_leaves)} {what} and the student {len(s_leaves)}; they "
                         "must correspond one to one.")
    if len(t_leaves) == 1:
        return [(t_leaves[0], s_leaves[0], where)]
    return [(t, s, f"{where}[{i}]") for i, (t, s) in enumerate(zip(t_leaves, s_leaves, strict=True))]


def _describe(x: Any) -> str:
    if isinstance(x, Mapping):
        return f"a dict with keys {sorted(x)}"
    if isinstance(x, (list, tuple)):
        return f"{len(x)} outputs"
    return "a single tensor"


def apply_losses(loss: Any, teacher: Any, student: Any, transform: Callable[..., Any] | None = None,
                 where: str = "loss") -> torch.Tensor:
    """The sum over paired outputs of ``mean(loss(teacher, student))`` (``loss``: a structure from ``prepare``);
    ``transform(loss, t, s)`` may replace the pair's value. A single loss for several outputs gives the mean of
    their values (what Keras computes when it stacks outputs of one shape into one tensor).

    >>> apply_losses(prepare(resolve_loss("mae")), torch.zeros(2, 2), torch.ones(2, 2))
    tensor(1.)
    """
    found = pairs(loss, teacher, student, where)
    values = []
    for fn, t, s, _ in found:
        value = transform(fn, t, s) if transform is not None else fn(t, s)
        values.append(torch.mean(torch.as_tensor(value)))
    if not values:
        leaf = tree.flatten(student)[0] if tree.flatten(student) else None
        return torch.zeros((), device=getattr(leaf, "device", None))
    total = values[0] if len(values) == 1 else torch.stack(values).sum()
    if not tree.is_nested(loss) and len(values) > 1:
        total = total / len(values)
    return total


def shapes_compatible(a: tuple, b: tuple) -> bool:
    """Same rank and equal dimensions wherever both are known (``None`` matches anything)."""
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def static_shape(x: Any) -> tuple | None:
    shape = getattr(x, "shape", None)
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)
