"""CIFAR-10 and CIFAR-100 against Keras's ``load_data`` on the same fixture archives, plus the safety checks."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.core import config
from lamina.data.archives import UnsafeArchiveError
from lamina.datasets import DatasetIntegrityError, DatasetUnavailableError, cifar10, cifar100

C10 = "cifar-10-python.tar.gz"
C100 = "cifar-100-python.tar.gz"


def serve(http_server, monkeypatch, module, name: str, data: bytes, fx) -> str:
    http_server.routes["/" + name] = data
    monkeypatch.setattr(module, "FILE_HASH", fx.sha256(data))
    return http_server.url


def test_cifar10_matches_keras(http_server, keras_oracle, monkeypatch, fx):
    # Keras writes each training batch into a fixed 10,000-row slot, so the fixture has full-size batches.
    data = fx.cifar10_archive(np.random.default_rng(0), 10000, 10000)
    mirror = serve(http_server, monkeypatch, cifar10, C10, data, fx)
    expected = keras_oracle("cifar10", mirror + C10, fx.sha256(data)).load_data()
    got = cifar10.load_data(mirror=mirror)
    fx.assert_same_arrays(expected, got)
    assert got[0][0].shape == (50000, 32, 32, 3) and got[0][1].dtype == np.uint8


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_matches_keras(http_server, keras_oracle, monkeypatch, fx, label_mode):
    data = fx.cifar100_archive(np.random.default_rng(1), 7, 5)
    mirror = serve(http_server, monkeypatch, cifar100, C100, data, fx)
    expected = keras_oracle("cifar100", mirror + C100, fx.sha256(data)).load_data(label_mode)
    got = cifar100.load_data(label_mode, mirror=mirror)
    fx.assert_same_arrays(expected, got)
    assert got[0][1].dtype == np.int64 and got[0][1].shape == (7, 1)


def test_cifar100_label_mode_is_checked():
    with pytest.raises(ValueError, match='"fine" or "coarse"'):
        cifar100.load_data("medium")


def test_pixels_and_layouts(http_server, monkeypatch, fx):
    data = fx.cifar10_archive(np.random.default_rng(2), 3, 2)
    mirror = serve(http_server, monkeypatch, cifar10, C10, data, fx)
    (x_train, y_train), (x_test, y_test) = cifar10.load_data(mirror=mirror)
    assert x_train.shape == (15, 32, 32, 3) and y_train.shape == (15, 1) and x_test.shape == (2, 32, 32, 3)
    # Each row is 1024 red, 1024 green, 1024 blue bytes; the first four bytes stamp the image's index.
    assert list(x_train[1, 0, :4, 0]) == [0, 0, 0, 1]
    monkeypatch.setattr(config, "_IMAGE_DATA_FORMAT", "channels_first")
    (first, _), _ = cifar10.load_data(mirror=mirror)
    assert first.shape == (15, 3, 32, 32)
    np.testing.assert_array_equal(first.transpose(0, 2, 3, 1), x_train)


def test_cache_layout_is_keras_and_works_offline(http_server, monkeypatch, fx, tmp_path):
    data = fx.cifar10_archive(np.random.default_rng(3), 2, 2)
    mirror = serve(http_server, monkeypatch, cifar10, C10, data, fx)
    first = cifar10.load_data(mirror=mirror)
    folder = tmp_path / "lamina-home" / "datasets"
    assert (folder / "cifar-10-batches-py-target_archive").is_file()
    assert (folder / "cifar-10-batches-py-target" / "cifar-10-batches-py" / "test_batch").is_file()
    again = cifar10.load_data(mirror=fx.closed_url())
    fx.assert_same_arrays(first, again)
    assert http_server.log == ["/" + C10]


def test_environment_mirror(http_server, monkeypatch, fx):
    data = fx.cifar100_archive(np.random.default_rng(4), 2, 2)
    serve(http_server, monkeypatch, cifar100, C100, data, fx)
    monkeypatch.setenv("LAMINA_DATASETS_MIRROR", f"{fx.closed_url()} {http_server.url}")
    (x_train, _), _ = cifar100.load_data()
    assert x_train.shape == (2, 32, 32, 3)


def test_checksum_mismatch_leaves_nothing(http_server, monkeypatch, fx, tmp_path):
    data = fx.cifar10_archive(np.random.default_rng(5), 2, 2)
    http_server.routes["/" + C10] = data
    with pytest.raises(DatasetIntegrityError, match="(?s)CIFAR-10: .*sha256 mismatch, expected 6d958be0"):
        cifar10.load_data(mirror=http_server.url)
    assert fx.listing(tmp_path / "lamina-home" / "datasets") == []


def test_offline_without_cache(fx, tmp_path):
    with pytest.raises(DatasetUnavailableError) as info:
        cifar10.load_data(mirror=fx.closed_url())
    message = str(info.value)
    assert "cifar-10-batches-py-target_archive" in message and "LAMINA_DATASETS_MIRROR" in message


def test_hostile_pickle_is_refused_and_not_run(http_server, monkeypatch, fx, tmp_path):
    marker = tmp_path / "pwned"
    members = {f"cifar-100-python/{name}": fx.hostile_pickle(marker) for name in ("train", "test")}
    mirror = serve(http_server, monkeypatch, cifar100, C100, fx.tar_gz(members), fx)
    with pytest.raises(DatasetIntegrityError, match="not plain data.*os.system"):
        cifar100.load_data(mirror=mirror)
    assert not marker.exists()


def test_path_traversal_archive_is_refused(http_server, monkeypatch, fx, tmp_path):
    members = {"cifar-10-batches-py/../../../escaped": b"x"}
    mirror = serve(http_server, monkeypatch, cifar10, C10, fx.tar_gz(members), fx)
    with pytest.raises(UnsafeArchiveError, match="outside"):
        cifar10.load_data(mirror=mirror)
    assert not list(tmp_path.rglob("escaped"))


def test_malformed_batches_are_reported(http_server, monkeypatch, fx):
    bad = {b"data": np.zeros((2, 100), np.uint8), b"fine_labels": [1, 2], b"coarse_labels": [0, 0]}
    members = {f"cifar-100-python/{name}": fx.py2_pickle(bad) for name in ("train", "test")}
    mirror = serve(http_server, monkeypatch, cifar100, C100, fx.tar_gz(members), fx)
    with pytest.raises(DatasetIntegrityError, match=r"'data' should be uint8 of shape \(n, 3072\)"):
        cifar100.load_data(mirror=mirror)
