"""Activation functions with Keras 3 names and arguments, computed with PyTorch.

Every function takes a tensor and returns a tensor of the same shape (``glu`` halves one axis).
``get`` turns a name, ``None`` or a callable into a function; ``serialize`` gives the name back.

>>> import torch
>>> from lamina import activations
>>> activations.get("relu")(torch.tensor([-1.0, 2.0]))
tensor([0., 2.])
>>> activations.serialize(activations.get("swish"))
'silu'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core.registry import Registry
from lamina.core.serialization import get_registered_name

__all__ = [
    "ACTIVATIONS", "celu", "deserialize", "elu", "exponential", "gelu", "get", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "leaky_relu", "linear", "log_sigmoid", "log_softmax", "mish",
    "relu", "relu6", "selu", "serialize", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "swish", "tanh", "tanh_shrink",
    "threshold",
]

ACTIVATIONS = Registry("activation")

# Function -> its canonical (first registered) name, for `serialize`.
_NAMES: dict[Callable[..., Any], str] = {}


def _register(*names: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        ACTIVATIONS.register(names[0], fn, names[1:])
        _NAMES.setdefault(fn, names[0])
        return fn

    return decorate


def _axes(axis: int | Sequence[int]) -> tuple[int, ...]:
    return (axis,) if isinstance(axis, int) else tuple(axis)


@_register("relu")
def relu(
    x: torch.Tensor, negative_slope: float = 0.0, max_value: float | None = None, threshold: float = 0.0
) -> torch.Tensor:
    """Rectified linear unit, with Keras's optional leak, cap and threshold.

    Returns ``max_value`` for ``x >= max_value``, ``x`` for ``threshold < x < max_value`` and
    ``negative_slope * (x - threshold)`` otherwise.

    >>> relu(torch.tensor([-2.0, 0.5, 9.0]), negative_slope=0.1, max_value=6.0)
    tensor([-0.2000,  0.5000,  6.0000])
    """
    if threshold == 0:
        if max_value is None:
            return torch.relu(x) if negative_slope == 0 else F.leaky_relu(x, negative_slope)
        if max_value == 6 and negative_slope == 0:
            return F.relu6(x)
    positive = torch.where(x > threshold, x, torch.zeros((), dtype=x.dtype, device=x.device))
    if max_value is not None:
        positive = positive.clamp(0.0, max_value)
    if negative_slope == 0:
        return positive
    return positive + negative_slope * (x - threshold).clamp(max=0.0)


@_register("relu6")
def relu6(x: torch.Tensor) -> torch.Tensor:
    """``min(max(x, 0), 6)``.

    >>> relu6(torch.tensor([-1.0, 3.0, 8.0]))
    tensor([0., 3., 6.])
    """
    return F.relu6(x)


@_register("sigmoid")
def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``.

    >>> sigmoid(torch.tensor([0.0]))
    tensor([0.5000])
    """
    return torch.sigmoid(x)


