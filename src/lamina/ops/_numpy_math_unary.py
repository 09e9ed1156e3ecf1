"""Element-wise functions of one tensor (``keras.ops.sin``, ``keras.ops.abs``, ``keras.ops.isnan``, ...).

Float-only functions compute integers and bools in ``floatx()`` and keep a float input's dtype, as Keras does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lamina.ops._numpy_math_util import floatx, is_float, is_int, result
from lamina.ops.dispatch import op, tensor, to_float

__all__ = [
    "abs", "absolute", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "bitwise_invert",
    "bitwise_not", "cbrt", "ceil", "cos", "cosh", "deg2rad", "exp", "exp2", "expm1", "fabs", "floor", "i0",
    "isfinite", "isinf", "isnan", "isneginf", "isposinf", "isreal", "log", "log10", "log1p", "log2",
    "logical_not", "nan_to_num", "negative", "rad2deg", "reciprocal", "round", "sign", "signbit", "sin", "sinc",
    "sinh", "sqrt", "square", "tan", "tanh", "trunc",
]


def _float_op(op_name: str, fn: Callable[[torch.Tensor], torch.Tensor], doc: str) -> Callable:
    """An op computing ``fn`` in the input's float dtype (``floatx()`` for integers and bools)."""

    def unary(x: Any) -> torch.Tensor:
        return fn(to_float(x))

    unary.__name__ = unary.__qualname__ = op_name
    unary.__doc__ = doc
    return op(unary)


def _test_op(op_name: str, fn: Callable[[torch.Tensor], torch.Tensor], doc: str) -> Callable:
    """An op returning a bool tensor of ``fn`` on the input as it is."""

    def predicate(x: Any) -> torch.Tensor:
        return fn(tensor(x))

    predicate.__name__ = predicate.__qualname__ = op_name
    predicate.__doc__ = doc
    return op(predicate)


arccos = _float_op("arccos", torch.arccos, "Inverse cosine, element-wise.")
arccosh = _float_op("arccosh", torch.arccosh, "Inverse hyperbolic cosine, element-wise.")
arcsin = _float_op("arcsin", torch.arcsin, "Inverse sine, element-wise.")
arcsinh = _float_op("arcsinh", torch.arcsinh, "Inverse hyperbolic sine, element-wise.")
arctan = _float_op("arctan", torch.arctan, "Inverse tangent, element-wise.")
arctanh = _float_op("arctanh", torch.arctanh, "Inverse hyperbolic tangent, element-wise.")
cos = _float_op("cos", torch.cos, "Cosine, element-wise.")
cosh = _float_op("cosh", torch.cosh, "Hyperbolic cosine, element-wise.")
exp = _float_op("exp", torch.exp, "The exponential ``e**x``, element-wise.")
exp2 = _float_op("exp2", torch.exp2, "``2**x``, element-wise.")
expm1 = _float_op("expm1", torch.expm1, "``exp(x) - 1``, element-wise (accurate near zero).")
fabs = _float_op("fabs", torch.abs, "Absolute value as a float tensor, element-wise.")
log = _float_op("log", torch.log, "Natural logarithm, element-wise.")
log10 = _float_op("log10", torch.log10, "Base-10 logarithm, element-wise.")
log1p = _float_op("log1p", torch.log1p, "``log(1 + x)``, element-wise (accurate near zero).")
log2 = _float_op("log2", torch.log2, "Base-2 logarithm, element-wise.")
reciprocal = _float_op("reciprocal", torch.reciprocal, "``1 / x``, element-wise.")
sin = _float_op("sin", torch.sin, "Sine, element-wise.")
sinc = _float_op("sinc", torch.sinc, "Normalized sinc ``sin(pi x) / (pi x)``, element-wise.")
sinh = _float_op("sinh", torch.sinh, "Hyperbolic sine, element-wise.")
sqrt = _float_op("sqrt", torch.sqrt, "Non-negative square root, element-wise.")
tan = _float_op("tan", torch.tan, "Tangent, element-wise.")
tanh = _float_op("tanh", torch.tanh, "Hyperbolic tangent, element-wise.")

isfinite = _test_op("isfinite", torch.isfinite, "Whether each element is finite (not inf, not NaN).")
isinf = _test_op("isinf", torch.isinf, "Whether each element is positive or negative infinity.")
isnan = _test_op("isnan", torch.isnan, "Whether each element is NaN.")
isneginf = _test_op("isneginf", torch.isneginf, "Whether each element is negative infinity.")
isposinf = _test_op("isposinf", torch.isposinf, "Whether each element is positive infinity.")
isreal = _test_op("isreal", torch.isreal, "Whether each element is real (imaginary part zero).")
signbit = _test_op("signbit", torch.signbit, "Whether each element's sign bit is set (negative, -0.0 included).")
logical_not = _test_op("logical_not", torch.logical_not, "Logical NOT, element-wise (nonzero is True).")


