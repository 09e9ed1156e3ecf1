"""``lamina.tree``: Keras's ``keras.tree``, nested structures of leaves (on ``optree``).

Nodes are lists, tuples, namedtuples, dicts (flattened in sorted-key order), ``OrderedDict`` (in insertion
order), ``defaultdict``, ``deque`` and PyTorch's structseqs (``torch.return_types``); everything else, ``None``
included, is a leaf; ``torch.Size`` is a node (a shape's ints, rebuilt as a tuple), as in Keras on PyTorch.
Rebuilt dicts keep their original key order.

>>> flatten({"b": [1, 2], "a": None})
[None, 1, 2]
>>> map_structure(lambda v: v * 10, {"b": (1, 2), "a": 3})
{'b': (10, 20), 'a': 30}
>>> pack_sequence_as({"b": 0, "a": 0}, ["A", "B"])
{'b': 'B', 'a': 'A'}

Where Keras's torch backend (``torch.utils._pytree``) and its other backends (``optree``) disagree, lamina
follows the documented behaviour, which is also the optree one: nested dicts are sorted at every depth,
rebuilt dicts keep their key order, a namedtuple's path entries are positions, and structures of different depth
raise ``ValueError`` in ``map_structure``. ``None`` in ``map_structure_up_to``'s shallow structure is a leaf,
as Keras's documentation shows (Keras's optree implementation raises there).
"""

import contextlib as _contextlib
import typing as _t
import warnings as _warnings

import optree as _optree
import torch as _torch

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path",
           "is_nested", "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to",
           "pack_sequence_as", "traverse"]


# torch.Size (what `tensor.shape` gives) is a tuple of ints here, as in Keras on PyTorch; rebuilt as a plain tuple.
# Registered in lamina's own optree namespace, so other optree users in the process see no change.
_NAMESPACE = "lamina"
with _contextlib.suppress(ValueError):  # ValueError: already registered (the module was reloaded)
    _optree.register_pytree_node(_torch.Size, lambda size: (tuple(size), None, None),
                                 lambda _, children: tuple(children), namespace=_NAMESPACE)


class MAP_TO_NONE:  # noqa: N801 (Keras's name)
    """Special value for use with ``traverse()``: return it from ``func`` to put ``None`` in the result."""


def _leaf(x: _t.Any, none_is_leaf: bool = True) -> bool:
    return _optree.tree_is_leaf(x, none_is_leaf=none_is_leaf, namespace=_NAMESPACE)


def _short(x: _t.Any, limit: int = 200) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[:limit] + "..."


def is_nested(structure: _t.Any) -> bool:
    """Whether ``structure`` is a sequence, mapping or namedtuple (a node), rather than a leaf.

    >>> is_nested([1]), is_nested(None), is_nested("ab")
    (True, False, False)
    """
    return not _leaf(structure)


def traverse(func: _t.Callable[[_t.Any], _t.Any], structure: _t.Any, top_down: bool = True) -> _t.Any:
    """Apply ``func`` to every sub-structure (leaves included), depth first.

    Top-down (parents first): a result that is not None replaces the sub-tree and stops the descent into it.
    Bottom-up (children first): a result that is not None replaces the (already traversed) sub-tree. Return
    ``MAP_TO_NONE`` to put ``None`` in the result.

    >>> traverse(lambda s: "T" if isinstance(s, tuple) else None, [(1, 2), [3]])
    ['T', [3]]
    """

    def children_done(node: _t.Any) -> _t.Any:
        if _leaf(node):
            return node
        # One level of the tree: every child of `node` counts as a leaf here.
        children, spec = _optree.tree_flatten(node, is_leaf=lambda x: x is not node, none_is_leaf=True,
                                              namespace=_NAMESPACE)
        return spec.unflatten([visit(c) for c in children])

    def visit(node: _t.Any) -> _t.Any:
        if top_down:
            result = func(node)
            if result is None:
                return children_done(node)
        else:
            node = children_done(node)
            result = func(node)
            if result is None:
                return node
        return None if result is MAP_TO_NONE else result

    return visit(structure)


