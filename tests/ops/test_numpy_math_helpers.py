"""Helpers the test_numpy_math* modules share (this module holds no tests)."""

from typing import Any

import numpy as np
import pytest
import torch
from ops_harness import Case, check_grad, resolve, sample, to_numpy

from lamina import ops

DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64")
FLOATS = ("float16", "bfloat16", "float32", "float64")

# Input domain by name: (low, high) for floats; integers are drawn from [int(low), int(high)).
DOMAINS = {"any": (-2.0, 3.0), "unit": (-0.9, 0.9), "pos": (0.2, 3.0), "ge1": (1.1, 3.0)}


def tol(*dtypes_: Any) -> dict:
    """Tolerances for results computed in the lowest-precision float among ``dtypes_``."""
    if "bfloat16" in dtypes_:
        return {"rtol": 2e-2, "atol": 2e-2}
    if "float16" in dtypes_:
        return {"rtol": 2e-3, "atol": 2e-3}
    return {"rtol": 2e-5, "atol": 1e-6}


def draw(shape: tuple, dtype: str, domain: str = "any", seed: int = 0) -> Any:
    """A sample in ``domain`` (integers: [-1, 2) for "unit", [1, 4) for the positive domains)."""
    low, high = DOMAINS[domain]
    if dtype.startswith(("int", "uint")):
        if domain == "unit":
            low, high = -1, 2
        elif domain in ("pos", "ge1"):
            low, high = 1, 4
    return sample(shape, dtype, low, high, seed=seed)


def raises_in_both(fn_name: str, args: tuple, kwargs: dict, keras: Any) -> bool:
    """True (after checking lamina raises too) when Keras refuses the call, e.g. ``negative`` of bool."""
    try:
        resolve(keras.ops, fn_name)(*[a.clone() if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
    except Exception:  # noqa: BLE001 - any refusal
        with pytest.raises(Exception):  # noqa: B017
            resolve(ops, fn_name)(*args, **kwargs)
        return True
    return False


def check_grad_f32(case: Case, argnums: tuple[int, ...] = (0,)) -> None:
    """gradcheck for ops that compute in float32 even for float64 input (Keras's ``result_type`` makes 64-bit
    results 32-bit): a coarser step and tolerances than ``ops_harness.check_grad``'s defaults."""
    check_grad(case, argnums, eps=1e-3, atol=2e-2, rtol=2e-2)


def np_truth(fn: Any) -> Any:
    """A ``keras_fn`` computing the result with NumPy (``fn`` on NumPy arrays), returned as a torch tensor."""
    def keras_fn(_: Any, *args: Any, **kwargs: Any) -> Any:
        out = fn(*[np.asarray(to_numpy(a)) if isinstance(a, torch.Tensor) else a for a in args], **kwargs)
        if isinstance(out, tuple):
            return tuple(torch.from_numpy(np.asarray(o)) for o in out)
        return torch.from_numpy(np.asarray(out))
    return keras_fn


def check_all(checks: list) -> None:
    """Run each ``(label, thunk)`` and fail once at the end listing every failure (one test per op, many dtypes,
    without one pytest item per combination)."""
    failures = []
    for label, thunk in checks:
        try:
            thunk()
        except Exception as e:  # noqa: BLE001 - collected and reported below
            failures.append(f"{label}: {type(e).__name__}: {str(e).strip()[:600]}")
    assert not failures, f"{len(failures)} of {len(checks)} failed:\n" + "\n".join(failures)
