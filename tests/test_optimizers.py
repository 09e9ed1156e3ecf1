"""lamina.optimizers against Keras 3 (torch backend), closed forms and torch.nn.utils's clipping formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamina import optimizers
from lamina.optimizers import SGD, Adam, AdamW, Optimizer, RMSprop

SHAPE = (3, 4)


def gradients(n=5, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    # Order-1 gradients (|g| in [0.25, 2.25]: far from epsilon, where torch and Keras place it differently) whose
    # size changes from step to step, so amsgrad's running max matters.
    def one(i):
        g = rng.uniform(0.5, 1.5, size=SHAPE) * rng.choice([-1.0, 1.0], size=SHAPE)
        return (g * scale * (1.5 if i % 2 else 0.5)).astype("float32")

    return [one(i) for i in range(n)]


def initial(seed=1):
    return np.random.default_rng(seed).normal(size=SHAPE).astype("float32")


def run_lamina(opt, w0, grads, api="apply"):
    w = torch.nn.Parameter(torch.tensor(w0))
    for g in grads:
        g = torch.tensor(g)
        if api == "apply":
            opt.apply([g], [w])
        elif api == "apply_gradients":
            opt.apply_gradients(zip([g], [w], strict=True))
        else:  # the training-loop path: backward fills .grad, then step
            if not opt.built:
                opt.build([w])
            opt.zero_grad()
            (w * g).sum().backward()
            opt.step()
    return w.detach().numpy()


def run_keras(keras, opt, w0, grads):
    v = keras.Variable(w0.copy())
    for g in grads:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), v)])
    return keras.ops.convert_to_numpy(v)


# ---------------------------------------------------------------------------------------------- Keras as oracle
EXACT = [  # torch.optim.SGD and Keras's SGD are the same arithmetic for a fixed learning rate
    ("SGD", {"learning_rate": 0.1}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.9}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.1, "weight_decay": 0.2}),
    ("SGD", {"learning_rate": 0.1, "momentum": 0.5, "weight_decay": 0.2}),
]
CLOSE = [  # torch places epsilon a little differently from Keras: equal to rtol 1e-4 for order-1 gradients
    ("Adam", {}),
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99}),
    ("Adam", {"learning_rate": 0.01, "amsgrad": True}),
    ("Adam", {"learning_rate": 0.01, "weight_decay": 0.1}),
    ("AdamW", {"learning_rate": 0.01}),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.05, "amsgrad": True}),
    ("RMSprop", {"learning_rate": 0.01}),
    ("RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.9}),
    ("RMSprop", {"learning_rate": 0.01, "centered": True}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True, "weight_decay": 0.1}),
]


def _id(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


@pytest.mark.parametrize("api", ["apply", "apply_gradients", "step"])
@pytest.mark.parametrize("case", EXACT, ids=_id)
def test_sgd_matches_keras(keras, case, api):
    name, kwargs = case
    w0, grads = initial(), gradients()
    got = run_lamina(getattr(optimizers, name)(**kwargs), w0, grads, api)
    expected = run_keras(keras, getattr(keras.optimizers, name)(**kwargs), w0, grads)
    assert not np.allclose(got, w0)  # the optimizer moved the weights
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", CLOSE, ids=_id)
def test_adaptive_optimizers_match_keras(keras, case):
    name, kwargs = case
    w0, grads = initial(), gradients()
    got = run_lamina(getattr(optimizers, name)(**kwargs), w0, grads)
    expected = run_keras(keras, getattr(keras.optimizers, name)(**kwargs), w0, grads)
    assert not np.allclose(got, w0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_defaults_match_keras_config(keras, name):
    ours = getattr(optimizers, name)().get_config()
    theirs = getattr(keras.optimizers, name)().get_config()
    shared = (set(ours) & set(theirs)) - {"name"}  # auto names differ: Keras snake-cases ("adam_w", "rm_sprop")
    assert {"learning_rate", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm"} <= shared
    for key in sorted(shared):
        if isinstance(theirs[key], float):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-6), key
        else:
            assert ours[key] == theirs[key], key
    assert set(theirs) - set(ours) <= {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                                       "gradient_accumulation_steps"}


@pytest.mark.parametrize(("name", "extra"), [("SGD", {"momentum"}), ("Adam", {"beta_1", "amsgrad"}),
                                             ("RMSprop", {"rho", "centered"})])
def test_config_round_trip(name, extra):
    cls = getattr(optimizers, name)
    opt = cls(learning_rate=0.3, clipnorm=2.0, name="mine")
    config = opt.get_config()
    assert extra <= set(config)
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert config["name"] == "mine" and config["learning_rate"] == 0.3 and config["clipnorm"] == 2.0


# ---------------------------------------------------------------------------------------------- closed forms
def test_sgd_closed_form_with_decoupled_weight_decay():
    lr, wd = 0.1, 0.3
    w0, grads = initial(), gradients(1)
    got = run_lamina(SGD(learning_rate=lr, weight_decay=wd), w0, grads)
    expected = w0 - lr * wd * w0 - lr * grads[0]  # w -= lr*wd*w before the step, then w -= lr*g
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


def test_rmsprop_weight_decay_is_decoupled_not_l2():
    lr, wd = 0.01, 0.5
    w0, grads = initial(), gradients(1)
    got = run_lamina(RMSprop(learning_rate=lr, weight_decay=wd), w0, grads)
    w = w0 * (1 - lr * wd)
    v = 0.1 * grads[0] ** 2
    expected = w - lr * grads[0] / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_closed_form():
    lr, mom = 0.1, 0.9
    w0, grads = initial(), gradients(3)
    w, m = w0.astype("float64"), np.zeros(SHAPE)
    for g in grads:  # Keras's formulation: m = mom*m - lr*g; w += m
        m = mom * m - lr * g
        w = w + m
    np.testing.assert_allclose(run_lamina(SGD(lr, momentum=mom), w0, grads), w, rtol=0, atol=1e-6)


# ---------------------------------------------------------------------------------------------- clipping
def _one_step_sgd(grads_np, **clip):
    """lr=1 SGD: the update is exactly minus the (clipped) gradient."""
    ws = [torch.nn.Parameter(torch.zeros(g.shape)) for g in grads_np]
    SGD(learning_rate=1.0, **clip).apply([torch.tensor(g) for g in grads_np], ws)
    return [-w.detach().numpy() for w in ws]


def _torch_clipped(grads_np, clip_fn, *args):
    """What torch.nn.utils's clipping functions (which act on parameters' .grad) make of these gradients."""
    params = []
    for g in grads_np:
        p = torch.nn.Parameter(torch.zeros(g.shape))
        p.grad = torch.tensor(g)
        params.append(p)
    clip_fn(params, *args)
    return [p.grad.numpy() for p in params]


def _big_grads():
    rng = np.random.default_rng(3)
    return [(rng.normal(size=(4, 3)) * 5).astype("float32"), (rng.normal(size=(2,)) * 0.1).astype("float32")]


def test_clipnorm_clips_each_gradient_by_its_own_norm():
    grads = _big_grads()
    got = _one_step_sgd(grads, clipnorm=1.0)
    for g, applied in zip(grads, got, strict=True):
        [expected] = _torch_clipped([g], torch.nn.utils.clip_grad_norm_, 1.0)
        np.testing.assert_allclose(applied, expected, rtol=1e-5, atol=1e-7)
    assert np.linalg.norm(got[0]) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(got[1], grads[1], rtol=1e-6)  # small gradient untouched


def test_global_clipnorm_clips_all_gradients_together():
    grads = _big_grads()
    got = _one_step_sgd(grads, global_clipnorm=1.0)
    expected = _torch_clipped(grads, torch.nn.utils.clip_grad_norm_, 1.0)
    for applied, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(applied, e, rtol=1e-5, atol=1e-7)
    assert np.sqrt(sum((a ** 2).sum() for a in got)) == pytest.approx(1.0, rel=1e-5)


def test_clipvalue_clamps_elementwise():
    grads = _big_grads()
    got = _one_step_sgd(grads, clipvalue=0.5)
    expected = _torch_clipped(grads, torch.nn.utils.clip_grad_value_, 0.5)
    assert np.abs(np.concatenate([e.ravel() for e in expected])).max() == 0.5  # the clip did bite
    for applied, e in zip(got, expected, strict=True):
        np.testing.assert_array_equal(applied, e)


@pytest.mark.parametrize("clip", [{"clipnorm": 1.0}, {"global_clipnorm": 1.0}, {"clipvalue": 0.5}], ids=str)
def test_clipping_matches_keras(keras, clip):
    grads = _big_grads()
    got = _one_step_sgd(grads, **clip)
    vs = [keras.Variable(np.zeros(g.shape, "float32")) for g in grads]
    keras.optimizers.SGD(learning_rate=1.0, **clip).apply_gradients(
        [(keras.ops.convert_to_tensor(g), v) for g, v in zip(grads, vs, strict=True)])
    for applied, v in zip(got, vs, strict=True):
        np.testing.assert_allclose(applied, -keras.ops.convert_to_numpy(v), rtol=1e-5, atol=1e-6)


def test_apply_does_not_modify_the_callers_gradients():
    g = torch.full((3,), 10.0)
    w = torch.nn.Parameter(torch.zeros(3))
    SGD(learning_rate=1.0, clipvalue=1.0).apply([g], [w])
    assert torch.equal(g, torch.full((3,), 10.0))
    assert torch.equal(w.detach(), torch.full((3,), -1.0))


def test_only_one_clipping_option():
    with pytest.raises(ValueError, match="at most one"):
        SGD(clipnorm=1.0, clipvalue=1.0)


# ---------------------------------------------------------------------------------------------- state and API
def test_build_creates_the_torch_optimizer_lazily():
    opt = Adam(learning_rate=0.01)
    assert not opt.built and opt.torch_optimizer is None and opt.variables == []
    w = torch.nn.Parameter(torch.ones(3))
    frozen = torch.nn.Parameter(torch.ones(2), requires_grad=False)
    opt.build([w, frozen])
    assert opt.built and isinstance(opt.torch_optimizer, torch.optim.Adam)
    assert opt.torch_optimizer.param_groups[0]["params"] == [w]  # only trainable weights
    assert opt.torch_optimizer.param_groups[0]["lr"] == 0.01
    (w ** 2).sum().backward()
    opt.step()
    state = opt.torch_optimizer.state[w]
    assert {"exp_avg", "exp_avg_sq"} <= set(state)
    assert any(t is state["exp_avg"] for t in opt.variables)


@pytest.mark.parametrize("cls", [SGD, Adam, AdamW, RMSprop])
def test_torch_class(cls):
    expected = {SGD: torch.optim.SGD, Adam: torch.optim.Adam, AdamW: torch.optim.Adam, RMSprop: torch.optim.RMSprop}
    opt = cls()
    opt.build([torch.nn.Parameter(torch.ones(2))])
    assert isinstance(opt.torch_optimizer, expected[cls])


def test_build_without_trainable_weights_raises():
    with pytest.raises(ValueError, match="no trainable weights"):
        SGD().build([torch.nn.Parameter(torch.ones(2), requires_grad=False)])


def test_step_before_build_raises():
    with pytest.raises(ValueError, match="not built"):
        SGD().step()


def test_apply_builds_on_first_use_and_counts_iterations():
    opt = SGD(learning_rate=0.1)
    w = torch.nn.Parameter(torch.ones(2))
    assert opt.iterations == 0
    for i in range(3):
        opt.apply([torch.ones(2)], [w])
        assert opt.iterations == i + 1
    assert opt.built
    opt.apply([torch.ones(2)])  # the variables default to the built ones
    assert opt.iterations == 4
    np.testing.assert_allclose(w.detach().numpy(), [0.6, 0.6], atol=1e-6)


def test_apply_gradients_takes_a_zip():
    w1, w2 = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(3))
    opt = SGD(learning_rate=0.5)
    opt.apply_gradients(zip([torch.ones(2), 2 * torch.ones(3)], [w1, w2], strict=True))
    assert torch.equal(w1.detach(), torch.full((2,), -0.5))
    assert torch.equal(w2.detach(), torch.full((3,), -1.0))
    assert opt.iterations == 1


def test_a_none_gradient_leaves_its_variable_alone():
    # Keras skips variables whose gradient is None; the previous step's gradient must not be reused.
    w1, w2 = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2))
    opt = SGD(learning_rate=1.0)
    opt.apply([torch.ones(2), torch.ones(2)], [w1, w2])
    opt.apply([None, torch.ones(2)], [w1, w2])
    assert torch.equal(w1.detach(), torch.full((2,), -1.0))
    assert torch.equal(w2.detach(), torch.full((2,), -2.0))


def test_learning_rate_is_readable_and_settable():
    opt = SGD(learning_rate=0.1)
    assert opt.learning_rate == pytest.approx(0.1)
    opt.learning_rate = 0.2  # before build
    w = torch.nn.Parameter(torch.zeros(1))
    opt.apply([torch.ones(1)], [w])
    assert w.item() == pytest.approx(-0.2)
    opt.learning_rate = 0.5  # after build: torch's param_groups follow
    assert opt.learning_rate == 0.5
    assert [g["lr"] for g in opt.torch_optimizer.param_groups] == [0.5]
    opt.apply([torch.ones(1)], [w])
    assert w.item() == pytest.approx(-0.7)


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop])
def test_learning_rate_schedule_is_called_with_the_step(cls):
    def schedule(step):
        return 0.01 * (step + 1)

    opt = cls(learning_rate=schedule)
    w = torch.nn.Parameter(torch.zeros(4))
    used = []
    for t in range(5):
        assert opt.learning_rate == pytest.approx(schedule(t))
        before = w.detach().clone()
        opt.apply([torch.ones(4)], [w])  # a constant gradient: every optimizer's first move is lr-sized
        used.append((before - w.detach()).mean().item())
        assert opt.torch_optimizer.param_groups[0]["lr"] == pytest.approx(schedule(t + 1))
    if cls is SGD:
        np.testing.assert_allclose(used, [schedule(t) for t in range(5)], rtol=1e-6)
    elif cls is Adam:  # constant gradient: m_hat / sqrt(v_hat) == 1, so each move is lr_t
        np.testing.assert_allclose(used, [schedule(t) for t in range(5)], rtol=1e-4)
    else:  # RMSprop's first move is lr/sqrt(1-rho); check the schedule reached torch at step 0
        assert used[0] == pytest.approx(schedule(0) / np.sqrt(0.1), rel=1e-4)


# With momentum AND a changing learning rate, torch.optim (which lamina drives, never re-implements) scales the
# whole momentum buffer by the current rate while Keras scales only the new gradient; for a fixed rate they agree
# (tested above). Those cases are checked against torch.optim itself below.
@pytest.mark.parametrize(("name", "kwargs", "rtol"), [
    ("SGD", {}, 0), ("Adam", {}, 1e-4),
], ids=["sgd", "adam"])
def test_learning_rate_schedule_matches_keras_schedule(keras, name, kwargs, rtol):
    # In Keras the step-t learning rate scales the step-t gradient only (m = mom*m - lr_t*g); momentum
    # accumulated earlier keeps the learning rates it was made with.
    class Decay(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            return 0.1 / (1.0 + keras.ops.cast(step, "float32"))

    w0, grads = initial(), gradients()
    expected = run_keras(keras, getattr(keras.optimizers, name)(learning_rate=Decay(), **kwargs), w0, grads)
    got = run_lamina(getattr(optimizers, name)(learning_rate=lambda t: 0.1 / (1.0 + t), **kwargs), w0, grads)
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_bad_learning_rate(bad):
    with pytest.raises(ValueError, match="learning_rate"):
        SGD(learning_rate=bad)


def test_bad_arguments():
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=1.5)
    with pytest.raises(TypeError, match="lr"):
        Adam(lr=0.1)


# ---------------------------------------------------------------------------------------------- get / serialize
@pytest.mark.parametrize(("name", "cls"), [("sgd", SGD), ("SGD", SGD), ("adam", Adam), ("Adam", Adam),
                                           ("adamw", AdamW), ("AdamW", AdamW), ("rmsprop", RMSprop),
                                           ("RMSprop", RMSprop)])
def test_get_by_name(name, cls):
    opt = optimizers.get(name)
    assert type(opt) is cls
    assert opt.get_config() == cls().get_config()


def test_get_by_dict_and_instance():
    opt = optimizers.get({"class_name": "SGD", "config": {"learning_rate": 0.3, "momentum": 0.5}})
    assert type(opt) is SGD and opt.learning_rate == 0.3 and opt.momentum == 0.5
    assert optimizers.get(opt) is opt
    again = optimizers.get(optimizers.serialize(opt))
    assert type(again) is SGD and again.get_config() == opt.get_config()
    assert type(optimizers.get({"class_name": "adam"})) is Adam


def test_get_rejects_torch_optimizers_with_a_clear_message():
    torch_opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(TypeError) as info:
        optimizers.get(torch_opt)
    msg = str(info.value)
    assert "torch.optim" in msg and "lamina.optimizers" in msg


def test_get_unknown_name_suggests_a_close_match():
    with pytest.raises(ValueError) as info:
        optimizers.get("adm")
    msg = str(info.value)
    assert "'adm'" in msg and "Did you mean" in msg and "'adam'" in msg
    assert "rmsprop" in msg and "sgd" in msg  # the known names are listed


@pytest.mark.parametrize("bad", [3, None, [0.1]])
def test_get_other_types_raise_type_error(bad):
    with pytest.raises(TypeError, match="optimizer"):
        optimizers.get(bad)


def test_every_registered_optimizer_is_an_optimizer():
    for name in optimizers.OPTIMIZERS.names():
        assert issubclass(optimizers.OPTIMIZERS.get(name), Optimizer)


@pytest.mark.parametrize(("name", "kwargs", "torch_cls", "torch_kwargs"), [
    ("SGD", {"momentum": 0.9}, torch.optim.SGD, {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}, torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    ("RMSprop", {"momentum": 0.9}, torch.optim.RMSprop, {"momentum": 0.9, "alpha": 0.9, "eps": 1e-7}),
], ids=["sgd-momentum", "sgd-nesterov", "rmsprop-momentum"])
def test_learning_rate_schedule_with_momentum_follows_torch_optim(name, kwargs, torch_cls, torch_kwargs):
    schedule = lambda t: 0.1 / (1.0 + t)  # noqa: E731
    w0, grads = initial(), gradients()
    got = run_lamina(getattr(optimizers, name)(learning_rate=schedule, **kwargs), w0, grads)
    w = torch.nn.Parameter(torch.as_tensor(w0).clone())
    opt = torch_cls([w], lr=schedule(0), **torch_kwargs)
    for t, g in enumerate(grads):
        w.grad = torch.as_tensor(g).clone()
        opt.step()
        for group in opt.param_groups:
            group["lr"] = schedule(t + 1)
    np.testing.assert_allclose(got, w.detach().numpy(), rtol=1e-6, atol=1e-7)
