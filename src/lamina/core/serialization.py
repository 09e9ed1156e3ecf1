"""The one registry of serializable classes and functions, and ``serialize``/``deserialize`` through it only.

A config names a class or function by a string; this module turns that string back into an object by looking
it up in tables filled by code (lamina's built-ins, ``register_serializable``, ``custom_objects`` and
``custom_object_scope``). It never imports a module or evaluates anything a config names.

Every name a config holds is resolved here (``get_registered_object``). The built-ins are entered by the
packages that define them, at import, with ``register_package``: ``lamina.layers`` registers its layers, and
``lamina.models`` the catalogues of the function-and-class packages below it (each package's own
``core.registry.Registry`` tables, read once). ``serialize_layer``/``deserialize_layer`` (layers and models
as Keras 3 writes them) live here too, so that models and saving share them without importing each other.

>>> @register_serializable(package="demo")
... def double(x):
...     return 2 * x
>>> get_registered_name(double)
'demo>double'
>>> deserialize(serialize(double)) is double
True
"""

from __future__ import annotations

import contextvars
import inspect
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lamina.core.registry import FALLBACKS, Registry, unknown_name_message

# kind ("layers", "losses", ...) -> registered name -> built-in class or function
_BUILTINS: dict[str, dict[str, Any]] = {}
_BUILTIN_NAMES: dict[int, tuple[str, str]] = {}  # id(obj) -> (kind, name)
# "package>name" -> user class or function, and back
_CUSTOM: dict[str, Any] = {}
_CUSTOM_NAMES: dict[int, str] = {}
# The one context variable of this module: the custom objects of the enclosing ``custom_object_scope``s.
_SCOPE: contextvars.ContextVar[tuple[Mapping[str, Any], ...]] = contextvars.ContextVar(
    "lamina_custom_object_scope", default=())

# Keys of a serialized object (Keras 3's layout); ``module`` is informative only and never imported.
OBJECT_KEYS = frozenset({"module", "class_name", "config", "registered_name", "build_config", "compile_config",
                         "name", "inbound_nodes"})
CODE_MARKERS = ("__lambda__", "__bytecode__", "code", "source", "bytecode", "marshal", "function_type")


class UnknownObjectError(ValueError):
    """A config names a class or function that is neither built in nor registered."""


class UnsafeObjectError(ValueError):
    """A config holds code (a marshalled function, source text) where a registered name was expected."""


# ---------------------------------------------------------------------------------------------- registration
def register_builtin(kind: str, name: str, obj: Any) -> Any:
    """Make lamina's own ``obj`` resolvable as ``name`` among objects of ``kind`` (idempotent)."""
    _BUILTINS.setdefault(kind, {})[name] = obj
    _BUILTIN_NAMES.setdefault(id(obj), (kind, name))
    return obj


def register_module(kind: str, namespace: Mapping[str, Any], base: type | None = None,
                    functions: bool = False) -> None:
    """Register the public classes (subclasses of ``base`` when given) and, with ``functions``, the public
    functions found in ``namespace`` (a module's ``vars()``) that lamina itself defines."""
    for name, obj in list(namespace.items()):
        if name.startswith("_") or not str(getattr(obj, "__module__", "")).startswith("lamina."):
            continue
        if isinstance(obj, type) and (base is None or issubclass(obj, base)):
            register_builtin(kind, obj.__name__, obj)
        elif functions and isinstance(obj, types.FunctionType):
            register_builtin(kind, name, obj)


def register_package(kind: str, namespace: Mapping[str, Any], exclude: Iterable[str] = ()) -> None:
    """Register lamina's built-ins of ``kind`` from a package's namespace (its ``vars()`` or ``globals()``) and the
    namespaces of the submodules found in it (except the modules named in ``exclude``): every public class with
    ``get_config`` under its class name, and the contents of every ``Registry`` table under the table's names
    (and a class also under its class name). Idempotent; a later name replaces an earlier one of the same kind,
    an object keeps the first name it was registered under."""
    package = str(namespace.get("__name__", ""))
    skip = set(exclude)
    namespaces = [namespace] + [vars(sub) for sub in list(namespace.values()) if isinstance(sub, types.ModuleType)
                                and sub.__name__.startswith(package + ".") and sub.__name__ not in skip]
    for space in namespaces:
        register_module(kind, {k: v for k, v in space.items() if hasattr(v, "get_config")})
        for value in list(space.values()):
            if isinstance(value, Registry):
                for name in value.names():
                    obj = value.get(name)
                    register_builtin(kind, name, obj)
                    if isinstance(obj, type):
                        register_builtin(kind, obj.__name__, obj)


