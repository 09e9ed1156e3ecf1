"""ReversibleEmbedding against Keras 3 (torch backend): both directions on the same weights, gradients, masks,
weights order, configs, saving hooks and errors."""

import json

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, random_weights_like, to_numpy

import lamina
from lamina.layers.core import Dense, Input
from lamina.layers.reversible_embedding import ReversibleEmbedding

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras")

IDS = np.array([[1, 2, 0, 5], [9, 3, 3, 0]])
CASES = {
    "tied": {},
    "untied": {"tie_weights": False},
    "soft_cap": {"logit_soft_cap": 0.5},
    "untied_cap_mask": {"tie_weights": False, "logit_soft_cap": 2.0, "mask_zero": True},
    "reverse_dtype": {"reverse_dtype": "float16"},
}


def _pair(keras, kwargs):
    theirs = keras.layers.ReversibleEmbedding(10, 4, **kwargs)
    theirs(IDS)
    weights = random_weights_like(keras_weights(theirs), seed=3)
    theirs.set_weights(weights)
    ours = ReversibleEmbedding(10, 4, **kwargs)
    ours(torch.tensor(IDS))
    ours.set_weights(weights)
    return ours, theirs


@pytest.mark.parametrize("case", sorted(CASES))
def test_both_directions_match_keras(keras, case):
    ours, theirs = _pair(keras, CASES[case])
    assert [w.path.split("/")[-1] for w in theirs.weights] == [n for n, _ in ours.named_parameters()]
    np.testing.assert_allclose(to_numpy(ours(torch.tensor(IDS))), to_numpy(theirs(IDS)), atol=1e-6)
    h = np.random.default_rng(2).standard_normal((2, 3, 4)).astype("float32")
    got, want = ours(torch.tensor(h), reverse=True), theirs(h, reverse=True)
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]
    tol = 1e-2 if got.dtype == torch.float16 else 1e-5
    np.testing.assert_allclose(to_numpy(got).astype("float32"), to_numpy(want).astype("float32"), atol=tol, rtol=tol)


@pytest.mark.parametrize("case", ["tied", "untied", "soft_cap"])
def test_gradients_match_keras(keras, case):
    ours, theirs = _pair(keras, CASES[case])
    h = np.random.default_rng(4).standard_normal((2, 3, 4)).astype("float32")
    x, kx = torch.tensor(h, requires_grad=True), torch.tensor(h, requires_grad=True)
    loss = ours(torch.tensor(IDS)).sum() + ours(x, reverse=True).square().sum()
    k_loss = theirs(IDS).sum() + theirs(kx, reverse=True).square().sum()
    loss.backward()
    k_loss.backward()
    np.testing.assert_allclose(to_numpy(x.grad), to_numpy(kx.grad), atol=1e-4, rtol=1e-4)
    for w, kw in zip(ours.trainable_weights, theirs.trainable_weights, strict=True):
        np.testing.assert_allclose(to_numpy(w.grad), to_numpy(kw.value.grad), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_contract_forward(keras, case):
    kwargs = CASES[case]
    check_layer(lambda: ReversibleEmbedding(10, 4, **kwargs), (2, 4), inputs=IDS, check_grads=False,
                keras_factory=lambda: keras.layers.ReversibleEmbedding(10, 4, **kwargs), keras=keras)


def test_reverse_dtype_under_mixed_precision():
    layer = ReversibleEmbedding(10, 4, dtype="mixed_bfloat16", reverse_dtype="float32")
    hidden = torch.randn(2, 3, 4, dtype=torch.bfloat16)
    layer(torch.tensor(IDS))
    assert layer(hidden, reverse=True).dtype == torch.float32
    assert ReversibleEmbedding(10, 4, dtype="mixed_bfloat16")(hidden, reverse=True).dtype == torch.bfloat16


def test_masks():
    layer = ReversibleEmbedding(10, 4, mask_zero=True)
    out = layer(torch.tensor(IDS))
    assert torch.equal(out._keras_mask, torch.tensor(IDS) != 0)
    assert getattr(layer(out, reverse=True), "_keras_mask", None) is None


def test_symbolic_reverse_shape(keras):
    layer = ReversibleEmbedding(10, 4)
    assert layer(Input(shape=(3,), dtype="int32")).shape == (None, 3, 4)
    assert layer(Input(shape=(3, 4)), reverse=True).shape == (None, 3, 10)
    assert tuple(keras.layers.ReversibleEmbedding(10, 4)(keras.Input((3, 4)), reverse=True).shape) == (None, 3, 10)


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_matches_keras(keras, case):
    kwargs = {**CASES[case], "embeddings_regularizer": "l2", "embeddings_constraint": "non_neg"}
    ours = ReversibleEmbedding(10, 4, **kwargs)
    theirs = keras.layers.ReversibleEmbedding(10, 4, **kwargs).get_config()
    assert list(ours.get_config()) == list(theirs)
    for key in ("input_dim", "output_dim", "mask_zero", "tie_weights", "reverse_dtype", "logit_soft_cap",
                "quantization_config"):
        assert ours.get_config()[key] == theirs[key]
    text = json.dumps(ours.get_config())
    clone = ReversibleEmbedding.from_config(json.loads(text))
    assert json.dumps(clone.get_config()) == text


def test_language_model_trains_and_saves(tmp_path):
    """A tied embedding as input and output layer of a model: it trains, and saves/loads through .keras."""
    embed = ReversibleEmbedding(12, 6, tie_weights=False)
    ids = Input(shape=(5,), dtype="int32")
    hidden = Dense(6, activation="tanh")(embed(ids))
    model = lamina.Model(ids, embed(hidden, reverse=True))
    model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = np.random.default_rng(0).integers(1, 12, size=(16, 5))
    history = model.fit(x, x, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    path = tmp_path / "lm.keras"
    model.save(path)
    loaded = lamina.saving.load_model(path, custom_objects={"ReversibleEmbedding": ReversibleEmbedding})
    np.testing.assert_allclose(to_numpy(loaded(torch.tensor(x))), to_numpy(model(torch.tensor(x))), atol=1e-6)


def test_no_quantization_or_lora():
    layer = ReversibleEmbedding(10, 4)
    layer(torch.tensor(IDS))
    with pytest.raises(NotImplementedError, match="quantization"):
        layer.quantize("int8")
    with pytest.raises(NotImplementedError, match="LoRA"):
        layer.enable_lora(2)
    with pytest.raises(NotImplementedError, match="LoRA"):
        ReversibleEmbedding(10, 4, lora_rank=2)
    with pytest.raises(ValueError, match="logit_soft_cap"):
        ReversibleEmbedding(10, 4, logit_soft_cap=-1.0)
    model = lamina.Sequential([Input(shape=(4,), dtype="int32"), layer, Dense(3)])
    model.quantize("int8")  # the Dense layer quantizes; the ReversibleEmbedding is left alone
    assert model.layers[0].quantization_mode is None and model.layers[1].quantization_mode == "int8"
