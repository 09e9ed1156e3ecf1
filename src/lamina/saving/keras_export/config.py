"""lamina configs -> Keras 3 configs: the same layer configs, with Keras's modules, registered names and
build configs, so that ``keras.saving.load_model`` rebuilds the model with Keras's own classes.

>>> import lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> config = model_config(model)
>>> config["module"], config["class_name"], config["config"]["layers"][1]["module"]
('keras', 'Sequential', 'keras.layers')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lamina.core import serialization
from lamina.layers.layer import Layer
from lamina.models.model import Model
from lamina.saving.errors import SavingError
from lamina.saving.keras_export.ops import keras_op_entry

# lamina's registry kinds -> Keras's public modules
MODULES = {
    "lamina.layers": "keras.layers", "lamina.initializers": "keras.initializers",
    "lamina.regularizers": "keras.regularizers", "lamina.constraints": "keras.constraints",
    "lamina.losses": "keras.losses", "lamina.metrics": "keras.metrics", "lamina.optimizers": "keras.optimizers",
    "lamina.schedules": "keras.optimizers.schedules", "lamina.activations": "keras.activations",
}
# nested objects lamina writes without a module: their kind follows from the config key
KEY_SUFFIXES = (("_initializer", "keras.initializers"), ("_regularizer", "keras.regularizers"),
                ("_constraint", "keras.constraints"), ("learning_rate", "keras.optimizers.schedules"))
# config keys of lamina layers that Keras's class of the same name does not take (its __init__ refuses them)
KERAS_REFUSES = {f"SpatialDropout{n}D": ("trainable",) for n in (1, 2, 3)}
MODEL_MODULES = {"Functional": ("keras.src.models.functional", "Functional"), "Sequential": ("keras", None)}


def _is_activation_key(key: Any) -> bool:
    return isinstance(key, str) and key.endswith("activation")


def _function_name(value: Any) -> Any:
    """A layer's activation: a registered function's name ("package>name") becomes Keras's function dict."""
    if isinstance(value, str) and ">" in value:
        return {"module": "builtins", "class_name": "function", "config": value, "registered_name": "function"}
    return to_keras(value, None)


def _module_for_key(key: str | None) -> str | None:
    for suffix, module in KEY_SUFFIXES:
        if key is not None and key.endswith(suffix):
            return module
    return None


def to_keras(value: Any, key: str | None = None) -> Any:
    """``value`` (a lamina config, or part of one) with every object dict in Keras 3's form."""
    if isinstance(value, list):
        return [to_keras(v, key) for v in value]
    if not isinstance(value, Mapping):
        return value
    if value.get("class_name") == "__keras_tensor__":
        return dict(value)
    if "class_name" not in value or not ("config" in value or "module" in value):
        return {k: _function_name(v) if _is_activation_key(k) else to_keras(v, k) for k, v in value.items()}
    out = {k: to_keras(v, k) for k, v in value.items() if k != "config"}
    inner = value.get("config")
    module = value.get("module")
    class_name = value["class_name"]
    if class_name == "function":  # a function by name: lamina's own under Keras's module, the user's as Keras
        if module in MODULES:       # writes registered functions ("builtins", registered_name "function")
            out["module"], out["config"], out["registered_name"] = MODULES[module], inner, inner
        else:
            out["module"], out["config"], out["registered_name"] = "builtins", inner, "function"
        return out
    out["config"] = to_keras(inner, None) if isinstance(inner, Mapping) else inner
    if isinstance(module, str) and module.startswith("keras."):  # already Keras's form (a quantized policy)
        out["module"] = module
        out["registered_name"] = value.get("registered_name")
        return out
    if class_name in MODEL_MODULES and module == "lamina.layers":
        out["module"], out["registered_name"] = MODEL_MODULES[class_name]
    elif isinstance(module, str) and module in MODULES:
        out["module"], out["registered_name"] = MODULES[module], None
        if module == "lamina.layers" and isinstance(out["config"], dict) and class_name in KERAS_REFUSES:
            out["config"] = {k: v for k, v in out["config"].items() if k not in KERAS_REFUSES[class_name]}
    elif module is None and value.get("registered_name") is None and _module_for_key(key):
        out["module"], out["registered_name"] = _module_for_key(key), None
    else:  # the user's own class: Keras finds it by its registered name
        out["module"] = None
        out["registered_name"] = value.get("registered_name") or class_name
    return out


def _layers_by_name(model: Any) -> dict[str, Any]:
    layers = model.layers if isinstance(model, Model) else []
    return {layer.name: layer for layer in layers}


