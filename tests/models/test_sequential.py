"""Sequential: construction (list / add / Input / input_shape / lazy), pop, wrapping torch modules, input checks,
Keras 3 weight layout and numerics, and the nn.Module contract (parameters, state_dict, .to, torch.optim loops)."""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import lamina
from lamina import layers

# Keras's own NumPy-2 deprecation noise (its tensors' __array__), not lamina's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")


def to_numpy(keras, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.asarray(keras.ops.convert_to_numpy(x))


def keras_weights(reference):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [np.asarray(w) for w in reference.get_weights()]


def randomize(model, scale=0.5):
    """Random weights everywhere (biases too: freshly initialized biases are zeros and would hide a lost bias)."""
    weights = [(scale * np.random.randn(*w.shape)).astype("float32") for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def mlp(input_shape=None):
    """Flatten -> Dense(32, relu) -> Dense(10), optionally with the input shape on the first layer."""
    first = layers.Flatten() if input_shape is None else layers.Flatten(input_shape=input_shape)
    return [first, layers.Dense(32, activation="relu"), layers.Dense(10)]


def reference_mlp(x, weights):
    """The same network written out with plain torch ops on Keras-layout weights."""
    k1, b1, k2, b2 = (torch.as_tensor(w) for w in weights)
    h = torch.relu(x.reshape(x.shape[0], -1) @ k1 + b1)
    return h @ k2 + b2


# ----------------------------------------------------------------------------- construction
def test_list_and_add_make_the_same_model():
    listed = lamina.Sequential(mlp((28, 28)))
    randomize(listed)
    added = lamina.Sequential()
    for layer in mlp((28, 28)):
        added.add(layer)
    assert [type(la) for la in listed.layers] == [type(la) for la in added.layers]
    assert listed.output_shape == added.output_shape == (None, 10)
    added.set_weights(listed.get_weights())
    x = torch.randn(5, 28, 28)
    torch.testing.assert_close(added(x), listed(x))
    torch.testing.assert_close(listed(x), reference_mlp(x, listed.get_weights()))


def test_input_shape_on_first_layer_builds_immediately():
    model = lamina.Sequential(mlp((28, 28)))
    assert model.built
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert [tuple(w.shape) for w in model.get_weights()] == [(784, 32), (32,), (32, 10), (10,)]
    assert all(w.device.type == "cpu" and not w.is_meta for w in model.weights)


@pytest.mark.parametrize("how", ["list", "add"])
def test_keras_input_builds_immediately(how):
    stack = [lamina.Input(shape=(28, 28)), *mlp()]
    if how == "list":
        model = lamina.Sequential(stack)
    else:
        model = lamina.Sequential()
        for item in stack:
            model.add(item)
    assert model.built
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert len(model.layers) == 3  # the Input is not a layer of a Sequential, as in Keras
    assert [tuple(w.shape) for w in model.get_weights()] == [(784, 32), (32,), (32, 10), (10,)]


def test_input_after_other_layers_is_rejected():
    model = lamina.Sequential([layers.Dense(3)])
    with pytest.raises(ValueError, match="Input"):
        model.add(lamina.Input(shape=(4,)))


def test_bad_layer_raises_at_add_time_and_is_not_added():
    model = lamina.Sequential([lamina.Input(shape=(4,)), layers.Dense(10)])
    bad = layers.Reshape((7,), name="bad_reshape")
    with pytest.raises(ValueError, match="bad_reshape") as info:
        model.add(bad)
    assert "(7,)" in str(info.value) and "10" in str(info.value)
    assert len(model.layers) == 1
    assert model.output_shape == (None, 10)
    assert "bad_reshape" not in dict(model.named_children())
    # the model is still usable, and a layer that fits can be added after the failure
    model.add(layers.Reshape((5, 2)))
    assert model.output_shape == (None, 5, 2)
    assert model(torch.ones(3, 4)).shape == (3, 5, 2)


def test_without_input_shape_builds_on_first_call():
    model = lamina.Sequential(mlp())
    assert model.weights == []
    x = torch.randn(6, 4, 7)
    y = model(x)
    assert model.built
    assert [tuple(w.shape) for w in model.get_weights()] == [(28, 32), (32,), (32, 10), (10,)]
    torch.testing.assert_close(y, reference_mlp(x, model.get_weights()))
    weights = randomize(model)
    torch.testing.assert_close(model(x), reference_mlp(x, weights))


def test_pop_removes_the_last_layer():
    model = lamina.Sequential(mlp((28, 28)))
    randomize(model)
    last = model.layers[-1]
    popped = model.pop()
    assert popped is last
    assert len(model.layers) == 2
    assert model.output_shape == (None, 32)
    assert all(w is not popped.kernel for w in model.weights)
    assert len(model.get_weights()) == 2
    x = torch.randn(2, 28, 28)
    k1, b1 = (torch.as_tensor(w) for w in model.get_weights())
    torch.testing.assert_close(model(x), torch.relu(x.reshape(2, -1) @ k1 + b1))
    # a layer can take the popped one's place, even under the same name
    model.add(layers.Dense(3, name=popped.name))
    assert model.output_shape == (None, 3)
    model.pop()
    model.pop()
    model.pop()
    with pytest.raises(IndexError):
        model.pop()


def test_plain_torch_module_is_wrapped_and_trains():
    linear = nn.Linear(3, 8)
    model = lamina.Sequential([lamina.Input(shape=(3,)), linear, nn.Tanh(), layers.Dense(1)])
    assert isinstance(model.layers[0], layers.TorchModuleWrapper)
    assert model.layers[0].module is linear
    assert model.output_shape == (None, 1)
    ids = {id(w) for w in model.trainable_weights}
    assert id(linear.weight) in ids and id(linear.bias) in ids
    x = np.random.rand(64, 3).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32") + 0.3).astype("float32")
    before = linear.weight.detach().clone()
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0]
    assert not torch.equal(linear.weight.detach(), before)  # the wrapped module's own weights were trained


def test_duplicate_layer_names_raise():
    with pytest.raises(ValueError, match="'twin'"):
        lamina.Sequential([layers.Dense(2, name="twin"), layers.Dense(2, name="twin")])
    model = lamina.Sequential([lamina.Input(shape=(3,)), layers.Dense(2, name="twin")])
    with pytest.raises(ValueError, match="'twin'"):
        model.add(layers.Dense(4, name="twin"))
    assert len(model.layers) == 1
    assert model.output_shape == (None, 2)


# ----------------------------------------------------------------------------- input checks
def test_wrong_input_shape_names_the_input_and_both_shapes():
    model = lamina.Sequential([lamina.Input(shape=(28, 28), name="pixels"), *mlp()])
    with pytest.raises(ValueError) as info:
        model(torch.zeros(2, 27, 28))
    message = str(info.value)
    assert "pixels" in message
    assert "(None, 28, 28)" in message
    assert "(2, 27, 28)" in message


def test_wrong_width_after_lazy_build_names_the_layer_and_shapes():
    model = lamina.Sequential([layers.Dense(4, name="first_dense"), layers.Dense(2)])
    model(torch.ones(2, 5))
    with pytest.raises(ValueError) as info:
        model(torch.ones(2, 6))
    message = str(info.value)
    assert "first_dense" in message
    assert "5" in message and "(2, 6)" in message


def test_missing_trailing_axis_of_size_one_is_added(keras):
    model = lamina.Sequential([lamina.Input(shape=(3, 1)), layers.Flatten(), layers.Dense(2)])
    reference = keras.Sequential([keras.Input(shape=(3, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    randomize(reference)
    model.set_weights(keras_weights(reference))
    x = np.random.rand(4, 3).astype("float32")
    expected = to_numpy(keras, reference(x))  # Keras accepts (4, 3) for (None, 3, 1) too
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(model(torch.from_numpy(x[..., None])).detach().numpy(), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-6)


# ----------------------------------------------------------------------------- Keras 3 as the oracle
def test_weights_order_shapes_and_predictions_equal_keras(keras):
    reference = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)])
    model = lamina.Sequential([lamina.Input(shape=(28, 28)), *mlp()])
    randomize(reference)
    theirs_all = keras_weights(reference)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in theirs_all]
    model.set_weights(theirs_all)
    for mine, theirs in zip(model.get_weights(), theirs_all, strict=True):
        np.testing.assert_array_equal(mine, theirs)
    x = np.random.rand(16, 28, 28).astype("float32")
    expected = to_numpy(keras, reference(x))
    np.testing.assert_allclose(model(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-5, rtol=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, atol=1e-5, rtol=0)
    # and back: Keras accepts lamina's weights as they come out of get_weights
    reference.set_weights(model.get_weights())
    np.testing.assert_allclose(to_numpy(keras, reference(x)), expected, atol=1e-6)


def test_set_weights_with_wrong_count_or_shape_raises():
    model = lamina.Sequential(mlp((28, 28)))
    weights = model.get_weights()
    with pytest.raises(ValueError, match="4"):
        model.set_weights(weights[:3])
    with pytest.raises(ValueError, match=r"\(784, 32\)"):
        model.set_weights([weights[0].T, *weights[1:]])


# ----------------------------------------------------------------------------- layers
def test_layers_and_get_layer():
    stack = [layers.Flatten(input_shape=(2, 2), name="flat"), layers.Dense(3, name="hidden"),
             layers.Dense(1, name="head")]
    model = lamina.Sequential(stack)
    assert model.layers == stack
    assert all(a is b for a, b in zip(model.layers, stack, strict=True))
    assert model.get_layer("hidden") is stack[1]
    assert model.get_layer(index=2) is stack[2]
    with pytest.raises(ValueError, match="nope") as info:
        model.get_layer("nope")
    assert "hidden" in str(info.value)  # lists the names that exist


# ----------------------------------------------------------------------------- nn.Module contract
def test_model_is_an_nn_module():
    model = lamina.Sequential([layers.Dense(4, input_shape=(3,), name="d1"), layers.Dense(2, name="d2")])
    assert isinstance(model, nn.Module)
    params = list(model.parameters())
    assert [id(p) for p in params] == [id(w) for w in model.trainable_weights]
    assert sum(p.numel() for p in params) == 3 * 4 + 4 + 4 * 2 + 2 == model.count_params()
    state = model.state_dict()
    assert list(state) == ["d1.kernel", "d1.bias", "d2.kernel", "d2.bias"]
    assert tuple(state["d1.kernel"].shape) == (3, 4)  # Keras layout (in, out)
    clone = lamina.Sequential([layers.Dense(4, input_shape=(3,), name="d1"), layers.Dense(2, name="d2")])
    randomize(model)
    clone.load_state_dict(model.state_dict())
    x = torch.randn(5, 3)
    torch.testing.assert_close(clone(x), model(x))


def test_to_moves_the_weights():
    model = lamina.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert model.to("meta") is model
    assert all(w.is_meta for w in model.weights)


def test_to_float64_computes_in_float64():
    """model.to(torch.float64) (or .double()) is the usual PyTorch way to run in double precision."""
    model = lamina.Sequential([layers.Dense(4, input_shape=(3,), activation="tanh"), layers.Dense(2)])
    randomize(model)
    model.to(torch.float64)
    assert all(w.dtype == torch.float64 for w in model.weights)
    x = torch.randn(5, 3, dtype=torch.float64)
    k1, b1, k2, b2 = model.weights
    y = model(x)
    assert y.dtype == torch.float64
    torch.testing.assert_close(y, torch.tanh(x @ k1 + b1) @ k2 + b2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_runs_on_the_device():
    model = lamina.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    randomize(model)
    x = torch.randn(5, 3)
    expected = model(x)
    model.to("cuda")
    assert all(w.device.type == "cuda" for w in model.weights)
    y = model(x.cuda())
    assert y.device.type == "cuda"
    torch.testing.assert_close(y.cpu(), expected, atol=1e-5, rtol=1e-5)


def test_hand_written_torch_training_loop():
    model = lamina.Sequential([layers.Dense(16, activation="relu", input_shape=(4,)), layers.Dense(1)])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x = torch.randn(128, 4)
    y = (x @ torch.tensor([[1.0], [-1.0], [2.0], [0.5]])).sin()
    losses = []
    model.train()
    for _ in range(100):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(p.grad is not None for p in model.parameters())
    assert losses[-1] < 0.2 * losses[0]


# ----------------------------------------------------------------- a stack of plain layers runs them directly
def _stack(*extra):
    model = lamina.Sequential([layers.Input((4,)), layers.Dense(5, activation="relu"), *extra, layers.Dense(2)])
    model(torch.randn(3, 4))  # the layers' first calls (after which they are plain)
    return model


def test_a_stack_of_plain_layers_gives_what_its_layers_give():
    model = _stack()
    assert model._runs_plain({}) and model._runs_plain({"training": True})
    x = torch.randn(6, 4)
    manual = model.layers[1](model.layers[0](x))
    torch.testing.assert_close(model(x), manual)
    torch.testing.assert_close(model(x, training=True), manual)
    assert model(x.double()).dtype == torch.float32  # the Input's dtype, as on the full path
    with pytest.raises(ValueError, match=r"expects shape \(None, 4\), but received input of shape \(6, 5\)"):
        model(torch.randn(6, 5))


def test_a_layer_that_reads_the_training_flag_keeps_the_full_path():
    model = _stack(layers.Dropout(0.5, seed=1))
    assert not model._runs_plain({"training": True})
    x = torch.ones(64, 4)
    torch.testing.assert_close(model(x, training=False), model(x, training=False))
    assert not torch.equal(model(x, training=True), model(x, training=False))  # the flag reached Dropout


def test_hooks_on_the_model_still_fire():
    model = _stack()
    seen = []
    handle = model.register_forward_hook(lambda module, args, out: seen.append(out.shape))
    model(torch.randn(3, 4))
    handle.remove()
    assert seen == [torch.Size([3, 2])] and model._runs_plain({})
