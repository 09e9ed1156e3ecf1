"""``lamina.export.ExportArchive``: Keras's API, endpoints written as ``torch.export`` programs (``.pt2``) that
PyTorch reloads without lamina, variable collections as safetensors, and clear errors."""

from __future__ import annotations

import inspect
import json
import os

import numpy as np
import pytest
import torch

import lamina
from lamina.export import ExportArchive, load_archive


def small_model() -> lamina.Model:
    lamina.utils.set_random_seed(3)
    model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(8, activation="relu"),
                               lamina.layers.BatchNormalization(), lamina.layers.Dropout(0.5),
                               lamina.layers.Dense(2)])
    model.compile("adam", "mse")
    model.fit(np.random.default_rng(0).normal(size=(64, 3)).astype("float32"), np.zeros((64, 2), "float32"),
              epochs=1, verbose=0)  # BatchNormalization's statistics move: the endpoint must use them
    return model


def test_endpoints_reload_in_plain_pytorch_with_dynamic_batch(tmp_path):
    model = small_model()
    archive = ExportArchive()
    archive.track(model)
    before = [m.training for m in model.modules()]
    archive.add_endpoint("serve", model.call, input_signature=[lamina.InputSpec(shape=(None, 3), dtype="float32")])
    archive.add_endpoint("doubled", lambda x: model(x) * 2, [lamina.InputSpec(shape=(None, 3))])
    assert [m.training for m in model.modules()] == before  # the model's own mode is left as it was
    archive.write_out(str(tmp_path), verbose=False)
    assert sorted(os.listdir(tmp_path)) == ["archive.json", "doubled.pt2", "serve.pt2"]
    serve = torch.export.load(str(tmp_path / "serve.pt2")).module()  # PyTorch alone reads it
    for rows in (5, 7):
        x = np.random.default_rng(rows).normal(size=(rows, 3)).astype("float32")
        expected = model.predict(x, verbose=0)  # inference: no dropout, moving statistics
        np.testing.assert_allclose(serve(torch.from_numpy(x)).detach().numpy(), expected, atol=1e-5)
    reloaded = load_archive(str(tmp_path))
    x = torch.ones(4, 3)
    np.testing.assert_allclose(reloaded.doubled(x).detach().numpy(), 2 * model.predict(x.numpy(), verbose=0),
                               atol=1e-5)
    manifest = json.loads((tmp_path / "archive.json").read_text())
    assert manifest["endpoints"]["serve"]["input_signature"] == [{"shape": [None, 3], "dtype": "float32"}]


def test_track_and_add_endpoint_reads_the_model_inputs_and_collections_round_trip(tmp_path):
    model = small_model()
    archive = ExportArchive()
    archive.track_and_add_endpoint("serve", model, None)
    archive.add_variable_collection("weights", model.weights)
    archive.write_out(str(tmp_path), verbose=False)
    reloaded = load_archive(str(tmp_path))
    assert len(reloaded.weights) == len(model.weights)
    for saved, original in zip(reloaded.weights, model.weights, strict=True):
        np.testing.assert_array_equal(saved.numpy(), original.detach().numpy())
    paths = json.loads((tmp_path / "archive.json").read_text())["variable_collections"]["weights"]["paths"]
    assert paths == [w.path for w in model.weights]
    x = np.ones((3, 3), "float32")
    np.testing.assert_allclose(reloaded.serve(torch.from_numpy(x)).detach().numpy(), model.predict(x, verbose=0),
                               atol=1e-5)


def test_verbose_lists_the_endpoints(tmp_path, capsys):
    model = small_model()
    archive = ExportArchive()
    archive.track_and_add_endpoint("serve", model, [lamina.InputSpec(shape=(None, 3))])
    archive.write_out(str(tmp_path))
    assert "Endpoint 'serve'" in capsys.readouterr().out


def test_methods_have_keras_s_signatures():
    import os as _os

    _os.environ.setdefault("KERAS_BACKEND", "torch")
    keras_export = pytest.importorskip("keras.export")

    def parameters(fn) -> list[tuple]:
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    for name in ("track", "add_endpoint", "add_variable_collection", "track_and_add_endpoint"):
        assert parameters(getattr(ExportArchive, name)) == parameters(getattr(keras_export.ExportArchive, name)), name
    assert parameters(ExportArchive.write_out)[:4] == parameters(keras_export.ExportArchive.write_out)


def test_errors_say_what_is_wrong(tmp_path):
    model = small_model()
    archive = ExportArchive()
    with pytest.raises(ValueError, match="no endpoint yet"):
        archive.write_out(str(tmp_path))
    with pytest.raises(ValueError, match="torch.nn.Module"):
        archive.track("model")
    with pytest.raises(ValueError, match="not built"):
        archive.track(lamina.layers.Dense(2))
    archive.track(model)
    with pytest.raises(ValueError, match="needs an input_signature"):
        archive.add_endpoint("serve", lambda x: model(x))
    archive.add_endpoint("serve", model.call, [lamina.InputSpec(shape=(None, 3))])
    with pytest.raises(ValueError, match="already has an endpoint named 'serve'"):
        archive.add_endpoint("serve", model.call, [lamina.InputSpec(shape=(None, 3))])
    with pytest.raises(ValueError, match="identifier"):
        archive.add_endpoint("my endpoint", model.call, [lamina.InputSpec(shape=(None, 3))])
    with pytest.raises(ValueError, match="list of variables"):
        archive.add_variable_collection("weights", "kernel")
    with pytest.raises(ValueError, match="format='pt2'.*TensorFlow.*onnx"):
        archive.write_out(str(tmp_path), format="tf_saved_model")
    with pytest.raises(ValueError, match="SaveOptions"):
        archive.write_out(str(tmp_path), options=object())
    with pytest.raises(FileNotFoundError, match="archive.json"):
        load_archive(str(tmp_path))