def register_serializable(package: str = "Custom", name: str | None = None) -> Callable[[Any], Any]:
    """Decorator: make a class or function resolvable by configs as ``"package>name"``.

    >>> @register_serializable(package="my_project")
    ... class Scale:
    ...     def __init__(self, factor=2.0):
    ...         self.factor = factor
    ...     def get_config(self):
    ...         return {"factor": self.factor}
    >>> get_registered_name(Scale)
    'my_project>Scale'
    """
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"register_serializable: `package` must be a non-empty string without '>'; got {package!r}.")

    def decorate(obj: Any) -> Any:
        if not (isinstance(obj, type) or callable(obj)):
            raise TypeError(f"register_serializable decorates classes and functions; received {obj!r}.")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise TypeError(f"Class {obj.__name__} needs a get_config() method to be serializable.")
        key = f"{package}>{name or obj.__name__}"
        if "<lambda>" in key:
            raise ValueError("A lambda cannot be registered: define a named function (def ...) and register that.")
        _CUSTOM[key] = obj
        _CUSTOM_NAMES[id(obj)] = key
        return obj

    return decorate


def get_registered_name(obj: Any) -> str:
    """The name ``obj`` is saved under: ``"package>name"`` if registered, the built-in name, else its
    ``__name__`` (which then needs ``custom_objects`` when loading)."""
    if id(obj) in _CUSTOM_NAMES:
        return _CUSTOM_NAMES[id(obj)]
    if id(obj) in _BUILTIN_NAMES:
        return _BUILTIN_NAMES[id(obj)][1]
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None,
                          kind: str | Iterable[str] | None = None) -> Any:
    """The object registered as ``name``: from ``custom_objects``, the enclosing ``custom_object_scope``s,
    ``register_serializable``, then lamina's built-ins of ``kind`` (all kinds when None). Raises
    ``UnknownObjectError`` when nothing matches; never imports anything."""
    if not isinstance(name, str):
        raise UnknownObjectError(f"A class or function name must be a string; the config holds {name!r}.")
    for table in (custom_objects or {}, *reversed(_SCOPE.get())):
        if name in table:
            return table[name]
        short = name.rpartition(">")[2]
        if short != name and short in table:
            return table[short]
    if name in _CUSTOM:
        return _CUSTOM[name]
    kinds = [kind] if isinstance(kind, str) else list(kind) if kind is not None else sorted(_BUILTINS)
    for k in kinds:
        if name in _BUILTINS.get(k, {}):
            return _BUILTINS[k][name]
    known = sorted({n for k in kinds for n in _BUILTINS.get(k, {})} | set(_CUSTOM))
    message = unknown_name_message("object" if kind is None else "/".join(kinds), name, known)
    raise UnknownObjectError(
        f"{message.split(' Known ')[0]} Classes and functions are resolved only through lamina's registry: "
        "register yours with @lamina.saving.register_serializable(package=...), or pass it in "
        "custom_objects={'Name': obj}. Nothing named by a file is ever imported.")


def find_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None,
                           module_objects: Mapping[str, Any] | None = None) -> Any:
    """``keras.saving.get_registered_object``: the object for ``name`` from ``custom_objects``, the enclosing
    ``custom_object_scope``s, the registered custom objects, then ``module_objects``; None when none holds it.

    >>> find_registered_object("swish2", custom_objects={"swish2": abs}) is abs
    True
    >>> find_registered_object("no_such_thing") is None
    True
    """
    try:
        return get_registered_object(name, custom_objects, kind=())
    except UnknownObjectError:
        return (module_objects or {}).get(name)


def get_custom_objects() -> dict[str, Any]:
    """The global table of registered custom objects (``"package>name"`` -> object), as
    ``keras.saving.get_custom_objects``; entries added to it resolve by their key."""
    return _CUSTOM


