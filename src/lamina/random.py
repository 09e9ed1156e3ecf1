"""``keras.random`` on PyTorch: random tensors with Keras's signatures, defaults and seeding rules.

Seeds work as in Keras:

* an int seed gives the same numbers on every call (each call seeds a fresh ``torch.Generator``);
* a ``SeedGenerator`` gives new numbers on each call: it holds a ``(seed, counter)`` state and advances it;
* ``seed=None`` draws from PyTorch's global generator, so ``lamina.utils.set_random_seed`` repeats it.

The bits differ from Keras's (the distributions do not). Tensors are made on lamina's device (the meta
device while a functional model infers shapes).

>>> import lamina.random
>>> a = lamina.random.normal((2, 3), seed=7)
>>> bool((a == lamina.random.normal((2, 3), seed=7)).all())
True
>>> gen = lamina.random.SeedGenerator(7)
>>> bool((lamina.random.uniform((4,), seed=gen) == lamina.random.uniform((4,), seed=gen)).all())
False
"""

from __future__ import annotations

import math
import random as _py_random
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.core.variable import Variable
from lamina.ops import dtypes
from lamina.ops.dispatch import default_device, tensor

__all__ = [
    "SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
    "truncated_normal", "uniform",
]

_MASK64 = (1 << 64) - 1


class SeedGenerator:
    """A stream of seeds: each random op given this generator uses its current state and advances it.

    ``state`` is a non-trainable int32 ``Variable`` ``[seed, counter]``, kept on the CPU (reading it to seed a
    generator costs no device sync); ``seed=None`` picks the seed from Python's ``random`` module (so
    ``set_random_seed`` repeats it).

    >>> gen = SeedGenerator(3)
    >>> gen.next().tolist(), gen.state.tolist()
    ([3, 0], [3, 1])
    """

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any):
        kwargs.pop("backend", None)  # Keras's hook for another backend; there is only one here
        if kwargs:
            raise ValueError(f"Unrecognized keyword arguments: {kwargs}")
        self.name = name if name is not None else config.unique_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            seed = _py_random.randint(1, int(1e9))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"Argument `seed` must be an integer. Received: seed={seed!r}")
        self.state = Variable(torch.tensor([_as_int32(seed), 0], dtype=torch.int32), trainable=False,
                              name="seed_generator_state")
        self.state.path = f"{self.name}/seed_generator_state"

    def next(self, ordered: bool = True) -> torch.Tensor:
        """The current state (a copy), then advance: the counter by one, or (``ordered=False``) both numbers
        scrambled."""
        current = torch.Tensor.clone(self.state).as_subclass(torch.Tensor)
        if ordered:
            self.state.assign_add(torch.tensor([0, 1], dtype=torch.int32))
        else:
            self.state.assign((current.to(torch.int64) + 1) * 5387 % 933199)
        return current

    def get_config(self) -> dict:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator name={self.name!r} seed={self._initial_seed!r} state={self.state.tolist()}>"


def _as_int32(value: int) -> int:
    """``value`` reinterpreted as a signed 32-bit number (Keras's seeds are 32-bit)."""
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


def _mix(seed: int, counter: int) -> int:
    """One 64-bit generator seed from a (seed, counter) pair (splitmix64's finaliser on their combination)."""
    z = ((seed & 0xFFFFFFFF) * 0x9E3779B97F4A7C15 + (counter & 0xFFFFFFFF) + 0x632BE59BD9B4E019) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & ((1 << 63) - 1)


def _generator(seed: Any, device: torch.device) -> torch.Generator | None:
    """The generator a random op draws from: None for the global one (``seed=None``, or the meta device)."""
    if seed is None or device.type == "meta":  # (the meta device draws nothing, so a SeedGenerator stays put)
        return None
    if isinstance(seed, SeedGenerator):
        first, second = (int(v) for v in seed.next().tolist())
    elif isinstance(seed, int) and not isinstance(seed, bool):
        first, second = seed, 0
    elif isinstance(seed, torch.Tensor) and seed.shape == (2,) and not seed.dtype.is_floating_point:
        first, second = (int(v) for v in seed.tolist())  # a state drawn from a SeedGenerator
    else:
        raise ValueError("Argument `seed` must be either an integer or an instance of `SeedGenerator`. "
                         f"Received: seed={seed!r} (of type {type(seed)})")
    generator = torch.Generator(device=device)
    generator.manual_seed(_mix(first, second))
    return generator


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        return (shape,)
    if isinstance(shape, torch.Size):
        return tuple(shape)
    return tuple(int(d) for d in shape)


