"""Functional models: Input/Model with several inputs and outputs, shared layers, nesting, feature extractors,
shapes and numerics against Keras 3, meta-device shape inference, graph errors, and very deep graphs."""

import time
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers

# Keras's own NumPy-2 deprecation noise (its tensors' __array__), not lamina's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")


def to_numpy(keras, x):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return np.asarray(keras.ops.convert_to_numpy(x))


def randomize(model, scale=0.5):
    """Random weights everywhere (biases too: freshly initialized biases are zeros and would hide a lost bias)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        weights = [(scale * np.random.randn(*np.shape(w))).astype("float32") for w in model.get_weights()]
    model.set_weights(weights)
    return weights


def dense_ref(x, layer):
    """Dense(linear) written out with plain torch on the layer's Keras-layout weights."""
    kernel, bias = (torch.as_tensor(w) for w in layer.get_weights())
    return x @ kernel + bias


# ----------------------------------------------------------------------------- one and several inputs/outputs
def test_single_input_single_output():
    inputs = lamina.Input(shape=(5,), name="features")
    hidden = layers.Dense(7, activation="tanh", name="hidden")
    head = layers.Dense(3, name="head")
    model = lamina.Model(inputs, head(hidden(inputs)))
    randomize(model)
    x = torch.randn(4, 5)
    torch.testing.assert_close(model(x), dense_ref(torch.tanh(dense_ref(x, hidden)), head))
    assert model.input is inputs
    assert model.input_names == ["features"]
    assert model.output_names == ["head"]
    np.testing.assert_allclose(model.predict(x.numpy(), verbose=0), model(x).detach().numpy(), atol=1e-6)


def two_branch_model():
    a = lamina.Input(shape=(4,), name="a")
    b = lamina.Input(shape=(6,), name="b")
    da, db = layers.Dense(3, name="da"), layers.Dense(3, name="db")
    ya, yb = da(a), db(b)
    total = layers.Add(name="total")([ya, yb])
    return a, b, da, db, ya, total


def test_several_inputs_and_outputs_as_lists_and_dicts():
    a, b, da, db, ya, total = two_branch_model()
    model = lamina.Model([a, b], [ya, total])
    randomize(model)
    xa, xb = torch.randn(2, 4), torch.randn(2, 6)
    expected_a = dense_ref(xa, da)
    expected_total = expected_a + dense_ref(xb, db)
    out_a, out_total = model([xa, xb])
    torch.testing.assert_close(out_a, expected_a)
    torch.testing.assert_close(out_total, expected_total)
    # a dict keyed by the Inputs' names, in any key order, feeds the same inputs
    out_a, out_total = model({"b": xb, "a": xa})
    torch.testing.assert_close(out_a, expected_a)
    torch.testing.assert_close(out_total, expected_total)
    with pytest.raises(ValueError, match="'b'"):
        model({"a": xa})
    with pytest.raises(ValueError, match="2"):
        model([xa])
    assert model.input_names == ["a", "b"]
    assert model.output_names == ["da", "total"]


def test_dict_inputs_and_outputs():
    a, b, da, db, ya, total = two_branch_model()
    model = lamina.Model({"a": a, "b": b}, {"first": ya, "sum": total})
    randomize(model)
    xa, xb = torch.randn(3, 4), torch.randn(3, 6)
    out = model({"b": xb, "a": xa})
    assert isinstance(out, dict) and set(out) == {"first", "sum"}
    torch.testing.assert_close(out["first"], dense_ref(xa, da))
    torch.testing.assert_close(out["sum"], dense_ref(xa, da) + dense_ref(xb, db))
    predicted = model.predict({"a": xa.numpy(), "b": xb.numpy()}, verbose=0)
    np.testing.assert_allclose(predicted["sum"], out["sum"].detach().numpy(), atol=1e-6)
    assert model.input_names == ["a", "b"]
    assert sorted(model.output_names) == ["first", "sum"]