def _resolve_custom(name: Any) -> Any:
    # Registry.get's fallback: a name no built-in table holds resolves to a custom object (custom_objects in scope,
    # a registered "package>name", or the one registered object whose short name it is), else None.
    if not isinstance(name, str):
        return None
    found = find_registered_object(name)
    if found is not None:
        return found
    matches = [obj for key, obj in _CUSTOM.items() if key.rpartition(">")[2] == name]
    return matches[0] if len(matches) == 1 else None


if _resolve_custom not in FALLBACKS:
    FALLBACKS.append(_resolve_custom)


class custom_object_scope:  # noqa: N801 (Keras's name)
    """Make ``custom_objects`` resolvable by name inside a ``with`` block (nestable, per thread/task).

    >>> def swish2(x):
    ...     return x
    >>> with custom_object_scope({"swish2": swish2}):
    ...     get_registered_object("swish2") is swish2
    True
    """

    def __init__(self, *custom_objects: Mapping[str, Any] | None):
        self.tables = tuple(dict(t) for t in custom_objects if t)
        self._token: contextvars.Token | None = None

    def __enter__(self) -> custom_object_scope:
        self._token = _SCOPE.set(_SCOPE.get() + self.tables)
        return self

    def __exit__(self, *exc: Any) -> None:
        _SCOPE.reset(self._token)


# ---------------------------------------------------------------------------------------------- (de)serialize
def serialize(obj: Any) -> Any:
    """A JSON-ready description of ``obj``: plain values as they are, containers element-wise, objects as
    ``{"module", "class_name", "config", "registered_name"}`` and functions as
    ``{"class_name": "function", "config": registered name}``. Lambdas are refused: they have no name."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize(v) for v in obj]
    if isinstance(obj, Mapping):
        return {str(k): serialize(v) for k, v in obj.items()}
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, type)):
        name = get_registered_name(obj)
        if name == "<lambda>":
            raise ValueError(
                "A lambda cannot be saved: lamina saves functions by name, never as code. Define it with `def`, "
                "decorate it with @lamina.saving.register_serializable(package=...), and load with it registered "
                "or in custom_objects.")
        return {"module": _kind_of(obj), "class_name": "function" if not isinstance(obj, type) else "type",
                "config": name, "registered_name": name if ">" in name else None}
    get_config = getattr(obj, "get_config", None)
    if get_config is None:
        raise TypeError(f"Cannot serialize {obj!r}: it has no get_config(). Give its class get_config/from_config "
                        "and register it with @lamina.saving.register_serializable.")
    cls = public_class(obj)
    name = get_registered_name(cls)
    return {"module": _kind_of(cls), "class_name": cls.__name__, "config": serialize(get_config()),
            "registered_name": name if ">" in name else None}


def public_class(obj: Any) -> type:
    """The class ``obj`` is saved as: its own, except for the wrapper class FSDP2's ``fully_shard`` swaps in at run
    time (``FSDP<Name>`` deriving from ``FSDPModule`` and ``<Name>``), which is saved as ``<Name>``."""
    cls = type(obj)
    bases = cls.__bases__
    if len(bases) == 2 and bases[0].__name__ == "FSDPModule" and cls.__name__ == "FSDP" + bases[1].__name__:
        return bases[1]
    return cls


def _kind_of(obj: Any) -> str | None:
    if id(obj) in _BUILTIN_NAMES:
        return f"lamina.{_BUILTIN_NAMES[id(obj)][0]}"
    return None


def is_object_config(value: Any) -> bool:
    """True for a dict shaped like ``serialize``'s output for an object or function."""
    return isinstance(value, Mapping) and "class_name" in value and set(value) <= OBJECT_KEYS


def check_no_code(value: Any, where: str = "config") -> None:
    """Refuse configs that carry code: Keras's ``__lambda__`` functions, marshalled bytecode or source text."""
    if isinstance(value, Mapping) and (value.get("class_name") in ("__lambda__", "__bytecode__") or any(
            isinstance(value.get(k), (str, list, dict)) and k in ("__lambda__", "bytecode", "marshal")
            for k in value)):
        raise UnsafeObjectError(
            f"The {where} holds a function as code (a Keras lambda, marshalled bytecode or source text). lamina "
            "never runs code from a file: save functions by registered name "
            "(@lamina.saving.register_serializable) and pass them in custom_objects when loading.")


