"""Keras 3's public surface, enumerated from the installed Keras (the oracle): every public name of the namespaces
issue 16 names exists in lamina except the documented exceptions below; public modules list only their public
names; and the signatures Keras code leans on most take Keras's parameters with Keras's defaults.

A newer Keras with new names fails here until lamina has them or they are listed with the reason (mirrored in
docs/keras-compatibility.md, which a test below checks).
"""

from __future__ import annotations

import importlib
import inspect
import types
from pathlib import Path

import pytest

import lamina

NAMESPACES = ["", "utils", "models", "saving", "initializers", "regularizers", "constraints", "activations", "losses",
              "metrics", "optimizers", "optimizers.schedules", "callbacks", "mixed_precision", "datasets", "export",
              "quantizers", "distribution", "dtype_policies", "visualization", "wrappers", "distillation", "layers",
              "applications"]

#: (namespace, name) -> why lamina does not have it. Each reason is in docs/keras-compatibility.md too.
EXCEPTIONS: dict[tuple[str, str], str] = {
    ("", "src"): "Keras's private implementation package, not public API",
    ("", "legacy"): "Keras 2 (tf.keras) compatibility shims for TensorFlow-only code",
    ("utils", "legacy"): "Keras 2 (tf.keras) compatibility shims for TensorFlow-only code",
    ("layers", "JaxLayer"): "wraps JAX functions; lamina runs on PyTorch (TorchModuleWrapper wraps torch modules)",
    ("layers", "FlaxLayer"): "wraps Flax modules (JAX); lamina runs on PyTorch",
    ("layers", "TFSMLayer"): "loads a TensorFlow SavedModel, which needs TensorFlow",
    ("callbacks", "OrbaxCheckpoint"): "Orbax is JAX's checkpoint library; lamina checkpoints with ModelCheckpoint",
    ("quantizers", "GPTQConfig"): "GPTQ calibrates on a dataset through a tokenizer with per-model layer plans",
    ("quantizers", "AWQConfig"): "AWQ calibrates on a dataset through a tokenizer with per-model layer plans",
    ("dtype_policies", "GPTQDTypePolicy"): "GPTQ quantization is not provided (see keras.quantizers.GPTQConfig)",
    ("dtype_policies", "AWQDTypePolicy"): "AWQ quantization is not provided (see keras.quantizers.AWQConfig)",
    ("dtype_policies", "Int4DTypePolicy"): "int4 quantization of layers is not provided yet (int8 and float8 are)",
}

#: Names other work in flight is adding (remove an entry when it lands; test_pending_is_current enforces it).
PENDING: dict[tuple[str, str], str] = {}


def _public(module) -> set[str]:
    return {n for n in dir(module) if not n.startswith("_")}


def _resolve(root, dotted: str):
    target = root
    for part in filter(None, dotted.split(".")):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def _missing(keras, namespace: str) -> list[str]:
    theirs, ours = _resolve(keras, namespace), _resolve(lamina, namespace)
    names = _public(theirs)
    have = _public(ours) if ours is not None else set()
    return sorted(n for n in names - have if (namespace, n) not in EXCEPTIONS and (namespace, n) not in PENDING)


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_keras_name_exists_in_lamina(keras, namespace):
    missing = _missing(keras, namespace)
    assert not missing, f"lamina.{namespace or '(top level)'} lacks {len(missing)} of Keras's names: {missing}"


def test_exceptions_and_pending_are_current(keras):
    """An exception or pending name that lamina now has (or Keras dropped) must leave its list."""
    stale = []
    for (namespace, name) in [*EXCEPTIONS, *PENDING]:
        theirs, ours = _resolve(keras, namespace), _resolve(lamina, namespace)
        if name not in _public(theirs) or (ours is not None and name in _public(ours)):
            stale.append((namespace, name))
    assert not stale


