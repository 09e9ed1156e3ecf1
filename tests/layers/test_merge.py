"""Merging layers and their functional forms: eager values against NumPy formulas and Keras 3, symbolic shapes
against Keras's, broadcasting rules, and errors that name the layer."""

import numpy as np
import pytest
import torch
from harness import check_layer, make_inputs, to_numpy

import lamina
from lamina import layers

ELEMENTWISE = {
    "Add": lambda xs: sum(xs[1:], xs[0]),
    "Subtract": lambda xs: xs[0] - xs[1],
    "Multiply": lambda xs: np.prod(np.broadcast_arrays(*xs), axis=0),
    "Average": lambda xs: sum(xs[1:], xs[0]) / len(xs),
    "Maximum": lambda xs: np.maximum.reduce(np.broadcast_arrays(*xs)),
    "Minimum": lambda xs: np.minimum.reduce(np.broadcast_arrays(*xs)),
}
FUNCTIONAL = {"Add": layers.add, "Subtract": layers.subtract, "Multiply": layers.multiply,
              "Average": layers.average, "Maximum": layers.maximum, "Minimum": layers.minimum}


def counts_for(name):
    return [2] if name == "Subtract" else [2, 3]


def to_torch(xs):
    return [torch.tensor(x) for x in xs]


# ----------------------------------------------------------------------------- element-wise merges
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
@pytest.mark.parametrize("shape", [(4, 5), (2, 3, 4)])
def test_elementwise_against_numpy_and_keras(keras, name, shape):
    for n in counts_for(name):
        result = check_layer(lambda name=name: getattr(layers, name)(), [shape] * n,
                             keras_factory=lambda name=name: getattr(keras.layers, name)(), keras=keras,
                             expected_output_shape=shape)
        np.testing.assert_allclose(result.outputs, ELEMENTWISE[name](result.inputs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_broadcasting_same_rank(keras, name):
    shapes = [(3, 1, 5), (3, 4, 5)] if name == "Subtract" else [(3, 1, 5), (3, 4, 5), (3, 4, 1)]
    result = check_layer(lambda: getattr(layers, name)(), shapes,
                         keras_factory=lambda: getattr(keras.layers, name)(), keras=keras,
                         expected_output_shape=(3, 4, 5))
    np.testing.assert_allclose(result.outputs, ELEMENTWISE[name](result.inputs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_different_ranks_broadcast_after_the_batch_axis_like_keras(keras, name):
    # Keras expands the lower-rank input right after the batch axis: (B, 5) with (B, 3, 5) -> (B, 1, 5).
    xs = make_inputs([(2, 5), (2, 3, 5)], seed=4)
    expected = ELEMENTWISE[name]([xs[0][:, None, :], xs[1]])
    theirs = to_numpy(getattr(keras.layers, name)()(xs))
    np.testing.assert_allclose(theirs, expected, rtol=1e-6, atol=1e-6)  # the oracle agrees with the formula
    ours = getattr(layers, name)()(to_torch(xs))
    np.testing.assert_allclose(to_numpy(ours), expected, rtol=1e-6, atol=1e-6)
    symbolic = getattr(layers, name)()([lamina.Input(shape=(5,)), lamina.Input(shape=(3, 5))])
    assert symbolic.shape == (None, 3, 5)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_functional_forms(name):
    xs = make_inputs([(3, 4), (3, 4)], seed=2)
    fn = FUNCTIONAL[name]
    np.testing.assert_allclose(to_numpy(fn(to_torch(xs))), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)
    a, b = lamina.Input(shape=(4,)), lamina.Input(shape=(4,))
    out = fn([a, b], name=f"my_{name.lower()}")
    assert out.shape == (None, 4)
    assert out.node.layer.name == f"my_{name.lower()}" and type(out.node.layer).__name__ == name
    model = lamina.Model([a, b], out)
    np.testing.assert_allclose(to_numpy(model(to_torch(xs))), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_symbolic_shapes_equal_keras_compute_output_shape(keras, name):
    for shapes in ([(None, 4), (None, 4)], [(None, 1, 3), (None, 2, 1)], [(None, None, 3), (None, None, 3)]):
        ours = getattr(layers, name)()([lamina.Input(batch_shape=s) for s in shapes]).shape
        theirs = tuple(getattr(keras.layers, name)().compute_output_shape(shapes))
        assert ours == theirs, (shapes, ours, theirs)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_symbolic_unknown_axis_merges_with_a_known_one_like_keras(keras, name):
    # An unknown size may turn out to equal the known one at run time: Keras accepts it (and reports the axis as
    # unknown), and so must shape inference (it must not pick a placeholder size that fails to broadcast against 7).
    shapes = [(None, None, 3), (None, 7, 3)]
    theirs = tuple(getattr(keras.layers, name)().compute_output_shape(shapes))
    layer = getattr(layers, name)()
    assert layer([lamina.Input(batch_shape=s) for s in shapes]).shape == theirs
    xs = make_inputs([(2, 7, 3), (2, 7, 3)], seed=6)
    np.testing.assert_allclose(to_numpy(layer(to_torch(xs))), ELEMENTWISE[name](xs), rtol=1e-6, atol=1e-6)


def test_gradients_flow_to_every_input():
    a = torch.randn(4, 3, requires_grad=True)
    b = torch.randn(4, 3, requires_grad=True)
    layers.Multiply()([a, b]).sum().backward()
    torch.testing.assert_close(a.grad, b.detach())
    torch.testing.assert_close(b.grad, a.detach())
    c = torch.randn(4, 3, requires_grad=True)
    layers.Average()([c, c.detach() * 0, c.detach() * 0]).sum().backward()
    torch.testing.assert_close(c.grad, torch.full((4, 3), 1 / 3))


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_too_few_inputs_is_a_clear_error(name):
    with pytest.raises(ValueError, match=rf"{name}.*'few_{name}'.*received 1"):
        getattr(layers, name)(name=f"few_{name}")([torch.ones(2, 3)])


def test_subtract_takes_exactly_two():
    with pytest.raises(ValueError, match=r"'sub3'.*exactly 2.*received 3"):
        layers.Subtract(name="sub3")([torch.ones(2, 3)] * 3)
    with pytest.raises(ValueError, match=r"'dot3'.*exactly 2"):
        layers.Dot(axes=1, name="dot3")([torch.ones(2, 3)] * 3)


def test_merge_needs_a_list():
    with pytest.raises(ValueError, match=r"'not_a_list'.*list"):
        layers.Add(name="not_a_list")(torch.ones(2, 3))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_incompatible_shapes_error_names_layer_and_sizes(name):
    with pytest.raises(ValueError) as info:
        getattr(layers, name)(name="bad_merge")([torch.ones(2, 5), torch.ones(2, 6)])
    message = str(info.value)
    assert "'bad_merge'" in message and "(None, 5)" in message and "(None, 6)" in message
    with pytest.raises(ValueError, match="'bad_sym'"):
        getattr(layers, name)(name="bad_sym")([lamina.Input(shape=(4, 5)), lamina.Input(shape=(3, 5))])


# ----------------------------------------------------------------------------- Concatenate
@pytest.mark.parametrize(("axis", "shapes"), [
    (-1, [(2, 3, 4), (2, 3, 5)]),
    (1, [(2, 3, 4), (2, 1, 4), (2, 2, 4)]),
    (2, [(2, 3, 4), (2, 3, 2)]),
    (-2, [(2, 3, 4), (2, 6, 4)]),
    (-1, [(2, 3)]),
])
def test_concatenate_against_numpy_and_keras(keras, axis, shapes):
    result = check_layer(lambda: layers.Concatenate(axis=axis), shapes,
                         keras_factory=lambda: keras.layers.Concatenate(axis=axis), keras=keras)
    np.testing.assert_array_equal(result.outputs, np.concatenate(result.inputs, axis=axis))
    assert result.layer.get_config()["axis"] == axis


def test_concatenate_symbolic_shapes_equal_keras(keras):
    for axis, shapes in [(-1, [(None, 3, 4), (None, 3, None)]), (1, [(None, 3, 4), (None, None, 4)]),
                         (1, [(None, 2), (None, 3)])]:
        ours = layers.Concatenate(axis=axis)([lamina.Input(batch_shape=s) for s in shapes]).shape
        theirs = tuple(keras.layers.Concatenate(axis=axis).compute_output_shape(shapes))
        assert ours == theirs, (axis, shapes, ours, theirs)


def test_concatenate_symbolic_unknown_axis_next_to_a_known_one(keras):
    shapes = [(None, None, 4), (None, 3, 2)]  # the unknown axis 1 may be 3 at run time
    theirs = tuple(keras.layers.Concatenate(axis=-1).compute_output_shape(shapes))
    ours = layers.Concatenate(axis=-1)([lamina.Input(batch_shape=s) for s in shapes]).shape
    assert ours in (theirs, (None, 3, 6)), (ours, theirs)  # Keras's answer, or the more precise one


def test_concatenate_functional_form():
    xs = make_inputs([(2, 3), (2, 4)], seed=1)
    np.testing.assert_array_equal(to_numpy(layers.concatenate(to_torch(xs))), np.concatenate(xs, axis=-1))
    a, b = lamina.Input(shape=(3, 2)), lamina.Input(shape=(5, 2))
    assert layers.concatenate([a, b], axis=1).shape == (None, 8, 2)


def test_concatenate_mismatch_error_names_layer_and_shapes():
    with pytest.raises(ValueError) as info:
        layers.Concatenate(axis=-1, name="cat")([torch.ones(2, 3, 4), torch.ones(2, 5, 4)])
    message = str(info.value)
    assert "'cat'" in message and "(None, 3, 4)" in message and "(None, 5, 4)" in message
    with pytest.raises(ValueError, match="'cat_rank'"):
        layers.Concatenate(name="cat_rank")([torch.ones(2, 3), torch.ones(2, 3, 1)])
    with pytest.raises(ValueError, match="'cat_sym'"):
        layers.Concatenate(axis=1, name="cat_sym")([lamina.Input(shape=(3, 4)), lamina.Input(shape=(3, 5))])


# ----------------------------------------------------------------------------- Dot
def numpy_dot(x, y, axes, normalize=False):
    """Per-sample tensordot over (axes[0] of x, axes[1] of y), batch axis kept; a (B,) result becomes (B, 1)."""
    a1, a2 = (a % r for a, r in zip(axes, (x.ndim, y.ndim), strict=True))
    if normalize:
        x = x / np.maximum(np.linalg.norm(x, axis=a1, keepdims=True), 1e-12)
        y = y / np.maximum(np.linalg.norm(y, axis=a2, keepdims=True), 1e-12)
    out = np.stack([np.tensordot(x[i], y[i], axes=(a1 - 1, a2 - 1)) for i in range(x.shape[0])])
    return out[:, None] if out.ndim == 1 else out


@pytest.mark.parametrize(("axes", "shapes"), [
    (1, [(4, 5), (4, 5)]),
    (-1, [(4, 5), (4, 5)]),
    ((2, 2), [(2, 3, 4), (2, 5, 4)]),
    ((1, 1), [(2, 3, 4), (2, 3, 5)]),
    ((1, 2), [(2, 3, 4), (2, 5, 3)]),
    ((2, 1), [(2, 3, 4), (2, 4)]),
    (-1, [(2, 3, 4), (2, 5, 4)]),
])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_against_numpy_and_keras(keras, axes, shapes, normalize):
    result = check_layer(lambda: layers.Dot(axes=axes, normalize=normalize), shapes,
                         keras_factory=lambda: keras.layers.Dot(axes=axes, normalize=normalize), keras=keras)
    pair = axes if isinstance(axes, tuple) else (axes, axes)
    np.testing.assert_allclose(result.outputs, numpy_dot(*result.inputs, pair, normalize), rtol=1e-5, atol=1e-5)


def test_dot_normalize_is_cosine_similarity():
    x = make_inputs([(6, 8), (6, 8)], seed=5)
    cos = to_numpy(layers.dot(to_torch(x), axes=1, normalize=True))
    expected = (x[0] * x[1]).sum(1) / (np.linalg.norm(x[0], axis=1) * np.linalg.norm(x[1], axis=1))
    np.testing.assert_allclose(cos[:, 0], expected, rtol=1e-5)
    assert np.all(np.abs(cos) <= 1 + 1e-6)
    same = to_numpy(layers.dot([torch.tensor(x[0]), torch.tensor(3 * x[0])], axes=1, normalize=True))
    np.testing.assert_allclose(same, np.ones((6, 1)), rtol=1e-5)


def test_dot_symbolic_shapes_equal_keras(keras):
    for axes, shapes in [(1, [(None, 4), (None, 4)]), ((2, 2), [(None, 3, 4), (None, 5, 4)]),
                         ((1, 2), [(None, 3, 4), (None, 5, 3)]), ((2, 1), [(None, 3, 4), (None, 4)])]:
        ours = layers.Dot(axes=axes)([lamina.Input(batch_shape=s) for s in shapes]).shape
        theirs = tuple(keras.layers.Dot(axes=axes).compute_output_shape(shapes))
        assert ours == theirs, (axes, shapes, ours, theirs)


def test_dot_symbolic_unknown_contraction_axis_like_keras(keras):
    for axes, shapes in [(1, [(None, None), (None, 4)]), ((2, 2), [(None, 3, None), (None, 5, 4)])]:
        theirs = tuple(keras.layers.Dot(axes=axes).compute_output_shape(shapes))
        ours = layers.Dot(axes=axes)([lamina.Input(batch_shape=s) for s in shapes]).shape
        assert ours == theirs, (axes, shapes, ours, theirs)


def test_dot_errors_and_config():
    with pytest.raises(ValueError, match=r"'dotty'.*\b4\b.*\b5\b|'dotty'.*sizes differ"):
        layers.Dot(axes=1, name="dotty")([torch.ones(2, 4), torch.ones(2, 5)])
    with pytest.raises(ValueError, match="axes"):
        layers.Dot(axes=(1, 2, 3))
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(axes=0)([torch.ones(2, 4), torch.ones(2, 4)])
    config = layers.Dot(axes=(1, 2), normalize=True).get_config()
    assert tuple(config["axes"]) == (1, 2) and config["normalize"] is True
