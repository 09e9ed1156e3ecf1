"""Keras op nodes in functional configs (``{"module": "keras.src.ops.numpy", "class_name": "NotEqual"}``, which
Keras writes e.g. for an ``Embedding(mask_zero=True)``'s mask) -> calls of the lamina op of the same name.

The name resolves in lamina's op registry only (``lamina.ops``), never by importing the module the file names;
the node's other config entries become the op's keyword arguments.

>>> fn = op_call({"module": "keras.src.ops.numpy", "class_name": "NotEqual", "config": {"name": "ne"}}, "x")
>>> import lamina
>>> fn(lamina.Input((3,)), 0).node.layer.op
'not_equal'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lamina.core.naming import snake_case
from lamina.ops import dispatch
from lamina.saving.errors import FileFormatError, UnsafeFileError

OPS_MODULE = "keras.src.ops."


def is_op_entry(entry: Mapping) -> bool:
    """Whether a functional config entry is a Keras op node rather than a layer."""
    module = entry.get("module")
    return isinstance(module, str) and module.startswith(OPS_MODULE)


def op_call(entry: Mapping, where: str) -> Callable[..., Any]:
    """A callable applying the lamina op a Keras op node names, with the node's settings."""
    class_name, config = entry.get("class_name"), entry.get("config") or {}
    if not isinstance(class_name, str) or not isinstance(config, Mapping):
        raise FileFormatError(f"The op node at {where} needs a string class_name and a dict config.")
    name = snake_case(class_name)
    try:
        fn = dispatch.get_op(name)
    except ValueError as error:
        raise UnsafeFileError(f"The Keras file calls the op {class_name!r} ({where}): {error} Refused; lamina "
                              "resolves op nodes in its own op registry only.") from None
    settings = {str(k): v for k, v in config.items() if k != "name"}
    if any(isinstance(v, Mapping) for v in settings.values()):
        raise UnsafeFileError(f"The op node {class_name!r} at {where} passes objects as settings: refused.")

    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **settings, **kwargs)

    return call