def _float_dtype(dtype: Any, fn: str) -> torch.dtype:
    name = dtypes.standardize_dtype(dtype)
    if not dtypes.is_float(name):
        raise ValueError(f"`keras.random.{fn}` requires a floating point `dtype`. Received: dtype={dtype}")
    return dtypes.to_torch(name)


def _work_dtype(dtype: torch.dtype) -> torch.dtype:
    """Where low-precision floats are drawn: float32 (then rounded to their dtype)."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def _param(value: Any, dtype: torch.dtype, device: torch.device) -> Any:
    """A distribution parameter as torch takes it: Python numbers stay, tensors move to ``device``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return tensor(value, device=device).to(device=device, dtype=dtype)


# ----------------------------------------------------------------------------------------- distributions
def normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of a normal distribution with ``mean`` and ``stddev`` (``dtype``: a float type, default
    ``floatx()``)."""
    out_dtype = _float_dtype(dtype, "normal")
    device = default_device()
    work = _work_dtype(out_dtype)
    z = torch.randn(_shape(shape), generator=_generator(seed, device), dtype=work, device=device)
    return (z * _param(stddev, work, device) + _param(mean, work, device)).to(out_dtype)


def uniform(shape: Any, minval: Any = 0.0, maxval: Any = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of a uniform distribution on ``[minval, maxval)`` (``dtype``: a float type)."""
    out_dtype = _float_dtype(dtype, "uniform")
    device = default_device()
    work = _work_dtype(out_dtype)
    u = torch.rand(_shape(shape), generator=_generator(seed, device), dtype=work, device=device)
    low, high = _param(minval, work, device), _param(maxval, work, device)
    return (u * (high - low) + low).to(out_dtype)


