"""lamina.ops.math against Keras 3 (torch backend): values, result dtypes and shapes; gradients; meta tensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, positive, sample

from lamina import ops

LOW = dict(rtol=2e-2, atol=2e-2)  # float16 / bfloat16
_rng = np.random.default_rng(7)


def spd(shape: tuple, dtype: str = "float32") -> np.ndarray:
    """Symmetric positive definite matrices (..., n, n)."""
    a = _rng.normal(size=shape)
    return (a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])).astype(dtype)


def pair(shape: tuple, dtype: str = "float32") -> tuple:
    return sample(shape, dtype), sample(shape, dtype)


def _np_complex_op(fn):
    """A Keras-side stand-in computing an FFT op with NumPy on float32 (Keras's torch backend rejects halves)."""
    def run(_ops, x, *args, **kwargs):
        real, imag = (np.asarray(torch.as_tensor(v).float()) for v in x)
        out = fn(real + 1j * imag, *args, **kwargs)
        return out.real.astype(np.float32), out.imag.astype(np.float32)
    return run


# ------------------------------------------------------------------------------------------ elementwise
def _unary_cases() -> list[Case]:
    cases = []
    for name, make in (("erf", sample), ("erfc", sample),
                       ("erfinv", lambda s, d="float32": sample(s, d, -0.9, 0.9)), ("rsqrt", positive)):
        cases.append(Case(name, (make((2, 3)),), grad=True))
        cases.append(Case(name, (make((2, 3), "float64"),)))
        cases.append(Case(name, (make((4,), "float16"),), **LOW))
        cases.append(Case(name, (make((4,), "bfloat16"),), **LOW))
        cases.append(Case(name, (np.float32(0.5),)))
        cases.append(Case(name, (np.zeros((0, 3), "float32"),)))
        for int_dtype in ("int8", "int32", "uint8", "bool"):
            low = 0 if name == "rsqrt" else -1
            x = sample((5,), int_dtype, low, 2)
            cases.append(Case(name, (x,)))
        cases.append(Case(name, ([0.25, 0.5],)))
    return cases


# ------------------------------------------------------------------------------------------- reductions
LOGSUMEXP = [
    Case("logsumexp", (sample((2, 3, 4)),), grad=True),
    Case("logsumexp", (sample((2, 3, 4)),), {"axis": 1}, grad=True),
    Case("logsumexp", (sample((2, 3, 4)),), {"axis": -1, "keepdims": True}, grad=True),
    Case("logsumexp", (sample((2, 3, 4)),), {"axis": (0, 2)}),
    Case("logsumexp", (sample((2, 3, 4)),), {"axis": [0, -1], "keepdims": True}),
    Case("logsumexp", (sample((2, 3), "float64"),), {"axis": None, "keepdims": True}),
    Case("logsumexp", (sample((2, 3), "float16"),), {"axis": 0}, **LOW),
    Case("logsumexp", (sample((2, 3), "bfloat16"),), {"axis": 0}, **LOW),
    Case("logsumexp", (sample((2, 3), "int8"),), {"axis": 0}),
    Case("logsumexp", (sample((2, 3), "int32"),)),
    Case("logsumexp", (np.full((3,), -np.inf, "float32"),)),
    Case("logsumexp", (np.zeros((0, 2), "float32"),), {"axis": 0}),
    Case("logsumexp", (np.float32(1.5),)),
]

LOGDET = [
    Case("logdet", (spd((3, 3)),), rtol=1e-4, atol=1e-5, grad=True),
    Case("logdet", (spd((2, 4, 4)),), rtol=1e-4, atol=1e-5, grad=True),
    Case("logdet", (spd((3, 3), "float64"),)),
    Case("logdet", (np.array([[1.0, 2.0], [3.0, 4.0]], "float32"),)),  # negative determinant: NaN
    Case("logdet", (spd((3, 3), "float16"),), **LOW,
         keras_fn=lambda _o, x: np.log(np.linalg.det(x.astype("float32"))).astype("float16"),
         note="Keras's torch backend raises for float16 (torch.logdet has no half kernel); lamina computes in "
              "float32 and returns float16"),
    Case("logdet", (np.array([[2, 0], [0, 3]], "int32"),),
         keras_fn=lambda _o, x: np.float32(np.log(6.0)),
         note="Keras's torch backend raises for integers; lamina computes in floatx like other float-only ops"),
]

CDIST = [
    Case("cdist", (sample((3, 4)), sample((5, 4))), rtol=1e-5, atol=1e-5, grad=True),
    Case("cdist", (sample((2, 3, 4)), sample((1, 5, 4))), rtol=1e-5, atol=1e-5),
    Case("cdist", (sample((2, 3, 4), "float64"), sample((2, 5, 4), "float64"))),
    Case("cdist", (sample((3, 4), "int8"), sample((5, 4), "float16")), **LOW),
    Case("cdist", (sample((3, 4), "int32"), sample((5, 4), "int32"))),
    Case("cdist", (sample((3, 2), "bfloat16"), sample((2, 2), "bfloat16")), **LOW),
    Case("cdist", (np.zeros((0, 3), "float32"), sample((2, 3)))),
]


# ------------------------------------------------------------------------------------------------ top k
TIES = np.array([[1.0, 3.0, 3.0, 2.0, 0.0], [5.0, 5.0, 5.0, 1.0, 1.0]], "float32")
TOP_K = [
    Case("top_k", (sample((3, 6)), 2), grad=True),
    Case("top_k", (sample((3, 6)), 3), {"sorted": False}),
    Case("top_k", (sample((7,)), 7)),
    Case("top_k", (sample((2, 3, 5), "int8"), 1)),
    Case("top_k", (sample((2, 5), "uint8", 0, 9), 2)),
    Case("top_k", (sample((2, 5), "float16"), 2)),
    Case("top_k", (sample((2, 5), "bfloat16"), 2)),
    Case("top_k", (sample((2, 5), "int64", -9, 9), 3)),
    Case("top_k", (TIES, 2)),
    Case("top_k", ([3, 1, 2], 1)),
    Case("top_k", (np.array([[True, False, True]]), 2),
         keras_fn=lambda _o, x, k: (np.array([[True, True]]), np.array([[0, 2]])),
         note="Keras's torch backend raises for bool (torch.topk); lamina ranks False < True"),
]
IN_TOP_K = [
    Case("in_top_k", (np.array([0, 3, 1]), sample((3, 5)), 1)),
    Case("in_top_k", (np.array([0, 3, 1]), sample((3, 5)), 3)),
    Case("in_top_k", (np.array([1, 2], "int32"), TIES, 1)),  # ties at the k-th value count as in
    Case("in_top_k", (np.array([4, 3], "int64"), TIES, 2)),
    Case("in_top_k", (np.array([1, 0]), sample((2, 4), "int32"), 2)),
    Case("in_top_k", ([1, 0], sample((2, 4), "float16"), 2)),
]


# ------------------------------------------------------------------------------------------------ misc
EXTRACT = [
    Case("extract_sequences", (sample((2, 10)), 3, 2), grad=True),
    Case("extract_sequences", (sample((10,)), 4, 3)),
    Case("extract_sequences", (sample((2, 3, 8), "int32"), 2, 2)),
    Case("extract_sequences", (sample((2, 8), "bfloat16"), 8, 1)),
    Case("extract_sequences", (sample((6,), "bool"), 2, 1)),
]

COMPLEX_VIEWS = [
    Case("view_as_complex", (sample((3, 2)),)),
    Case("view_as_complex", (sample((2, 3, 2), "float64"),)),
    Case("view_as_complex", (sample((2,)),)),
    Case("view_as_complex", (sample((4, 2), "float16"),), rtol=1e-3, atol=1e-3),
    Case("view_as_real", (np.array([1 + 2j, 3 - 4j], "complex64"),)),
    Case("view_as_real", (np.array([[1 + 2j], [0.5j]], "complex128"),)),
    Case("view_as_real", (np.complex64(2 - 1j),)),
    Case("view_as_real", (sample((3,)),),
         keras_fn=lambda _o, x: np.stack([x, np.zeros_like(x)], -1),
         note="Keras's torch backend raises for a real input; lamina gives it a zero imaginary part"),
]


# -------------------------------------------------------------------------------------------- segments
IDS = np.array([0, 0, 2, -1, 5])  # segment 1 and 3 empty, -1 and 5 dropped with num_segments=4


def _np_segment(how: str, fill_float: float):
    def run(_ops, data, ids, num_segments=None, sorted=False):  # noqa: A002
        data = np.asarray(data)
        num = int(ids.max()) + 1 if num_segments is None else num_segments
        if data.dtype == bool:
            fill = {"sum": False, "prod": True, "max": False, "min": True}[how]
        elif np.issubdtype(data.dtype, np.integer):
            info = np.iinfo(data.dtype)
            fill = {"sum": 0, "prod": 1, "max": info.min, "min": info.max}[how]
        else:
            fill = fill_float
        out = np.full((num,) + data.shape[1:], fill, dtype=data.dtype)
        reduce = {"sum": np.add, "prod": np.multiply, "max": np.maximum, "min": np.minimum}[how]
        if data.dtype == bool:
            reduce = {"sum": np.logical_or, "prod": np.logical_and, "max": np.logical_or, "min": np.logical_and}[how]
        seen = np.zeros(num, bool)
        for row, i in zip(data, ids, strict=True):
            if 0 <= i < num:
                out[i] = row if not seen[i] else reduce(out[i], row)
                seen[i] = True
        return out
    return run


SEG_FILL = {"sum": 0.0, "prod": 1.0, "max": -np.inf, "min": np.inf}


def _segment_cases() -> list[Case]:
    cases = []
    for how in ("sum", "max", "min", "prod"):
        name = f"segment_{how}"
        cases += [
            Case(name, (sample((5, 3)), IDS), {"num_segments": 4}),
            Case(name, (sample((5,), "float64"), IDS), {"num_segments": 4}),
            Case(name, (sample((4, 2, 2)), np.array([0, 1, 1, 2])), {"sorted": True}),
            Case(name, (sample((4, 3), "float16"), np.array([1, 1, 0, 2])), {"num_segments": 3}, **LOW),
            Case(name, (sample((4, 3), "bfloat16"), np.array([1, 1, 0, 2], "int32")), {"num_segments": 3}, **LOW),
            Case(name, (sample((5, 2), "int32", -5, 5), IDS), {"num_segments": 4}, keras_fn=_np_segment(how, 0),
                 note="Keras's torch backend reduces in float32 and casts back: empty max/min segments of integer "
                      "dtypes come out as garbage (inf cast to int); lamina fills the dtype's lowest/highest"),
            Case(name, (sample((5, 2), "uint8", 0, 5), IDS), {"num_segments": 4}, keras_fn=_np_segment(how, 0),
                 note="as for int32"),
            Case(name, (sample((5, 2), "bool"), IDS), {"num_segments": 4}, keras_fn=_np_segment(how, 0),
                 note="Keras's torch backend fills empty bool max/min segments with True (inf cast to bool); "
                      "lamina: False for max, True for min"),
            Case(name, (sample((4, 3)), np.array([0, 1, 1, 2])), grad=True),
        ]
        if how in ("sum", "prod"):
            cases.append(Case(name, (sample((5, 2), "int32", -5, 5), IDS), {"num_segments": 4}))
    return cases


# ----------------------------------------------------------------------------------------------- FFTs
def _fft_cases() -> list[Case]:
    cases = []
    for name in ("fft", "fft2", "ifft2"):
        cases += [
            Case(name, (pair((4, 6)),), rtol=1e-4, atol=1e-5),
            Case(name, (pair((2, 3, 5), "float64"),)),
            Case(name, (([[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [1.0, -1.0]]),), rtol=1e-5, atol=1e-5),
        ]
        np_fn = {"fft": np.fft.fft, "fft2": np.fft.fft2, "ifft2": np.fft.ifft2}[name]
        cases.append(Case(name, (pair((3, 4), "float16"),), keras_fn=_np_complex_op(np_fn), check_dtype=False,
                          **LOW, note="Keras's torch backend raises for float16 (no half FFT on CPU); lamina "
                          "transforms in float32 and returns float16"))
    cases += [
        Case("rfft", (sample((2, 8)),), rtol=1e-4, atol=1e-5),
        Case("rfft", (sample((2, 8)),), {"fft_length": 6}, rtol=1e-4, atol=1e-5),
        Case("rfft", (sample((2, 8)),), {"fft_length": 11}, rtol=1e-4, atol=1e-5),
        Case("rfft", (sample((3, 2, 7), "float64"),)),
        Case("rfft", (sample((5,), "int32"),), rtol=1e-4, atol=1e-5),
        Case("irfft", (pair((2, 5)),), rtol=1e-4, atol=1e-5),
        Case("irfft", (pair((2, 5)),), {"fft_length": 9}, rtol=1e-4, atol=1e-5),
        Case("irfft", (pair((3, 2, 4), "float64"),), {"fft_length": 5}),
    ]
    return cases


SIGNAL = sample((2, 64))
STFT = [
    Case("stft", (SIGNAL, 16, 4, 16), rtol=1e-4, atol=1e-4),
    Case("stft", (SIGNAL, 16, 8, 16), {"window": "hamming"}, rtol=1e-4, atol=1e-4),
    Case("stft", (SIGNAL, 16, 4, 32), {"center": False}, rtol=1e-4, atol=1e-4),
    Case("stft", (SIGNAL, 10, 5, 16), {"window": None}, rtol=1e-4, atol=1e-4),
    Case("stft", (sample((2, 3, 40), "float64"), 8, 4, 8)),
    Case("stft", (sample((50,)), 12, 6, 16), {"window": np.linspace(0.1, 1.0, 12).astype("float32")},
         rtol=1e-4, atol=1e-4),
]


def _istft_cases() -> list[Case]:
    cases = []
    for seq, stride, fft_len, kwargs in [
        (16, 4, 16, {}),  # torch.istft's path in Keras
        (16, 4, 16, {"length": 60}),
        (16, 4, 16, {"window": "hamming"}),
        (16, 4, 32, {}),  # fft_length > sequence_length: the overlap-add path
        (16, 4, 16, {"center": False}),
        (16, 8, 16, {"window": None}),
        (12, 4, 16, {"center": False, "length": 40}),
    ]:
        frames = 15 if kwargs.get("center", True) else 13
        shape = (2, frames, fft_len // 2 + 1)
        cases.append(Case("istft", (pair(shape), seq, stride, fft_len), kwargs, rtol=1e-4, atol=1e-4))
    cases.append(Case("istft", (pair((2, 3, 9, 9), "float64"), 16, 4, 16)))
    return cases


# ------------------------------------------------------------------------------------------- rearrange
IMAGES = sample((4, 6, 8, 3))


def _np_rearrange(shape_fn):
    return lambda _o, x, pattern, **lengths: shape_fn(np.asarray(x))


REARRANGE = [
    Case("rearrange", (IMAGES, "b h w c -> b c h w"), grad=True),
    Case("rearrange", (IMAGES, "b h w c -> (b h) w c")),
    Case("rearrange", (IMAGES, "b h w c -> h (b w) c")),
    Case("rearrange", (IMAGES, "b h w c -> b (c h w)")),
    Case("rearrange", (IMAGES, "b (h1 h) (w1 w) c -> (b h1 w1) h w c"), {"h1": 2, "w1": 2}, grad=True),
    Case("rearrange", (IMAGES, "b (h h1) (w w1) c -> b h w (c h1 w1)"), {"h1": 2, "w1": 2}),
    Case("rearrange", (sample((2, 6), "int32"), "b (x y) -> y x b"), {"y": 3}),
    Case("rearrange", (IMAGES, "b ... c -> c b ..."),
         keras_fn=_np_rearrange(lambda x: np.moveaxis(x, -1, 0)),
         note="Keras's rearrange has no '...'; einops's meaning, checked with NumPy"),
    Case("rearrange", (IMAGES, "b ... -> b (...)"),
         keras_fn=_np_rearrange(lambda x: x.reshape(x.shape[0], -1)), note="as above"),
    Case("rearrange", (sample((2, 3)), "a b -> a 1 b ()"),
         keras_fn=_np_rearrange(lambda x: x[:, None, :, None]), note="unit axes: einops's meaning, via NumPy"),
]

ALL_CASES = (_unary_cases() + LOGSUMEXP + LOGDET + CDIST + TOP_K + IN_TOP_K + EXTRACT + COMPLEX_VIEWS
             + _segment_cases() + _fft_cases() + STFT + _istft_cases() + REARRANGE)


def _case_id(case: Case) -> str:
    """The harness's id, with a (real, imag) pair shown as ``pair<dtype>[shape]``."""
    if case.args and isinstance(case.args[0], tuple) and hasattr(case.args[0][0], "shape"):
        real = np.asarray(case.args[0][0])
        shown = Case(case.fn, case.args[1:], case.kwargs)
        return str(shown).replace("(", f"(pair{real.dtype}{list(real.shape)}, ", 1).replace(", )", ")")
    return str(case)


@pytest.mark.parametrize("case", ALL_CASES, ids=_case_id)
def test_parity(case, keras):
    check_case(case, keras)


def test_every_name_has_cases():
    covered = {case.fn for case in ALL_CASES}
    assert set(ops.math.__all__) <= covered, set(ops.math.__all__) - covered
    assert set(ops.math.__all__) <= set(ops.__all__)


def test_names_match_keras(keras):
    for name in ops.math.__all__:
        assert hasattr(keras.ops, name), name


# ------------------------------------------------------------------------------------------- gradients
def _grad_pair(fn, shape, **kwargs):
    real = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    imag = torch.rand(shape, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, i: fn((r, i), **kwargs), (real, imag), eps=1e-6, atol=1e-4)


@pytest.mark.parametrize("name", ["fft", "fft2", "ifft2"])
def test_grad_complex_pairs(name):
    _grad_pair(getattr(ops, name), (2, 3))


def test_grad_rfft_irfft():
    check_grad(Case("rfft", (sample((2, 6)),), {"fft_length": 8}))
    _grad_pair(ops.irfft, (2, 4), fft_length=7)


def test_grad_stft_istft():
    check_grad(Case("stft", (sample((1, 24)), 8, 4, 8)))
    check_grad(Case("stft", (sample((24,)), 6, 3, 8), {"center": False}))
    _grad_pair(ops.istft, (1, 5, 5), sequence_length=8, sequence_stride=4, fft_length=8)
    _grad_pair(ops.istft, (1, 5, 9), sequence_length=8, sequence_stride=4, fft_length=16)


def test_grad_cdist_at_zero_distance_is_finite():
    x = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    ops.cdist(x, x.detach()).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_grad_view_as_complex_and_real():
    x = torch.rand(3, 2, requires_grad=True)
    ops.view_as_real(ops.view_as_complex(x)).sum().backward()
    torch.testing.assert_close(x.grad, torch.ones(3, 2))


# ------------------------------------------------------------------------------------ round trips, errors
def test_stft_istft_round_trip():
    x = torch.rand(2, 100, dtype=torch.float64)
    for seq, stride, fft_len in [(16, 4, 16), (16, 4, 32), (20, 5, 32)]:
        spec = ops.stft(x, seq, stride, fft_len)
        back = ops.istft(spec, seq, stride, fft_len, length=100)
        torch.testing.assert_close(back[:, fft_len:-fft_len], x[:, fft_len:-fft_len])


def test_rfft_irfft_round_trip():
    x = torch.rand(3, 10, dtype=torch.float64)
    torch.testing.assert_close(ops.irfft(ops.rfft(x), 10), x)


def test_fft_half_keeps_dtype():
    real, imag = ops.fft((torch.ones(4, dtype=torch.bfloat16), torch.zeros(4, dtype=torch.bfloat16)))
    assert real.dtype == imag.dtype == torch.bfloat16
    assert real.tolist() == [4.0, 0.0, 0.0, 0.0]


ERRORS = [
    (lambda: ops.fft(np.ones(3, "float32")), ValueError),
    (lambda: ops.fft((np.ones(3, "int32"), np.ones(3, "int32"))), ValueError),
    (lambda: ops.fft((np.ones(3, "float32"), np.ones(4, "float32"))), ValueError),
    (lambda: ops.stft(np.ones(16, "int32"), 4, 2, 4), TypeError),
    (lambda: ops.stft(np.ones(16, "float32"), 8, 2, 4), ValueError),
    (lambda: ops.stft(np.ones(16, "float32"), 4, 2, 4, window="blackman"), ValueError),
    (lambda: ops.stft(np.ones(16, "float32"), 4, 2, 4, window=np.ones(3)), ValueError),
    (lambda: ops.istft((np.ones((3, 3), "float32"),) * 2, 4, 0, 4), ValueError),
    (lambda: ops.cdist(np.ones(3), np.ones(3)), ValueError),
    (lambda: ops.cdist(np.ones((2, 3)), np.ones((2, 4))), ValueError),
    (lambda: ops.segment_sum(np.ones((3, 2)), np.zeros((3, 1), "int32")), ValueError),
    (lambda: ops.segment_sum(np.ones((3, 2)), np.zeros(4, "int32")), ValueError),
    (lambda: ops.view_as_complex(np.ones((2, 3))), ValueError),
    (lambda: ops.rearrange(IMAGES, "b h w c"), ValueError),
    (lambda: ops.rearrange(IMAGES, "b h w -> b h w"), ValueError),
    (lambda: ops.rearrange(IMAGES, "b h w c -> b h w"), ValueError),
    (lambda: ops.rearrange(IMAGES, "b (h1 h) w c -> b h1 h w c"), ValueError),
    (lambda: ops.rearrange(IMAGES, "b (h1 h) w c -> b h1 h w c", h1=4), ValueError),
    (lambda: ops.rearrange(IMAGES, "b h w c -> b h w c", q=2), ValueError),
    (lambda: ops.rearrange(IMAGES, "b h h c -> b h c"), ValueError),
]
ERROR_IDS = ["fft-not-a-pair", "fft-int", "fft-shapes", "stft-int", "stft-fft-short", "stft-window-name",
             "stft-window-shape", "istft-stride", "cdist-rank", "cdist-last-axis", "segment-ids-rank",
             "segment-ids-length", "view_as_complex-last-axis", "rearrange-no-arrow", "rearrange-rank",
             "rearrange-names", "rearrange-two-unknowns", "rearrange-indivisible", "rearrange-unused-length",
             "rearrange-repeated-name"]


@pytest.mark.parametrize("call, error", ERRORS, ids=ERROR_IDS)
def test_errors(call, error):
    with pytest.raises(error):
        call()


# --------------------------------------------------------------------------------------------- meta
def test_meta_shapes():
    with torch.device("meta"):
        x = torch.empty(2, 64)
        assert ops.erf(x).device.type == "meta"
        assert ops.stft(x, 16, 4, 16)[0].shape == (2, 17, 9)
        spec = (torch.empty(2, 17, 9), torch.empty(2, 17, 9))
        assert ops.istft(spec, 16, 4, 16).shape == (2, 64)
        assert ops.istft(spec, 16, 4, 16, length=50).shape == (2, 50)
        assert ops.rfft(x)[1].shape == (2, 33)
        assert ops.irfft(ops.rfft(x)).shape == (2, 64)
        assert ops.fft2((x, x))[0].shape == (2, 64)
        assert ops.segment_max(x, torch.empty(2, dtype=torch.int64), num_segments=5).shape == (5, 64)
        assert ops.top_k(x, 3)[1].shape == (2, 3)
        assert ops.in_top_k(torch.empty(2, dtype=torch.int64), x, 3).shape == (2,)
        assert ops.cdist(torch.empty(3, 2, 4), torch.empty(5, 4)).shape == (3, 2, 5)
        assert ops.extract_sequences(x, 8, 8).shape == (2, 8, 8)
        assert ops.logsumexp(x, axis=1).shape == (2,)
        assert ops.rearrange(x, "b (h w) -> w b h", h=8).shape == (8, 2, 8)


def test_symbolic_inputs():
    import lamina

    inputs = lamina.Input((64,))
    real, imag = ops.stft(inputs, 16, 4, 16)
    assert tuple(real.shape) == (None, 17, 9)
    assert tuple(ops.rearrange(inputs, "b (h w) -> b w h", h=8).shape) == (None, 8, 8)
