"""Which ImageNet weights file an architecture asks for: Keras's (its ``file_utils.get_file`` call, captured) against
lamina's (its ``load_application_weights`` call, captured), with nothing downloaded."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest


class _Captured(Exception):
    pass


def keras_weights_file(keras_fn: Callable, monkeypatch: Any, **kwargs: Any) -> tuple:
    """``(file_name, origin, file_hash)`` that ``keras_fn(weights="imagenet", **kwargs)`` fetches."""
    from keras.src.utils import file_utils

    seen = []

    def get_file(fname: str, origin: str, **options: Any) -> None:
        seen.append((fname, origin, options.get("file_hash")))
        assert options.get("cache_subdir") == "models"
        raise _Captured

    monkeypatch.setattr(file_utils, "get_file", get_file)
    with pytest.raises(_Captured):
        keras_fn(weights="imagenet", **kwargs)
    return seen[0]


def lamina_weights_file(lamina_fn: Callable, monkeypatch: Any, **kwargs: Any) -> tuple:
    """``(file_name, origin, file_hash)`` that ``lamina_fn(weights="imagenet", **kwargs)`` fetches."""
    module = importlib.import_module(lamina_fn.__module__)
    seen = []

    def load(model: Any, weights: Any, *, origin: str, file_name: str, file_hash: str | None,
             cache_subdir: str = "models") -> None:
        seen.append((file_name, origin, file_hash))
        assert weights == "imagenet" and cache_subdir == "models"
        raise _Captured

    monkeypatch.setattr(module, "load_application_weights", load)
    with pytest.raises(_Captured):
        lamina_fn(weights="imagenet", **kwargs)
    return seen[0]


def assert_same_weights_file(keras_fn: Callable, lamina_fn: Callable, monkeypatch: Any, **kwargs: Any) -> tuple:
    """Both ask for the same file, at the same URL, with the same published hash."""
    theirs = keras_weights_file(keras_fn, monkeypatch, **kwargs)
    ours = lamina_weights_file(lamina_fn, monkeypatch, **kwargs)
    assert ours == theirs
    return ours
