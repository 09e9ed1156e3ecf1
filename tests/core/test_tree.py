"""lamina.core.tree: flatten / map_structure / pack_as on nested lists, tuples, dicts and namedtuples.

Truth: hand-written expectations and optree with ``none_is_leaf=True`` (what Keras's tree uses on the JAX and
TensorFlow backends: dict values in sorted-key order at every depth, namedtuples in field order).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from lamina.core import tree

Point = collections.namedtuple("Point", ["x", "y"])
Triple = collections.namedtuple("Triple", "c a b")  # fields deliberately not alphabetical

STRUCTURES = [
    pytest.param(7, id="leaf"),
    pytest.param(None, id="none-leaf"),
    pytest.param([], id="empty-list"),
    pytest.param({}, id="empty-dict"),
    pytest.param([1, 2, 3], id="list"),
    pytest.param((1, (2, 3), [4]), id="tuple"),
    pytest.param({"b": 1, "a": 2, "c": 3}, id="dict-unsorted"),
    pytest.param({"z": {"y": 1, "x": 2}, "a": [3, (4, 5)]}, id="dict-nested"),
    pytest.param(Point(1, [2, 3]), id="namedtuple"),
    pytest.param(Triple(c=1, a={"q": 2, "p": 3}, b=(4,)), id="namedtuple-fields"),
    pytest.param({"b": Point(1, [2, (3, 4)]), "a": {"z": 5, "c": [6]}}, id="mixed"),
    pytest.param([{"k": None}, (None, 1)], id="nones"),
]


def test_flatten_dicts_in_sorted_key_order_at_every_depth():
    assert tree.flatten({"b": [1, 2], "a": 3}) == [3, 1, 2]
    assert tree.flatten({"z": {"y": 1, "x": 2}, "a": [3, (4, 5)]}) == [3, 4, 5, 2, 1]
    assert tree.flatten({"b": Point(1, [2, (3, 4)]), "a": {"z": 5, "c": [6]}}) == [6, 5, 1, 2, 3, 4]


def test_flatten_namedtuples_in_field_order():
    assert tree.flatten(Triple(c=1, a=2, b=3)) == [1, 2, 3]


def test_arrays_tensors_strings_and_none_are_leaves():
    a, t = np.arange(3), torch.arange(3)
    assert tree.flatten(a)[0] is a and len(tree.flatten(a)) == 1
    assert tree.flatten(t)[0] is t and len(tree.flatten(t)) == 1
    assert tree.flatten("abc") == ["abc"]
    assert tree.flatten([None, 1]) == [None, 1]
    assert tree.flatten([]) == [] and tree.flatten({}) == [] and tree.flatten(()) == []


def test_is_nested():
    assert tree.is_nested([1]) and tree.is_nested((1,)) and tree.is_nested({"a": 1}) and tree.is_nested(Point(1, 2))
    assert not tree.is_nested(1)
    assert not tree.is_nested("ab")
    assert not tree.is_nested(torch.zeros(2))
    assert not tree.is_nested(np.zeros(2))


@pytest.mark.parametrize("structure", STRUCTURES)
def test_flatten_matches_optree(structure):
    optree = pytest.importorskip("optree")
    assert tree.flatten(structure) == optree.tree_leaves(structure, none_is_leaf=True)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_pack_as_inverts_flatten(structure):
    rebuilt = tree.pack_as(structure, tree.flatten(structure))
    assert rebuilt == structure
    assert type(rebuilt) is type(structure)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_pack_as_matches_optree_unflatten(structure):
    optree = pytest.importorskip("optree")
    leaves, spec = optree.tree_flatten(structure, none_is_leaf=True)
    new_leaves = [f"leaf{i}" for i in range(len(leaves))]
    assert tree.pack_as(structure, new_leaves) == optree.tree_unflatten(spec, new_leaves)


@pytest.mark.parametrize("structure", STRUCTURES)
def test_map_structure_matches_optree(structure):
    optree = pytest.importorskip("optree")

    def fn(v):
        return ("seen", v)

    assert tree.map_structure(fn, structure) == optree.tree_map(fn, structure, none_is_leaf=True)


def test_map_structure_keeps_container_types():
    out = tree.map_structure(lambda v: v * 10, {"b": (1, [2]), "a": Point(3, 4)})
    assert out == {"b": (10, [20]), "a": Point(30, 40)}
    assert type(out["b"]) is tuple and type(out["b"][1]) is list and type(out["a"]) is Point
    assert tree.map_structure(lambda v: v + 1, 1) == 2


def test_map_structure_agrees_with_flatten_then_pack_as():
    s = {"b": Point(1, [2, (3, 4)]), "a": {"z": 5, "c": [6]}}

    def fn(v):
        return v * v

    assert tree.map_structure(fn, s) == tree.pack_as(s, [fn(v) for v in tree.flatten(s)])


def test_map_structure_calls_fn_once_per_leaf():
    seen = []
    s = {"b": [1, 2], "a": 3, "c": Point(4, (5,))}
    tree.map_structure(seen.append, s)
    assert sorted(seen) == [1, 2, 3, 4, 5]


def test_pack_as_places_leaves_by_sorted_keys():
    s = {"b": 0, "a": 0, "c": [0, 0]}
    assert tree.pack_as(s, [1, 2, 3, 4]) == {"a": 1, "b": 2, "c": [3, 4]}
    assert list(tree.pack_as(s, [1, 2, 3, 4])) == ["b", "a", "c"]  # the structure's own key order is kept


def test_round_trip_with_tensors_keeps_identity():
    t1, t2, t3 = torch.ones(1), torch.zeros(2), torch.full((3,), 2.0)
    s = {"y": (t1, [t2]), "x": t3}
    leaves = tree.flatten(s)
    assert leaves[0] is t3 and leaves[1] is t1 and leaves[2] is t2
    back = tree.pack_as(s, leaves)
    assert back["y"][0] is t1 and back["y"][1][0] is t2 and back["x"] is t3


@pytest.mark.parametrize("leaves", [[1], [1, 2, 3, 4]], ids=["too-few", "too-many"])
def test_pack_as_with_the_wrong_number_of_leaves_raises_value_error(leaves):
    with pytest.raises(ValueError):
        tree.pack_as({"a": 0, "b": [0, 0]}, leaves)