def flatten(structure: _t.Any) -> list:
    """The leaves of ``structure`` in a list: dict values in sorted-key order, ``OrderedDict`` values in
    insertion order. A leaf (``None`` included) gives a one-element list.

    >>> flatten({100: "world!", 6: "Hello"}), flatten(None)
    (['Hello', 'world!'], [None])
    """
    return _optree.tree_flatten(structure, none_is_leaf=True, namespace=_NAMESPACE)[0]


def flatten_with_path(structure: _t.Any) -> list:
    """``(path, leaf)`` pairs in ``flatten`` order; a path is the tuple of indices and keys leading to the leaf
    (positions for namedtuples).

    >>> flatten_with_path([{"foo": 42}])
    [((0, 'foo'), 42)]
    """
    paths, leaves, _ = _optree.tree_flatten_with_path(structure, none_is_leaf=True, namespace=_NAMESPACE)
    return list(zip(paths, leaves, strict=True))


def _aligned(owner: str, structures: tuple, none_is_leaf: bool, exact: bool) -> tuple[_t.Any, list]:
    """The first structure's spec and, for each structure, its parts at that spec's leaves; ``ValueError`` when
    a structure does not have the first one's layout (``exact``: not deeper either)."""
    spec = _optree.tree_structure(structures[0], none_is_leaf=none_is_leaf, namespace=_NAMESPACE)
    try:
        columns = [spec.flatten_up_to(s) for s in structures]
    except ValueError as error:
        columns, reason = None, str(error)
    if columns is not None and exact:
        deeper = next((parts for parts in zip(*columns, strict=True)
                       if not all(_leaf(x, none_is_leaf) for x in parts)), None)
        if deeper is None:
            return spec, columns
        reason = f"at one position they hold {', '.join(_short(x, 80) for x in deeper)}"
    elif columns is not None:
        return spec, columns
    shown = "\n".join(f"  structure {i}: {_short(s)}" for i, s in enumerate(structures))
    raise ValueError(f"{owner}: the structures don't have the same nested structure ({reason}).\n{shown}")


def map_structure(func: _t.Callable[..., _t.Any], *structures: _t.Any, none_is_leaf: bool = True) -> _t.Any:
    """Apply ``func`` to the corresponding leaves of ``structures`` (which must have the same layout), keeping
    the layout. With ``none_is_leaf=False``, ``None`` values are kept as they are and not passed to ``func``.

    >>> map_structure(lambda x, y: x * y, [[1], [2]], [[3], [4]])
    [[3], [8]]
    """
    if not structures:
        raise ValueError("map_structure: give at least one structure, e.g. map_structure(fn, [1, 2]).")
    if len(structures) == 1 and not is_nested(structures[0]):
        return None if structures[0] is None and not none_is_leaf else func(structures[0])
    spec, columns = _aligned("map_structure", structures, none_is_leaf, exact=True)
    return spec.unflatten([func(*parts) for parts in zip(*columns, strict=True)])


def map_structure_up_to(shallow_structure: _t.Any, func: _t.Callable[..., _t.Any], *structures: _t.Any) -> _t.Any:
    """Like ``map_structure``, but only down to the leaves of ``shallow_structure``: ``func`` receives the
    sub-structures of ``structures`` found there (they may be nested deeper, never shallower).

    >>> map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]])
    ['[1, 1]', ['2', '2']]
    """
    if not structures:
        raise ValueError("map_structure_up_to: give at least one structure after the shallow structure.")
    spec, columns = _aligned("map_structure_up_to", (shallow_structure, *structures), True, exact=False)
    return spec.unflatten([func(*parts) for parts in zip(*columns[1:], strict=True)])