def test_inputs_outputs_and_names_match_what_was_given(keras):
    a, b, da, db, ya, total = two_branch_model()
    model = lamina.Model([a, b], [total, ya])
    assert model.inputs == [a, b] and all(x is y for x, y in zip(model.inputs, [a, b], strict=True))
    assert all(x is y for x, y in zip(model.outputs, [total, ya], strict=True))
    ka, kb = keras.Input(shape=(4,), name="a"), keras.Input(shape=(6,), name="b")
    kya = keras.layers.Dense(3, name="da")(ka)
    ktotal = keras.layers.Add(name="total")([kya, keras.layers.Dense(3, name="db")(kb)])
    reference = keras.Model([ka, kb], [ktotal, kya])
    assert model.output_names == list(reference.output_names) == ["total", "da"]
    assert model.input_names == [t.name for t in reference.inputs]


def structure(value):
    return type(value).__name__ if isinstance(value, (list, dict)) else "tensor"


def test_inputs_and_outputs_are_flat_lists_and_input_output_keep_the_structure(keras):
    """Keras: `.inputs`/`.outputs` are always flat lists; `.input`/`.output` are what was given."""

    def build(k):
        x = k.Input(shape=(3,), name="x")
        y = k.layers.Dense(2, name="y")(x)
        a, b = k.Input(shape=(3,), name="a"), k.Input(shape=(3,), name="b")
        s = k.layers.Add(name="s")([a, b])
        return (x, y), [k.Model(x, y), k.Model([x], [y]), k.Model({"a": a, "b": b}, {"o": s})]

    (x, y), mine = build(lamina)
    _, theirs = build(keras)
    for model, reference in zip(mine, theirs, strict=True):
        assert type(model.inputs) is type(reference.inputs) is list
        assert type(model.outputs) is type(reference.outputs) is list
        assert [t.name for t in model.inputs] == [t.name for t in reference.inputs]
        assert [t.shape for t in model.outputs] == [tuple(t.shape) for t in reference.outputs]
        assert structure(model.input) == structure(reference.input)
        assert structure(model.output) == structure(reference.output)
    single = mine[0]
    assert single.input is x and single.output is y
    assert single.inputs[0] is x and single.outputs[0] is y
    assert isinstance(mine[1].input, list) and mine[1].input[0] is x
    assert isinstance(mine[2].input, dict) and set(mine[2].input) == {"a", "b"}
    assert isinstance(mine[2].output, dict) and set(mine[2].output) == {"o"}


def test_output_names_are_distinct_when_a_layer_gives_two_outputs():
    x1, x2 = lamina.Input(shape=(2,)), lamina.Input(shape=(2,))
    shared = layers.Dense(1, name="scorer")
    model = lamina.Model([x1, x2], [shared(x1), shared(x2)])
    names = model.output_names
    assert len(names) == 2 and len(set(names)) == 2 and names[0] == "scorer"


# ----------------------------------------------------------------------------- shared layers
def test_shared_layer_has_one_set_of_weights_and_gradients_add_up():
    left, right = lamina.Input(shape=(3,), name="left"), lamina.Input(shape=(3,), name="right")
    shared = layers.Dense(2, activation="tanh", name="shared")
    merged = layers.Concatenate(name="cat")([shared(left), shared(right)])
    head = layers.Dense(1, name="head")
    model = lamina.Model([left, right], head(merged))
    randomize(model)
    assert sum(w is shared.kernel for w in model.weights) == 1
    assert len(model.weights) == 4  # shared kernel/bias + head kernel/bias
    assert [tuple(w.shape) for w in model.get_weights()] == [(3, 2), (2,), (4, 1), (1,)]

    xl, xr = torch.randn(5, 3), torch.randn(5, 3)
    target = torch.randn(5, 1)
    loss = ((model([xl, xr]) - target) ** 2).mean()
    loss.backward()

    # the same computation in plain PyTorch, on copies of the weights
    k, b, hk, hb = (torch.tensor(w, requires_grad=True) for w in model.get_weights())
    feats = torch.cat([torch.tanh(xl @ k + b), torch.tanh(xr @ k + b)], dim=-1)
    ref_loss = ((feats @ hk + hb - target) ** 2).mean()
    ref_loss.backward()
    torch.testing.assert_close(loss, ref_loss)
    torch.testing.assert_close(shared.kernel.grad, k.grad)
    torch.testing.assert_close(shared.bias.grad, b.grad)
    torch.testing.assert_close(head.kernel.grad, hk.grad)
    torch.testing.assert_close(head.bias.grad, hb.grad)
    # both uses contribute: the gradient is not the one of either branch alone
    k_left = torch.tensor(model.get_weights()[0], requires_grad=True)
    feats_l = torch.cat([torch.tanh(xl @ k_left + b.detach()), torch.tanh(xr @ k.detach() + b.detach())], -1)
    ((feats_l @ hk.detach() + hb.detach() - target) ** 2).mean().backward()
    assert not torch.allclose(k_left.grad, k.grad)


