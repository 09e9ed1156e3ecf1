"""Legacy HDF5 model files (``model.save("m.h5")``): read safely (Keras 2 / tf.keras and Keras 3 files), and
written so that Keras 3's ``keras.models.load_model`` reads them (Keras 3 is the oracle)."""

import json

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import lamina  # noqa: E402
from lamina.saving.errors import FileFormatError, UnsafeFileError  # noqa: E402


def _rand(*shape, seed=3):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _close(a, b, x):
    np.testing.assert_allclose(np.asarray(a.predict(x, verbose=0)), np.asarray(b.predict(x, verbose=0)),
                               atol=1e-5, rtol=1e-5)


def test_lamina_h5_loads_in_keras(keras, tmp_path):
    L = lamina.layers
    inp = lamina.Input((6, 4))
    x = L.Bidirectional(L.LSTM(3, return_sequences=True))(inp)
    x = L.BatchNormalization()(x)
    x = L.MultiHeadAttention(num_heads=2, key_dim=2)(x, x)
    model = lamina.Model(inp, L.Dense(2)(L.Flatten()(x)))
    model.compile(optimizer="adam", loss="mse")
    model.set_weights([w + 0.1 * _rand(*w.shape, seed=i) for i, w in enumerate(model.get_weights())])
    model.save(tmp_path / "m.h5")
    # (Keras's legacy loader cannot compile string losses, "keras.metrics.mse", even from its own .h5 files)
    restored = keras.models.load_model(tmp_path / "m.h5", compile=False)
    x = _rand(3, 6, 4)
    _close(model, restored, x)
    with h5py.File(tmp_path / "m.h5", "r") as f:
        training = json.loads(f.attrs["training_config"])
    assert training["loss"] == "mse" and training["optimizer_config"]["class_name"] == "Adam"
    again = lamina.models.load_model(tmp_path / "m.h5")
    _close(model, again, x)
    assert again.compiled


def test_keras3_h5_loads_in_lamina(keras, tmp_path):
    inp = keras.Input((4,))
    x = keras.layers.BatchNormalization()(keras.layers.Dense(3, activation="relu")(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(x))
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="mse")
    model.fit(_rand(8, 4), _rand(8, 2), verbose=0)
    model.save(tmp_path / "k.h5")
    restored = lamina.models.load_model(tmp_path / "k.h5")
    _close(model, restored, _rand(5, 4))
    assert type(restored.optimizer).__name__ == "SGD"
    assert float(restored.optimizer.learning_rate) == pytest.approx(0.2)


def _keras2_file(path, layers, output="dense_1"):
    """A file as tf.keras 2.x writes it: Keras 2 node lists, ``:0`` weight names."""
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [[output, 0, 0]]}}
    rng = np.random.default_rng(0)
    weights = {"dense": {"kernel:0": rng.normal(size=(4, 3)), "bias:0": rng.normal(size=(3,))},
               "dense_1": {"kernel:0": rng.normal(size=(3, 2)), "bias:0": rng.normal(size=(2,))}}
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = "2.15.0"
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        f.attrs["training_config"] = json.dumps({"loss": "mse", "metrics": None, "optimizer_config": {
            "class_name": "SGD", "config": {"name": "SGD", "learning_rate": 0.1, "momentum": 0.0}}})
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"input_1", b"dense", b"dense_1"]
        group.create_group("input_1").attrs["weight_names"] = []
        for layer, arrays in weights.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = [f"{layer}/{k}".encode() for k in arrays]
            for k, v in arrays.items():
                g[f"{layer}/{k}"] = v.astype("float32")
    return weights


def _keras2_layers(activation="relu"):
    dense = {"class_name": "Dense", "config": {"name": "dense", "trainable": True, "dtype": "float32", "units": 3,
                                               "activation": activation, "use_bias": True},
             "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]}
    return [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 4], "dtype": "float32",
                                                    "sparse": False, "ragged": False, "name": "input_1"},
             "name": "input_1", "inbound_nodes": []},
            dense,
            {"class_name": "Dense", "config": {"name": "dense_1", "trainable": True, "dtype": "float32", "units": 2,
                                               "activation": "linear", "use_bias": True},
             "name": "dense_1", "inbound_nodes": [[["dense", 0, 0, {}]]]}]


