"""Parity of lamina.ops.nn's activations with Keras 3 (torch backend): values, dtypes, shapes, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, sample, to_numpy

# Keras's torch backend raises for integer/bool inputs to these (torch kernels are float-only); Keras on JAX and
# TensorFlow computes them in floatx, as lamina does: the truth is Keras on the float32 input.
FLOAT_ONLY = ["celu", "elu", "gelu", "glu", "hard_shrink", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu",
              "log_sigmoid", "log_softmax", "selu", "silu", "soft_shrink", "softmax", "softplus", "swish"]
# Keras's torch backend already gives floatx for integer inputs to these.
FLOAT_RESULT = ["sigmoid", "softsign", "sparse_plus", "sparse_sigmoid", "sparsemax", "squareplus", "tanh_shrink"]
# These keep an integer input's dtype.
INT_KEPT = ["relu", "relu6", "hard_tanh"]
ALL = FLOAT_ONLY + FLOAT_RESULT + INT_KEPT
INT_NOTE = "Keras's torch backend raises for integer inputs; JAX/TF compute them in floatx"


def _on_float32(name: str):
    def run(kops, x, **kwargs):
        return getattr(kops.nn, name)(np.asarray(x, dtype="float32"), **kwargs)
    return run


def _with_axis(fn: str, axis: tuple):
    def run(kops, x, **kwargs):
        return getattr(kops.nn, fn.split(".")[1])(x, axis=axis)
    return run


AXIS_NOTE = "Keras's torch backend fails on unsorted negative tuples and on lists of axes"


def _np_sparsemax(kops, x, axis=-1):
    """Sparsemax in NumPy (float64), returned in the input's float dtype (floatx for integers)."""
    src = torch.as_tensor(x) if not isinstance(x, torch.Tensor) else x
    dtype = src.dtype if src.dtype.is_floating_point else torch.float32
    if src.ndim == 0:
        return torch.ones((), dtype=dtype)
    z = np.moveaxis(to_numpy(src).astype("float64"), axis, -1)
    ordered = -np.sort(-z, axis=-1)
    cumulative = np.cumsum(ordered, axis=-1)
    k = np.arange(1, z.shape[-1] + 1)
    size = np.sum(1 + k * ordered > cumulative, axis=-1, keepdims=True)
    tau = (np.take_along_axis(cumulative, np.maximum(size - 1, 0), -1) - 1) / np.maximum(size, 1)
    return torch.tensor(np.moveaxis(np.maximum(z - tau, 0), -1, axis)).to(dtype)


SPARSEMAX_NOTE = "Keras's torch backend sparsemax is wrong (rows do not sum to 1): NumPy is the truth"


