"""Subclassed models: layer tracking, lazy and explicit build, the training flag, tracked metrics, the training API
(compile/fit/evaluate/predict and the *_on_batch methods, against Keras 3), and the errors users meet."""

import traceback
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

# Keras's own NumPy-2 deprecation noise (its tensors' __array__), not lamina's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")


def randomize(model, scale=0.5):
    """Random weights everywhere (biases too: freshly initialized biases are zeros and would hide a lost bias)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        weights = [(scale * np.random.randn(*np.shape(w))).astype("float32") for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def dense_ref(x, layer, activation=lambda t: t):
    kernel, bias = (torch.as_tensor(w) for w in layer.get_weights())
    return activation(x @ kernel + bias)


class MLP(lamina.Model):
    """Layers as attributes and in a list attribute."""

    def __init__(self, units=10, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(16, activation="relu", name="hidden")
        self.blocks = [layers.Dense(8, activation="tanh", name="block_0"), layers.Dense(8, name="block_1")]
        self.head = layers.Dense(units, name="head")

    def call(self, x):
        x = self.hidden(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def mlp_reference(model, x):
    h = dense_ref(x, model.hidden, torch.relu)
    h = dense_ref(h, model.blocks[0], torch.tanh)
    h = dense_ref(h, model.blocks[1])
    return dense_ref(h, model.head)


# ----------------------------------------------------------------------------- tracking and building
def test_layers_assigned_in_init_are_tracked():
    model = MLP()
    assert [la.name for la in model.layers] == ["hidden", "block_0", "block_1", "head"]
    model(torch.ones(2, 5))
    assert len(model.weights) == 8
    ids = {id(w) for w in model.trainable_weights}
    for layer in (model.hidden, *model.blocks, model.head):
        assert id(layer.kernel) in ids and id(layer.bias) in ids
    assert {id(p) for p in model.parameters()} == ids
    assert model.get_layer("block_1") is model.blocks[1]


def test_lazy_build_on_first_call():
    model = MLP()
    assert model.weights == []
    x = torch.randn(4, 5)
    model(x)
    assert model.built
    assert [tuple(w.shape) for w in model.get_weights()] == [(5, 16), (16,), (16, 8), (8,), (8, 8), (8,),
                                                            (8, 10), (10,)]
    randomize(model)
    torch.testing.assert_close(model(x), mlp_reference(model, x))


class RecordingDense(layers.Dense):
    log: list = []

    def call(self, inputs):
        RecordingDense.log.append(inputs.device.type)
        return super().call(inputs)


class Recorded(lamina.Model):
    def __init__(self):
        super().__init__()
        self.first = RecordingDense(64, activation="relu")
        self.second = RecordingDense(10)

    def call(self, x):
        return self.second(self.first(x))


def test_build_with_a_shape_builds_without_data():
    RecordingDense.log = []
    model = Recorded()
    model.build((None, 784))
    assert model.built
    assert [tuple(w.shape) for w in model.get_weights()] == [(784, 64), (64,), (64, 10), (10,)]
    assert all(w.device.type == "cpu" and not w.is_meta for w in model.weights)
    assert set(RecordingDense.log) <= {"meta"}  # shapes only: no real computation
    RecordingDense.log = []
    randomize(model)
    x = torch.randn(3, 784)
    expected = dense_ref(dense_ref(x, model.first, torch.relu), model.second)
    torch.testing.assert_close(model(x), expected)
    assert RecordingDense.log == ["cpu", "cpu"]


# ----------------------------------------------------------------------------- training flag
class TrainingLog(layers.Layer):
    """Records the `training` value it is called with."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen = []

    def call(self, x, training=None):
        self.seen.append(bool(training))
        return x


class WithDropout(lamina.Model):
    def __init__(self):
        super().__init__()
        self.inner = lamina.Sequential([layers.Dropout(0.5)])  # nested one level deeper
        self.log = TrainingLog()
        self.head = layers.Dense(1)

    def call(self, x):  # no `training` argument: the flag must still reach the layers inside
        return self.head(self.log(self.inner(x)))


