"""lamina.optimizers.lamb against Keras 3 (torch backend) and LAMB's closed form."""

from __future__ import annotations

import numpy as np
import pytest
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import Lamb
from lamina.optimizers.schedules import CosineDecay

CASES = [{}, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}, {"weight_decay": 0.1}, {"clipnorm": 0.5},
         {"global_clipnorm": 1.0}, {"use_ema": True, "ema_momentum": 0.7}]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_lamb_matches_keras(keras, kwargs, schedule):
    lr = CosineDecay(0.1, decay_steps=6) if schedule else 0.1
    check_keras_parity(keras, "Lamb", kwargs, learning_rate=lr, rtol=1e-6, atol=1e-6)


def test_lamb_closed_form():
    w0, grads = initial(), gradients(3)
    got = run_lamina(Lamb(learning_rate=0.1, epsilon=0.0), w0, grads)
    for k, w in enumerate(got):
        ref, m, v = w0[k].astype(np.float64), 0.0, 0.0
        for t, step in enumerate(grads, 1):
            g = step[k].astype(np.float64)
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
            u = (m / (1 - 0.9 ** t)) / np.sqrt(v / (1 - 0.999 ** t))
            ref = ref - 0.1 * np.linalg.norm(ref) / np.linalg.norm(u) * u
        np.testing.assert_allclose(w, ref, rtol=1e-5, atol=1e-6)


def test_lamb_trust_ratio_is_one_for_a_zero_weight():
    import torch

    w = torch.nn.Parameter(torch.zeros(2))
    Lamb(learning_rate=0.1).apply([torch.tensor([2.0, -2.0])], [w])
    torch.testing.assert_close(w.detach(), torch.tensor([-0.1, 0.1]))


def test_lamb_config_round_trips_with_keras_keys(keras):
    ours = Lamb(learning_rate=0.01, beta_1=0.8)
    assert list(ours.get_config()) == list(keras.optimizers.Lamb().get_config())
    assert Lamb.from_config(ours.get_config()).get_config() == ours.get_config()