def test_keras2_h5_is_read_with_its_weights_and_training_config(tmp_path):
    path = tmp_path / "tf_keras.h5"
    weights = _keras2_file(path, _keras2_layers())
    model = lamina.models.load_model(path)
    x = _rand(5, 4)
    hidden = np.maximum(x @ weights["dense"]["kernel:0"] + weights["dense"]["bias:0"], 0)
    want = hidden @ weights["dense_1"]["kernel:0"] + weights["dense_1"]["bias:0"]
    np.testing.assert_allclose(model.predict(x, verbose=0), want, atol=1e-5)
    assert type(model.optimizer).__name__ == "SGD" and float(model.optimizer.learning_rate) == pytest.approx(0.1)


def test_legacy_h5_with_code_or_wrong_weights_is_refused(tmp_path):
    layers = _keras2_layers()
    layers[1] = {"class_name": "Lambda", "config": {"name": "dense", "function": ["4wEAAAAAAAAA", None, None]},
                 "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]}
    _keras2_file(tmp_path / "lambda.h5", layers)
    with pytest.raises(UnsafeFileError):
        lamina.models.load_model(tmp_path / "lambda.h5")
    _keras2_file(tmp_path / "wrong.h5", _keras2_layers())
    with h5py.File(tmp_path / "wrong.h5", "a") as f:
        del f["model_weights/dense/dense/kernel:0"]
        f["model_weights/dense/dense/kernel:0"] = np.zeros((5, 3), "float32")
    with pytest.raises(FileFormatError, match=r"\(5, 3\)"):
        lamina.models.load_model(tmp_path / "wrong.h5")
    _keras2_file(tmp_path / "link.h5", _keras2_layers())
    with h5py.File(tmp_path / "link.h5", "a") as f:
        del f["model_weights/dense/dense/bias:0"]
        f["model_weights/dense/dense/bias:0"] = h5py.ExternalLink("/etc/passwd", "/x")
    with pytest.raises(UnsafeFileError, match="ExternalLink"):
        lamina.models.load_model(tmp_path / "link.h5")
    with h5py.File(tmp_path / "weights_only.h5", "w") as f:
        f.create_group("layers")
    with pytest.raises(FileFormatError, match="model_config"):
        lamina.models.load_model(tmp_path / "weights_only.h5")


def test_keras2_recurrent_config_keys_are_read(tmp_path):
    """tf.keras 2's LSTM config carries ``implementation`` and ``time_major``, which Keras 3 dropped."""
    layers = [{"class_name": "InputLayer", "config": {"batch_input_shape": [None, 5, 4], "dtype": "float32",
                                                      "name": "input_1"}, "name": "input_1", "inbound_nodes": []},
              {"class_name": "LSTM", "config": {"name": "dense", "units": 3, "implementation": 2, "time_major": False,
                                                "return_sequences": False, "dtype": "float32"},
               "name": "dense", "inbound_nodes": [[["input_1", 0, 0, {}]]]}]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["dense", 0, 0]]}}
    rng = np.random.default_rng(0)
    arrays = {"lstm_cell/kernel:0": rng.normal(size=(4, 12)), "lstm_cell/recurrent_kernel:0": rng.normal(size=(3, 12)),
              "lstm_cell/bias:0": rng.normal(size=(12,))}
    with h5py.File(tmp_path / "rnn.h5", "w") as f:
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"input_1", b"dense"]
        group.create_group("input_1").attrs["weight_names"] = []
        g = group.create_group("dense")
        g.attrs["weight_names"] = [f"dense/{k}".encode() for k in arrays]
        for k, v in arrays.items():
            g[f"dense/{k}"] = v.astype("float32")
    model = lamina.models.load_model(tmp_path / "rnn.h5")
    for got, (name, want) in zip(model.layers[-1].get_weights(), arrays.items(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6, err_msg=name)
