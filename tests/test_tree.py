"""lamina.tree against keras.tree: a table of structures through every function, plus the error cases.

Truth: Keras 3's keras.tree. On its torch backend Keras uses torch's pytree, whose results differ from Keras's
documented behaviour (and from its optree implementation, used on the other backends) in a few places; there
lamina follows the documentation and the expected value is written out with the reason (``DOCUMENTED``).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import torch

from lamina import tree

Point = collections.namedtuple("Point", ["x", "y"])
Reversed = collections.namedtuple("Reversed", ["b", "a"])


def _od(*items):
    return collections.OrderedDict(items)


STRUCTURES = {
    "none": None,
    "int": 1,
    "str": "ab",
    "tensor": torch.ones(2),
    "array": np.ones(2),
    "set": {1, 2},
    "list": [1, [2, 3]],
    "tuple": (1, (2,)),
    "empty_list": [],
    "empty_tuple": (),
    "empty_dict": {},
    "single": [1],
    "single_none": [None],
    "dict": {"b": 1, "a": 2},
    "int_keys": {100: "world!", 6: "Hello"},
    "ordered": _od(("b", 1), ("a", 2)),
    "defaultdict": collections.defaultdict(int, {"b": 1, "a": 2}),
    "namedtuple": Point(1, [2, None]),
    "deque": collections.deque([1, 2]),
    "nones": [None, (None,), {"a": None}],
    "ordered_nested": _od(("b", {"d": 1, "c": 2}), ("a", [3])),
    "structseq": torch.max(torch.tensor([[1.0, 2.0]]), 0),
    "size": torch.Size([2, 3]),
}
# Keras's torch backend disagrees with its documentation on these (see the module docstring).
TORCH_BACKEND_DIFFERS = {
    "nested_dict": {"z": {"y": 1, "x": [2, {"w": 3, "v": 4}]}, "a": (5,)},
    "dict_in_list": [{"b": 1, "a": 2}],
    "reversed_fields": Reversed(1, 2),
    "mixed_keys": {1: "a", "b": 2},
}


def _same(ours, theirs, key_order=True):
    """Equal values and types all the way down; ``key_order``: dicts' key orders too."""
    assert type(ours) is type(theirs), (ours, theirs)
    if isinstance(ours, dict):
        assert (list(ours) == list(theirs)) if key_order else (set(ours) == set(theirs)), (ours, theirs)
        for k in ours:
            _same(ours[k], theirs[k], key_order)
    elif isinstance(ours, (list, tuple, collections.deque)):
        assert len(ours) == len(theirs), (ours, theirs)
        for a, b in zip(ours, theirs, strict=True):
            _same(a, b, key_order)
    elif isinstance(ours, (torch.Tensor, np.ndarray)):
        assert ours is theirs or (ours == theirs).all()
    else:
        assert ours == theirs, (ours, theirs)


def _canon(x):
    """``x`` with every dict as its type and sorted items (key order left out), for comparing what func saw."""
    if isinstance(x, dict):
        return (type(x).__name__, sorted(((repr(k), _canon(v)) for k, v in x.items()), key=lambda kv: kv[0]))
    if isinstance(x, (list, tuple)) and not isinstance(x, torch.Size):
        return (type(x).__name__, [_canon(v) for v in x])
    return repr(x)


def _tag(x):
    """What func saw: the object itself for arrays and tensors (passed through), else its type and repr."""
    return ("same", id(x)) if isinstance(x, (torch.Tensor, np.ndarray)) else (type(x).__name__, _canon(x))