def randint(shape: Any, minval: Any, maxval: Any, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Integers drawn uniformly from ``[minval, maxval)`` (``dtype``: an integer type)."""
    name = dtypes.standardize_dtype(dtype if dtype is not None else "int32")
    if not dtypes.is_int(name):
        raise ValueError(f"`keras.random.randint` requires an integer `dtype`. Received: dtype={dtype}")
    low, high = int(minval), int(maxval)
    if high <= low:
        raise ValueError(f"`keras.random.randint` needs minval < maxval. Received: minval={minval}, maxval={maxval}")
    device = default_device()
    return torch.randint(low, high, _shape(shape), generator=_generator(seed, device), dtype=dtypes.to_torch(name),
                         device=device)


def truncated_normal(shape: Any, mean: Any = 0.0, stddev: Any = 1.0, dtype: Any = None,
                     seed: Any = None) -> torch.Tensor:
    """Samples of a normal distribution cut at two standard deviations from the mean (exactly that
    distribution, by its inverse CDF: every value lies within ``mean +- 2 * stddev``)."""
    out_dtype = _float_dtype(dtype, "truncated_normal")
    device = default_device()
    work = _work_dtype(out_dtype)
    u = torch.rand(_shape(shape), generator=_generator(seed, device), dtype=work, device=device)
    edge = 0.5 * math.erfc(2.0 / math.sqrt(2.0))  # P(Z < -2)
    p = edge + u * (1.0 - 2.0 * edge)  # uniform over the central part of the CDF
    z = (math.sqrt(2.0) * torch.erfinv(2.0 * p - 1.0)).clamp(-2.0, 2.0)
    return (z * _param(stddev, work, device) + _param(mean, work, device)).to(out_dtype)


def gamma(shape: Any, alpha: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of a gamma distribution with concentration ``alpha`` (broadcast to ``shape``) and scale 1."""
    out_dtype = _float_dtype(dtype, "gamma")
    device = default_device()
    shape = _shape(shape)
    if device.type == "meta":
        return torch.empty(shape, dtype=out_dtype, device=device)
    work = _work_dtype(out_dtype)
    concentration = torch.broadcast_to(tensor(alpha, device=device).to(device=device, dtype=work), shape)
    return torch._standard_gamma(concentration.contiguous(), generator=_generator(seed, device)).to(out_dtype)


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of a beta distribution with concentrations ``alpha`` and ``beta`` (broadcast to ``shape``)."""
    out_dtype = _float_dtype(dtype, "beta")
    device = default_device()
    shape = _shape(shape)
    if device.type == "meta":
        return torch.empty(shape, dtype=out_dtype, device=device)
    work = _work_dtype(out_dtype)
    generator = _generator(seed, device)
    a = torch.broadcast_to(tensor(alpha, device=device).to(device=device, dtype=work), shape).contiguous()
    b = torch.broadcast_to(tensor(beta, device=device).to(device=device, dtype=work), shape).contiguous()
    x = torch._standard_gamma(a, generator=generator)
    y = torch._standard_gamma(b, generator=generator)
    total = x + y
    # Both gammas can underflow to 0 for tiny concentrations: then the mean a / (a + b) stands in.
    return torch.where(total > 0, x / torch.where(total > 0, total, torch.ones_like(total)), a / (a + b)).to(out_dtype)


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of a binomial distribution: successes in ``counts`` trials of probability ``probabilities``
    (both broadcast to ``shape``); a float ``dtype``, default ``floatx()``."""
    out_dtype = dtypes.to_torch(dtypes.standardize_dtype(dtype))
    device = default_device()
    shape = _shape(shape)
    if device.type == "meta":
        return torch.empty(shape, dtype=out_dtype, device=device)
    work = torch.float64 if out_dtype == torch.float64 else torch.float32
    n = torch.broadcast_to(tensor(counts, device=device).to(device=device, dtype=work), shape).contiguous()
    p = torch.broadcast_to(tensor(probabilities, device=device).to(device=device, dtype=work), shape).contiguous()
    return torch.binomial(n, p, generator=_generator(seed, device)).to(out_dtype)


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Class indices drawn (with replacement) from each row of ``logits`` (batch, classes), unnormalised
    log-probabilities: shape (batch, num_samples)."""
    logits = tensor(logits)
    if logits.ndim != 2:
        raise ValueError("`logits` should be a 2-D tensor with shape [batch_size, num_classes]. "
                         f"Received: logits shape={tuple(logits.shape)}")
    out_dtype = dtypes.to_torch(dtypes.standardize_dtype(dtype))
    num_samples = int(num_samples)
    if logits.device.type == "meta":
        return torch.empty((logits.shape[0], num_samples), dtype=out_dtype, device=logits.device)
    probs = torch.softmax(logits.to(_work_dtype(logits.dtype) if logits.is_floating_point() else torch.float32), -1)
    drawn = torch.multinomial(probs, num_samples, replacement=True, generator=_generator(seed, logits.device))
    return drawn.to(out_dtype)


# ----------------------------------------------------------------------------------------- on inputs
def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> torch.Tensor:
    """Zero each entry with probability ``rate`` and scale the rest by ``1 / (1 - rate)``; ``noise_shape``
    (None entries: the input's size) shares one draw along its axes of size 1."""
    x = tensor(inputs)
    if not (x.dtype.is_floating_point or x.dtype.is_complex):
        x = x.to(dtypes.to_torch(None))
    rate = float(rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"`rate` must be in [0, 1]. Received: rate={rate}")
    if rate == 1.0:
        return torch.zeros_like(x)
    if rate == 0.0:
        return x
    if seed is None and noise_shape is None:
        return F.dropout(x, p=rate, training=True)
    keep = 1.0 - rate
    if noise_shape is None:
        shape = tuple(x.shape)
    else:
        dims = list(noise_shape)
        if len(dims) != x.ndim:
            raise ValueError(f"`noise_shape` {tuple(dims)} must have the rank of the inputs {tuple(x.shape)}.")
        shape = tuple(x.shape[i] if d is None else int(d) for i, d in enumerate(dims))
    mask = torch.rand(shape, generator=_generator(seed, x.device), device=x.device) < keep
    return torch.where(mask, x / keep, torch.zeros_like(x))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """``x`` with its slices along ``axis`` in a random order (for ``axis > 0``, an independent order for each
    index of the axes before it, as in Keras's torch backend)."""
    x = tensor(x)
    if x.ndim == 0:
        raise ValueError("`shuffle` needs an input of rank >= 1.")
    axis = int(axis)
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"`axis` {axis} is out of range for an input of rank {x.ndim}.")
    axis %= x.ndim
    keys = torch.rand(x.shape[:axis + 1], generator=_generator(seed, x.device), device=x.device)
    order = keys.argsort(dim=axis)
    index = order.reshape(order.shape + (1,) * (x.ndim - axis - 1)).expand(x.shape)
    return x.gather(axis, index)


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
