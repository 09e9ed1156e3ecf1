"""Pre-flight checks: the first batch goes through model, loss and metrics before any training step, so that
mistakes in data or set-up come out as one clear error (what was received, what was expected, the fix).

Every check runs, and the error lists every problem it found, each with its fix: a model with a Dense on
unflattened images *and* a softmax before ``from_logits=True`` hears about both at once, not one per attempt.
A logit/probability mix-up on its own is only a warning (the outputs may just happen to lie in [0, 1]).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import torch

from lamina import losses
from lamina.layers.spec import format_shape


class TargetError(ValueError):
    """Targets (y) that do not fit the model's outputs or the loss."""


def _kind(loss: Any) -> str:
    fn = getattr(loss, "fn", None)
    if isinstance(loss, losses.SparseCategoricalCrossentropy) or fn is losses.sparse_categorical_crossentropy:
        return "sparse"
    if isinstance(loss, (losses.CategoricalCrossentropy, losses.CategoricalFocalCrossentropy)) or fn in (
            losses.categorical_crossentropy, losses.categorical_focal_crossentropy):
        return "categorical"
    if isinstance(loss, (losses.BinaryCrossentropy, losses.BinaryFocalCrossentropy)) or fn in (
            losses.binary_crossentropy, losses.binary_focal_crossentropy):
        return "binary"
    if _users_own(loss):
        return "custom"
    return "other"


def _users_own(loss: Any) -> bool:
    """A loss the user wrote (a function, or a ``Loss`` subclass outside lamina): what shapes it accepts is its
    own business (Keras computes whatever it computes), so pre-flight never refuses its targets."""
    fn = getattr(loss, "fn", None)
    owner = fn if fn is not None else type(loss)
    return not getattr(owner, "__module__", "").startswith("lamina.")


def _shape(t: torch.Tensor) -> str:
    return format_shape((None, *tuple(t.shape[1:])))


def report(problems: list[str]) -> str:
    """One message for all ``problems``: the problem itself when there is one, else a numbered list.

    >>> print(report(["Labels out of range.", "Add a Flatten() layer."]))
    Found 2 problems before training; fix them all, then run again:
      1. Labels out of range.
      2. Add a Flatten() layer.
    """
    if len(problems) == 1:
        return problems[0]
    items = "\n".join(f"  {i}. {p}" for i, p in enumerate(problems, 1))
    return f"Found {len(problems)} problems before training; fix them all, then run again:\n{items}"


def find_problems(name: str, loss: Any, y_true: torch.Tensor, y_pred: torch.Tensor,
                  label_range: tuple[float, float] | None = None) -> tuple[list[str], str | None]:
    """What is wrong between ``y_true``, ``y_pred`` and ``loss``: (the errors, each naming its fix; the
    logit/probability mix-up, or None). ``label_range`` is (min, max) of the labels over all the data, when known."""
    kind = _kind(loss)
    where = f"output '{name}'" if name not in ("output",) else "the model's output"
    lo, hi = label_range if label_range is not None else (float(y_true.min()), float(y_true.max()))
    if kind == "sparse":
        found = _sparse_problems(loss, where, y_true, y_pred, lo, hi)
    elif kind == "categorical":
        found = _categorical_problems(where, y_true, y_pred)
    elif kind == "custom":
        found = []
    else:
        found = _broadcast_problems(loss, where, y_true, y_pred)
        if kind == "binary" and (lo < 0 or hi > 1):
            found.append(
                f"BinaryCrossentropy expects targets in [0, 1], but found values in [{lo:g}, {hi:g}]. For class ids "
                "use SparseCategoricalCrossentropy.")
    logits = _logit_problem(loss, kind, y_pred) if kind in ("sparse", "categorical", "binary") else None
    return found, logits


def check_pair(name: str, loss: Any, y_true: torch.Tensor, y_pred: torch.Tensor,
               label_range: tuple[float, float] | None = None) -> None:
    """Raise ``TargetError`` if ``y_true`` cannot be scored against ``y_pred`` by ``loss`` (naming every problem,
    a logit mix-up included); warn on a logit mix-up alone."""
    found, logits = find_problems(name, loss, y_true, y_pred, label_range)
    if found:
        raise TargetError(report(found + ([logits] if logits else [])))
    if logits:
        _warn(logits)


def check_pairs(pairs: Iterable[tuple[str, Any, torch.Tensor, torch.Tensor]],
                label_ranges: dict[str, tuple[float, float]] | None = None) -> None:
    """``check_pair`` over all outputs of a model at once: one ``TargetError`` naming the problems of every
    output; a warning per output whose only problem is a logit mix-up."""
    pairs = list(pairs)
    found: list[str] = []
    advice: list[str] = []
    for name, loss, y_true, y_pred in pairs:
        rng = label_ranges.get(name) if label_ranges else None
        errors, logits = find_problems(name, loss, y_true, y_pred, rng)
        tag = f"[output '{name}'] " if len(pairs) > 1 else ""
        found += [tag + e for e in errors]
        if logits:
            (found if errors else advice).append(tag + logits)
    if found:
        raise TargetError(report(found + advice))
    for text in advice:
        _warn(text)


def _warn(message: str) -> None:
    warnings.warn(message, UserWarning, stacklevel=4)