def test_training_flag_reaches_nested_layers():
    model = WithDropout()
    x = torch.ones(64, 50)
    dropped = model.inner(x, training=True)
    assert 0 < (dropped == 0).float().mean() < 1
    assert set(dropped.unique().tolist()) <= {0.0, 2.0}  # kept values scaled by 1 / (1 - rate)

    model.log.seen.clear()
    off = model(x)
    torch.testing.assert_close(off, model(x, training=False))
    torch.testing.assert_close(off, dense_ref(x, model.head))  # dropout is off by default
    on = model(x, training=True)
    assert not torch.allclose(on, off)
    assert model.log.seen == [False, False, True]
    assert not torch.allclose(model(x, training=True), on)  # a fresh mask each call


def test_fit_trains_with_training_true_and_predict_uses_false():
    model = WithDropout()
    x = np.random.rand(32, 50).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    model.compile(optimizer="sgd", loss="mse")
    model.log.seen.clear()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert model.log.seen.count(True) == 8  # every training step
    model.log.seen.clear()
    model.predict(x, batch_size=8, verbose=0)
    model.evaluate(x, y, batch_size=8, verbose=0)
    assert model.log.seen and not any(model.log.seen)


# ----------------------------------------------------------------------------- metrics
class WithMetric(lamina.Model):
    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1)
        self.input_mean = lamina.metrics.Mean(name="input_mean")

    def call(self, x):
        self.input_mean.update_state(x.mean())
        return self.dense(x)


def test_metric_attributes_are_tracked():
    model = WithMetric()
    assert model.metrics == [model.input_mean]
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.rand(32, 3).astype("float32")
    y = np.random.rand(32, 1).astype("float32")
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert any(m is model.input_mean for m in model.metrics)
    assert "input_mean" in model.metrics_names
    # the epoch's value is the mean of the four batch means, i.e. the mean of x
    assert history.history["input_mean"][-1] == pytest.approx(float(x.mean()), rel=1e-5)


# ----------------------------------------------------------------------------- the training API
def regression_data(n=64):
    x = np.random.rand(n, 5).astype("float32")
    y = (x @ np.array([[1.0], [-1.0], [0.5], [2.0], [0.0]], dtype="float32") + 0.1).astype("float32")
    return x, y