# ----------------------------------------------------------------------------- nesting
def test_functional_model_nested_in_functional_model():
    inner_in = lamina.Input(shape=(4,))
    inner_dense = layers.Dense(3, activation="relu", name="inner_dense")
    inner = lamina.Model(inner_in, inner_dense(inner_in), name="inner")
    x = lamina.Input(shape=(4,))
    head = layers.Dense(2, name="outer_head")
    outer = lamina.Model(x, head(inner(x)))
    randomize(outer)
    assert outer.get_layer("inner") is inner
    assert {id(w) for w in inner.weights} <= {id(w) for w in outer.weights}
    assert len(outer.weights) == 4
    data = torch.randn(6, 4)
    torch.testing.assert_close(outer(data), dense_ref(torch.relu(dense_ref(data, inner_dense)), head))
    torch.testing.assert_close(outer(data), head(inner(data)))


def test_sequential_nested_in_functional_model():
    block = lamina.Sequential([layers.Dense(5, activation="tanh"), layers.Dense(3)], name="block")
    x = lamina.Input(shape=(4,))
    y = block(x)
    assert y.shape == (None, 3)
    model = lamina.Model(x, layers.Dense(1, name="top")(y))
    randomize(model)
    assert len(model.weights) == 6
    assert {id(w) for w in block.weights} <= {id(w) for w in model.weights}
    data = torch.randn(7, 4)
    d1, d2 = block.layers
    expected = dense_ref(dense_ref(torch.tanh(dense_ref(data, d1)), d2), model.get_layer("top"))
    torch.testing.assert_close(model(data), expected)


def test_feature_extractor_from_a_layer_output():
    inputs = lamina.Input(shape=(8,))
    hidden = layers.Dense(4, activation="relu", name="hidden")
    model = lamina.Model(inputs, layers.Dense(2, name="out")(hidden(inputs)))
    randomize(model)
    features = lamina.Model(model.input, model.layers[1].output)  # the Keras idiom
    assert model.layers[1] is hidden
    assert features.output is hidden.output
    assert len(features.weights) == 2 and features.weights[0] is hidden.kernel
    data = torch.randn(3, 8)
    torch.testing.assert_close(features(data), torch.relu(dense_ref(data, hidden)))
    by_name = lamina.Model(model.inputs, model.get_layer("hidden").output)
    torch.testing.assert_close(by_name(data), features(data))


