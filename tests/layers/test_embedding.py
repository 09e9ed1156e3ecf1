"""Embedding and Masking against Keras 3 (torch backend) with copied weights."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, to_numpy

from lamina.layers.embedding import Embedding, Masking


def _ids(shape, high=10, seed=0):
    return np.random.default_rng(seed).integers(0, high, size=shape).astype("int64")


def test_embedding_contract_and_keras(keras):
    ids = _ids((4, 7))
    check = check_layer(lambda: Embedding(10, 3), (4, 7), inputs=ids, check_grads=False,
                        keras_factory=lambda: keras.layers.Embedding(10, 3), keras=keras)
    assert check.outputs.shape == (4, 7, 3)
    assert [w.shape for w in check.layer.get_weights()] == [(10, 3)]
    assert check.layer.get_weights()[0].max() <= 0.05  # Keras's default 'uniform' in [-0.05, 0.05]


def test_embedding_gradient_reaches_used_rows_only():
    layer = Embedding(6, 2)
    out = layer(torch.tensor([[1, 2, 2]]))
    out.sum().backward()
    grad = layer.embeddings.grad
    assert torch.equal(grad[2], torch.full((2,), 2.0)) and torch.equal(grad[1], torch.ones(2))
    assert not grad[[0, 3, 4, 5]].any()


def test_embedding_mask_zero_matches_keras(keras):
    ids = _ids((3, 5), high=4, seed=2)
    ids[0, :2] = 0
    ids[1, -2:] = 0
    k = keras.layers.Embedding(4, 2, mask_zero=True)
    k_out = k(ids)
    layer = Embedding(4, 2, mask_zero=True)
    layer(torch.tensor(ids))
    layer.set_weights(keras_weights(k))
    out = layer(torch.tensor(ids))
    np.testing.assert_allclose(out.detach().numpy(), to_numpy(k_out), atol=1e-6)
    np.testing.assert_array_equal(out._keras_mask.numpy(), to_numpy(k.compute_mask(ids)))
    np.testing.assert_array_equal(out._keras_mask.numpy(), ids != 0)


def test_embedding_no_mask_without_mask_zero():
    out = Embedding(4, 2)(torch.tensor([[0, 1]]))
    assert getattr(out, "_keras_mask", None) is None


def test_embedding_float_ids_and_config():
    layer = Embedding(5, 2, mask_zero=True, input_length=3, name="emb")
    out = layer(torch.tensor([[1.0, 0.0, 4.0]]))
    assert out.shape == (1, 3, 2)
    cfg = json.loads(json.dumps(layer.get_config()))
    clone = Embedding.from_config(cfg)
    assert clone.mask_zero and clone.input_dim == 5 and clone.output_dim == 2 and clone.name == "emb"


def test_embedding_weights_argument():
    w = np.arange(6, dtype="float32").reshape(3, 2)
    out = Embedding(3, 2, weights=[w])(torch.tensor([2, 0]))
    np.testing.assert_array_equal(out.detach().numpy(), w[[2, 0]])


def test_embedding_rejects_bad_sizes():
    with pytest.raises(ValueError, match="input_dim"):
        Embedding(0, 3)


def test_masking_matches_keras(keras):
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype("float32")
    x[0, 1] = 0.0
    x[2, 4:] = 0.0
    x[1, 2, :2] = 0.0  # partly zero: not masked
    check = check_layer(lambda: Masking(), (3, 6, 4), inputs=x,
                        keras_factory=lambda: keras.layers.Masking(), keras=keras)
    mask = Masking()(torch.tensor(x))._keras_mask
    k_mask = keras.layers.Masking().compute_mask(x)
    np.testing.assert_array_equal(mask.numpy(), to_numpy(k_mask))
    assert not mask[0, 1] and mask[1, 2] and not mask[2, 5]
    assert not check.outputs[0, 1].any()


def test_masking_value_zeroes_masked_steps(keras):
    x = np.ones((2, 3, 2), dtype="float32")
    x[0, 2] = -1.0
    x[1, 0] = [-1.0, 5.0]
    out = Masking(mask_value=-1.0)(torch.tensor(x))
    k_out = keras.layers.Masking(mask_value=-1.0)(x)
    np.testing.assert_allclose(out.numpy(), to_numpy(k_out))
    assert out._keras_mask.tolist() == [[True, True, False], [True, True, True]]
    assert Masking.from_config(Masking(mask_value=-1.0).get_config()).mask_value == -1.0
