"""The Layer base class: lazy build, add_weight, weight order and freezing, blocks, plain torch interop,
training-flag semantics, shape inference, error messages, names and input conversion.

Oracles: closed forms (initializer values, x @ k + b), plain PyTorch (nn.Linear, torch.optim), and Keras 3's
own Layer for weight order and automatic names."""

import json
import math
import traceback
import warnings

import numpy as np
import pytest
import torch
from harness import check_layer, keras_weights, to_numpy
from torch import nn

import lamina
from lamina import layers

# ----------------------------------------------------------------------------- helpers: small user layers


class Scale(layers.Layer):
    """One trainable vector, one non-trainable counter: the smallest layer with both kinds of weight."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")

    def call(self, x):
        return x * self.w


class Mixed(layers.Layer):
    """Non-trainable weight created first, then a trainable one, then a sub-layer: Keras orders weights as
    own trainable, own non-trainable, then sub-layers'."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(2)

    def build(self, input_shape):
        self.stat = self.add_weight(shape=(5,), initializer="zeros", trainable=False, name="stat")
        self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

    def call(self, x):
        return self.inner(x * self.gain)


class Block(layers.Layer):
    """A block: a sub-layer attribute, a Python list of sub-layers, and a dict of sub-layers."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(4, name="proj")
        self.stack = [layers.Dense(3, activation="tanh"), layers.Dense(4)]
        self.heads = {"a": layers.Dense(2), "b": layers.Dense(1)}

    def call(self, x):
        h = self.proj(x)
        for layer in self.stack:
            h = layer(h)
        return self.heads["a"](h) + self.heads["b"](h)


class AppendBlock(layers.Layer):
    """The common Keras idiom: an empty list attribute filled with append() in __init__."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = []
        for units in (3, 2):
            self.hidden.append(layers.Dense(units))

    def call(self, x):
        for layer in self.hidden:
            x = layer(x)
        return x


class WithTorchModule(layers.Layer):
    """A lamina layer holding a plain torch.nn.Module."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear = nn.Linear(3, 2)

    def call(self, x):
        return self.linear(x)


class Faulty(layers.Layer):
    def call(self, x):
        raise RuntimeError("boom from user code")  # FAULTY-LINE


class Outer(layers.Layer):
    """Calls a Faulty layer: the error note lists both layers, innermost first."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = Faulty(name="inner_faulty")

    def call(self, x):
        return self.inner(x[:, :2])


