"""Element-wise functions of two tensors: arithmetic, comparisons, logical and bitwise ops, and ``clip``.

Result dtypes follow Keras on its torch backend: ``add``/``multiply``/``power``/comparisons promote as torch does
(Python numbers adopt the tensor's dtype), ``maximum``/``floor_divide``/``divide_no_nan`` use Keras's
``result_type`` (64-bit results made 32-bit), and the float-only functions (``arctan2``, ``hypot``, ...)
compute integers in ``floatx()``.
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.ops._numpy_math_util import HALF, compute, floatx, is_float, is_int, kind, pair, result
from lamina.ops.dispatch import device_of, op, tensor

__all__ = [
    "add", "arctan2", "bitwise_and", "bitwise_left_shift", "bitwise_or", "bitwise_right_shift", "bitwise_xor",
    "clip", "divide", "divide_no_nan", "equal", "floor_divide", "fmax", "fmin", "fmod", "gcd", "greater",
    "greater_equal", "heaviside", "hypot", "lcm", "ldexp", "left_shift", "less", "less_equal", "logaddexp",
    "logaddexp2", "logical_and", "logical_or", "logical_xor", "maximum", "minimum", "mod", "multiply",
    "nextafter", "not_equal", "power", "right_shift", "subtract", "true_divide",
]


# ------------------------------------------------------------------------------------------------ arithmetic
@op
def add(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 + x2``, element-wise with broadcasting."""
    a, b = pair(x1, x2)
    return torch.add(a, b)


