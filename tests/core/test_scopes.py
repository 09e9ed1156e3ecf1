"""Keras's scopes (``core/scopes.py``) and top-level names, with Keras 3 (torch backend) as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina


def test_stateless_scope_behaves_as_keras(keras):
    seen = {}
    for lib in (keras, lamina):
        v = lib.Variable(np.zeros(2, "float32"))
        w = lib.Variable(np.ones(2, "float32"))
        with lib.StatelessScope(state_mapping=[(v, np.ones(2, "float32"))]) as scope:
            inside = lib.ops.convert_to_numpy(v + 0.0)
            v.assign(v + 1.0)
            w.assign(w * 3.0)
            after = (lib.ops.convert_to_numpy(v + 0.0), lib.ops.convert_to_numpy(w + 0.0))
        seen[lib.__name__] = (inside, *after, lib.ops.convert_to_numpy(v + 0.0), lib.ops.convert_to_numpy(w + 0.0),
                              lib.ops.convert_to_numpy(scope.get_current_value(v)),
                              lib.ops.convert_to_numpy(scope.get_current_value(w)))
    for ours, theirs in zip(seen["lamina"], seen["keras"], strict=True):
        np.testing.assert_array_equal(ours, theirs)
    with pytest.raises(ValueError, match="pairs"):
        lamina.StatelessScope(state_mapping=[1.0])


def test_name_scopes_prefix_paths_as_keras(keras):
    for lib in (keras, lamina):
        with lib.name_scope("a"), lib.name_scope("b"):
            v = lib.Variable(np.zeros(1, "float32"), name="x")
            dense = lib.layers.Dense(2)
            dense(np.zeros((1, 3), "float32"))
        assert v.path == "a/b/x"
        assert dense.kernel.path == f"a/b/{dense.name}/kernel"
    with pytest.raises(ValueError, match="non-empty"):
        lamina.name_scope("")


def test_weight_paths_equal_keras_s_in_every_model_style(keras):
    paths = {}
    for lib in (keras, lamina):
        lib.utils.clear_session() if hasattr(lib.utils, "clear_session") else lib.backend.clear_session()
        seq = lib.Sequential([lib.Input((4,)), lib.layers.Dense(2), lib.layers.BatchNormalization()])
        lazy = lib.Sequential([lib.layers.Dense(2)])
        lazy(np.zeros((1, 3), "float32"))
        i = lib.Input((4,))
        functional = lib.Model(i, lib.layers.Dense(2)(i))
        paths[lib.__name__] = [[w.path for w in m.weights] for m in (seq, lazy, functional)]
    assert paths["lamina"] == paths["keras"]


def test_device_scope_places_tensors_and_rejects_what_is_absent():
    with lamina.device("cpu:0") as dev:
        assert dev == torch.device("cpu", 0) and lamina.ops.zeros((2,)).device.type == "cpu"
        assert lamina.get_device() == torch.device("cpu", 0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"), lamina.device("gpu:0"):
            pass


def test_symbolic_scope_and_version(keras):
    from lamina.core.scopes import in_symbolic_scope

    with lamina.SymbolicScope():
        assert in_symbolic_scope()
    assert not in_symbolic_scope()
    assert lamina.version() == lamina.__version__ and isinstance(keras.version(), str)


def test_function_is_a_callable_graph_like_keras_s(keras):
    x = np.arange(6, dtype="float32").reshape(2, 3)
    results = []
    for lib in (keras, lamina):
        a = lib.Input((3,))
        f = lib.Function(a, lib.ops.square(a) + 1.0)
        results.append(lib.ops.convert_to_numpy(f(x)))
        assert isinstance(f.inputs, list) and len(f.operations) >= 1
    np.testing.assert_allclose(results[1], results[0])


def test_base_classes_are_the_namespaces_own(keras):
    assert lamina.Loss is lamina.losses.Loss and lamina.Metric is lamina.metrics.Metric
    assert lamina.Optimizer is lamina.optimizers.Optimizer and lamina.Regularizer is lamina.regularizers.Regularizer
    assert lamina.Initializer is lamina.initializers.Initializer
    assert isinstance(lamina.layers.Dense(2), lamina.Operation)  # as isinstance(keras.layers.Dense(2), keras.Operation)
    assert isinstance(keras.layers.Dense(2), keras.Operation)
    assert isinstance(lamina.Input((2,)), lamina.KerasTensor)