# ----------------------------------------------------------------------------- Keras 3 as the oracle
def shape_graphs():
    """Graph builders taking a namespace (lamina or keras); each returns (inputs, outputs, every tensor)."""

    def dense_3d(k):
        x = k.Input(shape=(5, 7))
        h = k.layers.Dense(3, activation="relu")(x)
        f = k.layers.Flatten()(h)
        return [x], [f], [x, h, f, k.layers.Dense(2)(f)]

    def unknown_axes(k):
        x = k.Input(shape=(None, 8))
        h = k.layers.Dense(4)(x)
        f = k.layers.Flatten()(h)
        d = k.layers.Dropout(0.5)(h)
        a = k.layers.Activation("softmax")(d)
        return [x], [a], [x, h, f, d, a]

    def fixed_batch_and_reshape(k):
        x = k.Input(shape=(3, 4), batch_size=16)
        r = k.layers.Reshape((-1,))(x)
        r2 = k.layers.Reshape((2, -1))(r)
        r3 = k.layers.Reshape((6, 2))(r2)
        i = k.layers.Identity()(r3)
        return [x], [i], [x, r, r2, r3, i]

    def merges(k):
        x1, x2, x3 = k.Input(shape=(1, 4)), k.Input(shape=(3, 4)), k.Input(shape=(5, 4))
        added = k.layers.Add()([x1, x2])
        sub = k.layers.Subtract()([x2, added])
        mul = k.layers.Multiply()([x1, x2])
        avg = k.layers.Average()([x2, sub, mul])
        mx = k.layers.Maximum()([x1, x2])
        mn = k.layers.Minimum()([x2, x1])
        cat_last = k.layers.Concatenate()([x2, avg])
        cat_mid = k.layers.Concatenate(axis=1)([x2, x3])
        dot_seq = k.layers.Dot(axes=(2, 2))([x2, x3])
        flat = k.layers.Flatten()(x2)
        dot_vec = k.layers.Dot(axes=1)([flat, k.layers.Dense(12)(flat)])
        outs = [cat_last, cat_mid, dot_seq, dot_vec, mx, mn]
        return [x1, x2, x3], outs, [added, sub, mul, avg, mx, mn, cat_last, cat_mid, dot_seq, flat, dot_vec]

    def image_like(k):
        x = k.Input(shape=(28, 28, 1))
        f = k.layers.Flatten()(x)
        h = k.layers.Dense(32)(f)
        r = k.layers.Reshape((4, 8))(h)
        d = k.layers.Dense(6)(r)
        return [x], [d], [x, f, h, r, d]

    return [dense_3d, unknown_axes, fixed_batch_and_reshape, merges, image_like]


@pytest.mark.parametrize("graph", shape_graphs(), ids=lambda g: g.__name__)
def test_symbolic_shapes_equal_keras(keras, graph):
    mine_in, mine_out, mine_all = graph(lamina)
    theirs_in, theirs_out, theirs_all = graph(keras)
    assert [t.shape for t in mine_all] == [tuple(t.shape) for t in theirs_all]
    model = lamina.Model(mine_in, mine_out)
    reference = keras.Model(theirs_in, theirs_out)
    assert [t.shape for t in model.outputs] == [tuple(t.shape) for t in reference.outputs]


def two_in_two_out(k):
    """Two inputs, a shared layer, a merge and two heads."""
    a = k.Input(shape=(4,), name="a")
    b = k.Input(shape=(6,), name="b")
    ha = k.layers.Dense(5, activation="relu", name="da")(a)
    hb = k.layers.Dense(5, activation="relu", name="db")(b)
    shared = k.layers.Dense(3, activation="tanh", name="shared")
    sa, sb = shared(ha), shared(hb)
    cat = k.layers.Concatenate(name="cat")([sa, sb])
    return k.Model([a, b], [k.layers.Dense(2, name="head1")(cat), k.layers.Dense(1, name="head2")(sb)])


def residual(k):
    """A skip connection: Keras orders layers (and so weights) by depth in the graph."""
    a = k.Input(shape=(4,), name="a")
    b = k.Input(shape=(4,), name="b")
    h = k.layers.Dense(4, activation="relu", name="d1")(a)
    h = k.layers.Dense(4, name="d2")(h)
    skip = k.layers.Dense(4, name="skip")(a)
    out1 = k.layers.Add(name="add")([h, skip])
    out2 = k.layers.Dense(4, name="side")(k.layers.Add(name="merge_b")([out1, b]))
    return k.Model([a, b], [out1, out2])


def keras_weights(reference):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [np.asarray(w) for w in reference.get_weights()]


