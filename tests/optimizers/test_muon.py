"""lamina.optimizers.muon against Keras 3 (torch backend): the Muon step on 2-D weights, the AdamW step on the
others (and on embeddings and excluded layers), weight decay of each kind, configs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from optimizer_harness import assert_weights_close, keras_schedule

from lamina.core.variable import Variable
from lamina.optimizers import Muon
from lamina.optimizers.muon import newton_schulz
from lamina.optimizers.schedules import ExponentialDecay

SHAPES = [(3, 5), (4,), (5, 3), (2, 3, 4), (4, 4), (3, 3)]
NAMES = ["wide", "bias", "tall", "cube", "my_embedding", "output_dense"]


def _data(n: int = 4):
    rng = np.random.default_rng(3)
    w0 = [rng.normal(size=s).astype("float32") for s in SHAPES]
    grads = [[rng.normal(size=s).astype("float32") for s in SHAPES] for _ in range(n)]
    return w0, grads


def _run_both(keras, kwargs: dict, learning_rate=0.1, n: int = 4):
    w0, grads = _data(n)
    keras_lr = keras_schedule(keras, learning_rate) if hasattr(learning_rate, "get_config") else learning_rate
    keras_opt = keras.optimizers.Muon(learning_rate=keras_lr, **kwargs)
    keras_vars = [keras.Variable(w, name=name) for w, name in zip(w0, NAMES, strict=True)]
    opt = Muon(learning_rate=learning_rate, **kwargs)
    ours = [Variable(w, name=name, trainable=True) for w, name in zip(w0, NAMES, strict=True)]
    for step in grads:
        keras_opt.apply([torch.tensor(g) for g in step], keras_vars)
        opt.apply([torch.tensor(g) for g in step], ours)
    want = [np.asarray(keras.ops.convert_to_numpy(v)) for v in keras_vars]
    return [p.detach().numpy() for p in ours], want, opt, keras_opt


CASES = [{}, {"nesterov": False}, {"rms_rate": None}, {"momentum": 0.8, "ns_steps": 3},
         {"weight_decay": 0.1, "adam_weight_decay": 0.02, "adam_lr_ratio": 0.5},
         {"weight_decay": None, "adam_weight_decay": None}, {"exclude_embeddings": False},
         {"exclude_layers": ["output.*"]}, {"adam_beta_1": 0.5, "adam_beta_2": 0.9, "epsilon": 1e-4},
         {"clipnorm": 1.0}, {"global_clipnorm": 2.0}, {"muon_a": 3.0, "muon_b": -3.2, "muon_c": 1.2}]


@pytest.mark.parametrize("kwargs", CASES, ids=[str(c) for c in CASES])
def test_muon_matches_keras(keras, kwargs):
    got, want, opt, keras_opt = _run_both(keras, kwargs)
    assert_weights_close(got, want, rtol=1e-6, atol=1e-6)
    assert [tuple(v.shape) for v in opt.variables] == [tuple(v.shape) for v in keras_opt.variables]


def test_muon_follows_a_schedule_like_keras(keras):
    got, want, _, _ = _run_both(keras, {}, learning_rate=ExponentialDecay(0.1, decay_steps=1, decay_rate=0.7))
    assert_weights_close(got, want, rtol=1e-6, atol=1e-6)


def test_which_weights_take_the_muon_step():
    opt = Muon(exclude_layers=["head"])
    assert opt.uses_muon(Variable(np.ones((2, 2)), name="kernel", trainable=True))
    assert not opt.uses_muon(Variable(np.ones((2, 2)), name="token_embedding", trainable=True))
    assert not opt.uses_muon(Variable(np.ones((2, 2)), name="head_kernel", trainable=True))
    assert not opt.uses_muon(torch.zeros(2, 2, 2)) and not opt.uses_muon(torch.zeros(3))
    assert Muon(exclude_embeddings=False).uses_muon(Variable(np.ones((2, 2)), name="embedding", trainable=True))


def test_newton_schulz_orthogonalises():
    x = torch.randn(4, 6, dtype=torch.float64)
    q = newton_schulz(x, 3.4445, -4.775, 2.0315, 10, 1e-7)
    singular = torch.linalg.svdvals(q)
    assert bool(((singular > 0.6) & (singular < 1.25)).all())
    torch.testing.assert_close(newton_schulz(x.T, 3.4445, -4.775, 2.0315, 10, 1e-7), q.T)


def test_muon_config_round_trips_with_keras_keys(keras):
    ours = Muon(exclude_layers=["out"], rms_rate=None)
    assert sorted(ours.get_config()) == sorted(keras.optimizers.Muon().get_config())
    assert Muon.from_config(ours.get_config()).get_config() == ours.get_config()
