"""Weight initializers with Keras 3 names, arguments, configs and fan conventions.

An initializer is called as ``init(shape, dtype=None)`` and returns a new CPU tensor (``floatx`` by
default). Kernel shapes follow Keras: ``(..., fan_in_dim, fan_out_dim)``.

A seeded initializer (``seed=<int>``) draws from a private generator seeded afresh on each call, so
it gives the same values every time, as in Keras. Unseeded ones draw from PyTorch's global
generator, so ``torch.manual_seed`` makes them repeatable.

>>> from lamina import initializers
>>> w = initializers.get("glorot_uniform")((3, 4))
>>> w.shape, w.dtype
(torch.Size([3, 4]), torch.float32)
>>> initializers.serialize(initializers.HeNormal(seed=1))
{'class_name': 'HeNormal', 'config': {'seed': 1}}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from lamina.core.config import standardize_dtype
from lamina.core.registry import Registry, deserialize_object

__all__ = [
    "INITIALIZERS", "Constant", "GlorotNormal", "GlorotUniform", "HeNormal", "HeUniform", "Identity",
    "Initializer", "LecunNormal", "LecunUniform", "Ones", "Orthogonal", "RandomNormal", "RandomUniform",
    "TruncatedNormal", "VarianceScaling", "Zeros", "compute_fans", "get", "serialize",
    "STFT", "deserialize",
    # Keras's other public names for the same classes.
    "IdentityInitializer", "OrthogonalInitializer", "STFTInitializer", "constant", "glorot_normal",
    "glorot_uniform", "he_normal", "he_uniform", "identity", "lecun_normal", "lecun_uniform", "ones", "orthogonal",
    "random_normal", "random_uniform", "stft", "truncated_normal", "variance_scaling", "zeros",
]

INITIALIZERS = Registry("initializer")

Shape = int | Sequence[int]

# Standard deviation of a unit normal truncated to [-2, 2]; dividing by it restores the wanted stddev.
_TRUNCATED_STDDEV = 0.87962566103423978


def _shape(shape: Shape) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def compute_fans(shape: Shape) -> tuple[int, int]:
    """Keras's ``(fan_in, fan_out)`` for a kernel shape ``(..., fan_in_dim, fan_out_dim)``.

    Leading dimensions form the receptive field and multiply both fans; a 1-D shape has
    ``fan_in = fan_out = shape[0]`` and a scalar shape has both equal to 1.

    >>> compute_fans((3, 3, 16, 32))
    (144, 288)
    """
    shape = _shape(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config()``.

    >>> Zeros()((2,))
    tensor([0., 0.])
    """

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        raise NotImplementedError("abstract: initializer subclasses implement __call__")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as a JSON-friendly dict."""
        return {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        """A new instance built from ``get_config()``'s output."""
        return cls(**config)

    def clone(self) -> Initializer:
        """A new instance with the same config."""
        return self.from_config(self.get_config())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class RandomInitializer(Initializer):
    """Base class of initializers that draw random numbers; holds the optional integer ``seed``."""

    def __init__(self, seed: int | None = None):
        if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
            raise ValueError(f"`seed` must be an int or None; received {seed!r}.")
        self.seed = None if seed is None else int(seed)

    def _draw(self, kind: str, shape: Shape, dtype: Any, a: float, b: float) -> torch.Tensor:
        """Samples of ``kind``: 'normal' (mean a, stddev b), 'truncated' (the same, cut at 2 stddev)
        or 'uniform' (on [a, b)), drawn in float32/64 and cast to ``dtype``."""
        wanted = standardize_dtype(dtype)
        if not wanted.is_floating_point:
            raise ValueError(f"{type(self).__name__} expects a floating dtype; received {dtype!r}.")
        work = wanted if wanted in (torch.float32, torch.float64) else torch.float32
        gen = None if self.seed is None else torch.Generator(device="cpu").manual_seed(self.seed)
        out = torch.empty(_shape(shape), dtype=work)
        if out.numel() == 0:
            return out.to(wanted)
        if kind == "normal":
            return out.normal_(a, b, generator=gen).to(wanted)
        if kind == "uniform":
            return out.uniform_(a, b, generator=gen).to(wanted)
        # Truncated normal by inverting the normal CDF on [Phi(-2), Phi(2)].
        edge = 0.5 * math.erfc(math.sqrt(2.0))
        out.uniform_(edge, 1.0 - edge, generator=gen)
        out = torch.special.erfinv(out.mul_(2.0).sub_(1.0)).mul_(math.sqrt(2.0)).clamp_(-2.0, 2.0)
        return out.mul_(b).add_(a).to(wanted)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


