"""Keras 3 model configs -> lamina objects, through lamina's registry only.

Every object a Keras config names (``{"module", "class_name", "config", "registered_name"}``) is checked: its
module must be one of Keras's own, and its class must be a lamina class (or one the user registered or passed
in ``custom_objects``). Nothing the file names is imported or executed; Keras ``Lambda`` layers and other code
carriers are refused.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from lamina import activations, constraints, initializers, regularizers
from lamina.core import serialization
from lamina.layers.core import Input
from lamina.layers.layer import Layer
from lamina.models.model import Model
from lamina.models.sequential import Sequential
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.keras_export.layout import overrides
from lamina.saving.keras_import.ops import is_op_entry, op_call

# Keras classes that carry code or Python objects: never rebuilt from a file, whatever the registry holds.
REFUSED = {
    "Lambda": "a Keras Lambda layer holds a Python function (as bytecode or by import path)",
    "TorchModuleWrapper": "a Keras TorchModuleWrapper holds a pickled torch module",
    "Layer": "the base class Layer has no behaviour of its own (a subclass saved without its code)",
}
MODEL_CLASSES = ("Functional", "Model", "Sequential")

# Keras options lamina's layers lack, dropped only when they hold a value that changes no result.
_ANY = object()
NEUTRAL = {
    "quantization_config": (None,), "lora_rank": (None,), "lora_alpha": (None,), "ragged": (False,),
    "pad_to_aspect_ratio": (False,), "fill_mode": ("constant",), "fill_value": (0.0,), "synchronized": (False,),
    "renorm": (False,), "renorm_clipping": (None,), "renorm_momentum": _ANY, "use_cudnn": _ANY, "unroll": _ANY,
    "zero_output_for_mask": _ANY, "seed": _ANY, "flash_attention": (None,), "output_padding": (None,),
    # Keras 2 / tf.keras (legacy .h5 files): an RNN's kernel choice and its time-major flag
    "implementation": _ANY, "time_major": (False,),
}
_SIMPLE_KINDS = {
    "keras.initializers": ("initializer", initializers.get),
    "keras.regularizers": ("regularizer", regularizers.get),
    "keras.constraints": ("constraint", constraints.get),
}


def _is_keras_module(module: Any) -> bool:
    return module is None or (isinstance(module, str) and (module == "keras" or module.startswith("keras.")))


def _is_object(value: Any) -> bool:
    return isinstance(value, Mapping) and "class_name" in value and ("config" in value or "module" in value)


def _refuse_code(value: Mapping, where: str) -> None:
    try:
        serialization.check_no_code(value, where)
    except serialization.UnsafeObjectError as error:
        raise UnsafeFileError(str(error)) from None
    name = value.get("class_name")
    if name in REFUSED:
        raise UnsafeFileError(
            f"The Keras file asks for a {name} layer ({where}): refused, {REFUSED[name]}, and lamina never runs code "
            "from a file. Rebuild that part of the model in lamina (a custom Layer), load the rest with "
            "lamina.saving.load_keras_weights.")


class Builder:
    """Builds lamina models from Keras configs; ``plans`` records, for every model built, its layers in the
    file's order with their Keras class names (what names their groups in ``model.weights.h5``)."""

    def __init__(self, custom_objects: Mapping[str, Any] | None = None):
        self.custom_objects = dict(custom_objects or {})
        self.plans: dict[int, list[tuple[Layer, str]]] = {}

    # ------------------------------------------------------------------------------------------ values
    def value(self, value: Any, where: str) -> Any:
        """A config value with Keras's object dicts replaced by lamina objects or lamina configs."""
        if isinstance(value, list):
            return [self.value(v, where) for v in value]
        if not isinstance(value, Mapping):
            return value
        if not _is_object(value):
            return {str(k): self.value(v, f"{where}.{k}") for k, v in value.items()}
        _refuse_code(value, where)
        module, class_name, inner = value.get("module"), value["class_name"], value.get("config")
        if class_name == "function":  # by registered name only ("builtins" is Keras's label for user functions)
            return self._function(inner if isinstance(inner, str) else class_name, where)
        if not _is_keras_module(module):
            raise UnsafeFileError(
                f"The Keras file names the module {module!r} for {class_name!r} ({where}): refused. lamina imports "
                "nothing a file names; only Keras's own classes, mapped to lamina's, are read.")
        if class_name in ("DTypePolicy", "FloatDTypePolicy"):
            name = inner.get("name") if isinstance(inner, Mapping) else None
            if not isinstance(name, str):
                raise FileFormatError(f"The dtype policy at {where} has no name: {str(value)[:200]}.")
            return name
        if class_name in ("QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy") or module == "keras.quantizers":
            # a quantized layer's policy or quantization config: data Dense/Embedding read (and check) themselves
            return {"module": module, "class_name": class_name, "config": self.value(inner or {}, where)}
        if class_name == "function" or module == "keras.activations":
            return self._function(inner if isinstance(inner, str) else class_name, where)
        if module in _SIMPLE_KINDS:
            kind, get = _SIMPLE_KINDS[module]
            try:
                return get({"class_name": class_name, "config": self.value(inner or {}, where)})
            except (ValueError, TypeError, KeyError) as error:
                raise UnsafeFileError(f"The Keras file names the {kind} {class_name!r} ({where}), which lamina does "
                                      f"not have: {error}") from None
        return self.layer(value, where)

    def _function(self, name: Any, where: str) -> Any:
        if not isinstance(name, str):
            raise FileFormatError(f"A function at {where} must be named by a string; received {str(name)[:200]}.")
        if name in self.custom_objects:
            return self.custom_objects[name]
        try:
            activations.get(name)
        except (ValueError, TypeError):
            raise UnsafeFileError(
                f"The Keras file names the function {name!r} ({where}), which is not a lamina activation: refused. "
                "Pass your own function in custom_objects={name!r: fn} if you trust it.") from None
        return name

    # ------------------------------------------------------------------------------------------ layers
    def layer(self, entry: Mapping, where: str = "config") -> Layer:
        """A lamina layer (or model) from one Keras layer entry."""
        _refuse_code(entry, where)
        class_name, inner = entry.get("class_name"), entry.get("config")
        if not isinstance(class_name, str) or not isinstance(inner, Mapping):
            raise FileFormatError(f"A layer entry at {where} needs a string class_name and a dict config.")
        registered = entry.get("registered_name")
        if not _is_keras_module(entry.get("module")) and not self._is_registered(registered):
            raise UnsafeFileError(f"The Keras file names the module {entry.get('module')!r} for the layer "
                                  f"{class_name!r} ({where}): refused; lamina imports nothing a file names (a class "
                                  "registered in lamina under the file's registered_name is used instead).")
        if class_name in MODEL_CLASSES and "layers" in inner and registered in (None, class_name):
            return self.sequential(inner) if class_name == "Sequential" else self.functional(inner)
        cls = self._layer_class(class_name, registered, where)
        if issubclass(cls, Model) and not issubclass(cls, Sequential) and \
                all(k in inner for k in ("layers", "input_layers", "output_layers")):
            model = self.functional(inner, cls)  # a functional model of the user's registered subclass
            apply_build_config(model, entry.get("build_config"), where)
            return model
        kwargs = self._kwargs(cls, inner, f"{where} ({class_name})")
        try:
            layer = cls.from_config(kwargs)
        except (TypeError, ValueError, KeyError) as error:
            raise FileFormatError(f"The Keras config of layer {inner.get('name')!r} ({class_name}) does not build "
                                  f"a lamina {cls.__name__}: {error}") from None
        apply_build_config(layer, entry.get("build_config"), where)
        return layer

    def names(self) -> dict[int, str]:
        """``id(layer)`` -> the class name the file gave it (what names its group in the weights file)."""
        return {id(layer): class_name for plan in self.plans.values() for layer, class_name in plan}

    def _is_registered(self, registered: Any) -> bool:
        """Whether ``registered`` ("package>Name") names a layer class the user registered in lamina (or passed
        in custom_objects): the file's module is then only a label, and nothing is imported."""
        if not isinstance(registered, str) or ">" not in registered:
            return False
        try:
            cls = serialization.get_registered_object(registered, self.custom_objects, kind="layers")
        except serialization.UnknownObjectError:
            return False
        return isinstance(cls, type) and issubclass(cls, Layer)

    def _layer_class(self, class_name: str, registered: Any, where: str) -> type:
        candidates = [registered] if isinstance(registered, str) and registered != class_name else []
        for name in (*candidates, class_name):
            try:
                cls = serialization.get_registered_object(name, self.custom_objects, kind="layers")
            except serialization.UnknownObjectError:
                continue
            if isinstance(cls, type) and issubclass(cls, Layer) and cls is not Layer:
                return cls
        raise UnsafeFileError(
            f"The Keras file asks for the layer class {class_name!r} ({where}), which is neither a lamina layer nor "
            "registered: refused, lamina never imports classes a file names. If it is your own layer, write it for "
            f"lamina and pass custom_objects={{{class_name!r}: YourLayer}}.")

    def _kwargs(self, cls: type, config: Mapping, where: str) -> dict:
        accepted = _accepted(cls)
        out = {}
        for key, raw in config.items():
            if key in NEUTRAL and accepted is not None and key not in accepted:
                if NEUTRAL[key] is _ANY or raw in NEUTRAL[key]:
                    continue
                raise FileFormatError(f"The Keras layer at {where} sets {key}={raw!r}, which lamina's {cls.__name__} "
                                      "does not support.")
            out[key] = self.value(raw, f"{where}.{key}")
        return out

    # ------------------------------------------------------------------------------------------ models
    def sequential(self, config: Mapping) -> Sequential:
        entries = _list(config, "layers", "Sequential config")
        model = Sequential(name=config.get("name"), trainable=bool(config.get("trainable", True)))
        plan = []
        for i, entry in enumerate(entries):
            if isinstance(entry, Mapping) and entry.get("class_name") == "InputLayer":
                model.add(_input(entry, f"layers[{i}]"))
                continue
            layer = self.layer(entry, f"{model.name}.layers[{i}]")
            _safe_call(model.add, layer, what=f"adding layer {layer.name!r} to Sequential {model.name!r}")
            plan.append((layer, entry["class_name"]))
        shape = config.get("build_input_shape")
        if model.inputs is None and shape is not None:
            _safe_call(model.build, _shape(shape, "build_input_shape"), what=f"building Sequential {model.name!r}")
        self.plans[id(model)] = plan
        return model

    def functional(self, config: Mapping, cls: type = Model) -> Model:
        entries = _list(config, "layers", "functional config")
        layers: dict[str, Any] = {}
        produced: dict[tuple[str, int], list] = {}
        pending: list[tuple[str, int, Mapping]] = []
        plan = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping):
                raise FileFormatError(f"layers[{i}] of the functional config must be a dict.")
            name = entry.get("name") or (entry.get("config") or {}).get("name")
            if not isinstance(name, str) or name in layers:
                raise FileFormatError(f"layers[{i}] of the functional config has a missing or repeated name {name!r}.")
            if entry.get("class_name") == "InputLayer":
                tensor = _input(entry, f"layers[{i}]")
                layers[name], produced[(name, 0)] = tensor, [tensor]
                plan.append((tensor.node.layer, "InputLayer"))
                continue
            if is_op_entry(entry):  # a Keras op node (a mask's not_equal...): the lamina op of that name
                layers[name] = op_call(entry, f"layers[{i}]")
            else:
                layers[name] = layer = self.layer(entry, f"layers[{i}]")
                plan.append((layer, entry["class_name"]))
            nodes = entry.get("inbound_nodes") or []
            if not isinstance(nodes, list):
                raise FileFormatError(f"inbound_nodes of layer {name!r} must be a list.")
            pending += [(name, k, node) for k, node in enumerate(nodes)]
        while pending:
            waiting = []
            for name, k, node in pending:
                try:
                    args, kwargs = _node_arguments(node, produced, name)
                except LookupError:
                    waiting.append((name, k, node))
                    continue
                out = _safe_call(layers[name], *args, what=f"calling layer {name!r} on its inputs", **kwargs)
                # Keras numbers a nested functional model's calls from 1 (its node 0 is its own graph)
                key = (name, k + 1 if _is_nested_functional(layers[name]) else k)
                produced[key] = out if isinstance(out, list) else list(out) if isinstance(out, tuple) else [out]
            if len(waiting) == len(pending):
                raise FileFormatError("The functional config's graph cannot be rebuilt: layer(s) "
                                      f"{sorted({n for n, _, _ in waiting})} wait for tensors no layer produces.")
            pending = waiting
        inputs = _refs(config.get("input_layers"), produced, "input_layers")
        outputs = _refs(config.get("output_layers"), produced, "output_layers")
        model = _safe_call(cls, inputs, outputs, name=config.get("name"), what="making the functional model",
                           trainable=bool(config.get("trainable", True)))
        self.plans[id(model)] = plan
        return model