@_register("hard_sigmoid")
def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear sigmoid ``relu6(x + 3) / 6`` (the Keras 3 formula).

    >>> hard_sigmoid(torch.tensor([-4.0, 0.0, 4.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return F.hardsigmoid(x)


@_register("hard_silu", "hard_swish")
def hard_silu(x: torch.Tensor) -> torch.Tensor:
    """``x * hard_sigmoid(x)``.

    >>> hard_silu(torch.tensor([-4.0, 0.0, 4.0]))
    tensor([-0., 0., 4.])
    """
    return F.hardswish(x)


hard_swish = hard_silu


@_register("tanh")
def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent.

    >>> tanh(torch.tensor([0.0]))
    tensor([0.])
    """
    return torch.tanh(x)


@_register("softmax")
def softmax(x: torch.Tensor, axis: int | Sequence[int] = -1) -> torch.Tensor:
    """Softmax along ``axis`` (an int, or a tuple of axes normalised together).

    >>> softmax(torch.zeros(2, 4))[0]
    tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    if isinstance(axis, int):
        return F.softmax(x, dim=axis)
    return torch.exp(x - torch.logsumexp(x, dim=_axes(axis), keepdim=True))


@_register("log_softmax")
def log_softmax(x: torch.Tensor, axis: int | Sequence[int] = -1) -> torch.Tensor:
    """Logarithm of the softmax along ``axis``.

    >>> log_softmax(torch.zeros(1, 2))
    tensor([[-0.6931, -0.6931]])
    """
    if isinstance(axis, int):
        return F.log_softmax(x, dim=axis)
    return x - torch.logsumexp(x, dim=_axes(axis), keepdim=True)


@_register("gelu")
def gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    """Gaussian error linear unit; ``approximate=True`` uses the tanh formula.

    >>> gelu(torch.tensor([0.0]))
    tensor([0.])
    """
    return F.gelu(x, approximate="tanh" if approximate else "none")


@_register("silu", "swish")
def silu(x: torch.Tensor) -> torch.Tensor:
    """Sigmoid linear unit ``x * sigmoid(x)`` (also called swish).

    >>> silu(torch.tensor([0.0]))
    tensor([0.])
    """
    return F.silu(x)


swish = silu


@_register("elu")
def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    >>> elu(torch.tensor([1.0]))
    tensor([1.])
    """
    return F.elu(x, alpha=alpha)


@_register("selu")
def selu(x: torch.Tensor) -> torch.Tensor:
    """Scaled ELU with the self-normalising constants.

    >>> selu(torch.tensor([0.0]))
    tensor([0.])
    """
    return F.selu(x)


@_register("leaky_relu")
def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    """``x`` for ``x >= 0``, ``negative_slope * x`` otherwise.

    >>> leaky_relu(torch.tensor([-1.0, 1.0]))
    tensor([-0.2000,  1.0000])
    """
    return F.leaky_relu(x, negative_slope=negative_slope)


@_register("softplus")
def softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))``.

    >>> softplus(torch.tensor([0.0]))
    tensor([0.6931])
    """
    return F.softplus(x)


@_register("softsign")
def softsign(x: torch.Tensor) -> torch.Tensor:
    """``x / (1 + |x|)``.

    >>> softsign(torch.tensor([1.0]))
    tensor([0.5000])
    """
    return F.softsign(x)


@_register("exponential")
def exponential(x: torch.Tensor) -> torch.Tensor:
    """``exp(x)``.

    >>> exponential(torch.tensor([0.0]))
    tensor([1.])
    """
    return torch.exp(x)


@_register("linear")
def linear(x: torch.Tensor) -> torch.Tensor:
    """The identity: returns ``x`` unchanged.

    >>> linear(torch.tensor([3.0]))
    tensor([3.])
    """
    return x


@_register("mish")
def mish(x: torch.Tensor) -> torch.Tensor:
    """``x * tanh(softplus(x))``.

    >>> mish(torch.tensor([0.0]))
    tensor([0.])
    """
    return F.mish(x)


@_register("celu")
def celu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Continuously differentiable ELU: ``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    >>> celu(torch.tensor([1.0]))
    tensor([1.])
    """
    return F.celu(x, alpha=alpha)


@_register("glu")
def glu(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Gated linear unit: splits ``axis`` in halves ``a, b`` and returns ``a * sigmoid(b)``.

    >>> glu(torch.tensor([[2.0, 0.0]]))
    tensor([[1.]])
    """
    return F.glu(x, dim=axis)


@_register("log_sigmoid")
def log_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``log(sigmoid(x))``, computed stably.

    >>> log_sigmoid(torch.tensor([0.0]))
    tensor([-0.6931])
    """
    return F.logsigmoid(x)


@_register("hard_tanh")
def hard_tanh(x: torch.Tensor) -> torch.Tensor:
    """``x`` clipped to ``[-1, 1]``.

    >>> hard_tanh(torch.tensor([-3.0, 0.5]))
    tensor([-1.0000,  0.5000])
    """
    return F.hardtanh(x)


@_register("tanh_shrink")
def tanh_shrink(x: torch.Tensor) -> torch.Tensor:
    """``x - tanh(x)``.

    >>> tanh_shrink(torch.tensor([0.0]))
    tensor([0.])
    """
    return F.tanhshrink(x)


@_register("soft_shrink")
def soft_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Moves ``x`` towards zero by ``threshold``; values within ``threshold`` of zero become 0.

    >>> soft_shrink(torch.tensor([-2.0, 0.2, 1.0]))
    tensor([-1.5000,  0.0000,  0.5000])
    """
    return F.softshrink(x, lambd=threshold)


@_register("hard_shrink")
def hard_shrink(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """``x`` where ``|x| > threshold``, else 0.

    >>> hard_shrink(torch.tensor([-2.0, 0.2, 1.0]))
    tensor([-2.,  0.,  1.])
    """
    return F.hardshrink(x, lambd=threshold)


@_register("threshold")
def threshold(x: torch.Tensor, threshold: float, default_value: float) -> torch.Tensor:
    """``x`` where ``x > threshold``, else ``default_value``.

    >>> threshold(torch.tensor([0.5, 2.0]), 1.0, -1.0)
    tensor([-1.,  2.])
    """
    return F.threshold(x, threshold, default_value)


@_register("squareplus")
def squareplus(x: torch.Tensor, b: float = 4) -> torch.Tensor:
    """Smooth ReLU ``(x + sqrt(x ** 2 + b)) / 2``.

    >>> squareplus(torch.tensor([0.0]))
    tensor([1.])
    """
    return (x + torch.sqrt(x * x + b)) / 2


@_register("sparse_plus")
def sparse_plus(x: torch.Tensor) -> torch.Tensor:
    """0 for ``x <= -1``, ``(x + 1) ** 2 / 4`` for ``-1 < x < 1``, ``x`` for ``x >= 1``.

    >>> sparse_plus(torch.tensor([-2.0, 0.0, 2.0]))
    tensor([0.0000, 0.2500, 2.0000])
    """
    return torch.where(x >= 1, x, (x + 1).clamp(min=0.0).square() / 4)


@_register("sparse_sigmoid")
def sparse_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear sigmoid: ``(x + 1) / 2`` clipped to ``[0, 1]``.

    >>> sparse_sigmoid(torch.tensor([-2.0, 0.0, 2.0]))
    tensor([0.0000, 0.5000, 1.0000])
    """
    return ((x + 1) / 2).clamp(0.0, 1.0)


@_register("sparsemax")
def sparsemax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    """Euclidean projection of ``x`` onto the probability simplex along ``axis`` (sparse softmax).

    >>> sparsemax(torch.tensor([2.0, 0.0, -1.0]))
    tensor([1., 0., 0.])
    """
    z = x.movedim(axis, -1)
    z_sorted = torch.sort(z, dim=-1, descending=True).values
    k = torch.arange(1, z.shape[-1] + 1, dtype=z.dtype, device=z.device)
    cumsum = z_sorted.cumsum(dim=-1)
    in_support = 1 + k * z_sorted > cumsum
    support = in_support.sum(dim=-1, keepdim=True)
    tau = (cumsum.gather(-1, support - 1) - 1) / support.to(z.dtype)
    return (z - tau).clamp(min=0.0).movedim(-1, axis)


def get(identifier: str | Callable[..., Any] | None) -> Callable[..., Any]:
    """The activation function for a name, ``None`` (linear) or a callable (returned as is).

    Names are looked up case-insensitively; the same name always gives the same function object.

    >>> get("softmax") is softmax
    True
    >>> get(None) is linear
    True
    """
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        return ACTIVATIONS.get(identifier)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"Could not interpret activation identifier {identifier!r}: expected a name, None or a callable."
    )


def serialize(fn: Callable[..., Any] | None) -> str:
    """The registered name of a built-in activation, the ``"package>name"`` of one registered with
    ``register_keras_serializable``, or the ``__name__`` of any other callable.

    >>> serialize(swish)
    'silu'
    """
    if fn is None:
        return "linear"
    try:
        return _NAMES[fn]
    except (KeyError, TypeError):  # TypeError: an unhashable callable object
        pass
    return get_registered_name(fn)


def activate_fresh(activation: Any, x: torch.Tensor) -> torch.Tensor:
    """``activation(x)`` for a tensor its caller has just computed and holds alone (a layer's pre-activation):
    the default ReLU rectifies it in place, as ``nn.ReLU(inplace=True)``, one activation-sized tensor less.

    >>> activate_fresh(relu, torch.tensor([-1.0, 2.0]))
    tensor([0., 2.])
    """
    if activation is relu:
        return x.relu_()
    return activation(x)


def deserialize(config: str | dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Callable[..., Any]:
    """The activation function for a name (``custom_objects`` first, then lamina's) or for Keras's
    ``{"class_name": "function", "config": name}`` dict of a bare function.

    >>> deserialize("relu") is relu
    True
    """
    if isinstance(config, dict) and config.get("class_name") == "function":
        config = config.get("config")
    if not isinstance(config, str):
        raise ValueError(f"deserialize expects an activation name; received {config!r}.")
    if custom_objects and config in custom_objects:
        return custom_objects[config]
    return get(config)


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