def assert_same_predictions(keras, model, reference):
    xs = [np.random.rand(8, t.shape[-1]).astype("float32") for t in reference.inputs]
    expected = [to_numpy(keras, y) for y in reference(xs)]
    got = model([torch.from_numpy(x) for x in xs])
    for mine, ref in zip(got, expected, strict=True):
        np.testing.assert_allclose(mine.detach().numpy(), ref, atol=1e-5, rtol=0)
    for mine, ref in zip(model.predict(xs, verbose=0), expected, strict=True):
        np.testing.assert_allclose(mine, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("graph", [two_in_two_out, residual], ids=lambda g: g.__name__)
def test_predictions_equal_keras_with_weights_copied_layer_by_layer(keras, graph):
    reference = graph(keras)
    model = graph(lamina)
    randomize(reference)
    for layer in reference.layers:
        model.get_layer(layer.name).set_weights(keras_weights(layer))
    assert_same_predictions(keras, model, reference)


@pytest.mark.parametrize("graph", [two_in_two_out, residual], ids=lambda g: g.__name__)
def test_get_weights_order_equals_keras_and_set_weights_copies_a_keras_model(keras, graph):
    reference = graph(keras)
    model = graph(lamina)
    randomize(reference)
    theirs = keras_weights(reference)
    assert [w.shape for w in model.get_weights()] == [w.shape for w in theirs]
    model.set_weights(theirs)
    assert_same_predictions(keras, model, reference)


@pytest.mark.parametrize("graph", [two_in_two_out, residual], ids=lambda g: g.__name__)
def test_layer_order_equals_keras(keras, graph):
    """`model.layers[i]` (the Keras idiom for picking a layer) must point at the same layer as in Keras."""
    assert [la.name for la in graph(lamina).layers] == [la.name for la in graph(keras).layers]


# ----------------------------------------------------------------------------- shape inference is free
class RecordingDense(layers.Dense):
    def __init__(self, *args, log, **kwargs):
        super().__init__(*args, **kwargs)
        self.log = log

    def call(self, inputs):
        self.log.append(inputs.device.type)
        return super().call(inputs)


def test_shape_inference_runs_on_the_meta_device_only():
    log = []
    x = lamina.Input(shape=(1024,))
    big = RecordingDense(1024, log=log, name="big")
    y = big(x)
    out = RecordingDense(3, log=log)(layers.Activation("relu")(y))
    model = lamina.Model(x, out)
    assert log and set(log) == {"meta"}  # nothing computed on real data while building the graph
    assert y.shape == (None, 1024) and model.output.shape == (None, 3)
    # the weights are real (and on the CPU), only the computation was symbolic
    assert big.kernel.device.type == "cpu" and not big.kernel.is_meta
    log.clear()
    model(torch.randn(2, 1024))
    assert log == ["cpu", "cpu"]


# ----------------------------------------------------------------------------- errors
def test_graph_disconnected_names_the_layer_and_the_missing_input():
    a = lamina.Input(shape=(3,), name="given")
    c = lamina.Input(shape=(3,), name="forgotten")
    joined = layers.Add(name="needs_both")([layers.Dense(3)(a), c])
    with pytest.raises(ValueError, match="needs_both") as info:
        lamina.Model(a, joined)
    assert "forgotten" in str(info.value)
    assert "disconnected" in str(info.value).lower()


@pytest.mark.parametrize("bad", ["tensor", "array"])
def test_inputs_that_are_not_input_tensors_raise(bad):
    x = lamina.Input(shape=(3,))
    hidden = layers.Dense(3)(x)
    out = layers.Dense(1)(hidden)
    given = {"tensor": torch.ones(2, 3), "array": np.ones((2, 3), "float32")}[bad]
    with pytest.raises((ValueError, TypeError), match="Input"):
        lamina.Model(given, out)


def test_a_layer_output_as_input_makes_a_model_of_the_layers_after_it_as_keras():
    # Keras 3 (clone_graph_nodes): Model(hidden, out) gets a new Input "<name>CLONE" and the layers after hidden;
    # its structure is ['keras_tensorCLONE', 'd2'] there (Keras names tensors apart from layers).
    x = lamina.Input(shape=(3,), name="x")
    hidden = layers.Dense(3, name="d1")(x)
    out = layers.Dense(1, name="d2")(hidden)
    tail = lamina.Model(hidden, out)
    assert [layer.name for layer in tail.layers] == ["d1CLONE", "d2"]
    assert tail.inputs[0].shape == (None, 3)
    h = torch.randn(4, 3)
    whole = lamina.Model(x, out)
    torch.testing.assert_close(tail(h), whole.get_layer("d2")(h))  # the layer (and its weights) is shared
    torch.testing.assert_close(whole(h), tail(whole.get_layer("d1")(h)))


def test_symbolic_tensor_in_if_raises_a_helpful_type_error():
    x = lamina.Input(shape=(3,))
    y = layers.Dense(2)(x)
    with pytest.raises(TypeError, match="symbolic") as info:
        if y:
            pass
    assert "call" in str(info.value)  # points at the fix: write the condition in a subclass's call
    with pytest.raises(TypeError):
        bool(x)


def test_outputs_must_be_symbolic():
    x = lamina.Input(shape=(3,))
    with pytest.raises(ValueError, match="output"):
        lamina.Model(x, torch.ones(2, 3))


# ----------------------------------------------------------------------------- deep graphs
def test_a_chain_of_1500_layers_builds_and_runs():
    depth = 1500
    x = lamina.Input(shape=(2,))
    y = x
    chain = [layers.Dense(2) for _ in range(depth)]
    for layer in chain:
        y = layer(y)
    model = lamina.Model(x, y)
    assert len(model.layers) == depth + 1
    assert len(model.weights) == 2 * depth
    angles = np.random.uniform(-np.pi, np.pi, depth)
    weights = []
    for angle in angles:  # rotations keep the signal's size over the whole chain (no vanishing to 0)
        weights.append(np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]], "float32"))
        weights.append((0.01 * np.random.randn(2)).astype("float32"))
    model.set_weights(weights)
    data = torch.randn(3, 2, dtype=torch.float64)
    expected = data
    for i in range(depth):
        expected = expected @ torch.from_numpy(weights[2 * i]).double() + torch.from_numpy(weights[2 * i + 1]).double()
    assert expected.abs().max() > 0.1
    out = model(data.float())
    torch.testing.assert_close(out.double(), expected, atol=1e-3, rtol=1e-3)
    out.sum().backward()  # and back through all of it
    assert chain[0].kernel.grad is not None