def _convert_ops(config: dict) -> None:
    """Replace lamina op nodes (``OpLayer``) by Keras op nodes, in nested functional configs too; an op Keras
    has no settings-free class for is refused with what to do instead."""
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    for i, entry in enumerate(inner["layers"]):
        if not isinstance(entry, dict):
            continue
        if entry.get("class_name") == "OpLayer":
            converted = keras_op_entry(entry)
            if converted is None:
                raise SavingError(
                    f"Layer {entry.get('name')!r} is a lamina op node ({(entry.get('config') or {}).get('op')!r} "
                    "called on symbolic tensors) that has no Keras 3 config: wrap the op in a Layer subclass "
                    "registered on both sides, or save to a '.lamina' file instead.")
            inner["layers"][i] = converted
        else:
            _convert_ops(entry)


def _add_build_configs(config: dict, model: Any) -> None:
    """Give every layer entry of a functional/Sequential config its ``build_config``, as Keras writes them."""
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    layers = _layers_by_name(model)
    for entry in inner["layers"]:
        if not isinstance(entry, dict) or entry.get("class_name") == "InputLayer":
            continue
        layer = layers.get(entry.get("name") or (entry.get("config") or {}).get("name"))
        if layer is None:
            continue
        if isinstance(layer, Model) and layer._graph is not None or type(layer).__name__ == "Sequential":
            _add_build_configs(entry, layer)
        build = build_config(layer)
        if build:
            entry["build_config"] = build


def _renumber_nested_calls(config: dict, model: Any) -> None:
    """Keras numbers the calls of a nested functional model from 1 (its node 0 is its own graph); lamina's
    graph config numbers them from 0: shift every reference to such a layer (nested graphs too)."""
    inner = config.get("config")
    if not isinstance(inner, dict) or not isinstance(inner.get("layers"), list):
        return
    layers = _layers_by_name(model)
    nested = {name for name, layer in layers.items()
              if isinstance(layer, Model) and layer._graph is not None and type(layer).__name__ != "Sequential"}
    for entry in inner["layers"]:
        sub = layers.get(entry.get("name")) if isinstance(entry, dict) else None
        if sub is not None and isinstance(sub, Model):
            _renumber_nested_calls(entry, sub)

    def shift(value: Any) -> Any:
        if isinstance(value, list):
            if len(value) == 3 and value[0] in nested and type(value[1]) is int and type(value[2]) is int:
                return [value[0], value[1] + 1, value[2]]
            return [shift(v) for v in value]
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__" and isinstance(value.get("config"), dict):
                history = value["config"].get("keras_history")
                return {**value, "config": {**value["config"], "keras_history": shift(history)}}
            return {k: shift(v) for k, v in value.items()}
        return value

    if nested:
        for entry in inner["layers"]:
            if isinstance(entry, dict) and "inbound_nodes" in entry:
                entry["inbound_nodes"] = shift(entry["inbound_nodes"])
        for key in ("input_layers", "output_layers"):
            inner[key] = shift(inner.get(key))


def _lists(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _lists(v) for k, v in value.items()}
    return value


def build_config(layer: Any) -> dict | None:
    """``layer.get_build_config()`` in Keras's form: ``{"input_shape": ...}`` for one input, else
    ``{"shapes_dict": {"query_shape": ..., ...}}`` (the shapes ``build`` takes, by argument name)."""
    build = layer.get_build_config()
    if not build:
        return None
    build = _lists(build)
    own = type(layer).get_build_config is not Layer.get_build_config  # the user's format, written as it is
    if own or set(build) == {"input_shape"} or "shapes_dict" in build:
        return build
    return {"shapes_dict": {k: v for k, v in build.items() if v is not None}}


def model_config(model: Any) -> dict:
    """The Keras 3 ``config.json`` of ``model``: class, module, config, registered name, build and compile
    configs (``{}`` / ``None`` when the model was never compiled or built, as Keras writes them)."""
    config = to_keras(serialization.serialize_layer(model))
    _convert_ops(config)
    _add_build_configs(config, model)
    _renumber_nested_calls(config, model)
    config["build_config"] = build_config(model) or {"input_shape": None}
    compile_config = model.get_compile_config() if getattr(model, "compiled", False) else None
    config["compile_config"] = compile_to_keras(compile_config) if compile_config else {}
    return config


def compile_to_keras(config: Mapping) -> dict:
    """A lamina compile config in Keras's form (optimizer, losses and metrics with Keras's modules). A model's own
    ``get_compile_config`` may return live objects (an optimizer, a loss function): they are serialized first, as
    Keras serializes the compile config."""
    return to_keras(_serialized(dict(config)))


def _serialized(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _serialized(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_serialized(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return serialization.serialize(value)