def _wide_float(x: Any) -> torch.Tensor:
    """``x`` as float for functions Keras computes in float64 for int64 input (cbrt, deg2rad, rad2deg, i0)."""
    t = tensor(x)
    if t.dtype == torch.int64:
        return t.to(torch.float64)
    return to_float(t)


@op
def cbrt(x: Any) -> torch.Tensor:
    """Cube root, element-wise (int64 input gives float64, as in Keras)."""
    t = _wide_float(x)
    return torch.sign(t) * torch.abs(t).pow(1.0 / 3.0)


@op
def deg2rad(x: Any) -> torch.Tensor:
    """Degrees to radians, element-wise (int64 input gives float64, as in Keras)."""
    return torch.deg2rad(_wide_float(x))


@op
def rad2deg(x: Any) -> torch.Tensor:
    """Radians to degrees, element-wise (int64 input gives float64, as in Keras)."""
    return torch.rad2deg(_wide_float(x))


@op
def i0(x: Any) -> torch.Tensor:
    """Modified Bessel function of the first kind, order 0, element-wise (int64/float64 give float64)."""
    return torch.special.i0(_wide_float(x))


def _rounding(x: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    t = tensor(x)
    target = result(t.dtype, float)  # as Keras: ints -> floatx, float64 -> float32
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return fn(t.to(target) if t.dtype != target else t)


@op
def ceil(x: Any) -> torch.Tensor:
    """Ceiling, element-wise, as a float tensor (Keras's dtype: ints -> floatx, float64 -> float32)."""
    return _rounding(x, torch.ceil)


@op
def floor(x: Any) -> torch.Tensor:
    """Floor, element-wise, as a float tensor (Keras's dtype: ints -> floatx, float64 -> float32)."""
    return _rounding(x, torch.floor)


@op
def trunc(x: Any) -> torch.Tensor:
    """Round toward zero, element-wise; integers and bools are returned as they are."""
    t = tensor(x)
    return t if not is_float(t.dtype) else torch.trunc(t)


@op
def round(x: Any, decimals: int = 0) -> torch.Tensor:  # noqa: A001
    """Round half to even to ``decimals`` decimal places, element-wise; integers keep their dtype."""
    t = tensor(x)
    if t.dtype == torch.bool:
        raise TypeError("round is not defined for bool tensors.")
    if is_int(t.dtype):
        if decimals >= 0:
            return t
        wide = torch.float64 if t.dtype in (torch.int64, torch.int32, torch.uint32) else floatx()
        return torch.round(t.to(wide), decimals=decimals).to(t.dtype)
    return torch.round(t, decimals=decimals)


def _abs(x: Any) -> torch.Tensor:
    t = tensor(x)
    return t if t.dtype == torch.bool else torch.abs(t)


@op
def abs(x: Any) -> torch.Tensor:  # noqa: A001
    """Absolute value, element-wise (dtype kept)."""
    return _abs(x)


@op
def absolute(x: Any) -> torch.Tensor:
    """Absolute value, element-wise (dtype kept)."""
    return _abs(x)


@op
def negative(x: Any) -> torch.Tensor:
    """Numerical negative, element-wise."""
    return torch.neg(tensor(x))


@op
def sign(x: Any) -> torch.Tensor:
    """-1, 0 or 1 by the sign of each element (NaN stays NaN; dtype kept)."""
    return torch.sign(tensor(x))


@op
def square(x: Any) -> torch.Tensor:
    """``x * x``, element-wise (bool gives int32)."""
    t = tensor(x)
    if t.dtype == torch.bool:
        t = t.to(torch.int32)
    return torch.square(t)


@op
def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> torch.Tensor:
    """NaN -> ``nan``, +inf -> ``posinf``, -inf -> ``neginf`` (defaults: the dtype's largest finite values)."""
    t = tensor(x)
    if not is_float(t.dtype):
        return t
    return torch.nan_to_num(t, nan=nan, posinf=posinf, neginf=neginf)


def _invert(x: Any) -> torch.Tensor:
    t = tensor(x)
    if is_float(t.dtype):
        raise TypeError(f"bitwise_invert is only defined for integer and bool tensors, not {t.dtype}.")
    return torch.bitwise_not(t)


@op
def bitwise_invert(x: Any) -> torch.Tensor:
    """Bitwise NOT of integers and bools, element-wise."""
    return _invert(x)


@op
def bitwise_not(x: Any) -> torch.Tensor:
    """Bitwise NOT of integers and bools, element-wise (``bitwise_invert``)."""
    return _invert(x)