CALLS = {
    "is_nested": lambda t, s: t.is_nested(s),
    "flatten": lambda t, s: t.flatten(s),
    "flatten_with_path": lambda t, s: t.flatten_with_path(s),
    "map_structure": lambda t, s: t.map_structure(_tag, s),
    "map_structure_two": lambda t, s: t.map_structure(lambda a, b: (_tag(a), _tag(b)), s, s),
    "map_structure_none_kept": lambda t, s: t.map_structure(_tag, s, none_is_leaf=False),
    "map_structure_up_to": lambda t, s: t.map_structure_up_to(s, _tag, s),
    "lists_to_tuples": lambda t, s: t.lists_to_tuples(s),
    "pack_sequence_as": lambda t, s: t.pack_sequence_as(s, list(range(len(t.flatten(s))))),
    "traverse_top_down": lambda t, s: (lambda seen: (t.traverse(lambda x: seen.append(_tag(x)), s), seen))([]),
    "traverse_bottom_up": lambda t, s: (lambda seen: (t.traverse(lambda x: seen.append(_tag(x)), s,
                                                                 top_down=False), seen))([]),
    "assert_same_structure": lambda t, s: t.assert_same_structure(s, s),
    "assert_same_paths": lambda t, s: t.assert_same_paths(s, s),
    "map_shape_structure": lambda t, s: t.map_shape_structure(_tag, s),
}


@pytest.mark.parametrize("call", list(CALLS))
@pytest.mark.parametrize("name", list(STRUCTURES))
def test_matches_keras_on_the_table(keras, name, call):
    """Same results; rebuilt dicts' key order is left out (lamina keeps it, Keras on torch sorts: see
    test_rebuilt_dicts_keep_their_key_order)."""
    structure = STRUCTURES[name]
    if name == "size" and call in ("traverse_top_down", "map_shape_structure"):
        pytest.skip("Keras hands func a tuple copy of the torch.Size; lamina the Size itself (same values); "
                    "see test_map_shape_structure_treats_shapes_as_leaves")
    _same(CALLS[call](tree, structure), CALLS[call](keras.tree, structure), key_order=False)


def test_the_table_covers_every_public_name(keras):
    called = " ".join(CALLS) + " MAP_TO_NONE"
    public = [n for n in dir(keras.tree) if not n.startswith("_")]
    assert sorted(public) == sorted(tree.__all__)
    assert all(n in called for n in public)


# ------------------------------------------------------------------------- where Keras-on-torch differs (DOCUMENTED)
def test_nested_dicts_are_sorted_at_every_depth():
    s = TORCH_BACKEND_DIFFERS["nested_dict"]
    # keras.tree docs: "dict values sorted by key"; Keras's torch backend sorts the outer dict only.
    assert tree.flatten(s) == [5, 2, 4, 3, 1]
    assert [p for p, _ in tree.flatten_with_path(s)] == [("a", 0), ("z", "x", 0), ("z", "x", 1, "v"),
                                                          ("z", "x", 1, "w"), ("z", "y")]
    assert tree.flatten(TORCH_BACKEND_DIFFERS["dict_in_list"]) == [2, 1]


def test_rebuilt_dicts_keep_their_key_order():
    # keras.tree.pack_sequence_as docs: {"key3": "value3", "key1": "value1", "key2": "value2"}; Keras's torch
    # backend returns sorted keys from pack_sequence_as, lists_to_tuples, traverse and map_shape_structure.
    packed = tree.pack_sequence_as({"key3": "", "key1": "", "key2": ""}, ["value1", "value2", "value3"])
    assert list(packed.items()) == [("key3", "value3"), ("key1", "value1"), ("key2", "value2")]
    assert list(tree.lists_to_tuples({"b": [1], "a": 2})) == ["b", "a"]
    assert list(tree.traverse(lambda s: None, {"b": 1, "a": 2})) == ["b", "a"]
    assert list(tree.map_shape_structure(lambda s: s, {"b": (1,), "a": (2,)})) == ["b", "a"]
    assert list(tree.map_structure(lambda v: v, {"b": 1, "a": 2})) == ["b", "a"]  # Keras agrees here


def test_namedtuple_paths_are_positions():
    # keras.tree.assert_same_paths docs: "namedtuples also use indices"; Keras's torch backend numbers the fields
    # in sorted-name order.
    assert tree.flatten_with_path(TORCH_BACKEND_DIFFERS["reversed_fields"]) == [((0,), 1), ((1,), 2)]