def test_exceptions_are_documented():
    doc = (Path(__file__).parents[1] / "docs" / "keras-compatibility.md").read_text(encoding="utf-8")
    undocumented = [f"{ns or 'keras'}.{name}" for ns, name in EXCEPTIONS
                    if f"`{('keras.' + ns + '.') if ns else 'keras.'}{name}`" not in doc]
    assert not undocumented, f"list these in docs/keras-compatibility.md with their reasons: {undocumented}"


@pytest.mark.parametrize("namespace", [ns for ns in NAMESPACES if ns])
def test_public_modules_list_only_public_names(namespace):
    """No imported tools (torch, np, Any, math...) among a namespace's public names."""
    module = importlib.import_module(f"lamina.{namespace}")
    leaks = []
    for name in _public(module):
        value = getattr(module, name)
        foreign_module = isinstance(value, types.ModuleType) and not value.__name__.startswith("lamina")
        typing_name = getattr(value, "__module__", None) in ("typing", "collections.abc", "__future__")
        if foreign_module or typing_name or name == "annotations":
            leaks.append(name)
    assert not leaks, f"lamina.{namespace} shows {sorted(leaks)}: hide them (a module __dir__, or private names)"


# ---------------------------------------------------------------------------------------------- signatures
def _params(fn) -> list[tuple[str, object]]:
    return [(p.name, p.default) for p in inspect.signature(fn).parameters.values()
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD) and p.name != "self"]


def _same_default(ours, theirs) -> bool:
    if ours == theirs:
        return True
    # a rank-generic layer's int default stands for Keras's tuple of that int: strides=1 is strides=(1, 1)
    return isinstance(ours, int) and isinstance(theirs, tuple) and all(t == ours for t in theirs)


def _compare(ours_fn, theirs_fn, what: str) -> None:
    ours, theirs = dict(_params(ours_fn)), _params(theirs_fn)
    missing = [name for name, _ in theirs if name not in ours]
    assert not missing, f"{what} lacks Keras's parameters {missing}"
    wrong = [(name, ours[name], default) for name, default in theirs if not _same_default(ours[name], default)]
    assert not wrong, f"{what}: defaults differ from Keras's (name, lamina, Keras): {wrong}"
    order = [name for name in ours if name in dict(theirs)]
    assert order == [name for name, _ in theirs], f"{what}: Keras's parameters in another order: {order}"


# Deliberate differences, each with its reason (also in docs/keras-compatibility.md).
SIGNATURE_DIFFERENCES = {
    ("Model.export", "format"): "lamina exports ONNX by default; Keras's default, TF SavedModel, needs TensorFlow",
}


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict", "compile", "save", "save_weights", "load_weights",
                                    "export", "summary", "train_on_batch", "test_on_batch", "predict_on_batch"])
def test_model_methods_take_keras_s_parameters(keras, method):
    ours, theirs = getattr(lamina.Model, method), getattr(keras.Model, method)
    if method == "export":
        keep = [p for p in inspect.signature(theirs).parameters.values() if p.name != "format"]
        theirs = types.FunctionType(theirs.__code__, {})
        theirs.__signature__ = inspect.Signature(keep)
        ours_params = [p for p in inspect.signature(ours).parameters.values() if p.name != "format"]
        ours_fn = types.FunctionType(ours.__code__, {})
        ours_fn.__signature__ = inspect.Signature(ours_params)
        assert dict(_params(ours))["format"] == "onnx"  # see SIGNATURE_DIFFERENCES
        ours = ours_fn
    _compare(ours, theirs, f"Model.{method}")


@pytest.mark.parametrize("layer", ["Dense", "Conv2D", "LSTM", "GRU", "MultiHeadAttention", "Embedding",
                                   "BatchNormalization"])
def test_layer_constructors_take_keras_s_parameters(keras, layer):
    _compare(getattr(lamina.layers, layer).__init__, getattr(keras.layers, layer).__init__, layer)
