"""lamina.optimizers.adam (Adam, AdamW, Adamax, Nadam) against Keras 3 and closed forms.

Keras computes the bias corrections from float32 betas (1 - float32(0.999) is 1.3e-5 off 0.001), which moves
its weights by a few 1e-6 from the exact formula lamina evaluates: those comparisons allow 1e-5."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import Adam, Adamax, AdamW, Nadam
from lamina.optimizers.schedules import CosineDecay

TOL = {"rtol": 1e-5, "atol": 1e-5}

CASES = [
    ("Adam", {}), ("Adam", {"amsgrad": True}), ("Adam", {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 0.1}),
    ("AdamW", {}), ("AdamW", {"weight_decay": 0.1}), ("AdamW", {"weight_decay": 0.1, "amsgrad": True}),
    ("Adamax", {}), ("Adamax", {"epsilon": 0.1}), ("Nadam", {}), ("Nadam", {"beta_1": 0.8, "epsilon": 0.01}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_adam_family_matches_keras(keras, name, kwargs, schedule):
    lr = CosineDecay(0.1, decay_steps=4, warmup_target=0.2, warmup_steps=2) if schedule else 0.1
    check_keras_parity(keras, name, kwargs, learning_rate=lr, **TOL)


def test_adam_closed_form_including_keras_epsilon_placement():
    # A large epsilon makes Keras's placement (added to sqrt(v), not to sqrt(v_hat)) visible.
    w0, grads = initial(), gradients(4)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 0.5
    got = run_lamina(Adam(learning_rate=lr, epsilon=eps), w0, grads)
    for k, w in enumerate(got):
        ref, m, v = w0[k].astype(np.float64), 0.0, 0.0
        for t, step in enumerate(grads, start=1):
            g = step[k].astype(np.float64)
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            ref = ref - lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t) * m / (np.sqrt(v) + eps)
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)


def test_adamax_closed_form():
    w0, grads = initial(), gradients(4)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 0.3
    got = run_lamina(Adamax(learning_rate=lr, epsilon=eps), w0, grads)
    for k, w in enumerate(got):
        ref, m, u = w0[k].astype(np.float64), 0.0, 0.0
        for t, step in enumerate(grads, start=1):
            g = step[k].astype(np.float64)
            m, u = b1 * m + (1 - b1) * g, np.maximum(b2 * u, np.abs(g))
            ref = ref - lr * m / ((1 - b1 ** t) * (u + eps))
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)


def test_nadam_closed_form():
    w0, grads = initial(), gradients(4)
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    got = run_lamina(Nadam(learning_rate=lr), w0, grads)
    for k, w in enumerate(got):
        ref, m, v, product = w0[k].astype(np.float64), 0.0, 0.0, 1.0
        for t, step in enumerate(grads, start=1):
            g = step[k].astype(np.float64)
            u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
            product *= u_t
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
            ref = ref - lr * m_hat / (np.sqrt(v / (1 - b2 ** t)) + eps)
        np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)


def test_adamw_decays_before_the_adam_step():
    # With a zero gradient Adam's step is zero, so only the decoupled decay moves the weights.
    w = torch.nn.Parameter(torch.full((3,), 2.0))
    AdamW(learning_rate=0.1, weight_decay=0.5).apply([torch.zeros(3)], [w])
    torch.testing.assert_close(w.detach(), torch.full((3,), 2.0 * (1 - 0.1 * 0.5)))


def test_adam_uses_torch_optim_adam_and_creates_its_slots_at_build():
    w = torch.nn.Parameter(torch.ones(2, 3))
    opt = Adam(amsgrad=True)
    opt.build([w])
    assert isinstance(opt.torch_optimizer, torch.optim.Adam)
    assert set(opt.torch_optimizer.state[w]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert isinstance(Nadam()._torch_kwargs()["momentum_decay"], float)


def test_adamw_requires_a_weight_decay():
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=None)


def test_configs_have_keras_keys_and_defaults(keras):
    for cls in (Adam, AdamW, Adamax, Nadam):
        ours = cls().get_config()
        theirs = getattr(keras.optimizers, cls.__name__)().get_config()
        assert list(ours) == list(theirs)
        for key in ours:
            if key not in ("name", "learning_rate"):
                assert ours[key] == theirs[key], (cls.__name__, key)
        assert ours["learning_rate"] == pytest.approx(theirs["learning_rate"])