class DropBlock(layers.Layer):
    """A Dropout nested two levels deep, called without an explicit `training` (it must come from outside)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = DropInner()

    def call(self, x):  # no `training` argument at all
        return self.inner(x)


class DropInner(layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.drop = layers.Dropout(0.5)

    def call(self, x, training=None):
        return self.drop(x)


def dropped_fraction(out, x):
    return float((out == 0).float().mean()) if x is None else float(((out == 0) & (x != 0)).float().mean())


# ----------------------------------------------------------------------------- lazy build and add_weight
def test_lazy_build_creates_weights_on_first_call():
    layer = layers.Dense(3)
    assert not layer.built
    assert layer.weights == [] and layer.get_weights() == []
    assert list(layer.parameters()) == []
    with pytest.raises(ValueError, match="not built"):
        layer.count_params()
    layer(torch.ones(2, 5))
    assert layer.built
    assert [tuple(w.shape) for w in layer.weights] == [(5, 3), (3,)]
    assert layer.count_params() == 18


def test_build_sees_the_keras_input_shape():
    seen = []

    class Probe(layers.Layer):
        def build(self, input_shape):
            seen.append(input_shape)

    Probe()(torch.ones(4, 7, 2))
    Probe()(lamina.Input(shape=(None, 2)))
    Probe()([torch.ones(1, 3), torch.ones(1, 5)])
    assert seen == [(4, 7, 2), (None, None, 2), [(1, 3), (1, 5)]]


def test_add_weight_trainable_is_parameter_and_non_trainable_is_buffer():
    layer = Scale()
    layer(torch.ones(2, 3))
    assert isinstance(layer.w, nn.Parameter) and layer.w.requires_grad
    assert dict(layer.named_parameters()).keys() == {"w"}
    assert dict(layer.named_buffers()).keys() == {"count"}
    assert not isinstance(layer.count, nn.Parameter)
    assert layer.trainable_weights == [layer.w]
    assert layer.non_trainable_weights == [layer.count]
    torch.testing.assert_close(layer.w.detach(), torch.ones(3))
    assert layer.count.shape == () and float(layer.count) == 0.0


@pytest.mark.parametrize(
    ("initializer", "check"),
    [
        ("zeros", lambda w: np.all(w == 0)),
        ("ones", lambda w: np.all(w == 1)),
        ("glorot_uniform", lambda w: np.abs(w).max() <= math.sqrt(6 / (64 + 32)) and w.std() > 0.05),
        ("he_normal", lambda w: abs(w.std() - math.sqrt(2 / 64)) < 0.03),
        ("random_uniform", lambda w: w.min() >= -0.05 and w.max() <= 0.05 and w.std() > 0.01),
    ],
)
def test_add_weight_initializers_by_name(initializer, check):
    layer = layers.Layer()
    w = layer.add_weight(shape=(64, 32), initializer=initializer, name="k")
    assert w.dtype == torch.float32
    assert check(w.detach().numpy())


def test_add_weight_default_initializer_and_unique_names():
    layer = layers.Layer()
    a = layer.add_weight(shape=(8, 4))
    b = layer.add_weight(shape=(8, 4))
    assert np.abs(a.detach().numpy()).max() <= math.sqrt(6 / 12)  # glorot_uniform is the float default
    assert a is not b and len(layer.weights) == 2
    assert len(dict(layer.named_parameters())) == 2  # no name clash silently replaced a weight


def test_add_weight_unknown_initializer_is_a_clear_error():
    with pytest.raises(ValueError, match="glorot_unifrom|initializer"):
        layers.Layer().add_weight(shape=(2,), initializer="glorot_unifrom")


# ----------------------------------------------------------------------------- weight order (Keras oracle)
def test_weights_order_own_trainable_then_non_trainable_then_sublayers():
    layer = Mixed()
    layer(torch.ones(2, 3))
    assert [tuple(w.shape) for w in layer.weights] == [(3,), (5,), (3, 2), (2,)]
    assert layer.weights[:2] == [layer.gain, layer.stat]
    assert layer.trainable_weights == [layer.gain, layer.inner.kernel, layer.inner.bias]
    assert layer.non_trainable_weights == [layer.stat]


def test_weights_order_matches_keras(keras):
    class KMixed(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = keras.layers.Dense(2)

        def build(self, input_shape):
            self.stat = self.add_weight(shape=(5,), initializer="zeros", trainable=False, name="stat")
            self.gain = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="gain")

        def call(self, x):
            return self.inner(x * self.gain)

    ours, theirs = Mixed(), KMixed()
    x = np.random.randn(4, 3).astype("float32")
    ours(x)
    theirs(x)
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in keras_weights(theirs)]
    assert [tuple(w.shape) for w in ours.trainable_weights] == [tuple(w.shape) for w in theirs.trainable_weights]
    assert [tuple(w.shape) for w in ours.non_trainable_weights] == [
        tuple(w.shape) for w in theirs.non_trainable_weights]
    weights = [np.random.randn(*w.shape).astype("float32") for w in keras_weights(theirs)]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(to_numpy(ours(x)), to_numpy(theirs(x)), atol=1e-5)


# ----------------------------------------------------------------------------- trainable / freezing
def test_trainable_false_freezes_and_true_restores():
    layer = layers.Dense(3)
    layer(torch.ones(1, 2))
    layer.trainable = False
    assert not layer.trainable
    assert layer.trainable_weights == []
    assert layer.non_trainable_weights == [layer.kernel, layer.bias]
    assert not any(p.requires_grad for p in layer.parameters())
    assert not layer(torch.ones(1, 2)).requires_grad
    layer.trainable = True
    assert layer.trainable_weights == [layer.kernel, layer.bias]
    assert all(p.requires_grad for p in layer.parameters())


def test_trainable_false_at_construction_builds_frozen_weights():
    layer = layers.Dense(3, trainable=False)
    layer(torch.ones(1, 2))
    assert layer.trainable_weights == []
    assert not layer.kernel.requires_grad and not layer.bias.requires_grad
    assert layer.get_config()["trainable"] is False


def test_freezing_a_block_freezes_sublayers_and_torch_modules_and_keeps_buffers_untrainable():
    block = Mixed()
    block(torch.ones(1, 3))
    torchy = WithTorchModule()
    torchy(torch.ones(1, 3))
    for layer in (block, torchy):
        layer.trainable = False
        assert layer.trainable_weights == []
        assert not any(p.requires_grad for p in layer.parameters())
        layer.trainable = True
    assert block.trainable_weights == [block.gain, block.inner.kernel, block.inner.bias]
    assert block.non_trainable_weights == [block.stat]  # a buffer stays non-trainable after re-enabling
    assert len(torchy.trainable_weights) == 2


def test_frozen_sublayer_is_not_updated_by_an_optimizer():
    block = Mixed()
    block(torch.ones(1, 3))
    block.inner.trainable = False
    assert block.trainable_weights == [block.gain]
    kernel = block.inner.kernel.detach().clone()
    opt = torch.optim.SGD([p for p in block.parameters() if p.requires_grad], lr=0.1)
    block(torch.randn(4, 3)).sum().backward()
    opt.step()
    torch.testing.assert_close(block.inner.kernel.detach(), kernel)
    assert not torch.equal(block.gain.detach(), torch.ones(3))


# ----------------------------------------------------------------------------- blocks and sharing
def test_block_tracks_attribute_list_and_dict_sublayers():
    block = Block()
    x = torch.randn(5, 6)
    block(x)
    shapes = [tuple(w.shape) for w in block.weights]
    assert shapes == [(6, 4), (4,), (4, 3), (3,), (3, 4), (4,), (4, 2), (2,), (4, 1), (1,)]
    assert len(list(block.parameters())) == 10
    assert block.count_params() == sum(math.prod(s) for s in shapes)
    weights = [np.random.randn(*w.shape).astype("float32") for w in block.get_weights()]
    block.set_weights(weights)
    k1, b1, k2, b2, k3, b3, ka, ba, kb, bb = (torch.as_tensor(w) for w in weights)
    h = torch.tanh((x @ k1 + b1) @ k2 + b2) @ k3 + b3
    torch.testing.assert_close(block(x), (h @ ka + ba) + (h @ kb + bb))


def test_block_weights_order_matches_keras(keras):
    class KBlock(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = keras.layers.Dense(4)
            self.stack = [keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(4)]

        def call(self, x):
            h = self.proj(x)
            for layer in self.stack:
                h = layer(h)
            return h

    class LBlock(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.proj = layers.Dense(4)
            self.stack = [layers.Dense(3, activation="tanh"), layers.Dense(4)]

        def call(self, x):
            h = self.proj(x)
            for layer in self.stack:
                h = layer(h)
            return h

    check_layer(LBlock, (3, 5), keras_factory=KBlock, keras=keras, check_config=False)


def test_block_tracks_sublayers_appended_to_a_list_attribute():
    block = AppendBlock()
    block(torch.ones(2, 4))
    assert [tuple(w.shape) for w in block.weights] == [(4, 3), (3,), (3, 2), (2,)]
    assert len(list(block.parameters())) == 4


def test_one_layer_called_on_two_inputs_shares_its_weights():
    dense = layers.Dense(3)
    a, b = torch.randn(4, 2), torch.randn(6, 2)
    ya, yb = dense(a), dense(b)
    assert len(dense.weights) == 2
    torch.testing.assert_close(ya, a @ dense.kernel + dense.bias)
    torch.testing.assert_close(yb, b @ dense.kernel + dense.bias)
    (ya.sum() + yb.sum()).backward()
    # d/dk of sum(a @ k) + sum(b @ k) is the column sums of a and b, summed, repeated for each unit
    expected = (a.sum(0) + b.sum(0)).unsqueeze(1).expand(2, 3)
    torch.testing.assert_close(dense.kernel.grad, expected)
    torch.testing.assert_close(dense.bias.grad, torch.full((3,), 10.0))


def test_shared_layer_in_a_functional_model_counts_once():
    dense = layers.Dense(3)
    x1, x2 = lamina.Input(shape=(2,)), lamina.Input(shape=(2,))
    model = lamina.Model([x1, x2], layers.Add()([dense(x1), dense(x2)]))
    assert len(model.weights) == 2
    a, b = torch.randn(4, 2), torch.randn(4, 2)
    torch.testing.assert_close(model([a, b]), (a + b) @ dense.kernel + 2 * dense.bias)


# ----------------------------------------------------------------------------- plain PyTorch interop
def test_plain_torch_module_inside_a_layer_contributes_weights():
    layer = WithTorchModule()
    x = torch.randn(4, 3)
    y = layer(x)
    assert layer.weights == [layer.linear.weight, layer.linear.bias]
    assert layer.trainable_weights == [layer.linear.weight, layer.linear.bias]
    torch.testing.assert_close(y, x @ layer.linear.weight.T + layer.linear.bias)
    got = layer.get_weights()  # PyTorch's own layout for a plain module
    assert [w.shape for w in got] == [(2, 3), (2,)]
    new = [np.full((2, 3), 0.5, "float32"), np.array([1.0, -1.0], "float32")]
    layer.set_weights(new)
    torch.testing.assert_close(layer(x), x.sum(1, keepdim=True) * 0.5 + torch.tensor([1.0, -1.0]))


def test_lamina_layers_inside_torch_sequential_train_with_torch_optim():
    torch.manual_seed(0)
    net = nn.Sequential(layers.Dense(16, activation="relu"), layers.Dense(1))
    x = torch.randn(128, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.3
    net(x[:1])  # build lazily-created weights before the optimizer sees the parameters
    assert len(list(net.parameters())) == 4
    opt = torch.optim.Adam(net.parameters(), lr=0.02)
    losses = []
    for _ in range(150):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]


def test_to_moves_weights_and_state_dict_keys():
    layer = layers.Dense(3)
    layer(torch.ones(1, 2))
    layer.to(torch.float64)
    assert all(w.dtype == torch.float64 for w in layer.weights)
    assert layer.kernel.dtype == torch.float64 and isinstance(layer.kernel, nn.Parameter)
    layer.to("meta")
    assert all(w.is_meta for w in layer.weights)
    scaled = Scale()
    scaled(torch.ones(1, 2))
    scaled.to(torch.float64)
    assert scaled.count.dtype == torch.float64  # buffers move too


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_moves_weights_and_calls_there():
    layer = layers.Dense(3)
    layer(torch.ones(1, 2))
    layer.to("cuda")
    assert all(w.device.type == "cuda" for w in layer.weights)
    assert layer(torch.ones(4, 2, device="cuda")).device.type == "cuda"
    lazy = layers.Dense(3)
    assert lazy(torch.ones(4, 2, device="cuda")).device.type == "cuda"  # built on the data's device
    assert lazy.kernel.device.type == "cuda"


def test_state_dict_keys_and_load_state_dict_round_trip():
    block = Block()
    x = torch.randn(3, 6)
    block(x)
    keys = list(block.state_dict())
    assert keys == ["proj.kernel", "proj.bias", "stack.0.kernel", "stack.0.bias", "stack.1.kernel",
                    "stack.1.bias", "heads.a.kernel", "heads.a.bias", "heads.b.kernel", "heads.b.bias"]
    assert list(Scale().state_dict()) == []  # nothing before the build
    scale = Scale()
    scale(torch.ones(1, 2))
    assert list(scale.state_dict()) == ["w", "count"]
    other = Block()
    other(x)
    other.load_state_dict(block.state_dict())
    torch.testing.assert_close(other(x), block(x))


# ----------------------------------------------------------------------------- training flag
def test_fresh_layers_are_in_inference_mode():
    drop = layers.Dropout(0.5)
    assert drop.training is False
    x = torch.ones(1000)
    torch.testing.assert_close(drop(x), x)


def test_training_true_argument_activates_dropout_only_for_that_call():
    drop = layers.Dropout(0.5)
    x = torch.ones(10000)
    y = drop(x, training=True)
    assert 0.45 < dropped_fraction(y, None) < 0.55
    torch.testing.assert_close(drop(x), x)  # the next call is back to inference
    torch.testing.assert_close(drop(x, training=False), x)


def test_train_makes_training_the_default_like_pytorch():
    drop = layers.Dropout(0.5)
    x = torch.ones(10000)
    assert drop.train() is drop
    assert 0.45 < dropped_fraction(drop(x), None) < 0.55
    torch.testing.assert_close(drop(x, training=False), x)  # explicit argument wins
    drop.eval()
    torch.testing.assert_close(drop(x), x)


def test_training_propagates_to_nested_layers_that_were_not_passed_it():
    block = DropBlock()
    x = torch.ones(4, 2500)
    torch.testing.assert_close(block(x), x)
    assert 0.45 < dropped_fraction(block(x, training=True), None) < 0.55
    torch.testing.assert_close(block(x), x)  # the flag does not leak to later calls
    block.train()
    assert 0.45 < dropped_fraction(block(x), None) < 0.55
    torch.testing.assert_close(block(x, training=False), x)


def test_explicit_training_false_inside_overrides_outer_training_true():
    class Guarded(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.drop = layers.Dropout(0.5)

        def call(self, x, training=None):
            return self.drop(x, training=False)

    x = torch.ones(1000)
    torch.testing.assert_close(Guarded()(x, training=True), x)


def test_training_reaches_dropout_inside_models():
    x = torch.ones(8, 1000)
    seq = lamina.Sequential([layers.Identity(), layers.Dropout(0.5)])
    torch.testing.assert_close(seq(x), x)
    assert 0.45 < dropped_fraction(seq(x, training=True), None) < 0.55
    inp = lamina.Input(shape=(1000,))
    functional = lamina.Model(inp, layers.Dropout(0.5)(layers.Identity()(inp)))
    torch.testing.assert_close(functional(x), x)
    assert 0.45 < dropped_fraction(functional(x, training=True), None) < 0.55


def test_call_receives_the_resolved_training_flag():
    seen = []

    class Spy(layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    class Parent(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.spy = Spy()

        def call(self, x):
            return self.spy(x)

    spy = Spy()
    spy(torch.ones(1))
    spy(torch.ones(1), training=True)
    Parent()(torch.ones(1), training=True)
    Parent()(torch.ones(1))
    assert seen == [False, True, True, False]


# ----------------------------------------------------------------------------- shapes
def test_compute_output_shape_without_data(keras):
    cases = [
        (lambda m: m.layers.Dense(5), (None, 3)),
        (lambda m: m.layers.Dense(5), (None, 7, 3)),
        (lambda m: m.layers.Flatten(), (None, 2, 3, 4)),
        (lambda m: m.layers.Reshape((-1, 2)), (None, 12)),
        (lambda m: m.layers.Activation("relu"), (None, None, 3)),
    ]
    for make, shape in cases:
        ours = make(lamina).compute_output_shape(shape)
        theirs = tuple(make(keras).compute_output_shape(shape))
        assert tuple(ours) == theirs, (shape, ours, theirs)


def test_compute_output_shape_of_a_custom_layer_needs_no_override():
    class Pairs(layers.Layer):
        def call(self, x):
            return x.reshape(x.shape[0], -1, 2).sum(-1)

    assert Pairs().compute_output_shape((None, 8)) == (None, 4)
    assert Pairs().compute_output_shape((None, 3, 4)) == (None, 6)


def test_symbolic_call_records_shape_and_node():
    inp = lamina.Input(shape=(5, 3))
    dense = layers.Dense(4)
    out = dense(inp)
    assert out.shape == (None, 5, 4)
    assert dense.built and [tuple(w.shape) for w in dense.weights] == [(3, 4), (4,)]
    assert dense.output is out and dense.input is inp


# ----------------------------------------------------------------------------- errors
def test_input_spec_error_names_layer_and_shapes():
    dense = layers.Dense(2, name="head")
    dense(torch.ones(3, 4))
    with pytest.raises(ValueError) as info:
        dense(torch.ones(3, 5))
    message = str(info.value)
    assert "'head'" in message and "Dense" in message
    assert "(3, 5)" in message and "4" in message and "5" in message


def test_input_spec_error_on_symbolic_input_uses_none_batch():
    dense = layers.Dense(2, name="head_sym")
    dense(torch.ones(3, 4))
    with pytest.raises(ValueError) as info:
        dense(lamina.Input(shape=(5,)))
    assert "'head_sym'" in str(info.value) and "(None, 5)" in str(info.value)


def test_input_spec_rank_error():
    class Needs4D(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.input_spec = lamina.InputSpec(ndim=4)

    with pytest.raises(ValueError, match=r"rank 4.*rank 2|rank 2") as info:
        Needs4D(name="conv_like")(torch.ones(2, 3))
    assert "'conv_like'" in str(info.value) and "(2, 3)" in str(info.value)
    with pytest.raises(ValueError, match="rank >= 2"):
        layers.Dense(2)(torch.ones(3))


def test_exception_in_user_call_keeps_user_frame_and_gains_a_layer_note():
    layer = Faulty(name="my_faulty")
    with pytest.raises(RuntimeError, match="boom from user code") as info:
        layer(torch.ones(2, 3))
    frames = traceback.extract_tb(info.value.__traceback__)
    last = frames[-1]
    assert last.filename == __file__
    assert "FAULTY-LINE" in last.line
    notes = info.value.__notes__
    assert any("'my_faulty'" in n and "Faulty" in n and "(2, 3)" in n for n in notes), notes


def test_exception_note_lists_the_layer_path_innermost_first():
    outer = Outer(name="outer_block")
    with pytest.raises(RuntimeError) as info:
        outer(torch.ones(4, 3))
    notes = "\n".join(info.value.__notes__)
    assert notes.index("'inner_faulty'") < notes.index("'outer_block'")
    assert "(4, 2)" in notes and "(4, 3)" in notes
    assert traceback.extract_tb(info.value.__traceback__)[-1].filename == __file__


def test_unknown_constructor_kwargs_raise_type_error_naming_them():
    with pytest.raises(TypeError, match="unitz"):
        layers.Dense(3, unitz=4)
    with pytest.raises(TypeError, match="bogus"):
        layers.Layer(bogus=1)
    with pytest.raises(TypeError, match="rte"):
        layers.Dropout(0.1, rte=0.2)


# ----------------------------------------------------------------------------- names and inputs
def test_automatic_unique_names_like_keras(keras):
    class MyBlock(layers.Layer):
        pass

    lamina.clear_session()
    names = [layers.Dense(1).name, layers.Dense(1).name, layers.Dense(1).name, MyBlock().name, MyBlock().name]
    assert names == ["dense", "dense_1", "dense_2", "my_block", "my_block_1"]
    assert layers.Dense(1, name="custom").name == "custom"
    lamina.clear_session()
    assert layers.Dense(1).name == "dense"

    class KMyBlock(keras.layers.Layer):
        pass

    keras.backend.clear_session()
    assert keras.layers.Dense(1).name == "dense"
    assert KMyBlock().name == "k_my_block"  # Keras snake-cases class names the same way


# Constructor arguments of the layers that need some; every other layer is made with none.
_NAME_ARGS = {
    "Activation": ("relu",), "AlphaDropout": (0.1,), "CenterCrop": (2, 2), "Dense": (2,), "Dot": (1,),
    "Dropout": (0.1,), "Embedding": (4, 2), "GaussianDropout": (0.1,), "GaussianNoise": (0.1,), "GRU": (2,),
    "LSTM": (2,), "Permute": ((1,),), "RandomBrightness": (0.1,), "RandomContrast": (0.1,), "RandomCrop": (2, 2),
    "RandomRotation": (0.1,), "RandomTranslation": (0.1, 0.1), "RandomZoom": (0.1,), "RepeatVector": (2,),
    "Rescaling": (1.0,), "Reshape": ((2,),), "Resizing": (2, 2), "SimpleRNN": (2,), "MultiHeadAttention": (2, 2),
}


_BLOCK_ARGS = {
    "EinsumDense": lambda lib: ("ab,bc->ac", 2), "GroupQueryAttention": lambda lib: (2, 2, 1),
    "GroupedQueryAttention": lambda lib: (2, 2, 1), "ReversibleEmbedding": lambda lib: (4, 2),
    "SpectralNormalization": lambda lib: (lib.layers.Dense(2),), "Wrapper": lambda lib: (lib.layers.Dense(2),),
    "CategoryEncoding": lambda lib: (4,), "HashedCrossing": lambda lib: (4,), "Hashing": lambda lib: (4,),
    "Discretization": lambda lib: ([0.0, 1.0],), "MaxNumBoundingBoxes": lambda lib: (2,),
    "Pipeline": lambda lib: ([],),
    "RandomPosterization": lambda lib: (4,),
    **{n: (lambda lib: (0.5,)) for n in ("RandomColorDegeneration", "RandomHue", "RandomSaturation",
                                          "RandomSharpness")},
    **{f"Adaptive{kind}Pooling{n}D": (lambda lib: (2,)) for kind in ("Average", "Max") for n in (1, 2, 3)},
}


def _name_args(name, lib):
    if name in _NAME_ARGS:
        return _NAME_ARGS[name], {}
    if name.startswith(("Conv", "SeparableConv")):
        return (2, 3), {}
    if name.startswith("DepthwiseConv"):
        return (3,), {}
    if name.startswith(("AveragePooling", "AvgPool")):
        return (2,), {}
    if name.startswith("SpatialDropout"):
        return (0.1,), {}
    if name in _BLOCK_ARGS:
        return _BLOCK_ARGS[name](lib), {}
    if name in ("SimpleRNNCell", "LSTMCell", "GRUCell"):
        return (2,), {}
    if name == "StackedRNNCells":
        return ([lib.layers.LSTMCell(2)],), {}
    if name == "RNN":
        return (lib.layers.LSTMCell(2),), {}
    if name == "Bidirectional":
        return (lib.layers.LSTM(2),), {}
    if name == "TimeDistributed":
        return (lib.layers.Dense(2),), {}
    if name == "Lambda":
        return (lambda x: x,), {}
    if name == "TorchModuleWrapper":
        return (nn.Linear(2, 2),), {}
    if name == "InputLayer":
        return (), {"shape": (2,)}
    return (), {}


def test_automatic_names_are_keras_names_for_every_layer(keras):
    """Keras's snake_case of the class name (``Conv2D`` -> ``conv2d``, ``MaxPooling2D`` -> ``max_pooling2d``),
    checked against Keras itself for every layer class lamina exports (aliases name by their class)."""
    classes = {getattr(layers, n) for n in dir(layers)
               if isinstance(getattr(layers, n), type) and issubclass(getattr(layers, n), layers.Layer)}
    assert len(classes) > 80
    for cls in sorted(classes, key=lambda c: c.__name__):
        name = cls.__name__
        lamina.clear_session()
        keras.backend.clear_session()
        args, kwargs = _name_args(name, lamina)
        ours = cls(*args, **kwargs).name
        args, kwargs = _name_args(name, keras)
        try:
            theirs = getattr(keras.layers, name)(*args, **kwargs).name
        except ImportError:  # Keras's string layers need TensorFlow here: its snake_case rule names them
            from lamina.core.naming import snake_case

            theirs = snake_case(name)
        assert ours == theirs, f"{name}: lamina names it {ours!r}, Keras {theirs!r}"


def test_numpy_input_is_accepted():
    dense = layers.Dense(2, kernel_initializer="ones", bias_initializer="zeros")
    x = np.arange(6, dtype="float32").reshape(3, 2)
    y = dense(x)
    assert isinstance(y, torch.Tensor)
    np.testing.assert_allclose(y.detach().numpy(), np.repeat(x.sum(1, keepdims=True), 2, axis=1))


def test_float64_input_is_autocast_to_float32():
    dense = layers.Dense(2)
    x64 = np.random.randn(3, 4)
    y = dense(x64)
    assert y.dtype == torch.float32 and dense.kernel.dtype == torch.float32
    torch.testing.assert_close(y, dense(torch.tensor(x64, dtype=torch.float32)))
    y_t = dense(torch.tensor(x64))
    assert y_t.dtype == torch.float32


def test_integer_input_is_not_autocast_and_object_arrays_are_refused():
    seen = []

    class Spy(layers.Layer):
        def call(self, x):
            seen.append(x.dtype)
            return x

    Spy()(np.array([1, 2, 3], dtype="int64"))
    assert seen == [torch.int64]
    with pytest.raises(TypeError, match="numeric"):
        Spy()(np.array(["a", "b"], dtype=object))


# ----------------------------------------------------------------------------- torch hooks on the direct-call path


def test_forward_hooks_and_pre_hooks_still_run_when_layers_skip_module_call():
    """Layers call ``call`` directly when nothing hooks them; a registered hook must switch back to
    ``nn.Module.__call__`` and see (and may replace) the real inputs and outputs."""
    layer = layers.Dense(3)
    x = torch.randn(4, 5)
    plain = layer(x)
    seen = []
    pre = layer.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    post = layer.register_forward_hook(lambda mod, args, out: seen.append(out) or out + 1)
    hooked = layer(x)
    expected = torch.addmm(layer.bias, x * 2, layer.kernel) + 1
    torch.testing.assert_close(hooked, expected)
    assert len(seen) == 1
    pre.remove()
    post.remove()
    torch.testing.assert_close(layer(x), plain)  # hooks gone: the direct path again, same result


def test_global_forward_hook_sees_every_layer_of_a_model():
    model = lamina.Sequential([lamina.Input(shape=(5,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    names = []
    handle = nn.modules.module.register_module_forward_hook(lambda mod, args, out: names.append(mod.name))
    try:
        model(torch.randn(3, 5))
    finally:
        handle.remove()
    assert names == [model.layers[0].name, model.layers[1].name, model.name]


def test_backward_hooks_fire_through_the_layer_call():
    layer = layers.Dense(2)
    x = torch.randn(3, 4, requires_grad=True)
    layer(x)
    grads = []
    handle = layer.register_full_backward_hook(lambda mod, g_in, g_out: grads.append(g_out[0].clone()))
    layer(x).sum().backward()
    handle.remove()
    torch.testing.assert_close(grads[0], torch.ones(3, 2))


def test_torch_jit_trace_of_a_model_matches_eager():
    model = lamina.Sequential([lamina.Input(shape=(5,)), layers.Dense(4, activation="relu"), layers.Dense(2)])
    model.eval()
    x = torch.randn(3, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.trace is deprecated; it must keep working while it exists
        traced = torch.jit.trace(model, x)
    torch.testing.assert_close(traced(x * 3), model(x * 3, training=False))
    assert "aten::addmm" in str(traced.inlined_graph)  # recorded through the layers, not a constant


# ----------------------------------------------------------------------------- the plain-call shortcut


def test_a_plain_layer_still_explains_an_input_it_was_not_built_for():
    """Built leaf layers on one tensor take a shortcut to ``call``; its failures read as on the full path."""
    layer = layers.Dense(3, name="head")
    layer(torch.randn(2, 4))
    layer(torch.randn(2, 4))  # the shortcut from now on
    with pytest.raises(ValueError, match=r"layer 'head' \(Dense\) is incompatible.*last axis has size 4"):
        layer(torch.randn(2, 5))


def test_settings_changed_after_the_first_call_take_effect_on_a_plain_layer():
    layer = layers.Dense(2, kernel_initializer="ones")
    x = torch.ones(3, 4)
    layer(x)
    layer(x)
    layer.activity_regularizer = lamina.regularizers.L2(0.5)  # any assignment ends the shortcut
    out = layer(x)
    assert len(layer.losses) == 1
    torch.testing.assert_close(layer.losses[0], 0.5 * out.square().sum() / 3)
    layer.activity_regularizer = None
    layer.supports_masking = True
    masked = torch.ones(3, 4)
    masked._keras_mask = torch.tensor([True, False, True])
    assert layer(masked)._keras_mask.tolist() == [True, False, True]  # the mask passes through now


def test_a_float64_input_is_still_cast_on_the_plain_path():
    layer = layers.Dense(2)
    layer(torch.randn(3, 4))
    assert layer(torch.randn(3, 4, dtype=torch.float64)).dtype == torch.float32


def test_train_and_eval_set_every_flag_and_keep_the_shortcut():
    model = lamina.Sequential([layers.Input((4,)), layers.Dense(3), layers.Dense(2)])
    model(torch.randn(2, 4))
    model(torch.randn(2, 4))
    dense = model.layers[0]
    assert dense.__dict__.get("_plain") is True
    model.eval()
    assert not any(m.training for m in model.modules())
    assert dense.__dict__.get("_plain") is True  # a plain layer never reads the flag: the shortcut stays
    model.train()
    assert all(m.training for m in model.modules())
    dense.training = 1  # not a bool: the ordinary assignment (which ends the shortcut)
    assert dense.training == 1 and "_plain" not in dense.__dict__


def test_losses_hold_the_last_top_level_call_only_like_keras(keras):
    def make(lib):
        class AddsLoss(lib.layers.Layer):
            def call(self, x):
                self.add_loss(x.sum() * 0 + 1.0)
                return x

        class Outer(lib.layers.Layer):
            def __init__(self):
                super().__init__()
                self.inner = AddsLoss()

            def call(self, x):
                return self.inner(self.inner(x))  # two calls inside one top-level call: both losses count

        return AddsLoss(), Outer()

    x = np.ones((2, 2), "float32")
    for lib in (lamina, keras):
        leaf, outer = make(lib)
        leaf(x)
        leaf(x)
        assert len(leaf.losses) == 1
        outer(x)
        outer(x)
        assert len(outer.losses) == 2 and len(outer.inner.losses) == 2


def test_masks_pass_through_the_layers_keras_lets_them(keras):
    names = ["Dense", "Activation", "Dropout", "Identity", "Add", "Concatenate", "Rescaling", "Normalization"]
    for name in names:
        assert getattr(layers, name).__init__ and _supports_masking(lamina, name) == _supports_masking(keras, name)
    x = torch.ones(2, 3, 4)
    x._keras_mask = torch.tensor([[True, True, False], [True, False, False]])
    dense = layers.Dense(5)
    dense(x)
    out = dense(x)  # (the built layer's fast path)
    assert torch.equal(out._keras_mask, x._keras_mask)
    y = torch.ones(2, 3, 4)
    y._keras_mask = torch.tensor([[True, False, False], [True, True, False]])
    assert torch.equal(layers.Add()([x, y])._keras_mask, x._keras_mask | y._keras_mask)
    cat = layers.Concatenate(axis=1)([x, y])
    assert torch.equal(cat._keras_mask, torch.cat([x._keras_mask, y._keras_mask], dim=1))
    assert getattr(layers.Concatenate()([x, torch.ones(2, 3, 1)]), "_keras_mask", None) is not None


def _supports_masking(lib, name):
    args = {"Dense": (2,), "Activation": ("relu",), "Dropout": (0.5,), "Rescaling": (1.0,)}.get(name, ())
    return getattr(lib.layers, name)(*args).supports_masking


# ----------------------------------------------------------------------------- session state in core/config.py
def test_mixed_precision_flag_is_set_by_mixed_layers_and_reset_by_clear_session():
    from lamina.core import config
    from lamina.core.dtype_policy import DTypePolicy

    class Block(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = layers.Dense(2, dtype="float32")

        def call(self, x):
            return self.inner(x)

    lamina.clear_session()
    DTypePolicy("mixed_bfloat16")  # a policy object alone turns nothing on
    assert not config.MIXED_IN_USE
    block = Block(dtype="mixed_bfloat16")
    assert config.MIXED_IN_USE
    x = torch.ones(1, 3)
    assert block(x).dtype == torch.float32  # the float32 sublayer computes outside the block's autocast
    lamina.clear_session()
    assert not config.MIXED_IN_USE
    assert block(x).dtype == torch.float32  # the mixed block, called again, turns the flag back on first
    assert config.MIXED_IN_USE


def test_clear_session_makes_every_reader_of_the_loss_counter_look_again():
    from lamina.core import config

    class Penalised(layers.Layer):
        def call(self, x):
            self.add_loss(x.sum())
            return x

    layer = Penalised()
    layer(torch.ones(2))
    seen = config.LOSSES_ADDED
    lamina.clear_session()
    assert seen != config.LOSSES_ADDED
    layer(torch.ones(3))
    assert [float(t) for t in layer.losses] == [3.0]


# ----------------------------------------------------------------------------- build configs, serialize (issue 16)
@pytest.mark.parametrize("make,shape", [(lambda k: k.layers.Dense(2), (2, 3)),
                                        (lambda k: k.layers.Conv1D(2, 3), (1, 5, 4)),
                                        (lambda k: k.layers.LayerNormalization(), (2, 4))])
def test_build_config_round_trip_as_keras(keras, make, shape):
    for k in (lamina, keras):
        layer = make(k)
        assert layer.get_build_config() is None
        layer(np.ones(shape, "float32"))
        cfg = layer.get_build_config()
        assert cfg == {"input_shape": shape}
        fresh = make(k)
        fresh.build_from_config(json.loads(json.dumps(cfg)))  # lists, as a config file gives them back
        assert fresh.built
        assert [tuple(w.shape) for w in fresh.weights] == [tuple(w.shape) for w in layer.weights]
        empty = make(k)
        empty.build_from_config({})
        assert not empty.built


def test_layers_serialize_deserialize_as_keras(keras):
    for k in (lamina, keras):
        layer = k.layers.Dense(3, activation="relu", name="d")
        config = k.layers.serialize(layer)
        assert {"class_name", "config", "module", "registered_name"} <= set(config)
        assert "build_config" not in config
        back = k.layers.deserialize(config)
        assert type(back) is type(layer) and back is not layer and back.units == 3 and not back.built
        layer(np.ones((2, 4), "float32"))
        config = k.layers.serialize(layer)
        assert config["build_config"] == {"input_shape": (2, 4)}
        back = k.layers.deserialize(json.loads(json.dumps(config)))
        assert back.built and tuple(back.kernel.shape) == (4, 3)


def test_layers_deserialize_resolves_through_the_registry_only():
    class Mine(lamina.layers.Layer):
        def call(self, x):
            return x

    config = lamina.layers.serialize(Mine(name="m"))
    with pytest.raises(ValueError):
        lamina.layers.deserialize(config)
    assert type(lamina.layers.deserialize(config, custom_objects={"Mine": Mine})) is Mine


@pytest.mark.parametrize("dtype", [None, "float64", "mixed_float16"])
def test_input_dtype_and_add_variable_as_keras(keras, dtype):
    for k in (lamina, keras):
        layer = k.layers.Dense(2, dtype=dtype)
        assert layer.input_dtype == keras.layers.Dense(2, dtype=dtype).input_dtype
        plain = k.layers.Layer()
        v = plain.add_variable((2, 3), "ones", trainable=False, name="v")
        assert tuple(v.shape) == (2, 3) and len(plain.non_trainable_weights) == 1
        np.testing.assert_allclose(to_numpy(v), np.ones((2, 3)))


def test_metrics_variables_as_keras(keras):
    counts = []
    for k in (lamina, keras):
        model = k.Sequential([k.Input((3,)), k.layers.Dense(2)])
        assert model.metrics_variables == [] and model.layers[0].metrics_variables == []
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
        model.fit(np.ones((4, 3), "float32"), np.ones((4, 2), "float32"), verbose=0)
        counts.append([tuple(v.shape) for v in model.metrics_variables])
    assert counts[0] == counts[1]
