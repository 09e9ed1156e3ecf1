"""lamina.optimizers.lion against Keras 3 and Lion's closed form."""

from __future__ import annotations

import numpy as np
import pytest
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import Lion
from lamina.optimizers.schedules import InverseTimeDecay


@pytest.mark.parametrize("kwargs", [{}, {"beta_1": 0.5, "beta_2": 0.9}, {"weight_decay": 0.1}],
                         ids=["defaults", "betas", "weight-decay"])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_lion_matches_keras(keras, kwargs, schedule):
    lr = InverseTimeDecay(0.1, decay_steps=1, decay_rate=0.5) if schedule else 0.1
    check_keras_parity(keras, "Lion", kwargs, learning_rate=lr, rtol=1e-6)


def test_lion_closed_form():
    w0, grads = initial(), gradients(4)
    got = run_lamina(Lion(learning_rate=0.1, beta_1=0.8, beta_2=0.9), w0, grads)
    for k, w in enumerate(got):
        ref, m = w0[k].astype(np.float64), 0.0
        for step in grads:
            g = step[k].astype(np.float64)
            ref = ref - 0.1 * np.sign(0.8 * m + 0.2 * g)
            m = 0.9 * m + 0.1 * g
        np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("beta_1", [0.0, 1.5])
def test_lion_rejects_beta_1_outside_0_1(beta_1):
    with pytest.raises(ValueError, match="beta_1"):
        Lion(beta_1=beta_1)


def test_lion_config_matches_keras(keras):
    ours, theirs = Lion().get_config(), keras.optimizers.Lion().get_config()
    assert list(ours) == list(theirs) and ours["beta_1"] == theirs["beta_1"] and ours["beta_2"] == theirs["beta_2"]
