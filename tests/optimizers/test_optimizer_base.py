"""lamina.optimizers.base: the options every optimizer shares (against Keras 3), settable iterations and learning
rate, exact-resume state, configs and the registry."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina import optimizers
from lamina.optimizers import SGD, Adam, Optimizer, RMSprop
from lamina.optimizers.schedules import CosineDecayRestarts, ExponentialDecay

ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Lion", "Adafactor", "Ftrl", "Lamb",
       "Muon", "ScheduleFreeAdamW"]
TOL = {"rtol": 1e-5, "atol": 1e-5}  # Adam-like optimizers: Keras rounds its betas to float32 (see test_adam.py)

OPTIONS = [
    {"clipnorm": 1.0}, {"global_clipnorm": 1.5}, {"clipvalue": 0.6}, {"weight_decay": 0.05},
    {"use_ema": True, "ema_momentum": 0.8}, {"use_ema": True, "ema_momentum": 0.8, "ema_overwrite_frequency": 2},
    {"gradient_accumulation_steps": 2}, {"gradient_accumulation_steps": 3, "use_ema": True, "clipnorm": 0.5},
    {"loss_scale_factor": 8.0},
]


# ---------------------------------------------------------------------------------------------- Keras parity
@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_options_match_keras(keras, name, options):
    kwargs = {"momentum": 0.9, **options} if name == "SGD" else options
    # A schedule shows which step the rate is read at (Keras: its raw counter, also while accumulating).
    schedule = ExponentialDecay(0.1, decay_steps=1, decay_rate=0.7)
    check_keras_parity(keras, name, kwargs, learning_rate=schedule, n=7, scale=3.0, **TOL)


@pytest.mark.parametrize("name", ALL)
def test_every_optimizer_takes_every_option_like_keras(keras, name):
    kwargs = {"weight_decay": 0.02, "global_clipnorm": 2.0, "use_ema": True, "gradient_accumulation_steps": 2,
              "loss_scale_factor": 4.0}
    lr = 1.0 if name == "Adadelta" else 0.1
    check_keras_parity(keras, name, kwargs, learning_rate=lr, n=6, **TOL)


@pytest.mark.parametrize("api", ["apply", "apply_gradients"])
def test_apply_apis_match_keras(keras, api):
    check_keras_parity(keras, "Adam", {"clipvalue": 0.5}, api=api, **TOL)


def test_finalize_variable_values_copies_the_moving_average_like_keras(keras):
    w0, grads = initial(), gradients(4)
    keras_opt = keras.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    variables = [keras.Variable(w) for w in w0]
    for step in grads:
        keras_opt.apply([torch.tensor(g) for g in step], variables)
    keras_opt.finalize_variable_values(variables)
    opt = SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    for step in grads:
        opt.apply([torch.tensor(g) for g in step], params)
    opt.finalize_variable_values(list(reversed(params)))  # any order: matched by identity
    for p, v in zip(params, variables, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=1e-6)


def test_ema_closed_form_and_finalize_rejects_unknown_weights():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    for _ in range(3):
        opt.apply([torch.ones(1)], [w])  # w: -1, -2, -3; ema: -1 (first step copies), -1.5, -2.25
    torch.testing.assert_close(opt._ema[0], torch.tensor([-2.25]))
    with pytest.raises(ValueError, match="not built with"):
        opt.finalize_variable_values([torch.nn.Parameter(torch.zeros(1))])
    opt.finalize_variable_values([w])
    torch.testing.assert_close(w.detach(), torch.tensor([-2.25]))


def test_gradient_accumulation_applies_the_mean_every_nth_step_and_counts_like_keras():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=1.0, gradient_accumulation_steps=3)
    seen = []
    for g in (1.0, 2.0, 6.0, 5.0):
        opt.apply([torch.tensor([g])], [w])
        seen.append((w.item(), opt.iterations))
    assert seen == [(0.0, 0), (0.0, 0), (-3.0, 1), (-3.0, 1)]
    opt.iterations = 5
    assert opt.iterations == 5 and opt._iterations == 15


def test_scale_loss_and_step_undo_each_other():
    w = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    opt = SGD(learning_rate=0.1, loss_scale_factor=1024.0)
    opt.build([w])
    loss = opt.scale_loss((w ** 2).sum())
    assert torch.allclose(loss, torch.tensor(5.0 * 1024))
    loss.backward()
    opt.step()
    torch.testing.assert_close(w.detach(), torch.tensor([1.0, 2.0]) * (1 - 0.2))
    assert SGD().scale_loss(torch.tensor(3.0)) == 3.0


def test_constraints_apply_after_each_step():
    w = torch.nn.Parameter(torch.tensor([0.5, -0.5]))
    w.constraint = lambda t: t.clamp(min=0.0)
    SGD(learning_rate=1.0).apply([torch.tensor([1.0, -1.0])], [w])
    torch.testing.assert_close(w.detach(), torch.tensor([0.0, 0.5]))


def test_exclude_from_weight_decay():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    b.path = "dense/bias"
    opt = SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply([torch.zeros(2), torch.zeros(2)], [a, b])
    torch.testing.assert_close(a.detach(), torch.full((2,), 0.95))
    torch.testing.assert_close(b.detach(), torch.ones(2))
    with pytest.raises(ValueError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_list=[a])


def test_step_uses_only_this_step_gradients_and_leaves_other_grads_alone():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = SGD(learning_rate=1.0)
    opt.build([a, b])
    b.grad = torch.full((2,), 7.0)  # e.g. left over from another optimizer's backward
    g = torch.ones(2)
    opt.apply([g], [a])
    torch.testing.assert_close(a.detach(), torch.zeros(2))
    torch.testing.assert_close(b.detach(), torch.ones(2))
    torch.testing.assert_close(b.grad, torch.full((2,), 7.0))
    torch.testing.assert_close(g, torch.ones(2))


# ---------------------------------------------------------------------------------------------- iterations and lr
def test_learning_rate_and_iterations_are_readable_and_settable():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=0.1)
    opt.apply([torch.ones(1)], [w])
    assert opt.iterations == 1 and opt.learning_rate == pytest.approx(0.1)
    opt.learning_rate = 0.5
    assert opt.torch_optimizer.param_groups[0]["lr"] == 0.5
    opt.apply([torch.ones(1)], [w])
    torch.testing.assert_close(w.detach(), torch.tensor([-0.6]))
    schedule = ExponentialDecay(1.0, decay_steps=1, decay_rate=0.5)
    opt.learning_rate = schedule
    assert opt.learning_rate == pytest.approx(0.25)  # schedule(iterations=2)
    opt.iterations = 0
    assert opt.learning_rate == 1.0 and opt.torch_optimizer.param_groups[0]["lr"] == 1.0
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.1
    with pytest.raises(ValueError, match="iterations"):
        opt.iterations = -1


def test_setting_iterations_restarts_adam_bias_correction_like_keras(keras):
    w0, grads = initial(), gradients(3)
    keras_opt = keras.optimizers.Adam(learning_rate=0.1)
    variables = [keras.Variable(w) for w in w0]
    opt = Adam(learning_rate=0.1)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in w0]
    for i, step in enumerate(grads):
        if i == 2:
            keras_opt.iterations.assign(0)
            opt.iterations = 0
        keras_opt.apply([torch.tensor(g) for g in step], variables)
        opt.apply([torch.tensor(g) for g in step], params)
    for p, v in zip(params, variables, strict=True):
        np.testing.assert_allclose(p.detach().numpy(), keras.ops.convert_to_numpy(v), rtol=1e-5, atol=1e-5)


def test_plain_callables_are_called_with_or_without_the_step():
    w = torch.nn.Parameter(torch.zeros(1))
    opt = SGD(learning_rate=lambda: 0.5)
    opt.apply([torch.ones(1)], [w])
    opt2 = SGD(learning_rate=lambda step: 0.5 / (step + 1))
    opt2.apply([torch.ones(1)], [w])
    assert opt.learning_rate == 0.5 and opt2.learning_rate == 0.25
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.get_config()


# ---------------------------------------------------------------------------------------------- exact resume
RESUME = [("SGD", {"momentum": 0.9}), ("Adam", {"amsgrad": True, "use_ema": True}),
          ("Nadam", {"gradient_accumulation_steps": 2}), ("Adadelta", {"weight_decay": 0.01}),
          ("RMSprop", {"centered": True, "momentum": 0.5}), ("Adagrad", {}), ("Adamax", {}), ("Lion", {}),
          ("Adafactor", {"use_ema": True, "gradient_accumulation_steps": 3}), ("AdamW", {"clipnorm": 1.0}),
          ("Ftrl", {"l1_regularization_strength": 0.01}), ("Lamb", {"use_ema": True}), ("Muon", {}),
          ("ScheduleFreeAdamW", {"warmup_steps": 2, "gradient_accumulation_steps": 2})]


@pytest.mark.parametrize(("name", "kwargs"), RESUME, ids=[n for n, _ in RESUME])
def test_state_round_trip_resumes_bit_for_bit(name, kwargs):
    w0, grads = initial(), gradients(7)
    lr = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.9)
    straight = run_lamina(getattr(optimizers, name)(learning_rate=lr, **kwargs), w0, grads)

    first = getattr(optimizers, name)(learning_rate=lr, **kwargs)
    middle = run_lamina(first, w0, grads[:3])
    tensors, meta = first.state_dict()
    tensors = {k: v.clone() for k, v in tensors.items()}
    meta = json.loads(json.dumps(meta))
    second = getattr(optimizers, name)(learning_rate=lr, **kwargs)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in middle]
    second.build(params)
    second.load_state_dict(tensors, meta)
    assert second.iterations == first.iterations
    for step in grads[3:]:
        for p, g in zip(params, step, strict=True):
            p.grad = torch.tensor(g)
        second.step()
    for got, want in zip(params, straight, strict=True):
        assert np.array_equal(got.detach().numpy(), want)


def test_state_restores_a_changed_learning_rate():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = RMSprop(learning_rate=0.1)
    opt.apply([torch.ones(2)], [w])
    opt.learning_rate = 0.01  # e.g. ReduceLROnPlateau
    tensors, meta = opt.state_dict()
    fresh = RMSprop(learning_rate=0.1)
    fresh.build([w])
    fresh.load_state_dict(tensors, meta)
    assert fresh.learning_rate == 0.01 and fresh.iterations == 1


def test_load_state_dict_explains_mismatches():
    w = torch.nn.Parameter(torch.zeros(2, 3))
    adam = Adam(amsgrad=True)
    adam.apply([torch.ones(2, 3)], [w])
    tensors, meta = adam.state_dict()

    other = Adam()
    other.build([torch.nn.Parameter(torch.zeros(2, 3))])
    with pytest.raises(ValueError, match="unexpected tensors.*max_exp_avg_sq"):
        other.load_state_dict(tensors, meta)
    wrong_shape = Adam(amsgrad=True)
    wrong_shape.build([torch.nn.Parameter(torch.zeros(3, 2))])
    with pytest.raises(ValueError, match=r"variable 0: saved \(2, 3\)"):
        wrong_shape.load_state_dict(tensors, meta)
    same = Adam(amsgrad=True)
    same.build([torch.nn.Parameter(torch.zeros(2, 3))])
    bad = dict(tensors, **{"slots/0/exp_avg": tensors["slots/0/exp_avg"].double()})
    with pytest.raises(ValueError, match="slots/0/exp_avg.*float64"):
        same.load_state_dict(bad, meta)
    with pytest.raises(ValueError, match="belongs to a 'Adam' optimizer"):
        SGD().load_state_dict(tensors, meta)
    unbuilt = Adam(amsgrad=True)
    with pytest.raises(ValueError, match="Build the optimizer"):
        unbuilt.load_state_dict(tensors, meta)
    # Nothing was half-loaded by the failed attempts.
    assert same.iterations == 0 and torch.equal(same.torch_optimizer.state[same._params[0]]["exp_avg"],
                                                torch.zeros(2, 3))


# ---------------------------------------------------------------------------------------------- config, registry
@pytest.mark.parametrize("name", ALL)
def test_config_round_trip_with_a_schedule(name):
    schedule = CosineDecayRestarts(0.1, first_decay_steps=5, t_mul=1.5, m_mul=0.9)
    opt = getattr(optimizers, name)(learning_rate=schedule, clipnorm=2.0, use_ema=True)
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    assert config["config"]["learning_rate"]["class_name"] == "CosineDecayRestarts"
    again = optimizers.deserialize(config)
    assert type(again) is type(opt) and again.get_config() == opt.get_config()
    assert again.learning_rate == schedule(0)
    again2 = optimizers.get(config)
    assert again2.get_config() == opt.get_config()


@pytest.mark.parametrize("name", ALL)
def test_config_keys_and_defaults_equal_keras(keras, name):
    ours, theirs = getattr(optimizers, name)().get_config(), getattr(keras.optimizers, name)().get_config()
    assert list(ours) == list(theirs)
    for key, value in ours.items():
        if key == "learning_rate":
            assert value == pytest.approx(theirs[key])
        elif key != "name":
            assert value == theirs[key], key


def test_deserialize_accepts_keras_configs_without_importing_anything(keras):
    keras_config = keras.optimizers.serialize(keras.optimizers.Adam(
        learning_rate=keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5), amsgrad=True))
    opt = optimizers.deserialize(keras_config)
    assert isinstance(opt, Adam) and opt.amsgrad and opt.learning_rate == pytest.approx(0.1)
    with pytest.raises(ValueError, match="Unknown"):
        optimizers.deserialize({"class_name": "os.system", "config": {}})


def test_get_names_instances_and_errors():
    assert isinstance(optimizers.get("Adam"), Adam) and isinstance(optimizers.get("rmsprop"), RMSprop)
    opt = SGD()
    assert optimizers.get(opt) is opt
    with pytest.raises(TypeError, match="torch.optim"):
        optimizers.get(torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1))
    with pytest.raises(ValueError, match="Did you mean.*'adam'"):
        optimizers.get("adm")
    for bad in (3, None, [0.1]):
        with pytest.raises(TypeError, match="optimizer"):
            optimizers.get(bad)
    for name in optimizers.OPTIMIZERS.names():
        assert issubclass(optimizers.OPTIMIZERS.get(name), Optimizer)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"clipnorm": 1.0, "clipvalue": 1.0}, "only one of"), ({"learning_rate": -1.0}, "learning_rate"),
    ({"learning_rate": "fast"}, "learning_rate"), ({"gradient_accumulation_steps": 1}, "gradient_accumulation"),
    ({"use_ema": True, "ema_momentum": 1.5}, "ema_momentum"), ({"ema_overwrite_frequency": 0}, "overwrite"),
    ({"loss_scale_factor": 0.0}, "loss_scale_factor"), ({"weight_decay": -0.1}, "weight_decay"),
    ({"decay": 0.1}, "not recognized"),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Adam(**kwargs)


def test_misuse_raises_clear_errors():
    w = torch.nn.Parameter(torch.zeros(2))
    opt = SGD()
    with pytest.raises(ValueError, match="not built"):
        opt.step()
    with pytest.raises(ValueError, match="no trainable weights"):
        opt.build([])
    with pytest.raises(ValueError, match="floating-point"):
        SGD().build([torch.zeros(2, dtype=torch.int64)])
    opt.build([w])
    with pytest.raises(ValueError, match="No gradients"):
        opt.step()
    with pytest.raises(ValueError, match="shape"):
        opt.apply([torch.zeros(3)], [w])
    with pytest.raises(ValueError, match="not in the list"):
        opt.apply([torch.zeros(2)], [torch.nn.Parameter(torch.zeros(2))])
    with pytest.raises(ValueError, match="all are None"):
        opt.apply([None], [w])


def test_every_keras_optimizer_name_exists(keras):
    missing = [n for n in dir(keras.optimizers) if not n.startswith("_") and not hasattr(optimizers, n)]
    assert missing == []


@pytest.mark.parametrize("name", ["Adam", "SGD", "Ftrl", "RMSprop", "Adagrad", "Optimizer"])
def test_legacy_optimizers_refuse_like_keras_3(keras, name):
    with pytest.raises(ImportError):
        getattr(keras.optimizers.legacy, name)()
    with pytest.raises(ImportError, match=f"lamina.optimizers.{name} instead"):
        getattr(optimizers.legacy, name)()
