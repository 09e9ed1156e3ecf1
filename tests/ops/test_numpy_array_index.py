"""Parity of lamina's indexing, selection, searching and sorting ops (keras.ops.numpy) with Keras 3."""

import numpy as np
import pytest
import torch
from ops_harness import Case, check_case, compare, sample

from lamina import ops


def _np(fn):
    """A Keras-side stand-in computing with NumPy (where Keras's torch backend is wrong or refuses)."""
    def run(_kops, *args, **kwargs):
        def conv(a):
            if isinstance(a, torch.Tensor):
                return a.float().numpy() if a.dtype == torch.bfloat16 else a.numpy()
            if isinstance(a, list) and a and isinstance(a[0], (np.ndarray, torch.Tensor)):
                return [conv(v) for v in a]
            return a
        return fn(*[conv(a) for a in args], **kwargs)
    return run


def _tuple_int32(fn):
    return _np(lambda *a: tuple(np.asarray(i, "int32") for i in fn(*a)))


X = sample((2, 3, 4))
X2 = sample((3, 4))
I8 = sample((3, 4), "int8", -5, 5)
B = sample((3, 4), "bool")
F16 = sample((3, 4), "float16")
BF = sample((3, 4), "bfloat16")
IDX = np.array([[0, 2], [1, -1]])