def _sparse_problems(loss: Any, where: str, y_true: torch.Tensor, y_pred: torch.Tensor, lo: float,
                     hi: float) -> list[str]:
    name = type(loss).__name__
    found = []
    classes = y_pred.shape[-1]
    rank_ok = y_true.ndim == y_pred.ndim - 1 or (y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1)
    one_hot = y_true.ndim == y_pred.ndim and y_true.shape[-1] == classes and classes > 1
    if not rank_ok and y_pred.ndim > 2:
        found.append(
            f"{name} got labels of shape {_shape(y_true)} but {where} has shape "
            f"{_shape(y_pred)}: the last layer still has {y_pred.ndim - 2} spatial/sequence axes (Dense applies "
            "to the last axis only). Add a Flatten() (or GlobalAveragePooling) layer before the final Dense.")
    elif one_hot:
        found.append(
            f"{name} expects integer class ids of shape (None,), but the labels have shape "
            f"{_shape(y_true)}, like one-hot vectors. Use CategoricalCrossentropy for one-hot labels, or "
            "pass y.argmax(-1).")
    elif not rank_ok:
        found.append(
            f"{name}: labels of shape {_shape(y_true)} do not fit {where} of shape "
            f"{_shape(y_pred)}; expected labels of shape {format_shape((None, *tuple(y_pred.shape[1:-1])))}.")
    if one_hot:  # not class ids at all: their values say nothing more
        return found
    if y_true.is_floating_point() and not bool((y_true == y_true.round()).all()):
        found.append(
            f"{name} expects integer class ids, but the labels hold fractional values. "
            "For probabilities or one-hot targets use CategoricalCrossentropy.")
    ignore = getattr(loss, "ignore_class", None)
    if (lo < 0 and lo != ignore) or hi >= classes:
        bad = hi if hi >= classes else lo
        found.append(
            f"Labels out of range for {name}: found label {int(bad)}, but {where} has "
            f"{classes} units, so labels must be in [0, {classes - 1}]. Make the last Dense layer "
            f"{int(hi) + 1} units wide, or check the labels (are they 1-based?).")
    return found


def _categorical_problems(where: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> list[str]:
    labels_like = y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1 < y_pred.shape[-1]
    if y_true.ndim == y_pred.ndim - 1 or labels_like:
        return [
            f"CategoricalCrossentropy expects one-hot targets of shape {_shape(y_pred)}, but got integer labels "
            f"of shape {_shape(y_true)}. Use loss='sparse_categorical_crossentropy' "
            "or one-hot encode y with lamina.utils.to_categorical."]
    if tuple(y_true.shape[1:]) != tuple(y_pred.shape[1:]):
        return [
            f"CategoricalCrossentropy: targets of shape {_shape(y_true)} do not match {where} of shape "
            f"{_shape(y_pred)}." + (" Add a Flatten() layer before the final Dense." if y_pred.ndim > 2 else "")]
    return []


def _broadcast_problems(loss: Any, where: str, y_true: torch.Tensor, y_pred: torch.Tensor) -> list[str]:
    t, p = tuple(y_true.shape[1:]), tuple(y_pred.shape[1:])
    squeezable = (len(t) == len(p) - 1 and p[-1:] == (1,) and t == p[:-1]) or (
        len(p) == len(t) - 1 and t[-1:] == (1,) and p == t[:-1])
    if t == p or squeezable or (_kind(loss) == "other" and _broadcasts(y_true, y_pred)):
        return []
    hint = " Add a Flatten() layer before the final Dense." if y_pred.ndim > 2 and y_true.ndim <= 2 else ""
    return [
        f"{type(loss).__name__}: targets of shape {_shape(y_true)} do not match {where} of shape {_shape(y_pred)}."
        f"{hint} Make the last layer produce {format_shape((None, *t))}."]


def _broadcasts(y_true: torch.Tensor, y_pred: torch.Tensor) -> bool:
    """Whether an elementwise loss (MSE, MAE, ...) computes on these shapes as Keras does: targets and outputs of
    one rank that broadcast (targets (N, 10) against outputs (N, 1): Keras computes that, so lamina must too;
    Keras's binary crossentropy checks shapes, so it is not asked this)."""
    if y_true.ndim != y_pred.ndim:
        return False
    try:
        torch.broadcast_shapes(tuple(y_true.shape), tuple(y_pred.shape))
    except RuntimeError:
        return False
    return True


def _logit_problem(loss: Any, kind: str, y_pred: torch.Tensor) -> str | None:
    if not y_pred.is_floating_point() or y_pred.numel() == 0:
        return None
    probs = bool(((y_pred >= 0) & (y_pred <= 1)).all())
    if kind != "binary" and y_pred.shape[-1] > 1:
        # (2e-2: a softmax computed in bfloat16 under mixed precision sums to 1 only within its precision)
        probs = probs and bool(torch.allclose(y_pred.sum(-1), torch.ones((), device=y_pred.device), atol=2e-2))
    from_logits = bool(getattr(loss, "from_logits", False))
    if from_logits and probs:
        return (
            f"{type(loss).__name__}(from_logits=True) received outputs that look like probabilities (a softmax or "
            "sigmoid output): the loss applies softmax/sigmoid again and learning slows down. Remove the final "
            "activation, or use from_logits=False.")
    if not from_logits and not probs:
        return (
            f"{type(loss).__name__}(from_logits=False) received outputs outside [0, 1] (or not summing to 1), "
            "which look like logits. Add a softmax/sigmoid activation to the last layer, or use from_logits=True.")
    return None
