"""Learning-rate schedules with Keras 3's names, arguments, defaults and configs (``keras.optimizers.schedules``).

A schedule is a callable of the optimizer's step (a Python int) that returns the learning rate as a Python float,
so an optimizer evaluates it on the host once per step, with no device synchronisation. Pass one as the
``learning_rate`` of any optimizer.

>>> schedule = ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
>>> schedule(0), schedule(10), schedule(20)
(0.1, 0.05, 0.025)
>>> deserialize(serialize(schedule))(10)
0.05
"""

from __future__ import annotations

import math
from typing import Any

from lamina.core.registry import Registry

SCHEDULES = Registry("learning rate schedule")


class LearningRateSchedule:
    """Base class: subclasses define ``__call__(step) -> float`` and ``get_config()``.

    >>> class Halving(LearningRateSchedule):
    ...     def __call__(self, step): return 1.0 / 2 ** step
    ...     def get_config(self): return {}
    >>> Halving()(3)
    0.125
    """

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"The schedule {type(self).__name__} must define __call__(self, step).")  # abstract

    def get_config(self) -> dict:
        raise NotImplementedError(  # abstract: subclasses that can be saved define it
            f"The schedule {type(self).__name__} must define get_config() to be serializable.")

    @classmethod
    def from_config(cls, config: dict) -> LearningRateSchedule:
        return cls(**config)

    def __repr__(self) -> str:
        try:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        except NotImplementedError:
            args = ""
        return f"{type(self).__name__}({args})"


def _positive_steps(value: Any, argument: str, schedule: str) -> Any:
    if not value > 0:
        raise ValueError(f"{schedule}: `{argument}` must be > 0; received {argument}={value!r}.")
    return value


def _step(step: Any) -> float:
    return float(step)


class _DecayEveryStep(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: their arguments, the progress ``step / decay_steps``
    (floored with ``staircase``) and their config; each says how the rate falls with it (``_decay``)."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str | None = None):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive_steps(decay_steps, "decay_steps", type(self).__name__)
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name or type(self).__name__

    def __call__(self, step: int) -> float:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self._decay(p))

    def _decay(self, progress: float) -> float:
        raise NotImplementedError  # abstract: each schedule's formula

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


@SCHEDULES("ExponentialDecay")
class ExponentialDecay(_DecayEveryStep):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is floored.

    >>> ExponentialDecay(1.0, decay_steps=4, decay_rate=0.5, staircase=True)(7)
    0.5
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, progress: float) -> float:
        return self.initial_learning_rate * self.decay_rate ** progress

@SCHEDULES("PiecewiseConstantDecay")
class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while ``boundaries[i-1] < step <=
    boundaries[i]``, ``values[-1]`` after the last boundary.

    >>> schedule = PiecewiseConstantDecay(boundaries=[10, 20], values=[1.0, 0.5, 0.1])
    >>> schedule(10), schedule(11), schedule(21)
    (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"PiecewiseConstantDecay: `boundaries` must have one element fewer than `values`; received "
                f"boundaries={boundaries!r} (length {len(boundaries)}) and values={values!r} "
                f"(length {len(values)}).")
        if any(b > a for a, b in zip(boundaries[1:], boundaries[:-1], strict=True)):
            raise ValueError(f"PiecewiseConstantDecay: `boundaries` must be increasing; received {boundaries!r}.")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int) -> float:
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values, strict=False):
            if step <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self) -> dict:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


@SCHEDULES("PolynomialDecay")
class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps`` along ``(1 - t) ** power``;
    afterwards ``end_learning_rate``, or with ``cycle`` a new decay over the next multiple of ``decay_steps``.

    >>> PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.0, power=1.0)(4)
    0.6
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive_steps(decay_steps, "decay_steps", "PolynomialDecay")
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step: int) -> float:
        step, decay_steps = _step(step), float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        fraction = step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return float(span * (1.0 - fraction) ** self.power + self.end_learning_rate)

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


@SCHEDULES("InverseTimeDecay")
class InverseTimeDecay(_DecayEveryStep):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (the ratio floored with ``staircase``).

    >>> InverseTimeDecay(1.0, decay_steps=1, decay_rate=0.5)(2)
    0.5
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def _decay(self, progress: float) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * progress)