def test_unsortable_keys_keep_insertion_order():
    # Keras's torch backend raises TypeError; optree (Keras's other backends) falls back to insertion order.
    s = TORCH_BACKEND_DIFFERS["mixed_keys"]
    assert tree.flatten(s) == ["a", 2]
    assert tree.pack_sequence_as(s, [10, 20]) == {1: 10, "b": 20}


@pytest.mark.parametrize(("a", "b"), [([1, 2], [1, [2]]), (1, [1]), ([None], [[1]]), ({"b": 0, "a": 0},
                                                                                         {"a": [1], "b": 2})],
                         ids=["deeper_item", "leaf_vs_list", "none_vs_list", "dict_deeper"])
def test_map_structure_refuses_structures_nested_deeper(keras, a, b):
    # keras.tree.map_structure docs: ValueError when the structures don't match (Keras's optree implementation
    # does so; its torch backend maps to the shallower one).
    with pytest.raises(ValueError, match="same nested structure"):
        tree.map_structure(lambda x, y: (x, y), a, b)
    with pytest.raises(ValueError):
        keras.tree.assert_same_structure(a, b)
    with pytest.raises(ValueError, match="same nested structure"):
        tree.assert_same_structure(a, b)


def test_map_structure_none_kept_must_match_none(keras):
    for a, b in ([None], [[1]]), ([1], [None]):
        with pytest.raises(ValueError):
            tree.map_structure(lambda x, y: (x, y), a, b, none_is_leaf=False)
    with pytest.raises(ValueError):
        keras.tree.map_structure(lambda x, y: (x, y), [None], [[1]], none_is_leaf=False)


# ------------------------------------------------------------------------- behaviour from Keras's docs
def test_docstring_examples(keras):
    assert tree.flatten([[1, 2, 3], [4, [5], [[6]]]]) == [1, 2, 3, 4, 5, 6]
    assert tree.flatten({100: "world!", 6: "Hello"}) == ["Hello", "world!"]
    assert tree.flatten_with_path([{"foo": 42}]) == [((0, "foo"), 42)]
    assert tree.map_structure(lambda v: v * 2, Point(1, 2)) == Point(2, 4)
    assert tree.map_structure_up_to([None, None], len, [[1, 1], [2, 2]]) == [2, 2]
    assert tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == ["[1, 1]", ["2", "2"]]
    assert keras.tree.map_structure_up_to([None, [None, None]], str, [[1, 1], [2, 2]]) == ["[1, 1]", ["2", "2"]]
    structure = {"key3": {"c": ("alpha", "beta"), "a": ("gamma")}, "key1": {"e": "val1", "d": "val2"}}
    packed = tree.pack_sequence_as(structure, ["val2", "val1", 3.0, 1.0, 2.0])
    assert packed == {"key3": {"c": (1.0, 2.0), "a": 3.0}, "key1": {"e": "val1", "d": "val2"}}
    seen = []
    assert tree.traverse(seen.append, [(1, 2), [3], {"a": 4}]) == [(1, 2), [3], {"a": 4}]
    assert seen == [[(1, 2), [3], {"a": 4}], (1, 2), 1, 2, [3], 3, {"a": 4}, 4]
    seen = []
    tree.traverse(seen.append, [(1, 2), [3], {"a": 4}], top_down=False)
    assert seen == [1, 2, (1, 2), 3, [3], 4, {"a": 4}, [(1, 2), [3], {"a": 4}]]
    tree.assert_same_paths(Point(0, 1), collections.namedtuple("Point2", ["x", "y"])(2, 3))
    tree.assert_same_paths([0, 1], (2, 3))


