"""lamina.optimizers.sgd against Keras 3 (torch backend) and SGD's closed form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_harness import check_keras_parity, gradients, initial, run_lamina

from lamina.optimizers import SGD
from lamina.optimizers.schedules import ExponentialDecay
from lamina.optimizers.sgd import MomentumSGD


@pytest.mark.parametrize("kwargs", [{}, {"momentum": 0.9}, {"momentum": 0.9, "nesterov": True},
                                    {"momentum": 0.5, "weight_decay": 0.05}],
                         ids=["plain", "momentum", "nesterov", "momentum-decay"])
@pytest.mark.parametrize("schedule", [False, True], ids=["fixed-lr", "schedule"])
def test_sgd_matches_keras(keras, kwargs, schedule):
    # With a schedule the rate changes every step: Keras keeps it inside the momentum buffer, torch.optim.SGD
    # outside, so this is where MomentumSGD earns its place.
    lr = ExponentialDecay(0.1, decay_steps=2, decay_rate=0.5) if schedule else 0.1
    check_keras_parity(keras, "SGD", kwargs, learning_rate=lr, rtol=1e-6)


def test_sgd_closed_form_with_momentum_and_nesterov():
    w0, grads = initial(), gradients(4)
    for nesterov in (False, True):
        got = run_lamina(SGD(learning_rate=0.1, momentum=0.9, nesterov=nesterov), w0, grads)
        for w, want0, k in zip(got, w0, range(2), strict=True):
            w_ref, m = want0.astype(np.float64), 0.0
            for step in grads:
                m = 0.9 * m - 0.1 * step[k]
                w_ref = w_ref + (0.9 * m - 0.1 * step[k] if nesterov else m)
            np.testing.assert_allclose(w, w_ref, rtol=1e-6, atol=1e-7)


def test_sgd_runs_on_torch_optim_without_momentum_and_on_momentum_sgd_with_it():
    w = torch.nn.Parameter(torch.ones(2))
    plain, heavy = SGD(), SGD(momentum=0.9)
    plain.build([w])
    heavy.build([w])
    assert type(plain.torch_optimizer) is torch.optim.SGD
    assert isinstance(heavy.torch_optimizer, MomentumSGD)
    assert torch.equal(heavy.torch_optimizer.state[w]["momentum"], torch.zeros(2))  # created at build, as Keras


@pytest.mark.parametrize("momentum", [-0.1, 1.5, "0.9"])
def test_sgd_rejects_bad_momentum(momentum):
    with pytest.raises(ValueError, match="momentum"):
        SGD(momentum=momentum)


def test_sgd_config_has_keras_keys():
    config = SGD(learning_rate=0.1, momentum=0.9, nesterov=True).get_config()
    assert config["momentum"] == 0.9 and config["nesterov"] is True and config["name"] == "sgd"