def _cosine(fraction: float, alpha: float) -> float:
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


@SCHEDULES("CosineDecay")
class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` to ``alpha * initial_learning_rate`` over ``decay_steps``.

    With ``warmup_target``, the rate first rises linearly from ``initial_learning_rate`` to ``warmup_target``
    over ``warmup_steps``, then decays from ``warmup_target`` over ``decay_steps``.

    >>> CosineDecay(1.0, decay_steps=10)(5)
    0.5
    >>> CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)(2)
    0.5
    """

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
                 warmup_target: float | None = None, warmup_steps: int = 0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive_steps(decay_steps, "decay_steps", "CosineDecay")
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps
        if warmup_steps < 0:
            raise ValueError(f"CosineDecay: `warmup_steps` must be >= 0; received warmup_steps={warmup_steps!r}.")

    def __call__(self, step: int) -> float:
        step = _step(step)
        if self.warmup_target is None:
            return float(self.initial_learning_rate * _cosine(min(step, self.decay_steps) / self.decay_steps,
                                                              self.alpha))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return float(rise * step / self.warmup_steps + self.initial_learning_rate)
        return float(self.warmup_target * _cosine((step - self.warmup_steps) / self.decay_steps, self.alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


@SCHEDULES("CosineDecayRestarts")
class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the i-th period lasts ``first_decay_steps * t_mul ** i`` steps and
    starts from ``initial_learning_rate * m_mul ** i``; each decays to ``alpha`` times its start.

    >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5)
    >>> schedule(0), schedule(10), schedule(30)
    (1.0, 0.5, 0.25)
    """

    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0,
                 alpha: float = 0.0, name: str = "SGDRDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = _positive_steps(first_decay_steps, "first_decay_steps", "CosineDecayRestarts")
        self.t_mul = t_mul
        self.m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step: int) -> float:
        fraction = _step(step) / self.first_decay_steps
        if self.t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            # Periods 1, t, t^2, ... (in units of first_decay_steps) end at (1 - t^i) / (1 - t).
            restart = math.floor(math.log(1.0 - fraction * (1.0 - self.t_mul)) / math.log(self.t_mul))
            start = (1.0 - self.t_mul ** restart) / (1.0 - self.t_mul)
            fraction = (fraction - start) / self.t_mul ** restart
        decayed = (1.0 - self.alpha) * 0.5 * self.m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return float(self.initial_learning_rate * (decayed + self.alpha))

    def get_config(self) -> dict:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


def serialize(schedule: LearningRateSchedule) -> dict:
    """``{"class_name": ..., "config": ...}`` for a schedule (JSON-able when its config is).

    >>> serialize(InverseTimeDecay(0.1, 10, 0.5))["class_name"]
    'InverseTimeDecay'
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(
            f"Only LearningRateSchedule objects can be serialized; received {schedule!r}. Subclass "
            "lamina.optimizers.schedules.LearningRateSchedule and define get_config() to save a custom schedule.")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> LearningRateSchedule:
    """A schedule from ``serialize``'s output (Keras's extra keys such as ``module`` are ignored). The class is
    looked up in lamina's registry, then in ``custom_objects``; nothing named in a config is ever imported.

    >>> deserialize({"class_name": "CosineDecay", "config": {"initial_learning_rate": 1.0, "decay_steps": 2}})(1)
    0.5
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A schedule config is a dict with 'class_name' and 'config'; received {config!r}.")
    name = config["class_name"]
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
    else:
        cls = SCHEDULES.get(name)
    return cls.from_config(dict(config.get("config", {})))


def get(identifier: Any) -> LearningRateSchedule:
    """A schedule from an instance or a config dict.

    >>> get({"class_name": "ExponentialDecay", "config": {"initial_learning_rate": 1.0, "decay_steps": 1,
    ...                                                   "decay_rate": 0.5}})(1)
    0.5
    """
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret learning rate schedule {identifier!r}: pass a LearningRateSchedule or "
                     "its serialized dict.")


__all__ = ["SCHEDULES", "CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay",
           "LearningRateSchedule", "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "get", "serialize"]


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.optimizers.schedules)``): not the tools this module imports."""
    return sorted(__all__)