TRAVERSALS = {
    "top_down_stops": (lambda s: "X" if isinstance(s, tuple) else None, [(1, 2), [3, (4,)], {"a": (5,)}], True),
    "top_down_map_to_none": (lambda s: tree.MAP_TO_NONE if isinstance(s, tuple) else None, [(1, 2), [3]], True),
    "bottom_up_map_to_none": (lambda s: tree.MAP_TO_NONE if isinstance(s, int) else None, [(1, 2), [3]], False),
    "bottom_up_replaces": (lambda s: s * 10 if isinstance(s, int) else None, [(1, 2), {"b": 3, "a": 4}], False),
    "bottom_up_sees_new_children": (lambda s: len(s) if isinstance(s, list) else (s * 10 if isinstance(s, int)
                                                                                   else None), [[1, 2], 3], False),
    "root_replaced": (lambda s: 7, [1], True),
    "root_to_none": (lambda s: tree.MAP_TO_NONE, [1], True),
    "leaf": (lambda s: None, 5, True),
    "none_leaf": (lambda s: None, None, False),
}


@pytest.mark.parametrize("name", list(TRAVERSALS))
def test_traverse_contract(keras, name):
    fn, structure, top_down = TRAVERSALS[name]
    theirs_fn = (lambda s: keras.tree.MAP_TO_NONE if (r := fn(s)) is tree.MAP_TO_NONE else r)
    ours = tree.traverse(fn, structure, top_down=top_down)
    _same(ours, keras.tree.traverse(theirs_fn, structure, top_down=top_down), key_order=False)


SHAPES = [(None, 3), [(2, 3), (4, None)], {"a": (1, 2), "b": [None]}, (), [], [(2,), [3, (4,)]], ((2, 3.0),),
          (True, 2), Point(1, None), ([2, "x"], 3), [torch.Size([2, 3])], None, {"a": None}]


@pytest.mark.parametrize("shapes", SHAPES, ids=[repr(s) for s in SHAPES])
def test_map_shape_structure_treats_shapes_as_leaves(keras, shapes):
    ours = tree.map_shape_structure(lambda s: ("shape", s), shapes)
    theirs = keras.tree.map_shape_structure(lambda s: ("shape", s), shapes)
    if shapes == [torch.Size([2, 3])]:  # Keras hands func a tuple copy of the Size; lamina the Size itself
        assert ours == [("shape", torch.Size([2, 3]))] and theirs == [("shape", (2, 3))]
        return
    _same(ours, theirs, key_order=False)


def test_map_structure_calls():
    assert tree.map_structure(lambda a, b, c: a + b + c, [1, (2,)], [10, (20,)], [100, (200,)]) == [111, (222,)]
    assert tree.map_structure(lambda v: v, None) is None
    assert tree.map_structure(lambda v: 1, None, none_is_leaf=False) is None
    # dict, OrderedDict and defaultdict match one another; the first structure gives the result's type and order.
    out = tree.map_structure(lambda a, b: (a, b), _od(("b", 3), ("a", 4)), {"a": 1, "b": 2})
    assert type(out) is collections.OrderedDict and list(out.items()) == [("b", (3, 2)), ("a", (4, 1))]
    # A ValueError from func itself is not taken for a structure mismatch.
    with pytest.raises(ValueError, match="invalid literal"):
        tree.map_structure(lambda v: int("x"), [1])


def test_map_structure_up_to_passes_deeper_parts():
    assert tree.map_structure_up_to([0, 0], lambda a, b: (a, b), [[1], [2]], [3, 4]) == [([1], 3), ([2], 4)]
    assert tree.map_structure_up_to({"b": 0, "a": 0}, lambda v: v, {"a": [1], "b": 2}) == {"b": 2, "a": [1]}
    assert tree.map_structure_up_to(None, len, [1, 2]) == 2


