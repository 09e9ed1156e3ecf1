"""Keras's Model machinery members (``models/keras_members.py``), with Keras 3 (torch backend) as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina

RNG = np.random.default_rng(5)
X = RNG.normal(size=(16, 4)).astype("float32")
Y = RNG.normal(size=(16, 2)).astype("float32")


def small_model(lib, weights=None):
    i = lib.Input((4,))
    h = lib.layers.Dense(3, activation="relu", name="hidden")(i)
    h = lib.layers.BatchNormalization(name="bn")(h)
    model = lib.Model(i, lib.layers.Dense(2, name="out")(h))
    if weights is not None:
        model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    return model


def test_default_functional_name_is_keras_s(keras):
    assert small_model(lamina).name.startswith("functional") and small_model(keras).name.startswith("functional")


def test_train_function_runs_one_step_like_keras(keras):
    reference = small_model(keras)
    ours = small_model(lamina, reference.get_weights())
    logs = {}
    for lib, model in ((keras, reference), (lamina, ours)):
        model.make_train_function()
        assert model.train_function is not None
        out = model.train_function([(X, Y)])
        logs[lib.__name__] = {k: float(lib.ops.convert_to_numpy(v)) for k, v in out.items()}
    assert logs["lamina"] == pytest.approx(logs["keras"], abs=1e-5)
    for a, b in zip(ours.get_weights(), reference.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert ours.make_train_function() is ours.train_function  # kept until force=True
    assert ours.make_train_function(force=True) is not None


def test_test_and_predict_functions():
    model = small_model(lamina)
    logs = model.make_test_function()([(X, Y)])
    assert set(logs) == {"loss", "mae"}
    pred = model.make_predict_function()([X])
    np.testing.assert_allclose(np.asarray(pred), model.predict(X, verbose=0), atol=1e-6)


def test_state_tree_has_keras_s_structure_and_round_trips(keras):
    reference = small_model(keras)
    ours = small_model(lamina, reference.get_weights())
    for model in (reference, ours):
        model.fit(X, Y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    k_tree, l_tree = reference.get_state_tree("numpy_array"), ours.get_state_tree("numpy_array")
    assert set(k_tree) == set(l_tree)
    for part in ("trainable_variables", "non_trainable_variables"):
        assert set(k_tree[part]) == set(l_tree[part]), part
        for layer, values in k_tree[part].items():
            assert set(values) == set(l_tree[part][layer]), (part, layer)
            for name, value in values.items():
                np.testing.assert_allclose(l_tree[part][layer][name], value, atol=1e-5)
    assert set(l_tree["metrics_variables"]["loss"]) == {"total", "count"}
    # set_state_tree writes values back
    fresh = small_model(lamina)
    fresh.set_state_tree({k: l_tree[k] for k in ("trainable_variables", "non_trainable_variables")})
    np.testing.assert_allclose(fresh.predict(X, verbose=0), ours.predict(X, verbose=0), atol=1e-6)
    with pytest.raises(ValueError, match="no variable"):
        fresh.set_state_tree({"trainable_variables": {"nope": {"kernel": np.zeros(1)}}})


def test_stateless_compute_loss_leaves_the_model_alone():
    model = small_model(lamina)
    model.fit(X, Y, epochs=1, verbose=0)
    before = [m.detach().clone() for m in model.metrics_variables]
    y_pred = torch.zeros(16, 2)
    loss, (_, _, metric_values) = model.stateless_compute_loss(
        model.trainable_variables, model.non_trainable_variables, model.metrics_variables, x=X,
        y=torch.as_tensor(Y), y_pred=y_pred)
    assert float(loss) == pytest.approx(float(np.mean(Y**2)), rel=1e-5)
    for a, b in zip(model.metrics_variables, before, strict=True):
        torch.testing.assert_close(a, b)
    assert len(metric_values) == len(before)


def test_operations_lists_the_input_layer_too(keras):
    for lib in (keras, lamina):
        names = [op.name for op in small_model(lib).operations]
        assert names[1:] == ["hidden", "bn", "out"]


def test_keras_s_saving_options_lamina_does_not_offer_are_refused_before_writing(tmp_path):
    model = small_model(lamina)
    with pytest.raises(ValueError, match="zipped"):
        model.save(str(tmp_path / "m.keras"), zipped=False)
    with pytest.raises(ValueError, match="max_shard_size"):
        model.save_weights(str(tmp_path / "m.weights.h5"), max_shard_size=1.0)
    assert list(tmp_path.iterdir()) == []
    model.save(str(tmp_path / "m.keras"), zipped=True)
    assert (tmp_path / "m.keras").is_file()