CASES = [
    # get_item
    Case("get_item", (X, 0), grad=True), Case("get_item", (X, -1)), Case("get_item", (X, (slice(None), 1))),
    Case("get_item", (X, (slice(0, 2), None, slice(None, None, 2))), grad=True),
    Case("get_item", (X, (Ellipsis, 0))), Case("get_item", (X, (0, Ellipsis, None))),
    Case("get_item", (X2, np.array([2, 0])), grad=True), Case("get_item", (X2, [1, 0])),
    Case("get_item", (X2, (np.array([0, 2]), np.array([1, 3])))), Case("get_item", (X2, X2 > 0)),
    Case("get_item", (X2, np.array([True, False, True]))), Case("get_item", (X2, np.int64(1))),
    Case("get_item", (X2, (slice(None), np.array([3, 0], "uint8")))), Case("get_item", (I8, (1, 2))),
    Case("get_item", (X2, torch.tensor(1))), Case("get_item", (X2, torch.tensor([2, 0], dtype=torch.int32))),
    Case("get_item", (X2, (slice(torch.tensor(1), None),))), Case("get_item", (BF, (Ellipsis, slice(1, 3)))),
    Case("get_item", (X2, slice(5, 9))), Case("get_item", (np.float32(2.0), ())),
    Case("get_item", (X2, (None, 1, slice(None, None, -1))),
         keras_fn=_np(lambda x, k: x[k]), note="Keras's torch backend refuses negative steps"),
    *[Case("get_item", (X, k), keras_fn=_np(lambda x, k: x[k]), note="as above", grad=True) for k in (
        slice(None, None, -1), (Ellipsis, slice(3, 0, -2)), (0, slice(None, None, -1), np.array([1, 0])),
        (slice(-1, None, -1), None, 1, slice(None, 1, -1)), (slice(None, None, -3), X[0, :, 0] > 0),
        (np.array([1, 0]), slice(None), slice(None, None, -1)), (torch.tensor(1), slice(None), np.array([[0, 3]])),
        (slice(None), np.array([1, 2]), -1), (X[:, 0, 0] > 0, slice(None), 0))],
    # take / take_along_axis
    Case("take", (X2, IDX), grad=True, keras_fn=_np(np.take),
         note="Keras's torch backend misplaces negative indices without an axis"), Case("take", (X2, IDX[:1])),
    Case("take", (X2, IDX, 1), grad=True), Case("take", (X2, [-1], 0)),
    Case("take", (X, np.array([1, 0]), -1)), Case("take", (I8, 2, 1)), Case("take", (B, [0, 1], 1)),
    Case("take", (X2, np.array([1.0, 2.0]), 1)), Case("take", (F16, np.array([], "int64"), 0)),
    Case("take_along_axis", (X2, np.array([[0], [2], [1]]), 1), grad=True),
    Case("take_along_axis", (X2, np.array([[0, 1, 2, 0]]), 0)), Case("take_along_axis", (X2, np.array([0, 5]))),
    Case("take_along_axis", (X, np.argsort(np.asarray(X), axis=-1), -1), grad=True),
    Case("take_along_axis", (I8, np.array([[-1], [0], [1]]), -1)),
    Case("take_along_axis", (X2, np.array([[0, 1]]), 1)),
    # where / select / isin
    Case("where", (X2 > 0, X2, -X2), grad=True), Case("where", (np.array([1, 0, 1]), 1, 2)),
    Case("where", (np.array([1, 0, 1]), 1.0, 2)), Case("where", (B, I8, 2.0)), Case("where", (B, I8, 1)),
    Case("where", (B, F16, 1.0)), Case("where", (B, BF, I8)), Case("where", (np.array([1.5, 0.0, 1.0]), 1, 0)),
    Case("where", (X2 > 0, sample((4,)), 0.0)), Case("where", (np.array(True), X2, X2.T.T)),
    Case("where", (B,), keras_fn=_tuple_int32(np.nonzero), note="a tuple of int32 tensors as NumPy (and Keras's "
         "symbolic where); Keras's torch backend stacks int64"),
    Case("select", ([X2 > 0.5, X2 < -0.5], [X2, -X2])),
    Case("select", ([B], [I8], 1.5)), Case("select", ([np.array([True, False])], [np.array([1, 2])], 1.5)),
    Case("select", ([np.array([True, False]), np.array([False, True])],
                    [np.array([1, 2], "int8"), np.array([1.0, 2.0], "float16")])),
    Case("select", ([np.array([1, 0])], [np.array([1, 2])]), keras_fn=_np(
        lambda c, v: np.select([np.asarray(x, bool) for x in c], v)),
        note="Keras's torch backend refuses int conditions"),
    Case("isin", (I8, [2, 3])), Case("isin", (I8, [2, 3]), {"invert": True}), Case("isin", (np.array([1.0, 2.0]),
                                                                                          np.array([2], "int8"))),
    Case("isin", (np.array([1, 2]), 2)), Case("isin", (X2, X2[0])),
    # nonzero
    Case("nonzero", (I8,), keras_fn=_tuple_int32(np.nonzero), note="one int32 tensor per axis, as NumPy and "
         "Keras's symbolic nonzero; Keras's torch backend stacks them"),
    Case("nonzero", (np.arange(4) % 2,), keras_fn=_tuple_int32(np.nonzero), note="as above"),
    Case("nonzero", (np.zeros((2, 0)),), keras_fn=_tuple_int32(np.nonzero), note="as above"),
    # sorting
    Case("sort", (X2,), grad=True), Case("sort", (X2, 0), grad=True), Case("sort", (X2, None)),
    Case("sort", (I8,)), Case("sort", (B,)), Case("sort", (F16, -2)), Case("sort", (BF,)),
    Case("sort", (np.float32(3.0),)), Case("sort", (np.zeros((0, 3)),)),
    Case("argsort", (X2,)), Case("argsort", (X2, 0)), Case("argsort", (X2, None)), Case("argsort", (F16,)),
    Case("argsort", (np.array([3, 1, 2], "uint8"),)), Case("argsort", (np.float32(3.0),)),
    Case("argsort", (np.array([True, False]),)),
    # searching
    Case("searchsorted", (np.array([1, 2, 3]), np.array([2, 2.5]))),
    Case("searchsorted", (np.array([1, 2, 3]), np.array([2, 2.5])), {"side": "right"}),
    Case("searchsorted", (np.array([1.0, 2.0, 3.0], "float32"), np.array([[0.0, 4.0], [1.5, 3.0]], "float32"))),
    Case("searchsorted", (np.array([1, 2, 3], "int8"), np.array([2.5], "float32"))),
    Case("searchsorted", (np.array([[1, 2, 3], [1, 5, 9]]), np.array([[2], [6]])), keras_fn=_np(
        lambda s, v: np.stack([np.searchsorted(a, b) for a, b in zip(s, v, strict=True)]).astype("int32")),
         note="Keras's torch backend takes 1-D sequences only"),
    Case("digitize", (np.array([0.2, 1.0, 3.0]), [0.0, 1.0, 2.0])), Case("digitize", (X2, np.array([-1.0, 0, 1]))),
    Case("digitize", (np.array([0.5, 1.5]), np.array([0, 1, 2], "int32"))), Case("digitize", (I8, [0])),
    Case("digitize", (np.array([0.2, 1.0, 3.0]), [2.0, 1.0, 0.0]), keras_fn=_np(
        lambda x, b: np.digitize(x, b).astype("int32")), note="Keras's torch backend mishandles decreasing bins"),
    # unique
    Case("unique", (np.array([3, 1, 2, 1]),)), Case("unique", (np.array([3, 1, 2, 1], "int32"),),
                                                           {"return_index": True, "return_inverse": True,
                                                            "return_counts": True}),
    Case("unique", (np.array([[3, 1], [2, 1]]),), {"return_inverse": True}),
    Case("unique", (np.array([3, 1, 2, 1]),), {"size": 5, "fill_value": -1}),
    Case("unique", (np.array([3, 1, 2, 1]),), {"size": 5}), Case("unique", (np.array([3, 1, 2, 1]),), {"size": 2}),
    Case("unique", (np.array([[3, 1], [2, 1], [3, 1]]),), {"axis": 0, "return_inverse": True}),
    Case("unique", (np.array([[3, 1], [2, 1], [3, 1]]),), {"axis": 0, "return_index": True,
                                                           "return_counts": True}),
    Case("unique", (np.array([1.5, 0.5, 1.5], "float32"),), {"return_counts": True}),
    Case("unique", (np.array([True, False, True]),)), Case("unique", (BF,)),
    # unravel_index
    Case("unravel_index", (np.array([5, 7]), (3, 4))), Case("unravel_index", (np.array([5, 7], "int32"), (3, 4))),
    Case("unravel_index", (np.array([[0, 23]], "int16"), (2, 3, 4))), Case("unravel_index", (5, (3, 4))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parity(case, keras):
    check_case(case, keras)


@pytest.mark.parametrize("x,kth,axis", [
    (np.array([3, 1, 2, 0, 5, 4]), 2, -1), (sample((3, 5)), 1, 0), (sample((3, 5)), -1, 1),
    (sample((4,), "int8"), 0, 0),
], ids=str)
def test_argpartition(x, kth, axis, keras):
    ours = ops.argpartition(x, kth, axis)
    theirs = keras.ops.argpartition(x, kth, axis)
    assert ours.dtype == torch.int32 and str(theirs.dtype).endswith("int32") and ours.shape == theirs.shape
    values = np.take_along_axis(np.asarray(x), ours.numpy(), axis)
    srt = np.sort(np.asarray(x), axis=axis)
    k = np.moveaxis(values, axis, -1)
    ref = np.moveaxis(srt, axis, -1)
    kk = kth % k.shape[-1]
    np.testing.assert_array_equal(k[..., kk], ref[..., kk])
    assert (k[..., :kk] <= k[..., kk:kk + 1]).all() and (k[..., kk + 1:] >= k[..., kk:kk + 1]).all()


def test_get_item_on_meta_and_gradient_through_masks():
    x = torch.ones((3, 4), device="meta")
    assert ops.get_item(x, (slice(None), np.array([0, 2]))).shape == (3, 2)
    assert ops.get_item(x, (None, 1)).shape == (1, 4)
    assert ops.take(x, np.array([[0, 1]]), axis=1).shape == (3, 1, 2)
    assert ops.take_along_axis(x, torch.zeros((3, 1), dtype=torch.int64, device="meta"), 1).shape == (3, 1)
    assert ops.where(torch.ones((3, 4), dtype=torch.bool, device="meta"), x, 0.0).device.type == "meta"
    assert ops.sort(x).device.type == "meta" and ops.argsort(x).dtype == torch.int32
    t = torch.tensor(sample((3, 4)), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: ops.get_item(v, v.detach() > 0), (t,))
    assert torch.autograd.gradcheck(lambda v: ops.select([v > 0], [v * 2], v), (t,))
    assert torch.autograd.gradcheck(lambda v: ops.where(v > 0, 1.0, v), (t,))


def test_where_needs_both_or_neither():
    with pytest.raises(ValueError):
        ops.where(np.array([True]), 1)


def test_unique_matches_numpy_on_floats():
    x = np.array([2.5, -1.0, 2.5, 0.0, -1.0], "float32")
    values, index, inverse, counts = ops.unique(x, return_index=True, return_inverse=True, return_counts=True)
    ref = np.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for a, b in zip((values, index, inverse, counts), ref, strict=True):
        compare(a, torch.as_tensor(b), Case("unique"))
