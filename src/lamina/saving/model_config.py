"""Compile and build configs <-> objects, through the registry only; optimizer state <-> tensors.

Every class or function name in these configs resolves through ``lamina.core.serialization`` (the one
registry: lamina's built-ins, ``register_serializable`` and ``custom_objects``).

>>> import lamina
>>> model = lamina.Sequential([lamina.layers.Dense(1, input_shape=(2,))])
>>> model.compile(optimizer="sgd", loss="mse")
>>> compile_config(model)["loss"]
'mse'
"""

from __future__ import annotations

from typing import Any

import torch

from lamina import losses, metrics
from lamina.core import serialization
from lamina.layers.layer import Layer
from lamina.saving import format as fmt


def parse_config_text(text: str | bytes) -> Any:
    """A model config from JSON text (``model_from_json``), through the bounded parser every file's JSON goes
    through (``lamina.saving.format.parse_json``) and the layer cap: ``UnsafeFileError`` over a limit,
    ``FileFormatError`` for malformed text (both ``ValueError``s).

    >>> parse_config_text('{"class_name": "Sequential", "config": {"layers": []}}')["class_name"]
    'Sequential'
    """
    config = fmt.parse_json(text, "the model's JSON config")
    fmt.count_layers(config, "the model's JSON config")
    return config


# ---------------------------------------------------------------------------------------------- compile config
def compile_config(model: Any) -> dict | None:
    """The compile settings of ``model`` (None if it was never compiled), as JSON-ready data."""
    trainer = getattr(model, "_trainer", None)
    if trainer is None:
        return None
    loss = trainer.compiled_loss
    metrics = trainer.compiled_metrics
    return {"optimizer": _spec(trainer.optimizer), "loss": _spec(loss.spec if loss is not None else None),
            "loss_weights": _spec(loss.weights_spec if loss is not None else None),
            "metrics": _spec(metrics.spec), "weighted_metrics": _spec(metrics.weighted_spec),
            "run_eagerly": bool(trainer.run_eagerly), "steps_per_execution": int(trainer.steps_per_execution),
            "jit_compile": trainer.jit_compile if isinstance(trainer.jit_compile, bool) else "auto"}


def _spec(value: Any) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    return serialization.serialize(value)


