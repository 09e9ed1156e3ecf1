"""Name -> object registries with helpful errors for unknown names.

>>> reg = Registry("activation")
>>> reg.register("relu", abs)
<built-in function abs>
>>> reg.get("relu") is abs
True
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Functions name -> object consulted by ``Registry.get`` for names it does not hold (None when they hold nothing
# either); ``core.serialization`` adds one that resolves registered custom objects and ``custom_object_scope``s.
FALLBACKS: list[Callable[[str], Any]] = []


class Registry:
    """A case-insensitive mapping from names to classes or functions of one kind."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str, obj: Any, aliases: Iterable[str] = ()) -> Any:
        for key in (name, *aliases):
            self._items[key.lower()] = obj
        return obj

    def __call__(self, *names: str) -> Callable[[Any], Any]:
        """Decorator form: ``@REGISTRY("name", "alias")``."""

        def decorate(obj: Any) -> Any:
            first, *rest = names or (obj.__name__,)
            return self.register(first, obj, rest)

        return decorate

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def resolve(self, identifier: Any, base: type, wrap: Callable[[Any], Any] | None = None) -> Any:
        """An instance of ``base`` from ``identifier``: None, an instance, a registered name, a class, a
        ``{"class_name", "config"}`` dict (looked up here only, never imported), or a callable given to ``wrap``."""
        if identifier is None or isinstance(identifier, base):
            return identifier
        if isinstance(identifier, str):
            return self.get(identifier)()
        if isinstance(identifier, dict):
            if "class_name" not in identifier:
                raise ValueError(f"A {self.kind} config dict needs 'class_name' and 'config'; received {identifier!r}.")
            return self.get(identifier["class_name"]).from_config(identifier.get("config", {}))
        if isinstance(identifier, type) and issubclass(identifier, base):
            return identifier()
        if wrap is not None and callable(identifier):
            return wrap(identifier)
        raise ValueError(f"Could not interpret {self.kind} identifier {identifier!r}.")

    def get(self, name: str) -> Any:
        key = name.lower() if isinstance(name, str) else name
        if key in self._items:
            return self._items[key]
        for fallback in FALLBACKS:
            found = fallback(name)
            if found is not None:
                return found
        raise ValueError(unknown_name_message(self.kind, name, self.names()))


def deserialize_object(config: Any, custom_objects: Mapping[str, Any] | None, get: Callable[[Any], Any]) -> Any:
    """The ``deserialize`` of a small registry (initializers, regularizers, constraints): ``config`` is a name or
    a ``{"class_name", "config"}`` dict (extra keys such as Keras's ``module`` are ignored); ``custom_objects`` is
    looked in first, then ``get`` (the registry's own lookup)."""
    name = config if isinstance(config, str) else (config.get("class_name") if isinstance(config, dict) else None)
    if not isinstance(name, str):
        raise ValueError(f"deserialize expects a name or a {{'class_name', 'config'}} dict; received {config!r}.")
    if custom_objects and name in custom_objects:
        cls = custom_objects[name]
        return cls() if isinstance(config, str) else cls.from_config(dict(config.get("config") or {}))
    return get(config)


def unknown_name_message(kind: str, name: Any, known: list[str]) -> str:
    close = difflib.get_close_matches(str(name).lower(), known, n=3, cutoff=0.6)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"Unknown {kind} {name!r}.{hint} Known {kind} names: {', '.join(known)}."
