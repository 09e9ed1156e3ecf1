"""Parity of lamina.ops.nn's convolutions, pooling and patch ops with Keras 3 (torch backend)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, sample, to_numpy

FORMATS = ("channels_last", "channels_first")
TOL = {"rtol": 1e-4, "atol": 1e-5}


def _input(rank: int, fmt: str, channels: int = 3, size: int = 6, dtype: str = "float32"):
    spatial = (size,) * rank if rank < 3 else (5,) * rank
    shape = (2, *spatial, channels) if fmt == "channels_last" else (2, channels, *spatial)
    return sample(shape, dtype)


def _conv_cases() -> list[Case]:
    cases = []
    for rank, fmt, padding in itertools.product((1, 2, 3), FORMATS, ("valid", "same")):
        if rank == 3 and fmt == "channels_first" and padding == "valid":
            continue
        x = _input(rank, fmt)
        configs = ((3, 1, 1), (2, 2, 1), (3, 1, 2), (1, 3, 1)) if rank < 3 else ((3, 2, 1), (2, 1, 2))
        for k, strides, dilation in configs:
            kw = {"strides": strides, "padding": padding, "data_format": fmt, "dilation_rate": dilation}
            cases.append(Case("nn.conv", (x, sample((k,) * rank + (3, 4))), kw, **TOL))
            cases.append(Case("nn.depthwise_conv", (x, sample((k,) * rank + (3, 2))), kw, **TOL))
            if rank == 2:
                cases.append(Case("nn.separable_conv", (x, sample((k, k, 3, 2)), sample((1, 1, 6, 4))), kw, **TOL))
            for extra in (None, *range(strides)):
                cases.append(Case("nn.conv_transpose", (x, sample((k,) * rank + (4, 3))),
                                  {**kw, "output_padding": extra}, **TOL))
    x = _input(2, "channels_last", channels=4)
    cases += [
        Case("nn.conv", (x, sample((3, 3, 2, 6))), {"padding": "same"}, **TOL),  # two groups
        Case("nn.conv", (x, sample((2, 3, 4, 5))), {"strides": (2, 1), "dilation_rate": (1, 1)}, **TOL),
        Case("nn.conv", (x, sample((3, 2, 4, 5))), {"dilation_rate": (2, 1), "padding": "same"}, **TOL),
        Case("nn.conv", (sample((2, 6, 3), "float64"), sample((3, 3, 2), "float64"))),
        Case("nn.conv", (sample((2, 6, 3), "float16"), sample((3, 3, 2), "float16")), rtol=1e-2, atol=1e-2),
        Case("nn.conv", (sample((2, 6, 3), "bfloat16"), sample((3, 3, 2), "bfloat16")), rtol=5e-2, atol=5e-2),
        Case("nn.conv", (sample((2, 6, 3), "int32"), sample((3, 3, 2))),
             keras_fn=lambda kops, x, w: kops.nn.conv(x.astype("float32"), w),
             note="Keras's torch backend needs input and kernel of one float dtype"),
        Case("nn.conv_transpose", (sample((2, 5, 5, 3)), sample((3, 3, 2, 3))),
             {"strides": (2, 1), "output_padding": (1, 0), "padding": "same"}, **TOL),
        Case("nn.depthwise_conv", (sample((2, 5, 5, 3)), sample((3, 2, 3, 1))), {"strides": (1, 2)}, **TOL),
    ]
    return cases


def _grad_cases() -> list[tuple[Case, tuple]]:
    x = sample((1, 3, 3, 2))
    return [
        (Case("nn.conv", (x, sample((3, 2, 2, 3))), {"strides": 2, "padding": "same"}), (0, 1)),
        (Case("nn.conv", (sample((1, 2, 5)), sample((3, 2, 2))), {"data_format": "channels_first"}), (0, 1)),
        (Case("nn.conv_transpose", (x, sample((3, 3, 1, 2))), {"strides": 2, "padding": "same"}), (0, 1)),
        (Case("nn.conv_transpose", (x, sample((2, 2, 1, 2))), {"strides": 2, "output_padding": 1}), (0, 1)),
        (Case("nn.depthwise_conv", (x, sample((2, 3, 2, 2))), {"padding": "same", "dilation_rate": 2}), (0, 1)),
        (Case("nn.separable_conv", (x, sample((2, 2, 2, 2)), sample((1, 1, 4, 3))), {"padding": "same"}), (0, 1, 2)),
        (Case("nn.max_pool", (x, 2), {"strides": 1, "padding": "same"}), (0,)),
        (Case("nn.average_pool", (sample((1, 5, 4, 2)), 3), {"strides": 2, "padding": "same"}), (0,)),
        (Case("nn.average_pool", (sample((1, 6, 2)), 4), {"strides": 1, "padding": "same"}), (0,)),
        (Case("nn.adaptive_average_pool", (x, (2, 3))), (0,)),
        (Case("nn.adaptive_max_pool", (x, 2)), (0,)),
        (Case("nn.unfold", (sample((1, 2, 4, 5)), 2), {"stride": (1, 2), "padding": 1}), (0,)),
        (Case("nn.fold", (sample((1, 8, 6)), (3, 4), 2)), (0,)),
        (Case("nn.depth_to_space", (sample((1, 2, 2, 8)), 2)), (0,)),
        (Case("nn.space_to_depth", (sample((1, 2, 4, 4)), 2), {"data_format": "channels_first"}), (0,)),
    ]


@pytest.mark.parametrize("case", _conv_cases(), ids=str)
def test_conv_parity(case, keras):
    check_case(case, keras)


@pytest.mark.parametrize("case,argnums", _grad_cases(), ids=lambda v: str(v) if isinstance(v, Case) else "")
def test_gradients(case, argnums):
    check_grad(case, argnums)


def test_conv_transpose_is_the_adjoint_of_conv():
    """``conv_transpose`` is the gradient of ``conv`` with the same kernel (the definition Keras follows)."""
    from lamina import ops

    for padding, strides, k, size in itertools.product(("valid", "same"), (1, 2, 3), (1, 2, 3, 4), (6, 7)):
        kernel = torch.randn(k, k, 3, 2, dtype=torch.float64)  # conv: 3 -> 2 channels
        big = torch.randn(1, size, size, 3, dtype=torch.float64, requires_grad=True)
        y = ops.nn.conv(big, kernel, strides, padding)
        g = torch.randn_like(y)
        (expected,) = torch.autograd.grad(y, big, g)
        got = ops.nn.conv_transpose(g, kernel, strides, padding)
        if got.shape == expected.shape:  # output size of a strided conv is ambiguous; Keras picks one size
            torch.testing.assert_close(got, expected)


# ------------------------------------------------------------------------------------ pooling
def _np_pool(x: np.ndarray, pool_size, strides, padding: str, data_format: str, kind: str) -> np.ndarray:
    """Keras's (TensorFlow's) pooling in NumPy: 'same' windows hold only real elements."""
    x = np.asarray(x, dtype="float64")
    if data_format == "channels_last":
        x = np.moveaxis(x, -1, 1)
    rank = x.ndim - 2
    window = (pool_size,) * rank if isinstance(pool_size, int) else tuple(pool_size)
    steps = window if strides is None else ((strides,) * rank if isinstance(strides, int) else tuple(strides))
    sizes = x.shape[2:]
    if padding == "same":
        outs = [-(-n // s) for n, s in zip(sizes, steps, strict=True)]
        before = [max((o - 1) * s + k - n, 0) // 2 for o, s, k, n in zip(outs, steps, window, sizes, strict=True)]
    else:
        outs = [(n - k) // s + 1 for n, k, s in zip(sizes, window, steps, strict=True)]
        before = [0] * rank
    out = np.zeros(x.shape[:2] + tuple(outs))
    for index in itertools.product(*(range(o) for o in outs)):
        region = tuple(slice(max(i * s - b, 0), min(i * s - b + k, n))
                       for i, s, b, k, n in zip(index, steps, before, window, sizes, strict=True))
        block = x[(slice(None), slice(None), *region)].reshape(*x.shape[:2], -1)
        out[(slice(None), slice(None), *index)] = block.max(-1) if kind == "max" else block.mean(-1)
    return np.moveaxis(out, 1, -1) if data_format == "channels_last" else out


def _np_average_pool(kops, x, pool_size, strides=None, padding="valid", data_format=None):
    dtype = x.dtype
    return torch.tensor(_np_pool(to_numpy(x), pool_size, strides, padding, data_format or "channels_last", "avg")).to(
        torch.float32 if str(dtype) == "float32" else torch.float64)


AVG_NOTE = ("Keras's torch backend pads asymmetric 'same' windows by replicating edge values; Keras's definition "
            "(TF, JAX) averages only real elements: NumPy is the truth")


def _pool_cases() -> list[Case]:
    cases = []
    for rank, fmt in itertools.product((1, 2, 3), FORMATS):
        x = _input(rank, fmt, size=7)
        for pool, strides, padding in itertools.product((2, 3, 4), (None, 1, 2), ("valid", "same")):
            if rank == 3 and (pool == 4 or strides == 1):
                continue
            args, kw = (x, pool), {"strides": strides, "padding": padding, "data_format": fmt}
            cases.append(Case("nn.max_pool", args, kw))
            size = x.shape[1] if fmt == "channels_last" else x.shape[2]
            steps = pool if strides is None else strides
            total = max((-(-size // steps) - 1) * steps + pool - size, 0)
            asymmetric = padding == "same" and total % 2 == 1
            if asymmetric:
                cases.append(Case("nn.average_pool", args, kw, keras_fn=_np_average_pool, note=AVG_NOTE, **TOL))
            else:
                cases.append(Case("nn.average_pool", args, kw, **TOL))
        for output_size in (1, 2, 3, 5):
            cases.append(Case("nn.adaptive_average_pool", (x, output_size), {"data_format": fmt}, **TOL))
            cases.append(Case("nn.adaptive_max_pool", (x, output_size), {"data_format": fmt}))
    x = sample((2, 7, 6, 3))
    cases += [
        Case("nn.max_pool", (x, (2, 3)), {"strides": (1, 2), "padding": "same"}),
        Case("nn.average_pool", (x, (3, 2)), {"strides": (2, 1), "padding": "valid"}, **TOL),
        Case("nn.max_pool", (sample((2, 6, 6, 3), "int32", -9, 9), 2)),
        Case("nn.max_pool", (sample((2, 6, 3), "float16"), 2, 1, "same")),
        Case("nn.average_pool", (sample((2, 6, 3), "float64"), 3, 1, "same")),
        Case("nn.average_pool", (sample((2, 6, 3), "int32"), 2),
             keras_fn=lambda kops, x, p: kops.nn.average_pool(x.astype("float32"), p),
             note="Keras's torch backend raises for integer inputs; lamina averages them in floatx"),
        Case("nn.adaptive_average_pool", (x, (2, 4))),
        Case("nn.adaptive_max_pool", (x, [3, 1]), rtol=1e-5),
        Case("nn.adaptive_average_pool", (sample((2, 7, 3), "float64"), 3)),
    ]
    for fmt in FORMATS:
        data = np.arange(2 * 4 * 6 * 8).reshape(2, 4, 6, 8)
        for b in (2,):
            cases.append(Case("nn.depth_to_space", (data, b), {"data_format": fmt}))
            cases.append(Case("nn.space_to_depth", (data, b), {"data_format": fmt}))
        deep = (1, 2, 3, 18) if fmt == "channels_last" else (1, 18, 2, 3)
        cases.append(Case("nn.depth_to_space", (sample(deep), 3), {"data_format": fmt}))
        cases.append(Case("nn.space_to_depth", (sample((1, 6, 6, 6)), 3), {"data_format": fmt}))
    return cases


@pytest.mark.parametrize("case", _pool_cases(), ids=str)
def test_pool_parity(case, keras):
    check_case(case, keras)


def _patch_cases() -> list[Case]:
    # Keras's torch backend passes its input straight to torch: give it tensors.
    x = torch.as_tensor(sample((2, 3, 6, 5)))
    cases = []
    for kw in ({"kernel_size": 2}, {"kernel_size": (2, 3), "dilation": 2, "padding": 1, "stride": (1, 2)},
               {"kernel_size": 3, "stride": 3}, {"kernel_size": (1, 2), "padding": (0, 1)}):
        cases.append(Case("nn.unfold", (x,), kw))
        patches = torch.nn.functional.unfold(x, **kw)
        cases.append(Case("nn.fold", (patches, (6, 5)), kw, **TOL))
    cases.append(Case("nn.unfold", (torch.as_tensor(sample((1, 2, 4, 4), "float64")), 2)))
    cases.append(Case("nn.fold", (torch.as_tensor(sample((1, 8, 4), "float64")), 4, 2), {"stride": 2}))
    return cases


@pytest.mark.parametrize("case", _patch_cases(), ids=str)
def test_patch_parity(case, keras):
    check_case(case, keras)


def test_patches_of_integers_and_arrays():
    from lamina import ops

    x = np.arange(32).reshape(1, 2, 4, 4)
    patches = ops.nn.unfold(x, 2, stride=2)
    assert patches.dtype == torch.int64 and patches.shape == (1, 8, 4)
    assert torch.equal(ops.nn.fold(patches, 4, 2, stride=2), torch.as_tensor(x))


def test_meta_device():
    from lamina import ops

    x = torch.empty((2, 7, 7, 3), device="meta")
    assert ops.nn.conv(x, torch.empty((3, 3, 3, 5), device="meta"), 2, "same").shape == (2, 4, 4, 5)
    assert ops.nn.conv_transpose(x, torch.empty((3, 3, 5, 3), device="meta"), 2, "same").shape == (2, 14, 14, 5)
    assert ops.nn.depthwise_conv(x, torch.empty((3, 3, 3, 2), device="meta")).shape == (2, 5, 5, 6)
    assert ops.nn.max_pool(x, 2, 2, "same").shape == (2, 4, 4, 3)
    assert ops.nn.average_pool(x, 4, 1, "same").shape == (2, 7, 7, 3)
    assert ops.nn.adaptive_average_pool(x, 3).shape == (2, 3, 3, 3)
    assert ops.nn.space_to_depth(torch.empty((1, 4, 4, 2), device="meta"), 2).shape == (1, 2, 2, 8)


def test_errors():
    from lamina import ops

    with pytest.raises(ValueError, match="padding"):
        ops.nn.conv(np.ones((1, 4, 1), "float32"), np.ones((2, 1, 1), "float32"), padding="full")
    with pytest.raises(ValueError, match="data_format"):
        ops.nn.max_pool(np.ones((1, 4, 1), "float32"), 2, data_format="nhwc")
    with pytest.raises(ValueError):
        ops.nn.conv(np.ones((1, 4, 3), "float32"), np.ones((2, 2, 1), "float32"))
