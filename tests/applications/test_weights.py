"""weights="imagenet" end to end, offline: a local HTTP server (127.0.0.1, started here) serves a generated
weights file in the legacy layout Keras publishes, with its hash; the download lands in the cache, a second call
works with the server gone, a corrupted download is refused and leaves nothing, a missing file offline says what
to do. Also weights=<path> for each format, and the clear errors of a wrong file."""

import hashlib
import http.server
import threading

import h5py
import numpy as np
import pytest
import torch

import lamina
from lamina.applications import vgg16
from lamina.applications.weights import load_application_weights
from lamina.data.download import DownloadError, FileIntegrityError
from lamina.saving.errors import FileFormatError

FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"


def write_legacy_h5(model, path):
    """The layout of Keras 2's save_weights, written by hand: ``layer_names`` at the top, one group per layer
    with weights, ``weight_names`` listing its datasets (trainable first)."""
    layers = [layer for layer in model.layers if layer.weights]
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([layer.name.encode() for layer in layers])
        f.attrs["backend"] = b"tensorflow"
        for layer in layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{w}:0" for w in ("kernel", "bias")]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, value in zip(names, layer.get_weights(), strict=True):
                group.create_dataset(name, data=value)


class _Server:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 and counts the requests."""

    def __init__(self, files):
        self.files, self.requests = files, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """A VGG16 base (32x32) with random weights, and its weights as a legacy .h5 file (bytes, md5)."""
    lamina.clear_session()
    model = vgg16.VGG16(weights=None, include_top=False, input_shape=(32, 32, 3))
    path = tmp_path_factory.mktemp("published") / FILE
    write_legacy_h5(model, path)
    data = path.read_bytes()
    return model, path, data, hashlib.md5(data).hexdigest()


def _kernels(model):
    return [layer.get_weights()[0] for layer in model.layers if layer.weights]


def test_download_cache_and_offline(published, monkeypatch, tmp_path):
    source, _, data, md5 = published
    server = _Server({f"/vgg16/{FILE}": data})
    home = tmp_path / "home"
    monkeypatch.setenv("LAMINA_HOME", str(home))
    monkeypatch.setattr(vgg16, "BASE_WEIGHTS_PATH", server.url)
    monkeypatch.setitem(vgg16.WEIGHTS_HASHES, "vgg16", ("0" * 32, md5))
    try:
        model = vgg16.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))
    finally:
        server.close()
    assert server.requests == [f"/vgg16/{FILE}"]
    assert sorted(p.name for p in (home / "models").iterdir()) == [FILE]
    for got, want in zip(_kernels(model), _kernels(source), strict=True):
        np.testing.assert_array_equal(got, want)
    x = torch.rand(2, 32, 32, 3)
    torch.testing.assert_close(model(x), source(x))

    again = vgg16.VGG16(weights="imagenet", include_top=False, input_shape=(32, 32, 3))  # server gone: the cache
    torch.testing.assert_close(again(x), source(x))
    assert len(server.requests) == 1


def test_corrupted_download_is_refused_and_leaves_nothing(published, monkeypatch, tmp_path):
    model, _, data, md5 = published
    corrupted = bytearray(data)
    corrupted[len(corrupted) // 2] ^= 0xFF
    server = _Server({f"/vgg16/{FILE}": bytes(corrupted)})
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    try:
        with pytest.raises(FileIntegrityError, match=f"md5 mismatch, expected {md5}"):
            load_application_weights(model, "imagenet", origin=f"{server.url}vgg16/{FILE}", file_name=FILE,
                                     file_hash=md5)
    finally:
        server.close()
    folder = tmp_path / "home" / "models"
    assert not folder.exists() or not any(folder.iterdir())


def test_offline_and_absent_says_where_to_put_the_file(published, monkeypatch, tmp_path):
    model, _, _, md5 = published
    server = _Server({})
    url = f"{server.url}vgg16/{FILE}"
    server.close()  # nothing listens there any more
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    with pytest.raises(DownloadError, match=f"(?s)Could not get {FILE}.*put the file with md5 {md5} at"):
        load_application_weights(model, "imagenet", origin=url, file_name=FILE, file_hash=md5)
    folder = tmp_path / "home" / "models"
    assert not folder.exists() or not any(folder.iterdir())


def test_weights_from_a_path_in_each_format(published, tmp_path):
    source, legacy, _, _ = published
    model = vgg16.VGG16(weights=str(legacy), include_top=False, input_shape=(32, 32, 3))
    x = torch.rand(1, 32, 32, 3)
    torch.testing.assert_close(model(x), source(x))
    for name in ("w.weights.h5", "w.weights.safetensors"):
        source.save_weights(str(tmp_path / name))
        with torch.no_grad():
            for w in model.weights:
                w.zero_()
        load_application_weights(model, tmp_path / name, origin=None, file_name=None, file_hash=None)
        torch.testing.assert_close(model(x), source(x))


def test_wrong_files_and_arguments_are_clear(published, tmp_path):
    model, legacy, _, _ = published
    with pytest.raises(ValueError, match="path to the weights file.*no such file"):
        load_application_weights(model, tmp_path / "missing.h5", origin=None, file_name=None, file_hash=None)
    with pytest.raises(ValueError, match="No ImageNet weights are published"):
        load_application_weights(model, "imagenet", origin=None, file_name=None, file_hash=None)
    with pytest.raises(ValueError, match="weights=3"):
        load_application_weights(model, 3, origin=None, file_name=None, file_hash=None)
    other = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)])
    with pytest.raises(FileFormatError, match="13 layers, but the model has 1"):
        other.load_weights(str(legacy))
    plain = tmp_path / "plain.h5"
    with h5py.File(plain, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(FileFormatError, match="not a legacy Keras weights file"):
        other.load_weights(str(plain))