# ---------------------------------------------------------------------------------------------- helpers
def apply_build_config(layer: Any, config: Any, where: str) -> None:
    """Build ``layer`` from the file's ``build_config`` as Keras does on load: a class's own
    ``build_from_config`` gets the config as saved; a subclassed model gets the saved input shapes. (Layers of
    functional and Sequential models are built by being called, as in Keras.)"""
    if not isinstance(config, Mapping) or not config or getattr(layer, "built", False):
        return
    if overrides(layer, "build_from_config"):
        _safe_call(layer.build_from_config, dict(config), what=f"building layer {layer.name!r} ({where})")
        return
    if isinstance(layer, Sequential):  # one without an Input is built from the saved input shape, as in Keras
        if config.get("input_shape") is not None:
            shape = _shape(config["input_shape"], f"build_config of {where}")
            _safe_call(layer.build_from_config, {"input_shape": shape}, what=f"building model {layer.name!r} ({where})")
        return
    if not isinstance(layer, Model) or layer._graph is not None:
        return
    shapes = config.get("shapes_dict", config)
    if not isinstance(shapes, Mapping) or all(v is None for v in shapes.values()):
        return
    shapes = {str(k): _shapes(v, f"build_config of {where}") for k, v in shapes.items()}
    _safe_call(layer.build_from_config, shapes, what=f"building model {layer.name!r} ({where})")


