"""Tests of lamina/layers/category_encoding.py against Keras 3's CategoryEncoding (which runs on Keras's torch
backend), shapes, dtypes and values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from harness import to_numpy

from lamina.layers.category_encoding import CategoryEncoding, encode

INPUTS = [np.array(2), np.array([0, 1, 1]), np.array([[0], [3]]), np.array([[0, 1], [1, 1]]),
          np.array([[[0, 1], [2, 2]]]), np.array([[3, 3, 0]])]


@pytest.mark.parametrize("mode", ["multi_hot", "count", "one_hot", "binary"])
def test_category_encoding_against_keras(keras, mode):
    for x in INPUTS:
        theirs = keras.layers.CategoryEncoding(num_tokens=4, output_mode=mode)
        ours = CategoryEncoding(num_tokens=4, output_mode=mode)
        expected = to_numpy(theirs(x))
        got = ours(x)
        assert got.dtype == torch.float32 and tuple(got.shape) == expected.shape, (mode, x.shape)
        np.testing.assert_array_equal(got.numpy(), expected)
        assert ours.compute_output_shape(x.shape) == tuple(theirs.compute_output_shape(x.shape))
        np.testing.assert_array_equal(ours(torch.from_numpy(x)).numpy(), expected)


def test_count_weights_and_dtypes_against_keras(keras):
    x, w = np.array([[0, 1, 1], [2, 2, 3]]), np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 0.25]])
    expected = to_numpy(keras.layers.CategoryEncoding(num_tokens=4, output_mode="count")(x, count_weights=w))
    np.testing.assert_allclose(CategoryEncoding(num_tokens=4, output_mode="count")(x, count_weights=w).numpy(),
                               expected)
    for dtype in ("int32", "int64", "float64"):
        theirs = keras.layers.CategoryEncoding(num_tokens=4, output_mode="count", dtype=dtype)(x)
        ours = CategoryEncoding(num_tokens=4, output_mode="count", dtype=dtype)(x)
        assert str(ours.dtype).replace("torch.", "") == str(theirs.dtype).replace("torch.", "") == dtype
        np.testing.assert_array_equal(ours.numpy(), to_numpy(theirs))
    assert CategoryEncoding(num_tokens=4)([[1, 2]]).tolist() == [[0, 1, 1, 0]]  # a Python list


def test_errors_and_config_as_keras(keras):
    with pytest.raises(ValueError, match="num_tokens must be set"):
        CategoryEncoding()
    with pytest.raises(ValueError, match=">= 1"):
        CategoryEncoding(num_tokens=0)
    with pytest.raises(ValueError, match="Unknown arg for output_mode"):
        CategoryEncoding(num_tokens=3, output_mode="int")
    with pytest.raises(ValueError, match="count_weights"):
        CategoryEncoding(num_tokens=3)(np.array([[1]]), count_weights=np.array([[1.0]]))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        CategoryEncoding(num_tokens=3)(np.array([[0, 3]]))
    with pytest.raises(ValueError, match="not supported in lamina"):
        CategoryEncoding(num_tokens=3, sparse=True)
    ours = CategoryEncoding(num_tokens=3, output_mode="count", name="enc").get_config()
    theirs = keras.layers.CategoryEncoding(num_tokens=3, output_mode="count", name="enc").get_config()
    assert {k: ours[k] for k in ("name", "num_tokens", "output_mode")} == {
        k: theirs[k] for k in ("name", "num_tokens", "output_mode")}
    assert CategoryEncoding.from_config(ours).num_tokens == 3


def test_encode_drops_negative_ids_on_request():
    ids = torch.tensor([[1, -1, 2], [-1, -1, 0]])
    assert encode(ids, "count", 3, "int64", drop_negative=True).tolist() == [[0, 1, 1], [1, 0, 0]]
    assert encode(ids, "multi_hot", 3, "int64", drop_negative=True).tolist() == [[0, 1, 1], [1, 0, 0]]
    assert encode(torch.tensor([2, -1]), "one_hot", 3, "int64", drop_negative=True).tolist() == [[0, 0, 1],
                                                                                                [0, 0, 0]]
    with pytest.raises(ValueError):
        encode(ids, "count", 3, "int64")
