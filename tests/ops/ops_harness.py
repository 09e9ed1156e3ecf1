"""Parity harness for lamina.ops: run an op in lamina and in Keras 3 (torch backend) on the same generated
inputs and compare values, result dtype and shape; check gradients with torch.autograd.gradcheck.

Usage in a test module::

    from ops_harness import Case, check_case, check_grad, sample
    CASES = [Case("add", (sample((2, 3)), sample((3,)))), Case("add", (sample((2, 3), "int8"), 2))]

    @pytest.mark.parametrize("case", CASES, ids=str)
    def test_parity(case, keras):
        check_case(case, keras)

``Case.fn`` names the op in both libraries (``"nn.relu"`` looks in ``ops.nn``; a plain name in ``ops``).
Inputs are NumPy arrays or Python values; each library converts them itself. ``keras_fn`` replaces the
Keras side (a callable taking the Keras ops module and the inputs) where Keras's torch backend is wrong and
NumPy is the truth; ``note`` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

DTYPES_FLOAT = ("float16", "bfloat16", "float32", "float64")
DTYPES_INT = ("int8", "int16", "int32", "int64", "uint8")

_rng = np.random.default_rng(1234)


def sample(shape: tuple, dtype: str = "float32", low: float = -2.0, high: float = 2.0, seed: int | None = None):
    """A small random array of ``dtype`` (ints in [low, high), bools half True); bfloat16 is made as float32
    rounded through torch's bfloat16 and returned as a torch tensor (NumPy has no bfloat16)."""
    rng = np.random.default_rng(seed) if seed is not None else _rng
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        lo = 0 if dtype.startswith("uint") else int(low)
        return rng.integers(lo, max(int(high), lo + 1), size=shape).astype(dtype)
    values = rng.uniform(low, high, size=shape)
    if dtype == "bfloat16":
        return torch.tensor(values, dtype=torch.float32).to(torch.bfloat16)
    return values.astype(dtype)


def positive(shape: tuple, dtype: str = "float32"):
    return sample(shape, dtype, 0.1, 2.0)


@dataclass
class Case:
    fn: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    rtol: float = 1e-5
    atol: float = 1e-6
    check_dtype: bool = True
    keras_fn: Callable | None = None
    note: str = ""
    grad: bool = False  # also gradcheck the op in float64 on the first argument(s)

    def __str__(self) -> str:
        def short(v: Any) -> str:
            if hasattr(v, "shape") and hasattr(v, "dtype"):
                return f"{str(v.dtype).replace('torch.', '')}{list(v.shape)}"
            return repr(v)[:20]
        parts = [short(a) for a in self.args] + [f"{k}={short(v)}" for k, v in self.kwargs.items()]
        return f"{self.fn}({', '.join(parts)})"


def resolve(module: Any, name: str) -> Callable:
    target = module
    for part in name.split("."):
        target = getattr(target, part)
    return target


def _for_keras(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return v.clone()
    if isinstance(v, list):
        return [_for_keras(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_for_keras(x) for x in v)
    return v


def to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    if isinstance(x, (list, tuple)):
        return type(x)(to_numpy(v) for v in x)
    return np.asarray(x)


def dtype_name(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return str(x.dtype).replace("torch.", "")
    return str(np.asarray(x).dtype)


def compare(ours: Any, theirs: Any, case: Case, where: str = "") -> None:
    if isinstance(theirs, (list, tuple)) and not hasattr(theirs, "shape"):
        assert isinstance(ours, (list, tuple)), f"{case}{where}: Keras gives a sequence, lamina {type(ours)}"
        assert len(ours) == len(theirs), f"{case}{where}: {len(ours)} outputs, Keras {len(theirs)}"
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            compare(a, b, case, f"{where}[{i}]")
        return
    if isinstance(theirs, (bool, int, float)) and not isinstance(ours, torch.Tensor):
        assert ours == theirs or np.isclose(ours, theirs), f"{case}{where}: {ours} != {theirs}"
        return
    assert isinstance(ours, torch.Tensor), f"{case}{where}: lamina returned {type(ours)}, not a torch tensor"
    a, b = to_numpy(ours), to_numpy(theirs)
    assert a.shape == b.shape, f"{case}{where}: shape {a.shape}, Keras {b.shape}"
    if case.check_dtype:
        assert dtype_name(ours) == dtype_name(theirs), \
            f"{case}{where}: dtype {dtype_name(ours)}, Keras {dtype_name(theirs)}"
    if a.dtype == bool or np.issubdtype(a.dtype, np.integer):
        np.testing.assert_array_equal(a, b, err_msg=f"{case}{where}")
    else:
        np.testing.assert_allclose(a, b.astype(a.dtype) if b.dtype != a.dtype else b, rtol=case.rtol,
                                   atol=case.atol, equal_nan=True, err_msg=f"{case}{where}")


def check_case(case: Case, keras: Any) -> None:
    """Run ``case`` in lamina and in Keras (or ``case.keras_fn``) and compare the results."""
    from lamina import ops

    ours = resolve(ops, case.fn)(*case.args, **case.kwargs)
    if case.keras_fn is not None:
        theirs = case.keras_fn(keras.ops, *_for_keras(case.args), **case.kwargs)
    else:
        theirs = resolve(keras.ops, case.fn)(*_for_keras(case.args), **case.kwargs)
    compare(ours, theirs, case)
    if case.grad:
        check_grad(case)


def check_grad(case: Case, argnums: tuple[int, ...] = (0,), eps: float = 1e-6, atol: float = 1e-4,
               rtol: float = 1e-3) -> None:
    """``torch.autograd.gradcheck`` of the op in float64 with respect to the arguments at ``argnums``; outputs
    are compared in float64 (an op that computes in float32, as Keras's 64-to-32-bit rule makes some, needs a
    coarser ``eps`` and tolerances)."""
    from lamina import ops

    fn = resolve(ops, case.fn)
    args = list(case.args)
    inputs = []
    for i in argnums:
        t = torch.as_tensor(to_numpy(args[i]), dtype=torch.float64).clone().requires_grad_(True)
        args[i] = t
        inputs.append(t)

    def call(*xs: torch.Tensor) -> Any:
        full = list(args)
        for i, x in zip(argnums, xs, strict=True):
            full[i] = x
        out = fn(*full, **case.kwargs)
        if isinstance(out, (list, tuple)):
            return tuple(o.double() for o in out if o.dtype.is_floating_point)
        return out.double() if out.dtype.is_floating_point else out

    assert torch.autograd.gradcheck(call, tuple(inputs), eps=eps, atol=atol, rtol=rtol), str(case)