def deserialize(config: Any, custom_objects: Mapping[str, Any] | None = None, safe_mode: bool = True,
                kind: str | Iterable[str] | None = None) -> Any:
    """The object ``serialize`` described, resolved through the registry only (see ``get_registered_object``).

    ``safe_mode`` is accepted for Keras compatibility; lamina is always safe: code in a config (a lambda's
    bytecode or source) raises ``UnsafeObjectError`` in either mode.

    >>> deserialize({"class_name": "function", "config": "demo>double"})(3)
    6
    """
    if isinstance(config, str):  # a bare name at the top; inside containers strings stay strings
        return get_registered_object(config, custom_objects, kind)
    return _deserialize(config, custom_objects, kind)


def deserialize_keras_object(config: Any, custom_objects: Mapping[str, Any] | None = None, safe_mode: bool = True,
                             **kwargs: Any) -> Any:
    """``keras.saving.deserialize_keras_object``: ``deserialize`` with Keras's rule for a bare string, which
    stays a string (``"SGD"``, ``"relu"``) unless the user registered it or passed it in ``custom_objects``.

    >>> deserialize_keras_object("SGD")
    'SGD'
    """
    if isinstance(config, str):
        found = find_registered_object(config, custom_objects)
        return config if found is None else found
    return deserialize(config, custom_objects, safe_mode)


def _deserialize(config: Any, custom_objects: Mapping[str, Any] | None, kind: Any) -> Any:
    if config is None or isinstance(config, (bool, int, float, str)):
        return config
    if isinstance(config, list):
        return [_deserialize(v, custom_objects, kind) for v in config]
    if not isinstance(config, Mapping):
        raise UnknownObjectError(f"Cannot deserialize {type(config).__name__} {config!r:.200}.")
    check_no_code(config)
    if not is_object_config(config):
        return {k: _deserialize(v, custom_objects, kind) for k, v in config.items()}
    class_name, inner = config["class_name"], config.get("config")
    name = config.get("registered_name") or class_name
    if class_name in ("function", "type"):
        check_no_code(inner)
        obj = get_registered_object(inner if isinstance(inner, str) else name, custom_objects, kind)
        if class_name == "function" and (isinstance(obj, type) or not callable(obj)):
            raise UnknownObjectError(f"{inner!r} names {obj!r}, which is not a function.")
        return obj
    try:
        cls = get_registered_object(name, custom_objects, kind)
    except UnknownObjectError:
        if name == class_name:
            raise
        cls = get_registered_object(class_name, custom_objects, kind)
    if not isinstance(cls, type):
        raise UnknownObjectError(f"{class_name!r} names {cls!r}, which is not a class.")
    if inner is None:
        inner = {}
    if not isinstance(inner, Mapping):
        raise ValueError(f"The config of {class_name} must be a dict; received {type(inner).__name__}.")
    from_config = getattr(cls, "from_config", None)
    with custom_object_scope(custom_objects):
        return from_config(dict(inner)) if from_config is not None else cls(**inner)


# ---------------------------------------------------------------------------------------------- layers and models
def layer_class_name(layer: Any) -> str:
    """The class name a layer is saved and summarized under: its class's, except that a plain
    ``Model(inputs, outputs)`` (the class registered as ``Functional``, holding a graph) is ``Functional``, as in
    Keras 3. Found through the registry, so no module below ``lamina.models`` needs to import ``Model``."""
    cls = public_class(layer)
    if cls is _BUILTINS.get("layers", {}).get("Functional") and getattr(layer, "_graph", None) is not None:
        return "Functional"
    return cls.__name__


def serialize_layer(layer: Any) -> dict:
    """A layer's ``{"module", "class_name", "config", "registered_name"}`` (functional models: ``Functional``)."""
    config = serialize(layer)
    config["class_name"] = layer_class_name(layer)
    return config


def deserialize_layer(config: Any) -> Any:
    """A layer (or model) from ``serialize_layer``'s output, through the registry only."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"A layer config must be a dict with 'class_name' and 'config'; received {config!r:.200}.")
    config = {k: v for k, v in config.items() if k in OBJECT_KEYS}
    return deserialize(config, kind="layers")


def accepted_kwargs(fn: Callable[..., Any], config: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of ``config`` that ``fn`` accepts (all of them if it takes ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return dict(config)
    names = {p.name for p in params}
    return {k: v for k, v in config.items() if k in names}
