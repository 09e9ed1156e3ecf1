"""lamina.optimizers.adaptive (RMSprop, Adagrad, Adadelta) against Keras 3 and closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import Adadelta, Adagrad, RMSprop
from lamina.optimizers.schedules import PiecewiseConstantDecay

CASES = [
    ("RMSprop", {}), ("RMSprop", {"momentum": 0.9}), ("RMSprop", {"centered": True}),
    ("RMSprop", {"centered": True, "momentum": 0.5, "rho": 0.5, "epsilon": 0.1}),
    ("Adagrad", {}), ("Adagrad", {"initial_accumulator_value": 0.0, "epsilon": 0.1}),
    ("Adadelta", {}), ("Adadelta", {"rho": 0.5, "epsilon": 1e-3}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_adaptive_optimizers_match_keras(keras, name, kwargs, schedule):
    lr = PiecewiseConstantDecay([1, 3], [0.3, 0.1, 0.05]) if schedule else 0.1
    check_keras_parity(keras, name, kwargs, learning_rate=lr, rtol=1e-6)


def test_rmsprop_closed_form_centered_with_momentum():
    w0, grads = initial(), gradients(4)
    lr, rho, mu, eps = 0.1, 0.8, 0.5, 0.2
    got = run_lamina(RMSprop(learning_rate=lr, rho=rho, momentum=mu, epsilon=eps, centered=True), w0, grads)
    for k, w in enumerate(got):
        ref, v, a, m = w0[k].astype(np.float64), 0.0, 0.0, 0.0
        for step in grads:
            g = step[k].astype(np.float64)
            v, a = rho * v + (1 - rho) * g * g, rho * a + (1 - rho) * g
            m = mu * m + lr * g / np.sqrt(v - a * a + eps)  # Keras: epsilon inside the root
            ref = ref - m
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-7)


def test_adagrad_closed_form_starts_from_the_initial_accumulator():
    w0, grads = initial(), gradients(4)
    got = run_lamina(Adagrad(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=0.01), w0, grads)
    for k, w in enumerate(got):
        ref, acc = w0[k].astype(np.float64), 0.5
        for step in grads:
            g = step[k].astype(np.float64)
            acc = acc + g * g
            ref = ref - 0.1 * g / np.sqrt(acc + 0.01)
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-7)


def test_adadelta_closed_form():
    w0, grads = initial(), gradients(4)
    lr, rho, eps = 1.0, 0.9, 1e-3
    got = run_lamina(Adadelta(learning_rate=lr, rho=rho, epsilon=eps), w0, grads)
    for k, w in enumerate(got):
        ref, eg, ex = w0[k].astype(np.float64), 0.0, 0.0
        for step in grads:
            g = step[k].astype(np.float64)
            eg = rho * eg + (1 - rho) * g * g
            delta = -np.sqrt(ex + eps) / np.sqrt(eg + eps) * g
            ex = rho * ex + (1 - rho) * delta * delta
            ref = ref + lr * delta
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-7)


def test_adadelta_runs_on_torch_optim():
    w = torch.nn.Parameter(torch.ones(2))
    opt = Adadelta()
    opt.build([w])
    assert isinstance(opt.torch_optimizer, torch.optim.Adadelta)


def test_adagrad_rejects_a_negative_initial_accumulator():
    with pytest.raises(ValueError, match="initial_accumulator_value"):
        Adagrad(initial_accumulator_value=-1.0)


def test_configs_have_keras_keys_and_defaults(keras):
    for cls in (RMSprop, Adagrad, Adadelta):
        ours, theirs = cls().get_config(), getattr(keras.optimizers, cls.__name__)().get_config()
        assert list(ours) == list(theirs)
        assert {k: v for k, v in ours.items() if k not in ("name", "learning_rate")} == \
               {k: v for k, v in theirs.items() if k not in ("name", "learning_rate")}
