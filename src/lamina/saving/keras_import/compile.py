"""A Keras ``compile_config`` (optimizer, loss, metrics) -> ``model.compile`` with lamina's own classes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina import losses, metrics, optimizers
from lamina.core import serialization
from lamina.optimizers import schedules
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.keras_import.config import Builder, _is_keras_module, _is_object, _refuse_code

_KINDS = {"optimizer": optimizers.get, "loss": losses.get, "metric": metrics.get, "schedule": schedules.get}


def _resolve(value: Any, kind: str, builder: Builder, where: str) -> Any:
    """A lamina loss/metric/optimizer/schedule from a Keras name or object dict (lamina's registries only)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [_resolve(v, kind, builder, where) for v in value]
    if isinstance(value, Mapping) and not _is_object(value):
        return {str(k): _resolve(v, kind, builder, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, str) and value in builder.custom_objects:
        return builder.custom_objects[value]
    if isinstance(value, Mapping):
        _refuse_code(value, where)
        if value["class_name"] != "function" and not _is_keras_module(value.get("module")):
            raise UnsafeFileError(f"The compile config names the module {value.get('module')!r} ({where}): refused.")
        inner = value.get("config") or {}
        if value["class_name"] == "function":
            value = inner
            if isinstance(value, str) and ">" in value:  # a registered function: the user's own, by its name
                return _registered_function(value, builder, kind, where)
        else:
            if not isinstance(inner, Mapping):
                raise FileFormatError(f"The {kind} config at {where} must be a dict.")
            inner = {k: _resolve(v, "schedule", builder, f"{where}.{k}") if _is_object(v) else v
                     for k, v in inner.items()}
            value = {"class_name": value["class_name"], "config": inner}
    try:
        resolved = _KINDS[kind](value)
        # a name stays a name (checked above), so that compile names its metric as Keras does ("mse", not
        # "mean_squared_error")
        return value if isinstance(value, str) else resolved
    except (ValueError, TypeError, KeyError) as error:
        raise UnsafeFileError(f"The compile config asks for the {kind} {str(value)[:120]} ({where}), which lamina "
                              f"does not have: {error}") from None


def _registered_function(name: str, builder: Builder, kind: str, where: str) -> Any:
    try:
        fn = serialization.get_registered_object(name, builder.custom_objects, kind=())
    except serialization.UnknownObjectError:
        fn = None
    if not callable(fn) or isinstance(fn, type):
        raise UnsafeFileError(f"The compile config names the {kind} function {name!r} ({where}), which is not "
                              "registered: register it with @lamina.saving.register_keras_serializable (same "
                              "package and name) or pass it in custom_objects.")
    return fn


def compile_from_keras(model: Any, config: Mapping, builder: Builder) -> None:
    """Compile ``model`` as the Keras file's ``compile_config`` says."""
    optimizer = _resolve(config.get("optimizer"), "optimizer", builder, "optimizer") or "rmsprop"
    loss = _resolve(config.get("loss"), "loss", builder, "loss")
    metric_list = _resolve(config.get("metrics"), "metric", builder, "metrics")
    weighted = _resolve(config.get("weighted_metrics"), "metric", builder, "weighted_metrics")
    try:
        model.compile(optimizer=optimizer, loss=loss, loss_weights=config.get("loss_weights"), metrics=metric_list,
                      weighted_metrics=weighted, steps_per_execution=int(config.get("steps_per_execution") or 1))
    except (TypeError, ValueError) as error:
        raise FileFormatError(f"The Keras compile config does not compile in lamina: {error}") from None
