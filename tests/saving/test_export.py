"""ONNX export: the file runs in onnxruntime at any batch size and matches model.predict."""

import numpy as np
import pytest
import torch

import lamina
from lamina import layers as L

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def _check(model, path, inputs_for_batch, **export_kwargs):
    model.export(str(path), **export_kwargs)
    session = ort.InferenceSession(str(path))
    names = [i.name for i in session.get_inputs()]
    for n in (3, 7):  # two batch sizes: the batch axis is dynamic
        xs = inputs_for_batch(n)
        feed = dict(zip(names, xs if isinstance(xs, list) else [xs], strict=True))
        got = session.run(None, feed)
        want = model.predict(xs, verbose=0)
        want = want if isinstance(want, list) else [want]
        assert len(got) == len(want)
        for g, w in zip(got, want, strict=True):
            assert g.shape[0] == n
            np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)
    return session


def test_mlp(tmp_path):
    model = lamina.Sequential([L.Dense(16, activation="relu", input_shape=(10,)), L.Dropout(0.5),
                               L.Dense(3, activation="softmax")])
    rng = np.random.default_rng(0)
    _check(model, tmp_path / "mlp.onnx", lambda n: rng.normal(size=(n, 10)).astype("float32"))


def test_convnet_with_batchnorm(tmp_path):
    model = lamina.Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(12, 12, 3)), L.BatchNormalization(),
                               L.MaxPooling2D(), L.Flatten(), L.Dense(5)])
    with torch.no_grad():  # non-trivial statistics: inference must use them
        model.layers[1].moving_mean.uniform_(-1, 1)
        model.layers[1].moving_variance.uniform_(0.5, 2)
    rng = np.random.default_rng(1)
    _check(model, tmp_path / "conv.onnx", lambda n: rng.normal(size=(n, 12, 12, 3)).astype("float32"))


def test_multi_input_multi_output_functional(tmp_path):
    a, b = lamina.Input((4,), name="a"), lamina.Input((6,), name="b")
    h = L.Dense(3)(L.Concatenate()([L.Dense(5, activation="tanh")(a), b]))
    model = lamina.Model([a, b], [h, L.Dense(1, name="score")(h)])
    rng = np.random.default_rng(2)
    session = _check(model, tmp_path / "multi.onnx",
                     lambda n: [rng.normal(size=(n, 4)).astype("float32"), rng.normal(size=(n, 6)).astype("float32")])
    assert [i.name for i in session.get_inputs()] == ["a", "b"]
    assert session.get_outputs()[1].name == "score"


def test_subclassed_model_with_input_signature(tmp_path):
    class Net(lamina.Model):
        def __init__(self):
            super().__init__()
            self.hidden, self.out = L.Dense(8, activation="relu"), L.Dense(2)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Net()
    with pytest.raises(ValueError, match="input_signature"):
        model.export(str(tmp_path / "net.onnx"))
    assert not (tmp_path / "net.onnx").exists()
    rng = np.random.default_rng(3)
    _check(model, tmp_path / "net.onnx", lambda n: rng.normal(size=(n, 5)).astype("float32"),
           input_signature=(None, 5))  # builds it


def test_bad_arguments(tmp_path):
    model = lamina.Sequential([L.Dense(2, input_shape=(3,))])
    with pytest.raises(ValueError, match="unknown format"):
        model.export(str(tmp_path / "m.tflite"), format="tflite")
    with pytest.raises(ValueError, match="shape"):
        model.export(str(tmp_path / "m.onnx"), input_signature="nonsense")
    seq = lamina.Sequential([L.Dense(2, input_shape=(None, 3))])
    with pytest.raises(ValueError, match="unknown sizes besides the batch"):
        seq.export(str(tmp_path / "m.onnx"))