def _shapes(value: Any, what: str) -> Any:
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        return [_shape(v, what) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _shape(v, what) for k, v in value.items()}
    return _shape(value, what)


def _is_nested_functional(layer: Any) -> bool:
    return isinstance(layer, Model) and not isinstance(layer, Sequential) and layer._graph is not None


def _accepted(cls: type) -> set[str] | None:
    """Keyword names ``cls`` takes along its ``__init__`` chain (None: it takes anything)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if klass is Layer or not any(p.kind is p.VAR_KEYWORD for p in params):
            return names  # Layer's own **kwargs only rejects unknown names
    return None


def _safe_call(fn: Any, *args: Any, what: str, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except (TypeError, ValueError, KeyError, IndexError, RuntimeError) as error:
        if isinstance(error, (FileFormatError, UnsafeFileError)):
            raise
        raise FileFormatError(f"The Keras model config fails when {what}: {error}") from None


def _list(config: Mapping, key: str, what: str) -> list:
    value = config.get(key)
    if not isinstance(value, list):
        raise FileFormatError(f"The {what} needs a list under {key!r}; received {type(value).__name__}.")
    return value


def _shape(value: Any, what: str) -> tuple:
    if not isinstance(value, list) or not all(d is None or (type(d) is int and 0 <= d < 1 << 31) for d in value):
        raise FileFormatError(f"{what} must be a list of sizes (null for unknown); received {str(value)[:200]}.")
    return tuple(value)


def _input(entry: Mapping, where: str) -> Any:
    config = entry.get("config")
    if not isinstance(config, Mapping):
        raise FileFormatError(f"The InputLayer at {where} has no config dict.")
    shape = config.get("batch_shape", config.get("batch_input_shape"))
    dtype = config.get("dtype")
    if isinstance(dtype, Mapping):  # a dtype policy dict
        dtype = (dtype.get("config") or {}).get("name")
    if config.get("sparse") or config.get("ragged"):
        raise FileFormatError(f"The InputLayer at {where} takes sparse or ragged tensors, which lamina lacks.")
    return _safe_call(Input, batch_shape=_shape(shape, f"batch_shape of the InputLayer at {where}"),
                      dtype=dtype, name=config.get("name"), what=f"making the Input at {where}")


def _is_ref(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and \
        type(value[1]) is int and type(value[2]) is int


def _lookup(history: Any, produced: dict, where: str) -> Any:
    if not _is_ref(history):
        raise FileFormatError(f"A tensor reference at {where} must be [layer_name, node, index]; got {history!r}.")
    name, node, index = history
    if (name, node) not in produced:
        raise LookupError(name)
    outputs = produced[(name, node)]
    if not 0 <= index < len(outputs):
        raise FileFormatError(f"{where} refers to output {index} of layer {name!r}, which has {len(outputs)}.")
    return outputs[index]


def _node_arguments(node: Any, produced: dict, name: str) -> tuple[list, dict]:
    if not isinstance(node, Mapping) or not isinstance(node.get("args", []), list) or \
            not isinstance(node.get("kwargs", {}), Mapping):
        raise FileFormatError(f"An inbound node of layer {name!r} must be a dict with 'args' and 'kwargs'.")

    def fill(value: Any) -> Any:
        if isinstance(value, Mapping) and value.get("class_name") == "__keras_tensor__":
            return _lookup((value.get("config") or {}).get("keras_history"), produced, f"layer {name!r}")
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, Mapping):
            if _is_object(value):
                raise UnsafeFileError(f"An inbound node of layer {name!r} passes an object ({value.get('class_name')!r}"
                                      ") as a call argument: refused.")
            return {str(k): fill(v) for k, v in value.items()}
        return value

    args = fill(node.get("args", []))
    kwargs = {k: v for k, v in fill(node.get("kwargs", {})).items() if v is not None and k != "training"}
    return args, kwargs


def _refs(spec: Any, produced: dict, what: str) -> Any:
    """Model inputs/outputs from ``[name, node, index]`` triples (one, a list, or a dict of them)."""
    try:
        if _is_ref(spec):
            return _lookup(spec, produced, what)
        if isinstance(spec, list) and spec:
            return [_refs(s, produced, what) for s in spec]
        if isinstance(spec, Mapping) and spec:
            return {str(k): _refs(v, produced, what) for k, v in spec.items()}
    except LookupError as missing:
        raise FileFormatError(f"{what} names layer {missing} whose output is not in the graph.") from None
    raise FileFormatError(f"The functional config's {what} must name tensors as [layer, node, index]; "
                          f"received {str(spec)[:200]}.")