def test_torch_size_is_a_tuple_of_ints_as_in_keras_on_torch(keras):
    size = torch.Size([2, 3])
    assert tree.flatten(size) == keras.tree.flatten(size) == [2, 3]
    assert tree.map_structure(lambda d: d * 2, size) == (4, 6)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("a", "b"), [([1, 2], (1, 2)), ([1, 2], [1, 2, 3]), ({"a": 1}, {"b": 1}),
                                      (Point(1, 2), Reversed(1, 2)), (Point(1, 2), (1, 2)), ([1, [2]], [1, 2]),
                                      (collections.deque([1]), [1]), ((1, 2), [3, 4])],
                         ids=["list_tuple", "lengths", "keys", "namedtuple_classes", "namedtuple_tuple", "shallower",
                              "deque_list", "tuple_list"])
def test_structure_mismatches_raise_value_error_as_keras(keras, a, b):
    for fn in (lambda t: t.assert_same_structure(a, b), lambda t: t.map_structure(lambda x, y: x, a, b),
               lambda t: t.map_structure_up_to(a, lambda y: y, b)):
        with pytest.raises(ValueError):
            fn(keras.tree)
        with pytest.raises(ValueError, match="same nested structure"):
            fn(tree)


def test_same_named_namedtuple_classes_are_different_structures(keras):
    other_point = collections.namedtuple("Point", ["x", "y"])
    for t in (tree, keras.tree):
        with pytest.raises(ValueError):
            t.assert_same_structure(Point(0, 1), other_point(2, 3))


def test_assert_same_structure_ignores_the_dict_kind_and_deprecates_check_types(keras):
    tree.assert_same_structure({"a": 1, "b": 2}, _od(("b", 1), ("a", 2)))
    tree.assert_same_structure({"a": 1}, collections.defaultdict(int, {"a": 2}))
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=True)
    with pytest.warns(DeprecationWarning, match="check_types"):
        tree.assert_same_structure([1], [2], check_types=False)


def test_assert_same_paths_names_the_differences(keras):
    with pytest.raises(ValueError, match=r"(?s)missing in `b`.*\(1, 0\).*missing in `a`.*\(1,\)"):
        tree.assert_same_paths([1, [2]], [1, 2])
    with pytest.raises(ValueError):
        keras.tree.assert_same_paths([1, [2]], [1, 2])
    tree.assert_same_paths([1], {0: 1})


@pytest.mark.parametrize(("structure", "values"), [([1, 2], [5]), ([1, 2], [5, 6, 7]), (None, []), ([], [1]),
                                                   ({"a": 1}, [])], ids=["short", "long", "leaf_none", "empty",
                                                                         "dict"])
def test_pack_sequence_as_counts(keras, structure, values):
    with pytest.raises(ValueError):
        keras.tree.pack_sequence_as(structure, values)
    with pytest.raises(ValueError, match="leaves"):
        tree.pack_sequence_as(structure, values)


def test_pack_sequence_as_takes_any_iterable_and_refuses_others(keras):
    assert tree.pack_sequence_as([1, 2], (5, 6)) == [5, 6]
    assert tree.pack_sequence_as([1, 2], iter([5, 6])) == [5, 6]
    assert tree.pack_sequence_as(None, [5]) == 5
    for structure in ([1], 1):
        with pytest.raises(TypeError):
            keras.tree.pack_sequence_as(structure, 5)
        with pytest.raises(TypeError, match="iterable"):
            tree.pack_sequence_as(structure, 5)


def test_errors_for_missing_structures_and_bad_functions(keras):
    for t in (tree, keras.tree):
        with pytest.raises(ValueError):
            t.map_structure(lambda v: v)
        with pytest.raises(ValueError):
            t.map_structure_up_to([0], lambda v: v)
        for call, args in ((t.map_structure, (3, [1])), (t.map_structure, (3, 1)), (t.traverse, (3, [1]))):
            with pytest.raises(TypeError):
                call(*args)
        assert t.map_structure(3, []) == []  # never called: no error, as in Keras


def test_flatten_sorts_unsortable_keys_like_optree_and_rejects_nothing_else():
    assert tree.flatten({(1, 2): "t", (0, 5): "s"}) == ["s", "t"]
    assert tree.is_nested(_od()) and not tree.is_nested(b"x") and not tree.is_nested(range(3))
