"""Mixed precision: Keras's policies, layers computing under autocast with float32 weights, full-precision layers
inside mixed models, float32 model outputs, and training with mixed_bfloat16 on CPU."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.mixed_precision import DTypePolicy


@pytest.fixture(autouse=True)
def _reset_policy():
    yield
    lamina.mixed_precision.set_global_policy(None)


@pytest.mark.parametrize("name", ["float32", "float64", "float16", "bfloat16", "mixed_float16", "mixed_bfloat16"])
def test_policies_match_keras(keras, name):
    ours, theirs = DTypePolicy(name), keras.DTypePolicy(name)
    assert (ours.name, ours.compute_dtype, ours.variable_dtype) == (
        theirs.name, theirs.compute_dtype, theirs.variable_dtype)


def test_unknown_policy_is_explained():
    with pytest.raises(ValueError, match="Unknown dtype policy 'mixed_float8'.*'mixed_bfloat16'"):
        lamina.mixed_precision.set_global_policy("mixed_float8")


def test_global_policy_applies_to_new_layers_only():
    before = layers.Dense(2)
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    after = layers.Dense(2)
    assert before.dtype_policy.name == "float32"
    assert (after.dtype_policy.name, after.compute_dtype, after.dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    assert lamina.mixed_precision.global_policy() == DTypePolicy("mixed_bfloat16")
    lamina.mixed_precision.set_global_policy(None)
    assert layers.Dense(2).dtype_policy.name == "float32"


def test_mixed_dense_computes_like_pytorch_autocast():
    layer = layers.Dense(5, dtype="mixed_bfloat16")
    x = torch.randn(4, 3)
    out = layer(x)
    assert layer.kernel.dtype == torch.float32 and out.dtype == torch.bfloat16
    with torch.autocast("cpu", dtype=torch.bfloat16):
        expected = torch.nn.functional.linear(x.bfloat16(), layer.kernel.t(), layer.bias)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    full = x @ layer.kernel + layer.bias
    torch.testing.assert_close(out.float(), full, rtol=2e-2, atol=2e-2)  # bfloat16's precision


def test_full_precision_layer_inside_a_mixed_model_and_float32_outputs():
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    inputs = lamina.Input(shape=(3,))
    hidden = layers.Dense(4, name="hidden")(inputs)
    exact = layers.Dense(4, dtype="float32", name="exact")
    model = lamina.Model(inputs, exact(hidden))
    seen = {}
    exact.register_forward_hook(lambda mod, args, out: seen.update(inp=args[0].dtype, out=out.dtype))
    out = model(torch.randn(2, 3))
    assert seen == {"inp": torch.float32, "out": torch.float32}  # computed in float32, not under autocast
    assert out.dtype == torch.float32
    assert model.get_layer("hidden")(torch.randn(2, 3)).dtype == torch.bfloat16


def test_config_round_trip_keeps_the_policy():
    layer = layers.Dense(3, dtype="mixed_float16")
    clone = layers.Dense.from_config(layer.get_config())
    assert clone.dtype_policy == DTypePolicy("mixed_float16")


def test_fit_with_mixed_bfloat16_trains_on_cpu():
    lamina.utils.set_random_seed(0)
    lamina.mixed_precision.set_global_policy("mixed_bfloat16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8, 8, 1)).astype("float32")
    y = (x.mean(axis=(1, 2, 3)) > 0).astype("int64")
    model = lamina.Sequential([layers.Input(shape=(8, 8, 1)), layers.Conv2D(8, 3, activation="relu"),
                               layers.BatchNormalization(), layers.GlobalAveragePooling2D(),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer=lamina.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    assert all(w.dtype == torch.float32 for w in model.weights)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(x[:4], verbose=0).dtype == np.float32


def test_loss_scale_optimizer_unscales_and_skips_overflowing_steps():
    opt = lamina.optimizers.LossScaleOptimizer(lamina.optimizers.SGD(0.1), initial_scale=256.0,
                                               dynamic_growth_steps=2)
    w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    opt.build([w])
    for _ in range(2):  # two good steps: the same update as plain SGD, then the scale doubles
        opt.zero_grad()
        opt.scale_loss((w ** 2).sum()).backward()
        assert w.grad.tolist() == pytest.approx([v * 2 * opt.dynamic_scale for v in w.detach().tolist()])
        before = w.detach().clone()
        opt.step()
        torch.testing.assert_close(w.detach(), before - 0.1 * 2 * before)
    assert opt.dynamic_scale == 512.0 and opt.iterations == 2
    opt.zero_grad()
    w.grad = torch.tensor([float("inf"), 1.0])  # an overflow: the step is skipped, the scale halves
    before = w.detach().clone()
    opt.step()
    torch.testing.assert_close(w.detach(), before)
    assert opt.dynamic_scale == 256.0 and opt.iterations == 2
    clone = lamina.optimizers.deserialize(lamina.optimizers.serialize(opt))
    assert isinstance(clone, lamina.optimizers.LossScaleOptimizer) and clone.initial_scale == 256.0


def test_mixed_float16_compiles_with_a_loss_scale_and_trains():
    lamina.utils.set_random_seed(0)
    lamina.mixed_precision.set_global_policy("mixed_float16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6)).astype("float32")
    y = (x.sum(axis=1) > 0).astype("int64")
    model = lamina.Sequential([layers.Input(shape=(6,)), layers.Dense(16, activation="relu"),
                               layers.Dense(2, activation="softmax")])
    model.compile(optimizer=lamina.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    assert isinstance(model.optimizer, lamina.optimizers.LossScaleOptimizer)
    assert model.layers[0].compute_dtype == "float16"
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(w.dtype == torch.float32 for w in model.weights)