@INITIALIZERS("zeros", "zero", "Zeros")
class Zeros(Initializer):
    """All zeros.

    >>> Zeros()((2, 2)).sum()
    tensor(0.)
    """

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        return torch.zeros(_shape(shape), dtype=standardize_dtype(dtype))


@INITIALIZERS("ones", "one", "Ones")
class Ones(Initializer):
    """All ones.

    >>> Ones()((3,))
    tensor([1., 1., 1.])
    """

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        return torch.ones(_shape(shape), dtype=standardize_dtype(dtype))


@INITIALIZERS("constant", "Constant")
class Constant(Initializer):
    """Every entry equal to ``value`` (a scalar, or anything that broadcasts to the shape).

    >>> Constant(2.5)((2,))
    tensor([2.5000, 2.5000])
    """

    def __init__(self, value: Any = 0.0):
        self.value = value

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        dtype = standardize_dtype(dtype)
        value = torch.as_tensor(self.value, dtype=dtype, device="cpu")
        return value.expand(_shape(shape)).clone()

    def get_config(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, (torch.Tensor, np.ndarray, np.generic)):
            value = value.tolist()
        return {"value": value}


@INITIALIZERS("random_normal", "normal", "RandomNormal")
class RandomNormal(RandomInitializer):
    """Normal distribution with the given ``mean`` and ``stddev``.

    >>> RandomNormal(stddev=1.0, seed=0)((1000,)).std().round(decimals=1)
    tensor(1.)
    """

    _kind = "normal"

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        return self._draw(self._kind, shape, dtype, self.mean, self.stddev)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


@INITIALIZERS("truncated_normal", "TruncatedNormal")
class TruncatedNormal(RandomNormal):
    """Normal distribution restricted to within two ``stddev`` of ``mean``.

    >>> bool(TruncatedNormal(stddev=1.0, seed=0)((1000,)).abs().max() <= 2.0)
    True
    """

    _kind = "truncated"


