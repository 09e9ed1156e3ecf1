"""lamina.optimizers.adafactor against Keras 3 and Adafactor's closed form (factored and unfactored)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import Adafactor
from lamina.optimizers.schedules import PolynomialDecay


@pytest.mark.parametrize("kwargs", [{}, {"clip_threshold": 0.5, "epsilon_2": 0.1, "beta_2_decay": -0.5},
                                    {"relative_step": False}, {"weight_decay": 0.1}],
                         ids=["defaults", "options", "no-relative-step", "weight-decay"])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_adafactor_matches_keras(keras, kwargs, schedule):
    lr = PolynomialDecay(0.5, decay_steps=4, end_learning_rate=0.1) if schedule else 0.5
    check_keras_parity(keras, "Adafactor", kwargs, learning_rate=lr, rtol=1e-6)


def _reference(w0, grads, lr, decay=-0.8, eps1=1e-30, eps2=1e-3, clip=1.0):
    w = w0.astype(np.float64)
    r = c = v = None
    rms = lambda x: math.sqrt(float(np.mean(x * x)))  # noqa: E731
    for t, g in enumerate(grads, start=1):
        g = g.astype(np.float64)
        rho, beta = min(lr, 1 / math.sqrt(t)), 1 - t ** decay
        alpha = max(eps2, rms(w)) * rho
        reg = g * g + eps1
        if w.ndim >= 2:
            r = (beta * r if r is not None else 0) + (1 - beta) * reg.mean(-1)
            c = (beta * c if c is not None else 0) + (1 - beta) * reg.mean(-2)
            full = np.outer(r / r.mean(), c)
        else:
            v = (beta * v if v is not None else 0) + (1 - beta) * reg
            full = v
        u = g / np.sqrt(full)
        w = w - alpha * u / max(1.0, rms(u) / clip)
    return w


def test_adafactor_closed_form_factored_and_vector():
    w0, grads = initial(), gradients(4)
    got = run_lamina(Adafactor(learning_rate=0.5, clip_threshold=0.8), w0, grads)
    for k, w in enumerate(got):
        np.testing.assert_allclose(w, _reference(w0[k], [s[k] for s in grads], 0.5, clip=0.8), rtol=1e-5,
                                   atol=1e-6)


def test_adafactor_keeps_row_and_column_statistics_for_matrices():
    m, v = torch.nn.Parameter(torch.ones(2, 3, 4)), torch.nn.Parameter(torch.ones(5))
    opt = Adafactor()
    opt.build([m, v])
    assert opt.torch_optimizer.state[m]["r"].shape == (2, 3)
    assert opt.torch_optimizer.state[m]["c"].shape == (2, 4)
    assert opt.torch_optimizer.state[v]["v"].shape == (5,)


def test_adafactor_config_matches_keras(keras):
    ours, theirs = Adafactor().get_config(), keras.optimizers.Adafactor().get_config()
    assert list(ours) == list(theirs)
    assert {k: ours[k] for k in list(ours)[-5:]} == {k: theirs[k] for k in list(theirs)[-5:]}
