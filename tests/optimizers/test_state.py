"""lamina.optimizers.state: Keras's optimizer-variable API (against Keras 3, torch backend) — variables in Keras's
order, set_weights, save/load_own_variables, add_variable*, assign*, update_step for custom optimizers,
stateless_apply — and the learning rate as a variable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_harness import gradients, initial, run_keras, run_lamina

from lamina import optimizers
from lamina.core.variable import Variable
from lamina.optimizers import SGD, Adam, Optimizer


def _shapes(variables) -> list[tuple]:
    return [tuple(v.shape) for v in variables]


ORDER_CASES = [("SGD", {"momentum": 0.9}), ("Adam", {"amsgrad": True}),
               ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}), ("Adadelta", {}),
               ("Adamax", {}), ("Nadam", {}), ("Lion", {}), ("Ftrl", {}), ("Lamb", {}), ("Muon", {}),
               ("ScheduleFreeAdamW", {}), ("Adafactor", {}),
               ("Adam", {"use_ema": True, "gradient_accumulation_steps": 2})]


@pytest.mark.parametrize(("name", "kwargs"), ORDER_CASES, ids=[f"{n}-{k}" for n, k in ORDER_CASES])
def test_variables_follow_keras_order_and_values(keras, name, kwargs):
    w0, grads = initial(), gradients(3)
    lr = 1.0 if name == "Adadelta" else 0.1
    keras_opt, opt = getattr(keras.optimizers, name)(lr, **kwargs), getattr(optimizers, name)(lr, **kwargs)
    assert _shapes(opt.variables) == _shapes(keras_opt.variables)  # before build: iteration, learning_rate
    run_keras(keras, keras_opt, w0, grads)
    run_lamina(opt, w0, grads, api="apply")
    theirs = [np.asarray(keras.ops.convert_to_numpy(v)) for v in keras_opt.variables]
    ours = opt.get_weights()
    assert [a.shape for a in ours] == [a.shape for a in theirs]
    for mine, keras_value, variable in zip(ours, theirs, keras_opt.variables, strict=True):
        np.testing.assert_allclose(mine.astype("float64"), keras_value.astype("float64"), rtol=1e-4, atol=1e-5,
                                   err_msg=variable.path)


def test_set_weights_takes_keras_state_and_continues_like_keras(keras):
    w0, grads = initial(), gradients(5)
    keras_opt = keras.optimizers.Adam(learning_rate=0.1)
    keras_vars = [keras.Variable(w) for w in w0]
    for step in grads[:3]:
        keras_opt.apply([torch.tensor(g) for g in step], keras_vars)
    state = [np.asarray(keras.ops.convert_to_numpy(v)) for v in keras_opt.variables]
    middle = [np.asarray(keras.ops.convert_to_numpy(v)) for v in keras_vars]
    opt = Adam(learning_rate=0.5)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in middle]
    opt.build(params)
    opt.set_weights(state)
    assert opt.iterations == 3 and float(opt.learning_rate) == pytest.approx(0.1)
    for step in grads[3:]:
        keras_opt.apply([torch.tensor(g) for g in step], keras_vars)
        opt.apply([torch.tensor(g) for g in step], params)
    for p, v in zip(params, keras_vars, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=1e-5, atol=1e-5)


def test_save_and_load_own_variables_round_trip():
    w0, grads = initial(), gradients(4)
    opt = optimizers.RMSprop(learning_rate=0.1, momentum=0.5)
    straight = run_lamina(optimizers.RMSprop(learning_rate=0.1, momentum=0.5), w0, grads)
    middle = run_lamina(opt, w0, grads[:2])
    store: dict = {}
    opt.save_own_variables(store)
    assert sorted(store, key=int) == [str(i) for i in range(len(opt.variables))]
    fresh = optimizers.RMSprop(learning_rate=0.1, momentum=0.5)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in middle]
    fresh.build(params)
    fresh.load_own_variables(store)
    for step in grads[2:]:
        fresh.apply([torch.tensor(g) for g in step], params)
    for p, w in zip(params, straight, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), w)
    with pytest.raises(ValueError, match="3 variables"):
        fresh.load_own_variables({"0": 0, "1": 0.1, "2": np.zeros(4)})


def test_set_weights_explains_a_wrong_count_or_shape():
    opt = SGD(momentum=0.9)
    with pytest.raises(ValueError, match="not built"):
        opt.set_weights([0])
    opt.build([torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="3 variables"):
        opt.set_weights([0, 0.1])
    with pytest.raises(ValueError, match="shape"):
        opt.set_weights([0, 0.1, np.zeros(3)])


def test_learning_rate_is_a_variable_like_keras(keras):
    keras_opt, opt = keras.optimizers.SGD(learning_rate=0.1), SGD(learning_rate=0.1)
    for o in (keras_opt, opt):
        lr = o.learning_rate
        o.learning_rate = 0.01  # assigned into the same variable
        assert o.learning_rate is lr and float(lr) == pytest.approx(0.01)
        lr.assign(0.5)
        assert float(o.learning_rate) == 0.5
    assert isinstance(opt.learning_rate, Variable) and opt.learning_rate.path == "sgd/learning_rate"
    w = torch.nn.Parameter(torch.zeros(1))
    opt.apply([torch.ones(1)], [w])
    torch.testing.assert_close(w.detach(), torch.tensor([-0.5]))


def test_a_schedules_learning_rate_is_the_next_value_and_not_settable_to_a_number(keras):
    schedule = optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    opt = SGD(learning_rate=schedule)
    assert opt.learning_rate == pytest.approx(0.1)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.3


class KerasStyleMomentum(Optimizer):
    """A custom optimizer written the Keras way: slots from build, the formula in update_step."""

    def __init__(self, learning_rate=0.1, momentum=0.5, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.momentum = momentum

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        self.velocities = self.add_optimizer_variables(variables, "velocity")

    def update_step(self, gradient, variable, learning_rate):
        v = self.velocities[self._get_variable_index(variable)]
        self.assign(v, self.momentum * v + gradient)
        self.assign_sub(variable, learning_rate * v)


def test_custom_update_step_matches_the_same_optimizer_in_keras(keras):
    class KerasMomentum(keras.optimizers.Optimizer):
        def __init__(self, learning_rate=0.1, momentum=0.5, **kwargs):
            super().__init__(learning_rate=learning_rate, **kwargs)
            self.momentum = momentum

        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self.velocities = self.add_optimizer_variables(variables, "velocity")

        def update_step(self, gradient, variable, learning_rate):
            v = self.velocities[self._get_variable_index(variable)]
            self.assign(v, self.momentum * v + gradient)
            self.assign_sub(variable, learning_rate * v)

    w0, grads = initial(), gradients(4)
    kwargs = {"weight_decay": 0.1, "clipnorm": 1.0}
    want = run_keras(keras, KerasMomentum(**kwargs), w0, grads)
    opt = KerasStyleMomentum(**kwargs)
    got = run_lamina(opt, w0, grads, api="apply")
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)
    assert opt.iterations == 4 and _shapes(opt.variables)[2:] == [(3, 4), (4,)]
    assert opt.variables[2].path == "keras_style_momentum/variable_velocity"


def test_update_step_of_a_built_in_optimizer_updates_one_variable_without_counting():
    w0, grads = initial(), gradients(2)
    reference = run_lamina(Adam(learning_rate=0.1), [w0[0]], [[grads[0][0]]])
    opt = Adam(learning_rate=0.1)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt.build(params)
    opt.update_step(torch.tensor(grads[0][0]), params[0], 0.1)
    np.testing.assert_allclose(params[0].detach().numpy(), reference[0], rtol=1e-6)
    np.testing.assert_array_equal(params[1].detach().numpy(), w0[1])
    assert opt.iterations == 0


def test_stateless_apply_returns_new_values_and_changes_nothing():
    w0, grads = initial(), gradients(2)
    opt = Adam(learning_rate=0.1)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    opt.build(params)
    start = [v.detach().clone() for v in opt.variables]
    new_weights, new_state = opt.stateless_apply(start, [torch.tensor(g) for g in grads[0]],
                                                 [torch.tensor(w) for w in w0])
    for p, w in zip(params, w0, strict=True):
        np.testing.assert_array_equal(p.detach().numpy(), w)
    assert opt.iterations == 0 and int(new_state[0]) == 1
    expected = run_lamina(Adam(learning_rate=0.1), w0, grads[:1])
    for got, want in zip(new_weights, expected, strict=True):
        np.testing.assert_array_equal(got.numpy(), want)


def test_add_variable_and_assign_helpers():
    opt = SGD()
    counter = opt.add_variable((2,), initializer="ones", name="counter")
    opt.assign_add(counter, torch.ones(2))
    opt.assign_sub(counter, 0.5)
    torch.testing.assert_close(counter.detach(), torch.full((2,), 1.5))
    opt.assign(counter, [3.0, 4.0])
    assert counter.path == "sgd/counter" and not counter.requires_grad and opt.variables[-1] is counter
    assert [v.path for v in SGD().variables] == ["sgd/iteration", "sgd/learning_rate"]  # as Keras, before build
    ref = torch.nn.Parameter(torch.zeros(2, 2, dtype=torch.float64))
    ref.path = "dense/kernel"
    momentum, velocity = opt.add_optimizer_variables([ref], ["momentum", "velocity"])
    assert momentum[0].dtype == torch.float64 and velocity[0].name == "dense_kernel_velocity"


def test_a_custom_optimizer_trains_in_fit_like_keras_and_resumes_exactly(keras):
    import lamina
    from lamina import layers

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(12, 3)).astype("float32"), rng.normal(size=(12, 2)).astype("float32")
    weights = [rng.normal(size=s).astype("float32") for s in ((3, 2), (2,))]

    class KerasMomentum(keras.optimizers.Optimizer):
        def build(self, variables):
            if self.built:
                return
            super().build(variables)
            self.velocities = self.add_optimizer_variables(variables, "velocity")

        def update_step(self, gradient, variable, learning_rate):
            v = self.velocities[self._get_variable_index(variable)]
            self.assign(v, 0.5 * v + gradient)
            self.assign_sub(variable, learning_rate * v)

    keras_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    keras_model.set_weights(weights)
    keras_model.compile(optimizer=KerasMomentum(learning_rate=0.1), loss="mse")
    want = keras_model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    model = lamina.Sequential([layers.Input((3,)), layers.Dense(2)])
    model.set_weights(weights)
    model.compile(optimizer=KerasStyleMomentum(learning_rate=0.1), loss="mse", jit_compile=True)
    got = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    tensors, meta = model.optimizer.state_dict()
    assert sorted(k for k in tensors if k.startswith("own/")) == ["own/0", "own/1"]


FILE_CASES = [("Adam", {"amsgrad": True}), ("RMSprop", {"momentum": 0.5, "centered": True}), ("Nadam", {}),
              ("Adafactor", {}), ("Lamb", {}), ("Muon", {})]


@pytest.mark.parametrize(("name", "kwargs"), FILE_CASES, ids=[n for n, _ in FILE_CASES])
def test_keras_files_carry_the_optimizer_variables_both_ways(keras, tmp_path, name, kwargs):
    pytest.importorskip("h5py")
    import lamina

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    model = lamina.Sequential([lamina.layers.Input((3,)), lamina.layers.Dense(4), lamina.layers.Dense(2)])
    model.compile(optimizer=getattr(optimizers, name)(**kwargs), loss="mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "ours.keras")
    theirs = keras.models.load_model(tmp_path / "ours.keras")
    keras_values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in theirs.optimizer.variables]
    assert len(keras_values) == len(model.optimizer.get_weights())
    for mine, value in zip(model.optimizer.get_weights(), keras_values, strict=True):
        np.testing.assert_allclose(mine, value, rtol=1e-6, atol=1e-7)
    theirs.fit(x, y, epochs=1, verbose=0)
    theirs.save(tmp_path / "theirs.keras")
    back = lamina.models.load_model(tmp_path / "theirs.keras")
    keras_values = [np.asarray(keras.ops.convert_to_numpy(v)) for v in theirs.optimizer.variables]
    for mine, value in zip(back.optimizer.get_weights(), keras_values, strict=True):
        np.testing.assert_allclose(mine, value, rtol=1e-6, atol=1e-7)