def test_compile_fit_evaluate_predict_on_a_subclassed_model():
    model = MLP(units=1)
    x, y = regression_data()
    model.compile(optimizer=lamina.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    assert history.history["loss"][-1] < 0.25 * history.history["loss"][0]
    predicted = model.predict(x, batch_size=16, verbose=0)
    assert isinstance(predicted, np.ndarray) and predicted.shape == (64, 1)
    np.testing.assert_allclose(predicted, mlp_reference(model, torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    loss, mae = model.evaluate(x, y, batch_size=16, verbose=0)
    assert loss == pytest.approx(float(np.mean((predicted - y) ** 2)), rel=1e-4)
    assert mae == pytest.approx(float(np.mean(np.abs(predicted - y))), rel=1e-4)
    logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "mae"} and logs["loss"] == pytest.approx(loss)


def test_predict_works_without_compile():
    model = MLP()
    x = np.random.rand(10, 5).astype("float32")
    predicted = model.predict(x, batch_size=4, verbose=0)
    assert predicted.shape == (10, 10)
    np.testing.assert_allclose(predicted, mlp_reference(model, torch.from_numpy(x)).detach().numpy(), atol=1e-5)


def twin_models(keras):
    """The same subclassed two-layer model in lamina and Keras 3, with equal (random) weights."""

    class KerasNet(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = keras.layers.Dense(6, activation="tanh")
            self.d2 = keras.layers.Dense(2)

        def call(self, x):
            return self.d2(self.d1(x))

    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.d1 = layers.Dense(6, activation="tanh")
            self.d2 = layers.Dense(2)

        def call(self, x):
            return self.d2(self.d1(x))

    reference, model = KerasNet(), Net()
    reference(np.zeros((1, 4), "float32"))
    model(torch.zeros(1, 4))
    model.set_weights(randomize(reference))
    return model, reference


@pytest.mark.parametrize("metrics", [None, ["mae"]], ids=["loss_only", "with_metric"])
def test_on_batch_methods_match_keras(keras, metrics):
    model, reference = twin_models(keras)
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=metrics)
    reference.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse", metrics=metrics)
    batches = [(np.random.rand(8, 4).astype("float32"), np.random.rand(8, 2).astype("float32")) for _ in range(3)]

    for x, y in batches[:2]:  # two steps in a row: Keras reports each batch on its own
        mine, theirs = model.train_on_batch(x, y), reference.train_on_batch(x, y)
        assert type(mine) is type(theirs)
        np.testing.assert_allclose(mine, theirs, rtol=1e-5)
    x, y = batches[2]
    mine, theirs = model.train_on_batch(x, y, return_dict=True), reference.train_on_batch(x, y, return_dict=True)
    assert list(mine) == list(theirs)
    np.testing.assert_allclose(list(mine.values()), list(theirs.values()), rtol=1e-5)

    for x, y in batches:
        mine, theirs = model.test_on_batch(x, y), reference.test_on_batch(x, y)
        assert type(mine) is type(theirs)
        assert isinstance(mine, float) or (isinstance(mine, list) and all(isinstance(v, float) for v in mine))
        np.testing.assert_allclose(mine, theirs, rtol=1e-5)
    mine, theirs = model.test_on_batch(x, y, return_dict=True), reference.test_on_batch(x, y, return_dict=True)
    assert list(mine) == list(theirs)
    np.testing.assert_allclose(list(mine.values()), list(theirs.values()), rtol=1e-5)

    mine, theirs = model.predict_on_batch(x), reference.predict_on_batch(x)
    assert isinstance(mine, np.ndarray) and type(mine) is type(theirs)
    np.testing.assert_allclose(mine, theirs, atol=1e-5)


# ----------------------------------------------------------------------------- errors
class Boom(layers.Layer):
    def call(self, x):
        raise ValueError("boom")  # BOOM-LINE


class HoldsBoom(lamina.Model):
    def __init__(self):
        super().__init__(name="outer")
        self.block = lamina.Sequential([layers.Dense(3), Boom(name="exploder")], name="block")

    def call(self, x):
        return self.block(x)


def test_exception_in_a_user_layer_keeps_type_traceback_and_names_the_layer_path():
    model = HoldsBoom()
    with pytest.raises(ValueError) as info:
        model(torch.ones(2, 4))
    assert str(info.value) == "boom"  # the user's message, untouched (the context goes in notes)
    frames = traceback.extract_tb(info.value.__traceback__)
    last = frames[-1]
    assert last.filename == __file__
    assert last.line.endswith("# BOOM-LINE")
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert notes.index("exploder") < notes.index("block") < notes.index("outer")  # innermost first
    assert "(2, 4)" in notes or "(2, 3)" in notes


def test_exception_during_fit_propagates_with_its_type():
    model = HoldsBoom()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="boom") as info:
        model.fit(np.ones((4, 4), "float32"), np.ones((4, 3), "float32"), verbose=0)
    assert any(f.filename == __file__ and f.line.endswith("# BOOM-LINE")
               for f in traceback.extract_tb(info.value.__traceback__))


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_training_api_before_compile_raises_a_clear_error(method):
    model = MLP(units=1)
    x, y = regression_data(8)
    with pytest.raises(RuntimeError, match="compile") as info:
        getattr(model, method)(x, y)
    assert method in str(info.value)


def test_subclass_without_call_raises_a_clear_type_error():
    class NoCall(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

    with pytest.raises(TypeError, match="call") as info:
        NoCall()(torch.ones(2, 3))
    assert "no_call" in str(info.value) or "NoCall" in str(info.value)
