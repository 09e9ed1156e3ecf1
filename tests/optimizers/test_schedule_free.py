"""lamina.optimizers.schedule_free (ScheduleFreeAdamW) against Keras 3 (torch backend)."""

from __future__ import annotations

import numpy as np
import pytest
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import ScheduleFreeAdamW
from lamina.optimizers.schedules import ExponentialDecay

CASES = [{}, {"warmup_steps": 3}, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}, {"weight_decay": 0.1},
         {"warmup_steps": 2, "weight_decay": 0.05}, {"clipnorm": 0.5}, {"global_clipnorm": 1.0},
         {"gradient_accumulation_steps": 2}]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_schedule_free_adamw_matches_keras(keras, kwargs):
    check_keras_parity(keras, "ScheduleFreeAdamW", kwargs, learning_rate=0.1, n=6, rtol=1e-6, atol=1e-6)


def test_schedule_free_adamw_follows_a_schedule_like_keras(keras):
    check_keras_parity(keras, "ScheduleFreeAdamW", {"warmup_steps": 2},
                       learning_rate=ExponentialDecay(0.1, decay_steps=1, decay_rate=0.8), n=5, rtol=1e-6,
                       atol=1e-6)


def test_weights_are_the_running_average_of_the_adam_sequence():
    w0, grads = initial(), gradients(4)
    got = run_lamina(ScheduleFreeAdamW(learning_rate=0.1), w0, grads)
    for k, w in enumerate(got):
        x = z = w0[k].astype(np.float64)
        v = 0.0
        for t, step in enumerate(grads, 1):
            g = step[k].astype(np.float64)
            v = 0.999 * v + 0.001 * g * g
            z = z - 0.1 * g / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            x = x + (z - x) / t
        np.testing.assert_allclose(w, x, rtol=1e-5, atol=1e-6)


def test_schedule_free_adamw_config_round_trips_with_keras_keys(keras):
    ours = ScheduleFreeAdamW(warmup_steps=10)
    assert list(ours.get_config()) == list(keras.optimizers.ScheduleFreeAdamW().get_config())
    assert ScheduleFreeAdamW.from_config(ours.get_config()).get_config() == ours.get_config()


def test_schedule_free_adamw_rejects_a_negative_warmup():
    with pytest.raises(ValueError, match="warmup_steps"):
        ScheduleFreeAdamW(warmup_steps=-1)
