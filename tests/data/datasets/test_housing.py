"""Boston and California Housing against Keras's ``load_data`` on the same fixture files."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.datasets import DatasetIntegrityError, boston_housing, california_housing


@pytest.fixture
def housing(http_server, monkeypatch, fx) -> str:
    rng = np.random.default_rng(5)
    files = {
        "boston_housing.npz": (boston_housing, fx.npz(x=rng.normal(size=(37, 13)), y=rng.normal(size=37) * 10 + 20)),
        "california_housing.npz": (california_housing, fx.npz(
            x=rng.normal(size=(611, 8)).astype(np.float32), y=rng.normal(size=611).astype(np.float32) * 1e5,
        )),
    }
    for name, (module, data) in files.items():
        http_server.routes["/" + name] = data
        monkeypatch.setattr(module, "FILE_HASH", fx.sha256(data))
    return http_server.url


BOSTON = [{}, {"test_split": 0.33}, {"test_split": 0}, {"seed": 1}, {"test_split": 0.999}]
CALIFORNIA = [{}, {"version": "small"}, {"version": "small", "test_split": 0.3, "seed": 7}, {"test_split": 0.1}]


@pytest.mark.parametrize("kwargs", BOSTON, ids=[str(c) for c in BOSTON])
def test_boston_matches_keras(housing, keras_oracle, fx, kwargs):
    keras_module = keras_oracle("boston_housing", housing + "boston_housing.npz", boston_housing.FILE_HASH)
    fx.assert_same_arrays(keras_module.load_data(**kwargs), boston_housing.load_data(**kwargs, mirror=housing))


@pytest.mark.parametrize("kwargs", CALIFORNIA, ids=[str(c) for c in CALIFORNIA])
def test_california_matches_keras(housing, keras_oracle, fx, kwargs):
    url = housing + "california_housing.npz"
    keras_module = keras_oracle("california_housing", url, california_housing.FILE_HASH)
    fx.assert_same_arrays(keras_module.load_data(**kwargs), california_housing.load_data(**kwargs, mirror=housing))


@pytest.mark.parametrize("test_split", [1, 1.0, -0.1])
def test_test_split_is_checked_like_keras(keras_oracle, test_split):
    with pytest.raises(ValueError):
        keras_oracle("boston_housing", "unused", "unused").load_data(test_split=test_split)
    for module in (boston_housing, california_housing):
        with pytest.raises(ValueError, match="must be at least 0 and below 1"):
            module.load_data(test_split=test_split)


def test_version_is_checked():
    with pytest.raises(ValueError, match='"small" or "large"'):
        california_housing.load_data(version="medium")


def test_pickled_arrays_are_refused(http_server, monkeypatch, fx):
    objects = np.empty(2, dtype=object)
    data = fx.npz(x=objects, y=np.zeros(2))
    http_server.routes["/boston_housing.npz"] = data
    monkeypatch.setattr(boston_housing, "FILE_HASH", fx.sha256(data))
    with pytest.raises(DatasetIntegrityError, match="allow_pickle|Object arrays"):
        boston_housing.load_data(mirror=http_server.url)