@INITIALIZERS("random_uniform", "uniform", "RandomUniform")
class RandomUniform(RandomInitializer):
    """Uniform distribution on ``[minval, maxval)``.

    >>> bool(RandomUniform(0.0, 1.0, seed=0)((100,)).max() < 1.0)
    True
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        return self._draw("uniform", shape, dtype, self.minval, self.maxval)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


@INITIALIZERS("variance_scaling", "VarianceScaling")
class VarianceScaling(RandomInitializer):
    """Samples scaled to the kernel's fans, as in Keras.

    With ``n`` the fan chosen by ``mode`` (``fan_in``, ``fan_out`` or their mean ``fan_avg``), the
    variance is ``scale / n``: a normal truncated at two stddevs (``'truncated_normal'``, the stddev
    corrected for the truncation), a plain normal (``'untruncated_normal'``) or a uniform on
    ``[-limit, limit]`` with ``limit = sqrt(3 * scale / n)`` (``'uniform'``).

    >>> VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)((64, 8)).shape
    torch.Size([64, 8])
    """

    def __init__(
        self,
        scale: float = 1.0,
        mode: str = "fan_in",
        distribution: str = "truncated_normal",
        seed: int | None = None,
    ):
        super().__init__(seed)
        if scale <= 0.0:
            raise ValueError(f"`scale` must be positive; received {scale!r}.")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"`mode` must be 'fan_in', 'fan_out' or 'fan_avg'; received {mode!r}.")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                "`distribution` must be 'truncated_normal', 'untruncated_normal' or 'uniform'; "
                f"received {distribution!r}."
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        variance = self.scale / max(1.0, fan)
        if self.distribution == "truncated_normal":
            return self._draw("truncated", shape, dtype, 0.0, math.sqrt(variance) / _TRUNCATED_STDDEV)
        if self.distribution == "untruncated_normal":
            return self._draw("normal", shape, dtype, 0.0, math.sqrt(variance))
        limit = math.sqrt(3.0 * variance)
        return self._draw("uniform", shape, dtype, -limit, limit)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        config = dict(config)
        for key in ("input_axes", "output_axes"):  # newer Keras configs; None is the only meaning we know
            if config.pop(key, None) is not None:
                raise ValueError(f"`{key}` is not supported by lamina's {cls.__name__}.")
        return cls(**config)


class _FixedVarianceScaling(VarianceScaling):
    """A VarianceScaling preset whose only argument is the seed."""

    _preset: tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: int | None = None):
        scale, mode, distribution = self._preset
        super().__init__(scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}


@INITIALIZERS("glorot_uniform", "GlorotUniform")
class GlorotUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / (fan_in + fan_out))`` (Xavier uniform).

    >>> GlorotUniform(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (1.0, "fan_avg", "uniform")


@INITIALIZERS("glorot_normal", "GlorotNormal")
class GlorotNormal(_FixedVarianceScaling):
    """Truncated normal with ``stddev = sqrt(2 / (fan_in + fan_out))`` (Xavier normal).

    >>> GlorotNormal(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (1.0, "fan_avg", "truncated_normal")


@INITIALIZERS("he_uniform", "HeUniform")
class HeUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(6 / fan_in)`` (Kaiming uniform).

    >>> HeUniform(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (2.0, "fan_in", "uniform")


@INITIALIZERS("he_normal", "HeNormal")
class HeNormal(_FixedVarianceScaling):
    """Truncated normal with ``stddev = sqrt(2 / fan_in)`` (Kaiming normal).

    >>> HeNormal(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (2.0, "fan_in", "truncated_normal")


@INITIALIZERS("lecun_uniform", "LecunUniform")
class LecunUniform(_FixedVarianceScaling):
    """Uniform on ``[-limit, limit]`` with ``limit = sqrt(3 / fan_in)``.

    >>> LecunUniform(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (1.0, "fan_in", "uniform")


@INITIALIZERS("lecun_normal", "LecunNormal")
class LecunNormal(_FixedVarianceScaling):
    """Truncated normal with ``stddev = sqrt(1 / fan_in)``.

    >>> LecunNormal(seed=0)((3, 3, 16, 32)).shape
    torch.Size([3, 3, 16, 32])
    """

    _preset = (1.0, "fan_in", "truncated_normal")


@INITIALIZERS("orthogonal", "Orthogonal", "OrthogonalInitializer")
class Orthogonal(RandomInitializer):
    """A (semi-)orthogonal matrix times ``gain``, reshaped to ``shape`` (at least 2-D).

    The shape is viewed as a ``prod(shape[:-1]) x shape[-1]`` matrix: its columns are orthonormal
    when it is tall and its rows when it is wide.

    >>> w = Orthogonal(seed=0)((5, 3))
    >>> torch.allclose(w.T @ w, torch.eye(3), atol=1e-5)
    True
    """

    def __init__(self, gain: float = 1.0, seed: int | None = None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        shape = _shape(shape)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal needs a shape of at least 2 dimensions; received {shape}.")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        wanted = standardize_dtype(dtype)
        if not wanted.is_floating_point:
            raise ValueError(f"Orthogonal expects a floating dtype; received {dtype!r}.")
        work = torch.float64 if wanted == torch.float64 else torch.float32
        q, r = torch.linalg.qr(self._draw("normal", (max(rows, cols), min(rows, cols)), work, 0.0, 1.0))
        # Fix the signs so that the result is uniformly distributed over orthogonal matrices.
        q = q * torch.where(torch.diagonal(r) < 0, -1.0, 1.0).to(work)
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).contiguous().to(wanted)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


@INITIALIZERS("identity", "Identity", "IdentityInitializer")
class Identity(Initializer):
    """``gain`` times the identity matrix; the shape must be 2-D (rectangular is fine).

    >>> Identity(gain=2.0)((2, 3))
    tensor([[2., 0., 0.],
            [0., 2., 0.]])
    """

    def __init__(self, gain: float = 1.0):
        self.gain = gain

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        shape = _shape(shape)
        if len(shape) != 2:
            raise ValueError(f"Identity needs a 2-D shape; received {shape}.")
        return (self.gain * torch.eye(*shape, dtype=torch.float64)).to(standardize_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_TORCH_WINDOWS = {"hann": torch.hann_window, "hanning": torch.hann_window, "hamming": torch.hamming_window,
                  "blackman": torch.blackman_window, "bartlett": torch.bartlett_window}


@INITIALIZERS("stft", "STFT", "STFTInitializer")
class STFT(Initializer):
    """Conv1D kernels that compute one side (``"real"`` or ``"imag"``) of a short-time Fourier transform.

    For a shape ``(frame_length, channels, bins)`` the kernel is ``(frame_length, 1, bins)`` with
    ``kernel[n, 0, k] = window[n] * cos(2 pi k n / F)`` (``-sin`` for ``"imag"``), ``F = 2 * (bins - 1)``.
    ``window`` is None, a name (``"hann"``, ``"hamming"``, ``"blackman"``, ``"bartlett"``: symmetric, or periodic
    with ``periodic=True``) or ``frame_length`` values; ``scaling`` divides it by its L2 norm (``"density"``) or
    its sum (``"spectrum"``).

    >>> STFT(window=None)((4, 1, 3))[:, 0, 2]
    tensor([ 1., -1.,  1., -1.])
    """

    def __init__(self, side: str = "real", window: Any = "hann", scaling: str | None = "density",
                 periodic: bool = False):
        if side not in ("real", "imag"):
            raise ValueError(f"STFT: side must be 'real' or 'imag'; received {side!r}.")
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"STFT: scaling must be None, 'density' or 'spectrum'; received {scaling!r}.")
        if isinstance(window, str) and window.lower() not in _TORCH_WINDOWS:
            raise ValueError(f"STFT: unknown window {window!r}; known: {sorted(_TORCH_WINDOWS)}, or the values.")
        if isinstance(window, (np.ndarray, torch.Tensor)):
            window = window.tolist()
        self.side, self.window, self.scaling, self.periodic = side, window, scaling, periodic

    def _window(self, frame_length: int) -> torch.Tensor | None:
        if self.window is None:
            return None
        if isinstance(self.window, str):
            values = _TORCH_WINDOWS[self.window.lower()](frame_length, periodic=self.periodic, dtype=torch.float64)
        else:
            values = torch.as_tensor(self.window, dtype=torch.float64).reshape(-1)
            if values.numel() != frame_length:
                raise ValueError(f"STFT: the window needs {frame_length} values (frame_length); "
                                 f"received {values.numel()}.")
        if self.scaling == "density":
            values = values / values.square().sum().sqrt()
        elif self.scaling == "spectrum":
            values = values / values.sum()
        return values

    def __call__(self, shape: Shape, dtype: Any = None) -> torch.Tensor:
        shape = _shape(shape)
        if len(shape) != 3:
            raise ValueError(f"STFT needs a shape (frame_length, channels, bins); received {shape}.")
        frame_length, bins = shape[0], shape[2]
        n = torch.arange(frame_length, dtype=torch.float64).unsqueeze(1)
        k = torch.arange(bins, dtype=torch.float64).unsqueeze(0)
        angle = 2.0 * math.pi * n * k / (2 * (bins - 1))
        kernel = torch.cos(angle) if self.side == "real" else -torch.sin(angle)
        window = self._window(frame_length)
        if window is not None:
            kernel = kernel * window.unsqueeze(1)
        return kernel.unsqueeze(1).to(standardize_dtype(dtype))

    def get_config(self) -> dict[str, Any]:
        return {"side": self.side, "window": self.window, "periodic": self.periodic, "scaling": self.scaling}


# Keras's lowercase (and *Initializer) names are the classes themselves, not factory functions.
zeros = Zeros
ones = Ones
constant = Constant
random_normal = RandomNormal
truncated_normal = TruncatedNormal
random_uniform = RandomUniform
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
orthogonal = OrthogonalInitializer = Orthogonal
identity = IdentityInitializer = Identity
stft = STFTInitializer = STFT


def get(
    identifier: str | dict[str, Any] | Initializer | type | Callable[..., Any] | None,
) -> Callable[..., torch.Tensor] | None:
    """An initializer from a name, a ``{"class_name", "config"}`` dict, a class, an instance or a callable.

    ``None`` gives ``None``; a name gives a new instance of the registered class; instances and plain
    callables are returned as they are.

    >>> get("he_normal")
    HeNormal(seed=None)
    >>> get({"class_name": "Constant", "config": {"value": 3.0}})((1,))
    tensor([3.])
    """
    if identifier is None:
        return None
    if isinstance(identifier, str):
        return INITIALIZERS.get(identifier)()
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"An initializer dict needs a 'class_name' key; received {identifier!r}.")
        cls = INITIALIZERS.get(identifier["class_name"])
        return cls.from_config(identifier.get("config") or {})
    if isinstance(identifier, type):
        if issubclass(identifier, Initializer):
            return identifier()
    elif callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret initializer identifier {identifier!r}: expected a name, a dict, "
        "an initializer or a callable."
    )


def serialize(initializer: Initializer | None) -> dict[str, Any] | None:
    """The ``{"class_name": ..., "config": ...}`` dict of an initializer (``None`` for ``None``).

    >>> serialize(Constant(1.0))
    {'class_name': 'Constant', 'config': {'value': 1.0}}
    """
    if initializer is None:
        return None
    if not isinstance(initializer, Initializer):
        raise TypeError(
            f"Only lamina initializers can be serialized; received {initializer!r}. "
            "Subclass lamina.initializers.Initializer and implement get_config()."
        )
    return {"class_name": type(initializer).__name__, "config": initializer.get_config()}


def deserialize(config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None) -> Initializer:
    """An initializer from ``serialize``'s dict (extra keys such as Keras's ``module`` are ignored) or a name;
    classes are looked up in ``custom_objects`` first, then in lamina's registry.

    >>> deserialize({"class_name": "Constant", "config": {"value": 2.0}})
    Constant(value=2.0)
    """
    return deserialize_object(config, custom_objects, get)


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