def _cases() -> list[Case]:
    cases = []
    for name in ALL:
        fn = f"nn.{name}"
        shape = (2, 4)
        kw = {"keras_fn": _np_sparsemax, "note": SPARSEMAX_NOTE} if name == "sparsemax" else {}
        cases.append(Case(fn, (sample(shape),), grad=True, **kw))
        cases.append(Case(fn, (sample((3, 2, 4), "float64"),), **kw))
        cases.append(Case(fn, (sample(shape, "float16"),), rtol=2e-3, atol=2e-3, **kw))
        cases.append(Case(fn, (sample(shape, "bfloat16"),), rtol=2e-2, atol=2e-2, **kw))
        cases.append(Case(fn, (sample((0, 4)),), **kw))
        if name != "glu":
            cases.append(Case(fn, (np.float32(0.7),), **kw))
        ints = sample(shape, "int32", -4, 5)
        if name == "sparsemax":
            cases.append(Case(fn, (ints,), keras_fn=_np_sparsemax, note=SPARSEMAX_NOTE))
        elif name in FLOAT_ONLY:
            cases.append(Case(fn, (ints,), keras_fn=_on_float32(name), note=INT_NOTE))
            cases.append(Case(fn, (sample(shape, "int8", -4, 5),), keras_fn=_on_float32(name), note=INT_NOTE))
        else:
            cases.append(Case(fn, (ints,)))
            unsigned = sample(shape, "uint8", 0, 9)
            if name in ("relu", "relu6"):
                cases.append(Case(fn, (unsigned,)))
            elif name == "hard_tanh":
                for u in (unsigned, np.array([[0, 1, 7, 0]], dtype="uint8")):  # zeros stay zeros (no wrap of -1)
                    cases.append(Case(fn, (u,), keras_fn=lambda kops, x: np.clip(x, 0, 1).astype("uint8"),
                                      note="Keras's torch backend raises for unsigned inputs"))
            else:
                cases.append(Case(fn, (unsigned,), keras_fn=_on_float32(name),
                                  note="Keras's torch backend wraps uint8 arithmetic around before casting"))
        if name in ("sigmoid", "sparse_plus", "sparse_sigmoid", "squareplus"):
            cases.append(Case(fn, (sample(shape, "bool"),)))
        elif name in ("softsign", "tanh_shrink"):
            cases.append(Case(fn, (sample(shape, "bool"),), keras_fn=_on_float32(name),
                              note="Keras's torch backend raises for bool inputs"))
    # Arguments and axes.
    x = sample((2, 3, 4))
    cases += [
        Case("nn.celu", (x,), {"alpha": 0.5}, grad=True),
        Case("nn.elu", (x,), {"alpha": 2.0}, grad=True),
        Case("nn.gelu", (x,), {"approximate": False}, grad=True),
        Case("nn.glu", (x,), {"axis": 0}, grad=True),
        Case("nn.glu", (sample((2, 4, 3)),), {"axis": -2}),
        Case("nn.hard_shrink", (x,), {"threshold": 1.0}, grad=True),
        Case("nn.soft_shrink", (x,), {"threshold": 0.25}, grad=True),
        Case("nn.leaky_relu", (x,), {"negative_slope": 0.01}, grad=True),
        Case("nn.squareplus", (x,), {"b": 1.0}, grad=True),
        Case("nn.squareplus", (x,), {"b": 0}),
        Case("nn.threshold", (x, 0.5, -1.0), grad=True),
        Case("nn.threshold", (sample((2, 3), "int32", -5, 5), 1, 7.5)),
        Case("nn.threshold", (sample((2, 3), "float16"), 0.2, 7)),
        Case("nn.threshold", (np.float32(3.0), 1.0, 0.0)),
        Case("nn.sparsemax", (x,), {"axis": 0}, grad=True, keras_fn=_np_sparsemax, note=SPARSEMAX_NOTE),
        Case("nn.sparsemax", (x,), {"axis": 1}, grad=True, keras_fn=_np_sparsemax, note=SPARSEMAX_NOTE),
        Case("nn.sparsemax", (sample((3, 4)) * 4,), grad=True, keras_fn=_np_sparsemax, note=SPARSEMAX_NOTE),
        Case("nn.relu", ([-1.0, 2.0, 0.5],)),
        Case("nn.sigmoid", (3,)),
    ]
    for fn in ("nn.softmax", "nn.log_softmax"):
        cases += [
            Case(fn, (x,), {"axis": 0}, grad=True),
            Case(fn, (x,), {"axis": -2}, grad=True),
            Case(fn, (x,), {"axis": None}, grad=True),
            Case(fn, (x,), {"axis": (0, 2)}, grad=True),
            Case(fn, (x,), {"axis": (-1, 0)}, keras_fn=_with_axis(fn, (0, 2)), note=AXIS_NOTE),
            Case(fn, (x,), {"axis": [1, 2]}, keras_fn=_with_axis(fn, (1, 2)), note=AXIS_NOTE),
        ]
    return cases


@pytest.mark.parametrize("case", _cases(), ids=str)
def test_parity(case, keras):
    check_case(case, keras)


def test_no_bool_for_integer_keeping_activations():
    from lamina import ops

    for fn in (ops.nn.relu6, ops.nn.hard_tanh):
        with pytest.raises(TypeError):
            fn(np.array([True, False]))


def test_meta_device():
    from lamina import ops

    x = torch.empty((2, 3, 4), device="meta")
    for name in ALL:
        expected = (2, 3, 2) if name == "glu" else x.shape
        assert getattr(ops.nn, name)(x).shape == expected, name
    assert ops.nn.softmax(x, axis=(0, 2)).device.type == "meta"
    assert ops.nn.threshold(x, 0.1, 0.0).device.type == "meta"


def test_sparsemax_projects_onto_simplex():
    from lamina import ops

    y = ops.nn.sparsemax(torch.tensor([[3.0, 1.0, 0.2], [0.1, 0.1, 0.1]]))
    torch.testing.assert_close(y.sum(-1), torch.ones(2))
    assert torch.equal(y[0], torch.tensor([1.0, 0.0, 0.0]))
