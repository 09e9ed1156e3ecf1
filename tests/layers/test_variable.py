"""Keras's Variable API on lamina's weights (lamina.core.variable), checked against Keras 3 where it applies."""

import copy
import pickle

import numpy as np
import pytest
import torch
from torch import nn

import lamina
from lamina import layers
from lamina.core.variable import TrainableVariable, Variable


def _dense(units=3, **kwargs):
    layer = layers.Dense(units, name="dense", **kwargs)
    layer(torch.ones(2, 4))
    return layer


def test_weights_are_parameters_and_keras_variables():
    d = _dense()
    k, b = d.kernel, d.bias
    assert isinstance(k, nn.Parameter) and isinstance(k, Variable) and isinstance(k, TrainableVariable)
    assert [id(p) for p in d.parameters()] == [id(k), id(b)]
    assert (k.name, k.path, b.name, b.path) == ("kernel", "dense/kernel", "bias", "dense/bias")
    assert k.trainable and k.shape == (4, 3) and isinstance(k.shape, tuple) and k.dtype is torch.float32
    assert (k.aggregation, k.synchronization, k.constraint, k.regularizer) == ("none", "auto", None, None)
    assert type(k.initializer).__name__ == "GlorotUniform"
    assert k.value is k  # gradients flow through .value
    assert type(k * 2) is torch.Tensor  # ops give plain tensors (no __torch_function__ cost)


def test_numpy_works_on_a_trainable_weight():
    d = _dense()
    assert d.kernel.requires_grad
    np.testing.assert_array_equal(d.kernel.numpy(), d.get_weights()[0])
    np.testing.assert_array_equal(np.asarray(d.kernel), d.get_weights()[0])


def test_assign_family_in_place_without_autograd_and_returns_the_variable():
    d = _dense()
    k = d.kernel
    out = k.assign(np.ones((4, 3)))
    assert out is k and k.grad_fn is None and k.is_leaf
    np.testing.assert_array_equal(k.numpy(), np.ones((4, 3)))
    k.assign_add(1.0)
    k.assign_sub(torch.full((4, 3), 0.5))
    k.assign_add([[1.0] * 3] * 4)
    np.testing.assert_array_equal(k.numpy(), np.full((4, 3), 2.5))
    with pytest.raises(ValueError, match="must match"):
        k.assign(np.ones((3, 4)))
    # the model computes with the new value
    assert torch.allclose(d(torch.ones(1, 4)), torch.full((1, 3), 10.0))


def test_trainable_is_settable_and_follows_the_layer_like_keras(keras):
    d = _dense()
    kd = keras.layers.Dense(3)
    kd.build((None, 4))
    for layer in (d, kd):
        layer.kernel.trainable = False
        assert len(layer.trainable_weights) == 1 and len(layer.non_trainable_weights) == 1
        layer.trainable = False
        assert not layer.bias.trainable and layer.trainable_weights == []
        layer.trainable = True  # (Keras: every variable of the layer trainable again)
        assert layer.kernel.trainable and len(layer.trainable_weights) == 2
    assert [w.name for w in d.trainable_variables] == [w.name for w in kd.trainable_variables]


def test_non_trainable_state_is_a_buffer_variable_kept_through_to():
    bn = layers.BatchNormalization(name="bn")
    bn(torch.ones(4, 3), training=True)
    mm = bn.moving_mean
    assert type(mm) is Variable and not isinstance(mm, nn.Parameter)
    assert (mm.name, mm.path, mm.trainable) == ("moving_mean", "bn/moving_mean", False)
    assert [n for n, _ in bn.named_buffers()] == ["moving_mean", "moving_variance"]
    assert type(bn.state_dict()["moving_mean"]) is torch.Tensor  # state_dict holds plain tensors
    bn.double()
    assert type(bn.moving_mean) is Variable and bn.moving_mean.dtype is torch.float64
    assert bn.moving_mean.path == "bn/moving_mean" and type(bn.gamma) is TrainableVariable
    bn.moving_mean.assign_add(1.0)
    with pytest.raises(ValueError, match="cannot become trainable"):
        bn.moving_mean.trainable = True


