"""Parity of lamina.ops.nn's normalization, losses, encodings, attention and CTC ops with Keras 3 (torch)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, check_grad, positive, sample, to_numpy

INT_NOTE = "Keras's torch backend raises for integer inputs; lamina computes in floatx"


def _float32_first(name: str, count: int = 1):
    def run(kops, *args, **kwargs):
        args = [np.asarray(a, dtype="float32") if i < count else a for i, a in enumerate(args)]
        return getattr(kops.nn, name)(*args, **kwargs)
    return run


def _norm_cases() -> list[Case]:
    x = sample((2, 3, 4))
    cases = []
    for axes, keepdims in itertools.product(([0], [0, 2], (1,), [-1], [0, 1, 2]), (False, True)):
        cases.append(Case("nn.moments", (x, axes), {"keepdims": keepdims}, rtol=1e-5))
    cases += [
        Case("nn.moments", (x, 1)),
        Case("nn.moments", (sample((3, 4), "float16"), [0]), rtol=2e-3, atol=2e-3),
        Case("nn.moments", (sample((3, 4), "bfloat16"), [1]), rtol=2e-2, atol=2e-2),
        Case("nn.moments", (sample((3, 4), "float64"), [0, 1])),
        Case("nn.moments", (sample((3, 4), "int32", -5, 5), [0]), keras_fn=_float32_first("moments"), note=INT_NOTE),
        Case("nn.batch_normalization", (x, sample((4,)), positive((4,)), -1), rtol=1e-5),
        Case("nn.batch_normalization", (x, sample((3,)), positive((3,)), 1),
             {"offset": sample((3,)), "scale": sample((3,)), "epsilon": 0.1}, rtol=1e-5),
        Case("nn.batch_normalization", (x, sample((2,)), positive((2,)), 0), {"scale": sample((2,))}, rtol=1e-5),
        Case("nn.batch_normalization", (sample((2, 3), "float64"), sample((3,), "float64"), positive((3,), "float64"),
                                        -1)),
        Case("nn.batch_normalization", (sample((2, 3), "int32", -4, 4), [1, 2, 3], [1, 2, 3], -1),
             keras_fn=_float32_first("batch_normalization", 3), note=INT_NOTE),
        Case("nn.layer_normalization", (x,), rtol=1e-4, atol=1e-5),
        Case("nn.layer_normalization", (x,), {"gamma": sample((4,)), "beta": sample((4,))}, rtol=1e-4, atol=1e-5),
        Case("nn.layer_normalization", (x,), {"axis": (1, 2), "epsilon": 0.01, "gamma": sample((3, 4))},
             rtol=1e-4, atol=1e-5),
        Case("nn.layer_normalization", (sample((2, 8), "float16"),), rtol=5e-3, atol=5e-3),
        Case("nn.layer_normalization", (sample((2, 8), "bfloat16"),), rtol=3e-2, atol=3e-2),
        Case("nn.layer_normalization", (sample((2, 8), "int32", -5, 5),),
             keras_fn=_float32_first("layer_normalization"),
             note="Keras's torch backend casts the normalized result back to int64; lamina returns floatx",
             rtol=1e-4, atol=1e-5),
        Case("nn.rms_normalization", (x,), rtol=1e-4, atol=1e-5),
        Case("nn.rms_normalization", (x,), {"scale": sample((4,)), "epsilon": 0.01}, rtol=1e-4, atol=1e-5),
        Case("nn.rms_normalization", (x,), {"axis": 0}, rtol=1e-4, atol=1e-5,
             keras_fn=lambda kops, x, axis: torch.tensor(x / np.sqrt(np.mean(x * x, axis, keepdims=True) + 1e-7)),
             note="Keras's torch backend fails for axes other than the last: NumPy is the truth"),
        Case("nn.rms_normalization", (x,), {"axis": (1, 2), "scale": sample((3, 4))}, rtol=1e-4, atol=1e-5),
        Case("nn.rms_normalization", (sample((2, 8), "float16"),), rtol=5e-3, atol=5e-3),
        Case("nn.rms_normalization", (sample((2, 8), "float64"),)),
        Case("nn.normalize", (x,), rtol=1e-5),
        Case("nn.normalize", (x,), {"axis": 0, "order": 1}, rtol=1e-5),
        Case("nn.normalize", (x,), {"axis": (0, 2), "order": 2}, rtol=1e-5),
        Case("nn.normalize", (x,), {"order": 3, "epsilon": 1e-3}, rtol=1e-5),
        Case("nn.normalize", (np.zeros((2, 3), "float32"),)),
        Case("nn.normalize", (sample((2, 3), "int32", -4, 4),), rtol=1e-5),
        Case("nn.normalize", (sample((2, 3), "float16"),), rtol=2e-3, atol=2e-3),
        Case("nn.psnr", (sample((2, 4, 4, 3)), sample((2, 4, 4, 3)), 1.0), rtol=1e-5),
        Case("nn.psnr", (sample((3, 5), "float64"), sample((3, 5), "float64"), 255)),
        Case("nn.psnr", (sample((3, 5), "float16"), sample((3, 5), "float16"), 2.0), rtol=3e-3, atol=3e-3),
        Case("nn.psnr", (sample((3, 5), "int32", 0, 9), sample((3, 5), "int32", 0, 9), 255),
             keras_fn=_float32_first("psnr", 2), note=INT_NOTE, rtol=1e-5),
        Case("nn.polar", (positive((2, 3)), sample((2, 3)))),
        Case("nn.polar", (positive((2, 3), "float64"), sample((3,), "float64"))),
        Case("nn.polar", (np.array([1, 2]), np.array([0, 1]))),
        Case("nn.polar", (2.0, 0.5)),
    ]
    return cases


def _np_bce_truth(kops, target, output, from_logits=False):
    return kops.nn.binary_crossentropy(np.asarray(target, "float32"), np.asarray(output, "float32"),
                                       from_logits=from_logits)


def _loss_cases() -> list[Case]:
    logits = sample((3, 4))
    probs = positive((3, 4))
    labels = np.eye(4, dtype="float32")[[1, 3, 0]]
    sparse = np.array([1, 3, 0])
    cases = []
    for from_logits in (False, True):
        out = logits if from_logits else probs / probs.sum(-1, keepdims=True)
        kw = {"from_logits": from_logits}
        binary_out = logits if from_logits else positive((3, 4)) / 2.5
        binary_target = sample((3, 4), "bool").astype("float32")
        cases += [
            Case("nn.binary_crossentropy", (binary_target, binary_out), kw, rtol=1e-5, atol=1e-6),
            Case("nn.binary_crossentropy", (binary_target.astype("float16"), binary_out.astype("float16")), kw,
                 rtol=3e-3, atol=3e-3),
            Case("nn.binary_crossentropy", (binary_target.astype("int32"), binary_out), kw,
                 keras_fn=_np_bce_truth, note="Keras's torch backend raises for integer targets", rtol=1e-5),
            Case("nn.categorical_crossentropy", (labels, out), kw, rtol=1e-5),
            Case("nn.categorical_crossentropy", (labels, out * 3), kw, rtol=1e-5),
            Case("nn.categorical_crossentropy", (labels.T, out.T), {**kw, "axis": 0}, rtol=1e-5),
            Case("nn.categorical_crossentropy", (labels.astype("int32"), out), kw, rtol=1e-5),
            Case("nn.categorical_crossentropy", (labels, out.astype("float16")), kw, rtol=3e-3, atol=3e-3),
            Case("nn.categorical_crossentropy", (labels, out.astype("float64")), kw),
            Case("nn.sparse_categorical_crossentropy", (sparse, out), kw, rtol=1e-5),
            Case("nn.sparse_categorical_crossentropy", (sparse[:, None], out), kw, rtol=1e-5),
            Case("nn.sparse_categorical_crossentropy", (sparse, out.astype("float16")), kw, rtol=3e-3, atol=3e-3),
            Case("nn.sparse_categorical_crossentropy", (sparse.astype("int64"), out.astype("float64")), kw),
            Case("nn.sparse_categorical_crossentropy", (np.array([[0, 1], [2, 3]]), sample((2, 2, 4))), kw,
                 rtol=1e-5),
        ]
    cases.append(Case("nn.sparse_categorical_crossentropy", (np.array([1, 0, 2, 1]), sample((3, 4))),
                      {"from_logits": True, "axis": 0}, rtol=1e-5))
    cases.append(Case("nn.binary_crossentropy", (np.array([0.0, 1.0]), np.array([0.0, 1.0])), rtol=1e-5))
    # Encodings.
    ints = np.array([[0, 2, 1], [3, 3, 0]])
    for axis in (-1, 0, 1):
        cases.append(Case("nn.one_hot", (ints, 4), {"axis": axis}))
        cases.append(Case("nn.multi_hot", (ints, 4), {"axis": axis}))
    cases += [
        Case("nn.one_hot", (np.array([0, 2, -1, 3]), 4)),
        Case("nn.one_hot", (np.array([0, 2, 1]), 3), {"dtype": "int32"}),
        Case("nn.one_hot", (np.array([0, 2, 1]), 5), {"dtype": "bool"}),
        Case("nn.one_hot", (np.array(2), 3)),
        Case("nn.one_hot", (np.zeros((0,), "int64"), 3)),
        Case("nn.one_hot", (np.array([[1, 0, 1], [0, 0, 1]], "int8"), 2), {"axis": -2},
             keras_fn=lambda kops, x, n, axis: kops.nn.one_hot(x, n, axis=1),
             note="Keras's torch backend misplaces negative axes other than -1; -2 is axis 1 of the result (JAX)"),
        Case("nn.multi_hot", (np.array([0, 3]), 5)),
        Case("nn.multi_hot", (np.array([[[0, 2], [1, 1]]]), 4)),
        Case("nn.multi_hot", (ints, 4), {"dtype": "int32"}),
    ]
    return cases


def _bias_with_mask(kops, q, k, v, bias, mask):
    return kops.nn.dot_product_attention(q, k, v, bias=bias + np.where(mask, 0, -1e30).astype("float32"))


def _attention_cases() -> list[Case]:
    q, k, v = sample((2, 3, 4, 5)), sample((2, 6, 4, 5)), sample((2, 6, 4, 5))
    kg, vg = sample((2, 6, 2, 5)), sample((2, 6, 2, 5))
    mask = sample((3, 6), "bool")
    mask[1] = False  # a row with nothing to attend to: uniform weights, as in Keras
    tol = {"rtol": 1e-4, "atol": 1e-5}
    square = sample((2, 4, 2, 3))
    return [
        Case("nn.dot_product_attention", (q, k, v), **tol),
        Case("nn.dot_product_attention", (q, kg, vg), **tol),
        Case("nn.dot_product_attention", (q, k[:, :, :1], v[:, :, :1]), **tol),
        Case("nn.dot_product_attention", (q, k, v), {"scale": 0.3}, **tol),
        Case("nn.dot_product_attention", (q, k, v), {"mask": mask}, **tol),
        Case("nn.dot_product_attention", (q, k, v), {"bias": sample((2, 4, 3, 6))}, **tol),
        Case("nn.dot_product_attention", (q, k, v), {"bias": sample((3, 6)), "mask": mask}, **tol,
             keras_fn=_bias_with_mask, note="Keras's torch backend takes bias or mask, not both"),
        Case("nn.dot_product_attention", (q, k, v), {"is_causal": True}, **tol),
        Case("nn.dot_product_attention", (k, q, q), {"is_causal": True}, **tol),
        Case("nn.dot_product_attention", (square, square, square), {"is_causal": True, "mask": sample((4, 4), "bool")},
             **tol),
        Case("nn.dot_product_attention", (q.astype("float64"), k.astype("float64"), v.astype("float64")),
             check_dtype=False, note="Keras's torch backend returns float32 for float64 inputs; lamina keeps float64"),
        Case("nn.dot_product_attention", (q.astype("float16"), k.astype("float16"), v.astype("float16")),
             rtol=5e-3, atol=5e-3),
        Case("nn.dot_product_attention", (q, k.astype("float16"), v), **tol),
        Case("nn.dot_product_attention", (q, k, v), {"flash_attention": False}, **tol),
    ]


@pytest.mark.parametrize("case", _norm_cases() + _loss_cases() + _attention_cases(), ids=str)
def test_parity(case, keras):
    check_case(case, keras)


def _grad_cases() -> list[tuple[Case, tuple]]:
    x = sample((2, 3))
    q, k = sample((1, 2, 2, 3)), sample((1, 3, 1, 3))
    return [
        (Case("nn.moments", (x, [0])), (0,)),
        (Case("nn.batch_normalization", (x, sample((3,)), positive((3,)), -1, sample((3,)), sample((3,)))),
         (0, 1, 2, 4, 5)),
        (Case("nn.layer_normalization", (x, sample((3,)), sample((3,)))), (0, 1, 2)),
        (Case("nn.rms_normalization", (x, sample((3,)))), (0, 1)),
        (Case("nn.normalize", (x,), {"order": 1}), (0,)),
        (Case("nn.psnr", (x, sample((2, 3)), 1.0)), (0, 1)),
        (Case("nn.polar", (positive((2, 3)), sample((2, 3)))), (0, 1)),
        (Case("nn.binary_crossentropy", (positive((2, 3)) / 2.5, positive((2, 3)) / 2.5)), (0, 1)),
        (Case("nn.binary_crossentropy", (positive((2, 3)) / 2.5, x), {"from_logits": True}), (0, 1)),
        (Case("nn.categorical_crossentropy", (positive((2, 3)), positive((2, 3)))), (0, 1)),
        (Case("nn.categorical_crossentropy", (positive((2, 3)), x), {"from_logits": True}), (0, 1)),
        (Case("nn.sparse_categorical_crossentropy", (np.array([2, 0]), positive((2, 3)))), (1,)),
        (Case("nn.sparse_categorical_crossentropy", (np.array([2, 0]), x), {"from_logits": True}), (1,)),
        (Case("nn.dot_product_attention", (q, k, sample((1, 3, 1, 3)))), (0, 1, 2)),
        (Case("nn.dot_product_attention", (q, k, k), {"is_causal": True, "bias": sample((2, 3)),
                                                      "attn_logits_soft_cap": 2.0}), (0, 1, 2)),
        (Case("nn.ctc_loss", (np.array([[1, 2], [2, 0]]), sample((2, 4, 3)), np.array([2, 1]), np.array([4, 3]))),
         (1,)),
    ]


@pytest.mark.parametrize("case,argnums", _grad_cases(), ids=lambda v: str(v) if isinstance(v, Case) else "")
def test_gradients(case, argnums):
    if case.fn == "nn.polar":  # complex output: check the gradient of its real and imaginary parts
        from lamina import ops

        a, b = (torch.as_tensor(v, dtype=torch.float64).requires_grad_(True) for v in case.args)
        assert torch.autograd.gradcheck(lambda m, t: torch.view_as_real(ops.nn.polar(m, t)), (a, b))
        return
    check_grad(case, argnums)


def test_layer_normalization_legacy_rms_scaling(keras):
    x, gamma = sample((2, 3, 4)), sample((4,))
    with pytest.warns(UserWarning, match="rms_scaling"):
        check_case(Case("nn.layer_normalization", (x,), {"gamma": gamma, "rms_scaling": True}, rtol=1e-4,
                        atol=1e-5), keras)


def test_attention_soft_cap():
    """``attn_logits_soft_cap`` (Keras: JAX on TPU only) against a NumPy reference."""
    from lamina import ops

    q, k, v = sample((1, 3, 2, 4)), sample((1, 5, 2, 4)), sample((1, 5, 2, 4))
    mask = sample((3, 5), "bool")
    got = ops.nn.dot_product_attention(q, k, v, mask=mask, attn_logits_soft_cap=1.5)
    logits = np.einsum("btnh,bsnh->bnts", q, k) / 2.0
    logits = np.tanh(logits / 1.5) * 1.5
    logits = np.where(mask, logits, -1e30)
    weights = np.exp(logits - logits.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    expected = np.einsum("bnts,bsnh->btnh", weights, v)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-5, atol=1e-6)


def test_encodings_refuse_sparse():
    from lamina import ops

    with pytest.raises(ValueError, match="sparse"):
        ops.nn.one_hot(np.array([0, 1]), 2, sparse=True)
    with pytest.raises(ValueError, match="sparse"):
        ops.nn.multi_hot(np.array([0, 1]), 2, sparse=True)
    assert ops.nn.multi_hot(np.array([0, 1]), num_tokens=3).tolist() == [1.0, 1.0, 0.0]


# ------------------------------------------------------------------------------------ CTC
def _ctc_cases() -> list[Case]:
    rng = np.random.default_rng(7)
    cases = []
    for steps, classes in ((1, 2), (5, 3), (7, 5), (6, 4)):
        x = (rng.normal(size=(3, steps, classes)) * 2).astype("float32")
        lengths = rng.integers(1, steps + 1, size=3)
        lengths[0] = steps
        for merge, blank in itertools.product((True, False), (0, classes - 1)):
            cases.append(Case("nn.ctc_decode", (x, lengths), {"merge_repeated": merge, "mask_index": blank},
                              rtol=1e-5))
        cases.append(Case("nn.ctc_decode", (x, np.array([0, steps, 1])), rtol=1e-5))
        for width, paths in ((1, 1), (3, 2), (10, 4)):
            blank = int(rng.integers(0, classes))
            cases.append(Case("nn.ctc_decode", (x, lengths),
                              {"strategy": "beam_search", "beam_width": width, "top_paths": paths, "mask_index": blank},
                              rtol=1e-4, atol=1e-5))
    x = (rng.normal(size=(2, 6, 4)) * 2).astype("float32")
    targets = np.array([[1, 2, 2], [3, 0, 0]])
    cases += [
        Case("nn.ctc_loss", (targets, x, np.array([3, 1]), np.array([6, 4])), rtol=1e-5),
        Case("nn.ctc_loss", (targets, x, np.array([2, 1]), np.array([5, 6])), rtol=1e-5),
        Case("nn.ctc_loss", (np.minimum(targets + 1, 3), x, np.array([3, 1]), np.array([6, 6])), rtol=1e-5),
        Case("nn.ctc_loss", (np.array([[0, 1], [2, 2]]), x, np.array([2, 2]), np.array([6, 6])), {"mask_index": 3},
             rtol=1e-5),
        Case("nn.ctc_loss", (targets, x.astype("float16"), np.array([3, 1]), np.array([6, 4])), rtol=3e-3,
             atol=3e-3),
        Case("nn.ctc_decode", (x.astype("float16"), np.array([6, 3])), rtol=3e-3),
    ]
    return cases


@pytest.mark.parametrize("case", _ctc_cases(), ids=str)
def test_ctc_parity(case, keras):
    check_case(case, keras)


def test_ctc_beam_search_scores_are_sequence_probabilities():
    """The best beam's score is the exact log probability of its labels (a sum over all alignments)."""
    from lamina import ops

    x = torch.randn(1, 4, 3)
    decoded, scores = ops.nn.ctc_decode(x, [4], strategy="beam_search", beam_width=30, top_paths=3)
    log_probs = torch.log_softmax(x, -1)[0]
    totals: dict = {}
    for path in itertools.product(range(3), repeat=4):
        labels = tuple(c for i, c in enumerate(path) if c != 0 and (i == 0 or c != path[i - 1]))
        lp = sum(log_probs[t, c] for t, c in enumerate(path))
        totals[labels] = torch.logaddexp(totals.get(labels, torch.tensor(-np.inf)), lp)
    best = sorted(totals.items(), key=lambda kv: -kv[1])[:3]
    for i, (labels, lp) in enumerate(best):
        assert tuple(c for c in decoded[i, 0].tolist() if c >= 0) == labels
        torch.testing.assert_close(scores[0, i], lp)


def test_ctc_decode_empty_sequence():
    """A sequence of length 0 decodes to no labels with log probability 0 (Keras's torch backend decodes the
    first step anyway)."""
    from lamina import ops

    decoded, scores = ops.nn.ctc_decode(torch.randn(1, 3, 4), [0], strategy="beam_search", beam_width=4, top_paths=2)
    assert decoded.tolist() == [[[-1, -1, -1]], [[-1, -1, -1]]]
    assert scores[0, 0] == 0 and scores[0, 1] == float("-inf")


def test_meta_device():
    from lamina import ops

    meta = torch.empty((2, 3, 4, 5), device="meta")
    assert ops.nn.dot_product_attention(meta, meta, meta, is_causal=True).shape == (2, 3, 4, 5)
    assert ops.nn.layer_normalization(meta).shape == meta.shape
    assert ops.nn.rms_normalization(meta).device.type == "meta"
    assert ops.nn.moments(meta, [0, 1])[1].shape == (4, 5)
    assert ops.nn.categorical_crossentropy(meta, meta).shape == (2, 3, 4)
    assert ops.nn.one_hot(torch.empty((2, 3), dtype=torch.int64, device="meta"), 4).shape == (2, 3, 4)
