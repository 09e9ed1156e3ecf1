"""Nested structures (lists, tuples, dicts) of leaves: flatten and rebuild.

>>> flatten({"b": [1, 2], "a": 3})
[3, 1, 2]
>>> map_structure(lambda v: v * 10, (1, [2]))
(10, [20])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def is_nested(x: Any) -> bool:
    return isinstance(x, (list, tuple, dict))


def flatten(x: Any) -> list:
    """Leaves in order; dict values are taken in sorted-key order, as Keras's tree does."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x) for leaf in flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [leaf for item in x for leaf in flatten(item)]
    return [x]


def map_structure(fn: Callable[[Any], Any], x: Any) -> Any:
    """Apply ``fn`` to every leaf, keeping the structure."""
    if isinstance(x, dict):
        return {k: map_structure(fn, v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # namedtuple
        return type(x)(*(map_structure(fn, v) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(map_structure(fn, v) for v in x)
    return fn(x)


def pack_as(structure: Any, leaves: list) -> Any:
    """Rebuild ``structure`` with ``leaves`` (in ``flatten`` order)."""
    leaves = list(leaves)
    position = 0

    def rebuild(s: Any) -> Any:
        nonlocal position
        if isinstance(s, dict):
            built = {k: rebuild(s[k]) for k in sorted(s)}
            return {k: built[k] for k in s}
        if isinstance(s, tuple) and hasattr(s, "_fields"):  # namedtuple
            return type(s)(*[rebuild(v) for v in s])
        if isinstance(s, (list, tuple)):
            return type(s)([rebuild(v) for v in s])
        if position >= len(leaves):
            raise ValueError(f"pack_as: the structure has more leaves than the {len(leaves)} given.")
        position += 1
        return leaves[position - 1]

    out = rebuild(structure)
    if position != len(leaves):
        raise ValueError(f"pack_as: the structure has {position} leaves but {len(leaves)} were given.")
    return out