def _resolve(value: Any, kind: str, custom_objects: Any) -> Any:
    """A loss or metric spec from the file: names are checked against the registry (compile resolves them),
    object configs are built through the registry, containers element-wise."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        try:
            return serialization.get_registered_object(value, custom_objects, kind=())
        except serialization.UnknownObjectError:
            pass
        getter = _getter(kind)
        try:
            getter(value)
        except (ValueError, TypeError):
            raise serialization.UnknownObjectError(
                f"The compile config names an unknown {kind[:-1]} {value!r}; it is not one of lamina's {kind}."
            ) from None
        return value
    if isinstance(value, list):
        return [_resolve(v, kind, custom_objects) for v in value]
    if isinstance(value, dict):
        serialization.check_no_code(value, "compile config")
        if serialization.is_object_config(value):
            return serialization.deserialize(value, custom_objects, kind=kind)
        return {k: _resolve(v, kind, custom_objects) for k, v in value.items()}
    raise ValueError(f"Malformed {kind} entry {value!r:.200} in the compile config.")


def _getter(kind: str) -> Any:
    return losses.get if kind == "losses" else metrics.get


def compile_from_config(model: Any, config: Any, custom_objects: Any) -> None:
    """Compile ``model`` as ``compile_config`` described (optimizer with its schedule, losses, metrics)."""
    if not isinstance(config, dict):
        raise ValueError("compile_config must be a JSON object.")
    optimizer = config.get("optimizer", "rmsprop")
    if isinstance(optimizer, dict):
        serialization.check_no_code(optimizer, "optimizer config")
        inner = dict(optimizer.get("config") or {})
        if isinstance(inner.get("learning_rate"), dict):
            inner["learning_rate"] = serialization.deserialize(inner["learning_rate"], custom_objects,
                                                               kind="schedules")
        cls = serialization.get_registered_object(optimizer.get("registered_name") or optimizer.get("class_name"),
                                                  custom_objects, kind="optimizers")
        optimizer = cls(**inner)
    elif not isinstance(optimizer, str):
        raise ValueError(f"Malformed optimizer {optimizer!r:.200} in the compile config.")
    steps = config.get("steps_per_execution", 1)
    jit_compile = config.get("jit_compile", "auto")
    if type(steps) is not int or jit_compile not in (True, False, "auto"):
        raise ValueError("Malformed steps_per_execution or jit_compile in the compile config.")
    loss_weights = config.get("loss_weights")
    if loss_weights is not None and not isinstance(loss_weights, (int, float, list, dict)):
        raise ValueError("Malformed loss_weights in the compile config.")
    model.compile(optimizer=optimizer, loss=_resolve(config.get("loss"), "losses", custom_objects),
                  loss_weights=loss_weights,
                  metrics=_resolve(config.get("metrics"), "metrics", custom_objects),
                  weighted_metrics=_resolve(config.get("weighted_metrics"), "metrics", custom_objects),
                  run_eagerly=bool(config.get("run_eagerly", False)), steps_per_execution=steps,
                  jit_compile=jit_compile)


# ---------------------------------------------------------------------------------------------- build configs
def build_configs(model: Any) -> dict:
    """The input shapes each sub-layer of a subclassed model was built with, by module path (so the loader can
    create the weights before reading them)."""
    out = {}
    for path, module in model.named_modules():
        shapes = getattr(module, "_build_shapes_dict", None)
        if path and isinstance(module, Layer) and module.built and isinstance(shapes, dict):
            try:
                out[path] = serialization.serialize(_lists(shapes))
            except TypeError:
                continue
    return out


def _lists(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return [_lists(v) for v in x]
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    return x


def _shapes(x: Any) -> Any:
    """JSON lists back to shape tuples (a list of ints/None is a shape; other lists hold shapes)."""
    if isinstance(x, list):
        if all(d is None or type(d) is int for d in x):
            return tuple(x)
        return [_shapes(v) for v in x]
    if isinstance(x, dict):
        return {k: _shapes(v) for k, v in x.items()}
    if x is None:
        return None
    raise ValueError(f"Malformed build shape {x!r:.200}.")


def apply_build_configs(model: Any, configs: Any) -> None:
    """Build the sub-layers of a rebuilt model that are not built yet, with the saved input shapes."""
    if not isinstance(configs, dict):
        raise ValueError("build_config must be a JSON object.")
    modules = dict(model.named_modules())
    for path, shapes in configs.items():
        layer = modules.get(path)
        if layer is None or getattr(layer, "built", True) or not isinstance(shapes, dict):
            continue
        shapes = _shapes(shapes)
        layer.build(**shapes)
        layer._build_shapes_dict = shapes
        layer.built = True
        modules = dict(model.named_modules())  # building may create sub-layers


# ---------------------------------------------------------------------------------------------- optimizer state
def optimizer_state(optimizer: Any) -> tuple[dict[str, torch.Tensor], dict] | None:
    """``(tensors, meta)`` of a built optimizer (None if it has no state yet)."""
    if optimizer is None or not getattr(optimizer, "built", False):
        return None
    tensors, meta = optimizer.state_dict()
    return {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, meta


def load_optimizer_state(model: Any, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    """Build ``model``'s optimizer on its trainable weights (on the trainer's device) and restore the state."""
    trainer = model._trainer
    optimizer = trainer.optimizer
    model.to(trainer.device)
    if not optimizer.built:
        optimizer.build([p for p in model.parameters() if p.requires_grad])
    optimizer.load_state_dict(tensors, meta)