@op
def subtract(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 - x2``, element-wise with broadcasting (a bool operand takes the other's dtype)."""
    a, b = pair(x1, x2)
    if a.dtype == torch.bool and b.dtype != torch.bool:
        a = a.to(b.dtype)
    elif b.dtype == torch.bool and a.dtype != torch.bool:
        b = b.to(a.dtype)
    return torch.subtract(a, b)


@op
def multiply(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 * x2``, element-wise with broadcasting."""
    a, b = pair(x1, x2)
    return torch.multiply(a, b)


@op
def power(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 ** x2``, element-wise with broadcasting."""
    a, b = pair(x1, x2)
    return torch.pow(a, b)


def _true_divide(x1: Any, x2: Any) -> torch.Tensor:
    # As Keras's divide: Python numbers go to torch as they are (weak: float16 / 2.0 stays float16), arrays and
    # lists become tensors (a 0-d one defers to a shaped one of the same kind, as in torch), integers give float.
    where = device_of(x1, x2)
    a = x1 if isinstance(x1, (int, float)) and not isinstance(x2, (int, float)) else tensor(x1, device=where)
    b = x2 if isinstance(x2, (int, float)) else tensor(x2, device=where)
    if isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and not (is_float(a.dtype) or is_float(b.dtype)):
        a, b = a.to(floatx()), b.to(floatx())
    return torch.divide(a, b)


@op
def divide(x1: Any, x2: Any) -> torch.Tensor:
    """True division ``x1 / x2``, element-wise; integers give ``floatx()``."""
    return _true_divide(x1, x2)


@op
def true_divide(x1: Any, x2: Any) -> torch.Tensor:
    """True division ``x1 / x2``, element-wise (``divide``)."""
    return _true_divide(x1, x2)


@op
def divide_no_nan(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 / x2`` with 0 wherever ``x2`` is 0 (gradients included)."""
    dt = result(kind(x1), kind(x2), float)
    where = device_of(x1, x2)
    a, b = tensor(x1, dt, where), tensor(x2, dt, where)
    zero = b == 0
    safe = torch.where(zero, torch.ones_like(b), b)
    return torch.where(zero, torch.zeros((), dtype=dt, device=b.device), a / safe)


@op
def floor_divide(x1: Any, x2: Any) -> torch.Tensor:
    """``floor(x1 / x2)``, element-wise (Keras's ``result_type`` dtype)."""
    dt = result(kind(x1), kind(x2))
    where = device_of(x1, x2)
    a, b = tensor(x1, dt, where), tensor(x2, dt, where)
    if is_float(dt):
        # (a - remainder(a, b)) / b is the floor quotient up to rounding: the same value as torch's (and
        # NumPy's) floor_divide, but built from differentiable pieces (torch's floor_divide has no gradient).
        quotient = torch.round((a - torch.remainder(a, b)) / b)
        return torch.where(b == 0, a / b, quotient)
    return torch.floor_divide(a, b)


def _int_pair(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Operands of ``mod``/``fmod``: bool pairs are computed as int32 (as Keras does)."""
    a, b = pair(x1, x2)
    if a.dtype == torch.bool and b.dtype == torch.bool:
        a, b = a.to(torch.int32), b.to(torch.int32)
    return a, b


@op
def mod(x1: Any, x2: Any) -> torch.Tensor:
    """Remainder of floor division (sign of the divisor), element-wise."""
    a, b = _int_pair(x1, x2)
    return torch.remainder(a, b)


@op
def fmod(x1: Any, x2: Any) -> torch.Tensor:
    """Remainder of truncated division (sign of the dividend), element-wise."""
    a, b = _int_pair(x1, x2)
    return torch.fmod(a, b)


def _extremum(x1: Any, x2: Any, fn: Any) -> torch.Tensor:
    dt = result(kind(x1), kind(x2))
    where = device_of(x1, x2)
    return fn(tensor(x1, dt, where), tensor(x2, dt, where))


@op
def maximum(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise maximum (NaN propagates)."""
    return _extremum(x1, x2, torch.maximum)


@op
def minimum(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise minimum (NaN propagates)."""
    return _extremum(x1, x2, torch.minimum)


@op
def fmax(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise maximum ignoring NaN (NaN only where both are NaN)."""
    return _extremum(x1, x2, torch.fmax)


@op
def fmin(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise minimum ignoring NaN (NaN only where both are NaN)."""
    return _extremum(x1, x2, torch.fmin)


@op
def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    """``x`` limited to ``[x_min, x_max]``, element-wise (bool input gives int32)."""
    t = tensor(x)
    lo, hi = (tensor(v, device=t.device) for v in (x_min, x_max))
    if t.dtype == torch.bool:
        t = t.to(torch.int32)
    if t.dtype in HALF:
        return torch.clip(t.float(), min=lo, max=hi).to(t.dtype)
    return torch.clip(t, min=lo, max=hi)


# --------------------------------------------------------------------------------------- float-only pairs
def _float_pair(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor, torch.dtype]:
    """Both as tensors (Python numbers strong, as Keras converts them) and Keras's float result dtype."""
    a, b = pair(x1, x2)
    dt = result(a.dtype, b.dtype, float)
    return a.to(dt), b.to(dt), dt


@op
def arctan2(x1: Any, x2: Any) -> torch.Tensor:
    """Element-wise arc tangent of ``x1 / x2`` choosing the quadrant correctly."""
    a, b, _ = _float_pair(x1, x2)
    return torch.arctan2(a, b)


@op
def logaddexp(x1: Any, x2: Any) -> torch.Tensor:
    """``log(exp(x1) + exp(x2))``, element-wise and without overflow."""
    a, b, _ = _float_pair(x1, x2)
    return torch.logaddexp(a, b)


@op
def logaddexp2(x1: Any, x2: Any) -> torch.Tensor:
    """``log2(2**x1 + 2**x2)``, element-wise and without overflow."""
    a, b, _ = _float_pair(x1, x2)
    return torch.logaddexp2(a, b)


@op
def nextafter(x1: Any, x2: Any) -> torch.Tensor:
    """The next representable float after ``x1`` toward ``x2``, element-wise, in the result dtype (Keras's torch
    backend steps in float64 and rounds back, which returns ``x1`` for float32; this follows NumPy)."""
    a, b, _ = _float_pair(x1, x2)
    return torch.nextafter(a, b)


def _int_to_float(x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Operands of ``hypot``/``heaviside``: Keras's ``result_type`` of both, integers (and for hypot bools)
    computed in ``floatx()``."""
    a, b = pair(x1, x2)
    dt = result(a.dtype, b.dtype)
    if is_int(dt):
        dt = floatx()
    return a.to(dt), b.to(dt)


@op
def hypot(x1: Any, x2: Any) -> torch.Tensor:
    """``sqrt(x1**2 + x2**2)``, element-wise."""
    a, b = _int_to_float(x1, x2)
    if a.dtype == torch.bool:
        a, b = a.to(floatx()), b.to(floatx())
    return torch.hypot(a, b)


@op
def heaviside(x1: Any, x2: Any) -> torch.Tensor:
    """Heaviside step: 0 where ``x1 < 0``, ``x2`` where ``x1 == 0``, 1 where ``x1 > 0``; NaN in ``x1`` gives NaN
    (as NumPy; Keras's torch backend gives 0)."""
    a, b = _int_to_float(x1, x2)
    a, b = torch.broadcast_tensors(a, b)
    if a.dtype == torch.bool:
        return torch.where(a, torch.ones_like(a), b)
    step = torch.where(a > 0, torch.ones_like(a), torch.zeros_like(a))
    return torch.where(a == 0, b, torch.where(torch.isnan(a), a, step))


@op
def ldexp(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 * 2**x2`` for an integer exponent ``x2``, element-wise."""
    a, b = pair(x1, x2)
    if not is_int(b.dtype):
        raise TypeError(f"ldexp exponent must be an integer type. Received: x2 dtype={b.dtype}")
    dt = result(a.dtype, b.dtype, float)
    work = compute(dt)
    return (a.to(work) * torch.exp2(b.to(work))).to(dt)


# ------------------------------------------------------------------------------------- comparisons, logic
def _compare(fn: Any, x1: Any, x2: Any) -> torch.Tensor:
    a, b = pair(x1, x2)
    return fn(a, b)


@op
def equal(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 == x2``, element-wise."""
    return _compare(torch.eq, x1, x2)


@op
def not_equal(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 != x2``, element-wise."""
    return _compare(torch.ne, x1, x2)


@op
def greater(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 > x2``, element-wise."""
    return _compare(torch.gt, x1, x2)


@op
def greater_equal(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 >= x2``, element-wise."""
    return _compare(torch.ge, x1, x2)


@op
def less(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 < x2``, element-wise."""
    return _compare(torch.lt, x1, x2)


@op
def less_equal(x1: Any, x2: Any) -> torch.Tensor:
    """``x1 <= x2``, element-wise."""
    return _compare(torch.le, x1, x2)


@op
def logical_and(x1: Any, x2: Any) -> torch.Tensor:
    """Logical AND, element-wise (nonzero is True)."""
    return _compare(torch.logical_and, x1, x2)


@op
def logical_or(x1: Any, x2: Any) -> torch.Tensor:
    """Logical OR, element-wise (nonzero is True)."""
    return _compare(torch.logical_or, x1, x2)


@op
def logical_xor(x1: Any, x2: Any) -> torch.Tensor:
    """Logical XOR, element-wise (nonzero is True)."""
    return _compare(torch.logical_xor, x1, x2)


# ---------------------------------------------------------------------------------------------- bitwise
def _bitwise(fn: Any, x: Any, y: Any, op_name: str, raw_int: bool = False) -> torch.Tensor:
    if raw_int and isinstance(y, int) and not isinstance(y, bool) and not isinstance(x, (bool, int)):
        # Keras hands a Python shift count to torch as it is: torch's promotion then applies (bool << 1 is int64)
        a = tensor(x)
        if is_float(a.dtype):
            raise TypeError(f"{op_name} is only defined for integer and bool tensors, not {a.dtype}.")
        return fn(a, y)
    a, b = pair(x, y)
    if is_float(a.dtype) or is_float(b.dtype):
        raise TypeError(f"{op_name} is only defined for integer and bool tensors, not {a.dtype} and {b.dtype}.")
    return fn(a, b)


@op
def bitwise_and(x: Any, y: Any) -> torch.Tensor:
    """Bitwise AND of integers and bools, element-wise."""
    return _bitwise(torch.bitwise_and, x, y, "bitwise_and")


@op
def bitwise_or(x: Any, y: Any) -> torch.Tensor:
    """Bitwise OR of integers and bools, element-wise."""
    return _bitwise(torch.bitwise_or, x, y, "bitwise_or")


@op
def bitwise_xor(x: Any, y: Any) -> torch.Tensor:
    """Bitwise XOR of integers and bools, element-wise."""
    return _bitwise(torch.bitwise_xor, x, y, "bitwise_xor")


@op
def bitwise_left_shift(x: Any, y: Any) -> torch.Tensor:
    """``x << y`` for integers, element-wise."""
    return _bitwise(torch.bitwise_left_shift, x, y, "bitwise_left_shift", raw_int=True)


@op
def left_shift(x: Any, y: Any) -> torch.Tensor:
    """``x << y`` for integers, element-wise (``bitwise_left_shift``)."""
    return _bitwise(torch.bitwise_left_shift, x, y, "left_shift", raw_int=True)


@op
def bitwise_right_shift(x: Any, y: Any) -> torch.Tensor:
    """``x >> y`` (arithmetic for signed integers), element-wise."""
    return _bitwise(torch.bitwise_right_shift, x, y, "bitwise_right_shift", raw_int=True)


@op
def right_shift(x: Any, y: Any) -> torch.Tensor:
    """``x >> y`` (arithmetic for signed integers), element-wise (``bitwise_right_shift``)."""
    return _bitwise(torch.bitwise_right_shift, x, y, "right_shift", raw_int=True)


def _gcd_pair(x1: Any, x2: Any, op_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = pair(x1, x2)
    dt = torch.result_type(a, b)  # torch's promotion, as Keras's gcd/lcm (a 0-d operand defers)
    if not is_int(dt):
        raise TypeError(f"{op_name} is only defined for integer tensors, not {a.dtype} and {b.dtype}.")
    return a.to(dt), b.to(dt)


@op
def gcd(x1: Any, x2: Any) -> torch.Tensor:
    """Greatest common divisor of integers, element-wise (``gcd(0, 0) == 0``)."""
    return torch.gcd(*_gcd_pair(x1, x2, "gcd"))


@op
def lcm(x1: Any, x2: Any) -> torch.Tensor:
    """Least common multiple of integers, element-wise."""
    return torch.lcm(*_gcd_pair(x1, x2, "lcm"))