def assert_same_structure(a: _t.Any, b: _t.Any, check_types: bool | None = None) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` are nested the same way: the same node types (``dict``,
    ``OrderedDict`` and ``defaultdict`` count as one; ``list``, ``tuple``, ``deque`` and each namedtuple class
    do not) with the same lengths and keys. ``check_types`` is deprecated and has no effect (as in Keras).

    >>> assert_same_structure([(0, 1)], [(2, 3)])
    """
    if check_types is not None:
        _warnings.warn("assert_same_structure: `check_types` is deprecated and has no effect; remove it (for a "
                       "check that ignores the container types, use lamina.tree.assert_same_paths).",
                       DeprecationWarning, stacklevel=2)
    _aligned("assert_same_structure", (a, b), True, exact=True)


def assert_same_paths(a: _t.Any, b: _t.Any) -> None:
    """Raise ``ValueError`` unless ``a`` and ``b`` have the same set of leaf paths (container types are not
    compared: ``[0, 1]`` and ``(2, 3)`` match).

    >>> assert_same_paths([0, 1], (2, 3))
    """
    paths_a = {p for p, _ in flatten_with_path(a)}
    paths_b = {p for p, _ in flatten_with_path(b)}
    if paths_a != paths_b:
        message = "`a` and `b` don't have the same paths."
        if paths_a - paths_b:
            message += f"\nPaths in `a` missing in `b`:\n{sorted(paths_a - paths_b, key=repr)}"
        if paths_b - paths_a:
            message += f"\nPaths in `b` missing in `a`:\n{sorted(paths_b - paths_a, key=repr)}"
        raise ValueError(message)


def pack_sequence_as(structure: _t.Any, flat_sequence: _t.Iterable) -> _t.Any:
    """Rebuild ``structure`` with the values of ``flat_sequence`` in ``flatten`` order (dict keys keep the
    structure's order). ``TypeError`` if ``flat_sequence`` is not iterable, ``ValueError`` on a wrong count.

    >>> pack_sequence_as({"key3": "", "key1": "", "key2": ""}, ["value1", "value2", "value3"])
    {'key3': 'value3', 'key1': 'value1', 'key2': 'value2'}
    """
    try:
        values = list(flat_sequence)
    except TypeError:
        raise TypeError("pack_sequence_as: `flat_sequence` must be an iterable of leaves (e.g. a list); "
                        f"received {type(flat_sequence).__name__} {_short(flat_sequence, 80)}.") from None
    spec = _optree.tree_structure(structure, none_is_leaf=True, namespace=_NAMESPACE)
    if spec.num_leaves != len(values):
        raise ValueError(f"pack_sequence_as: the structure holds {spec.num_leaves} leaves but `flat_sequence` has "
                         f"{len(values)} values.\n  structure: {_short(structure)}")
    return spec.unflatten(values)


def lists_to_tuples(structure: _t.Any) -> _t.Any:
    """The same structure with every list turned into a tuple.

    >>> lists_to_tuples([1, [2, {"a": [3]}]])
    (1, (2, {'a': (3,)}))
    """
    return traverse(lambda s: tuple(s) if isinstance(s, list) else None, structure, top_down=False)


def _is_shape(x: _t.Any) -> bool:
    return isinstance(x, (list, tuple)) and all(isinstance(d, int) or d is None for d in x)


def map_shape_structure(func: _t.Callable[[_t.Any], _t.Any], structure: _t.Any) -> _t.Any:
    """``map_structure`` for structures of shapes: a list or tuple of ints and Nones is a leaf.

    >>> map_shape_structure(lambda s: (None, *s), {"a": (2, 3), "b": [(4,), [5, None]]})
    {'a': (None, 2, 3), 'b': [(None, 4), (None, 5, None)]}
    """
    return _optree.tree_map(func, structure, is_leaf=_is_shape, none_is_leaf=True, namespace=_NAMESPACE)