def _chain_config(n):
    """A functional graph config of n one-input layers in a chain, listed in reverse dependency order."""
    def node(source):
        return [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": [source, 0, 0]}}],
                 "kwargs": {}}]
    layers = [{"name": "in", "inbound_nodes": []}] + [
        {"name": f"l{i}", "inbound_nodes": node("in" if i == 0 else f"l{i - 1}")} for i in range(n)]
    return {"layers": layers[::-1], "input_layers": [["in", 0, 0]], "output_layers": [[f"l{n - 1}", 0, 0]]}


def test_a_config_listed_in_reverse_order_rebuilds_in_linear_time():
    """Issue 18: retrying every pending node in passes was quadratic (10,000 layers in a 96 KB file: 175 s)."""
    from lamina.models.functional import graph_from_config

    class Made:  # a stand-in layer: the scheduling alone is measured
        def __init__(self, name):
            self.name = name

    calls = []
    input_layer = lamina.layers.InputLayer(shape=(1,), name="in")

    def deserialize(entry):
        return input_layer if entry["name"] == "in" else Made(entry["name"])

    def call(layer, x):
        calls.append(layer.name)
        return x

    start = time.process_time()
    inputs, outputs = graph_from_config(_chain_config(20_000), deserialize, call_function=call)
    assert time.process_time() - start < 10  # CPU seconds; about 0.2 here, and minutes when quadratic
    assert calls == [f"l{i}" for i in range(20_000)] and outputs[0] is input_layer.output_tensor


def test_a_reversed_functional_config_loads_to_the_same_model(tmp_path):
    inputs = lamina.Input((4,))
    x = inputs
    for i in range(30):
        x = layers.Dense(4, activation="tanh", name=f"d{i}")(x)
    model = lamina.Model(inputs, layers.Add()([x, inputs]))
    config = model.get_config()
    config["layers"] = config["layers"][::-1]
    rebuilt = lamina.Model.from_config(config)
    rebuilt.set_weights(model.get_weights())
    data = torch.randn(3, 4)
    torch.testing.assert_close(rebuilt(data), model(data))
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in model.layers]
