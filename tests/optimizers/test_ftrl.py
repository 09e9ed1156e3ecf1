"""lamina.optimizers.ftrl against Keras 3 (torch backend)."""

from __future__ import annotations

import pytest
from optimizer_harness import check_keras_parity

from lamina.optimizers import Ftrl
from lamina.optimizers.schedules import ExponentialDecay

CASES = [{}, {"l1_regularization_strength": 0.05}, {"l2_regularization_strength": 0.3},
         {"l2_shrinkage_regularization_strength": 0.2}, {"beta": 0.5}, {"learning_rate_power": -0.3},
         {"learning_rate_power": 0.0, "initial_accumulator_value": 0.0},
         {"l1_regularization_strength": 0.01, "l2_regularization_strength": 0.1, "weight_decay": 0.1},
         {"clipnorm": 1.0}, {"global_clipnorm": 1.5}]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_ftrl_matches_keras(keras, kwargs):
    check_keras_parity(keras, "Ftrl", kwargs, learning_rate=0.1, rtol=1e-6, atol=1e-6)


def test_ftrl_follows_a_schedule_like_keras(keras):
    check_keras_parity(keras, "Ftrl", {"l1_regularization_strength": 0.01},
                       learning_rate=ExponentialDecay(0.2, decay_steps=1, decay_rate=0.7), rtol=1e-6, atol=1e-6)


def test_ftrl_config_round_trips_with_keras_keys(keras):
    ours = Ftrl(learning_rate=0.5, l1_regularization_strength=0.1, beta=0.2)
    theirs = keras.optimizers.Ftrl(learning_rate=0.5, l1_regularization_strength=0.1, beta=0.2).get_config()
    assert list(ours.get_config()) == list(theirs)
    assert Ftrl.from_config(ours.get_config()).get_config() == ours.get_config()


@pytest.mark.parametrize(("kwargs", "argument"), [({"learning_rate_power": 0.5}, "learning_rate_power"),
                                                  ({"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
                                                  ({"l2_regularization_strength": -0.1}, "l2_regularization_strength")])
def test_ftrl_rejects_what_keras_rejects(keras, kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        keras.optimizers.Ftrl(**kwargs)
    with pytest.raises(ValueError, match=argument):
        Ftrl(**kwargs)