def test_variable_constructor_keras_signature_and_dtypes(keras):
    cases = [([1.0, 2.0], {}), (np.zeros(3), {}), (np.zeros(3, "float32"), {}), (1.0, {}),
             (3, {"trainable": False}), ([1, 2], {"trainable": False}), (True, {"trainable": False}),
             ("ones", {"shape": (2,), "dtype": "int32", "trainable": False}), ("zeros", {"shape": (2, 2)}),
             ("glorot_uniform", {"shape": (2, 2)})]
    for init, kwargs in cases:
        mine, theirs = lamina.Variable(init, **kwargs), keras.Variable(init, **kwargs)
        assert lamina.backend.standardize_dtype(mine.dtype) == theirs.dtype, (init, kwargs)
        assert tuple(mine.shape) == tuple(theirs.shape) and mine.trainable == theirs.trainable
        if not (isinstance(init, str) and init == "glorot_uniform"):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    v = lamina.Variable(lambda shape, dtype: np.full(shape, 2.0), shape=(2,), name="v", aggregation="mean")
    assert v.name == v.path == "v" and v.aggregation == "mean" and isinstance(v, nn.Parameter)
    assert lamina.Variable(1.0).name.startswith("variable")
    with pytest.raises(ValueError, match="shape"):
        lamina.Variable("ones")
    with pytest.raises(ValueError, match="aggregation"):
        lamina.Variable(1.0, aggregation="bad")
    with pytest.raises(ValueError, match="/"):
        lamina.Variable(1.0, name="a/b")


def test_variables_assigned_as_attributes_are_tracked_in_keras_order(keras):
    def make(lib):
        class L(lib.layers.Layer):
            def __init__(self):
                super().__init__(name="l")
                self.d = lib.layers.Dense(2)
                self.v = lib.Variable(np.zeros(2, "float32"), name="myv")
                self.nt = lib.Variable(np.zeros(2, "float32"), name="nt", trainable=False)

            def build(self, shape):
                self.w0 = self.add_weight(shape=(1,), name="w0", trainable=False)
                self.w1 = self.add_weight(shape=(1,), name="w1")

            def call(self, x):
                return self.d(x) + self.v + self.nt + self.w0 + self.w1

        layer = L()
        layer(np.zeros((1, 3), "float32"))
        return layer

    mine, theirs = make(lamina), make(keras)
    for attr in ("weights", "variables", "trainable_weights", "non_trainable_weights", "trainable_variables",
                 "non_trainable_variables"):
        assert [v.name for v in getattr(mine, attr)] == [v.name for v in getattr(theirs, attr)
                                                         if "seed" not in v.name], attr
    assert isinstance(mine._parameters["v"], TrainableVariable) and "nt" in mine._buffers
    assert set(mine.state_dict()) >= {"v", "nt", "w0", "w1", "d.kernel"}


def test_deepcopy_and_pickle_keep_class_and_metadata():
    d = _dense()
    clone = copy.deepcopy(d)
    assert type(clone.kernel) is TrainableVariable and clone.kernel.path == "dense/kernel"
    assert clone.kernel is not d.kernel and torch.equal(clone.kernel, d.kernel)
    loaded = pickle.loads(pickle.dumps(d.kernel))
    assert type(loaded) is TrainableVariable and loaded.name == "kernel" and loaded.requires_grad


def test_plain_pytorch_still_works():
    model = lamina.Sequential([lamina.Input((4,)), layers.Dense(3), layers.BatchNormalization()])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.layers[0].kernel.detach().clone()
    model.train()
    model(torch.randn(8, 4)).square().mean().backward()
    opt.step()
    assert not torch.equal(before, model.layers[0].kernel)
    state = model.state_dict()
    assert all(type(t) is torch.Tensor for t in state.values())
    model.load_state_dict(state)


def test_constraint_is_applied_and_exposed():
    d = _dense(kernel_constraint="non_neg")
    assert type(d.kernel.constraint).__name__ == "NonNeg"
    opt = lamina.optimizers.SGD(1.0)
    opt.apply([torch.ones(4, 3)], [d.kernel])
    assert d.kernel.numpy().min() >= 0.0


def test_seed_generator_states_are_variables_not_weights_as_in_keras(keras):
    paths = []
    for lib in (keras, lamina):
        class Noisy(lib.layers.Layer):
            def __init__(self, lib=lib):
                super().__init__()
                self.lib = lib
                self.seed_generator = lib.random.SeedGenerator(3)
                self.dense = lib.layers.Dense(2)

            def build(self, input_shape):
                self.w = self.add_weight(shape=(2,), name="w")
                self.dense.build(input_shape)

            def call(self, x):
                return self.dense(x) + self.w + self.lib.random.normal((2,), seed=self.seed_generator)

        layer = Noisy()
        layer(np.ones((1, 3), "float32"))
        short = lambda vs: [v.path.split("/")[-1] for v in vs]  # noqa: E731
        paths.append((short(layer.variables), short(layer.non_trainable_variables), short(layer.weights),
                      len(layer.get_weights())))
    assert paths[1] == paths[0]
