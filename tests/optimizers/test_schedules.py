"""lamina.optimizers.schedules against Keras 3's schedules (same values at many steps), closed forms, configs."""

from __future__ import annotations

import json
import math

import pytest
import torch

from lamina import optimizers
from lamina.optimizers import schedules
from lamina.optimizers.schedules import (
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

CASES = [
    ExponentialDecay(0.1, 7, 0.8), ExponentialDecay(0.1, 7, 0.8, staircase=True),
    PiecewiseConstantDecay([5, 12, 30], [1.0, 0.5, 0.1, 0.01]), PiecewiseConstantDecay([10], [0.3, 0.2]),
    PolynomialDecay(0.1, 20, 0.001, power=2.0), PolynomialDecay(0.1, 20, 0.001, power=0.5, cycle=True),
    PolynomialDecay(0.1, 15),
    InverseTimeDecay(0.1, 5, 0.5), InverseTimeDecay(0.1, 5, 0.5, staircase=True),
    CosineDecay(0.1, 30), CosineDecay(0.1, 30, alpha=0.1),
    CosineDecay(0.0, 30, alpha=0.1, warmup_target=0.2, warmup_steps=10),
    CosineDecayRestarts(0.1, 10), CosineDecayRestarts(0.1, 7, t_mul=1.0, m_mul=0.8, alpha=0.05),
    CosineDecayRestarts(0.1, 5, t_mul=1.5, m_mul=0.9, alpha=0.1), CosineDecayRestarts(0.1, 3, t_mul=3.0),
]
STEPS = list(range(0, 80)) + [99, 100, 101, 150, 257, 1000]


@pytest.mark.parametrize("schedule", CASES, ids=repr)
def test_values_equal_keras_at_many_steps(keras, schedule):
    theirs = getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())
    for step in STEPS:
        want = float(keras.ops.convert_to_numpy(theirs(step)))
        got = schedule(step)
        assert isinstance(got, float)
        # Keras computes in float32: allow its rounding (relative, and absolute near the end of a cosine period).
        assert got == pytest.approx(want, rel=1e-5, abs=1e-7 * schedule.get_config()["initial_learning_rate"]
                                    if "initial_learning_rate" in schedule.get_config() else 1e-9), step


@pytest.mark.parametrize("schedule", CASES, ids=repr)
def test_config_has_keras_keys_and_round_trips(keras, schedule):
    theirs = getattr(keras.optimizers.schedules, type(schedule).__name__)(**schedule.get_config())
    assert list(schedule.get_config()) == list(theirs.get_config())
    config = json.loads(json.dumps(schedules.serialize(schedule)))
    again = schedules.deserialize(config)
    assert type(again) is type(schedule) and again.get_config() == schedule.get_config()
    assert [again(s) for s in STEPS] == [schedule(s) for s in STEPS]


def test_keras_defaults_and_names(keras):
    ks = keras.optimizers.schedules
    pairs = [(ExponentialDecay(0.1, 10, 0.5), ks.ExponentialDecay(0.1, 10, 0.5)),
             (PiecewiseConstantDecay([1], [1.0, 0.5]), ks.PiecewiseConstantDecay([1], [1.0, 0.5])),
             (PolynomialDecay(0.1, 10), ks.PolynomialDecay(0.1, 10)),
             (InverseTimeDecay(0.1, 10, 0.5), ks.InverseTimeDecay(0.1, 10, 0.5)),
             (CosineDecay(0.1, 10), ks.CosineDecay(0.1, 10)),
             (CosineDecayRestarts(0.1, 10), ks.CosineDecayRestarts(0.1, 10))]
    for ours, theirs in pairs:
        assert ours.get_config() == theirs.get_config()


# ---------------------------------------------------------------------------------------------- closed forms
def test_exponential_decay_closed_form():
    s = ExponentialDecay(0.2, decay_steps=4, decay_rate=0.1)
    assert s(6) == pytest.approx(0.2 * 0.1 ** 1.5)
    assert ExponentialDecay(0.2, 4, 0.1, staircase=True)(7) == pytest.approx(0.2 * 0.1)


def test_piecewise_constant_closed_form():
    s = PiecewiseConstantDecay([3, 6], [1.0, 2.0, 3.0])
    assert [s(t) for t in range(9)] == [1.0] * 4 + [2.0] * 3 + [3.0] * 2


def test_polynomial_decay_closed_form_with_and_without_cycle():
    s = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.1, power=2.0)
    assert s(5) == pytest.approx(0.9 * 0.25 + 0.1) and s(50) == pytest.approx(0.1)
    c = PolynomialDecay(1.0, decay_steps=10, end_learning_rate=0.1, power=1.0, cycle=True)
    assert c(15) == pytest.approx(0.9 * (1 - 15 / 20) + 0.1)  # second cycle spans 20 steps
    assert c(0) == pytest.approx(1.0) and c(10) == pytest.approx(0.1)


def test_inverse_time_decay_closed_form():
    assert InverseTimeDecay(1.0, 2, 0.5)(3) == pytest.approx(1 / (1 + 0.5 * 1.5))
    assert InverseTimeDecay(1.0, 2, 0.5, staircase=True)(3) == pytest.approx(1 / 1.5)


def test_cosine_decay_closed_form_with_warmup():
    s = CosineDecay(1.0, decay_steps=10, alpha=0.2)
    assert s(3) == pytest.approx(0.8 * 0.5 * (1 + math.cos(math.pi * 0.3)) + 0.2)
    assert s(100) == pytest.approx(0.2)
    w = CosineDecay(0.1, decay_steps=10, warmup_target=1.0, warmup_steps=5)
    assert w(2) == pytest.approx(0.1 + 0.9 * 2 / 5)
    assert w(5) == pytest.approx(1.0) and w(10) == pytest.approx(0.5) and w(99) == pytest.approx(0.0)


def test_cosine_decay_restarts_closed_form():
    s = CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=2.0, m_mul=0.5, alpha=0.0)
    # Periods: [0, 4), [4, 12), [12, 28); each restarts at m_mul ** i.
    assert s(2) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    assert s(4) == pytest.approx(0.5) and s(8) == pytest.approx(0.5 * 0.5)
    assert s(12) == pytest.approx(0.25) and s(20) == pytest.approx(0.25 * 0.5)
    flat = CosineDecayRestarts(1.0, first_decay_steps=4, t_mul=1.0)
    assert flat(5) == pytest.approx(flat(1))


# ---------------------------------------------------------------------------------------------- use and errors
@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
                                  "Lion", "Adafactor"])
def test_every_optimizer_follows_a_schedule(name):
    schedule = PiecewiseConstantDecay([1, 2], [0.3, 0.2, 0.1])
    opt = getattr(optimizers, name)(learning_rate=schedule)
    w = torch.nn.Parameter(torch.ones(2, 2))
    seen = []
    for _ in range(4):
        seen.append(opt.learning_rate)
        opt.apply([torch.ones(2, 2)], [w])
        assert opt.torch_optimizer.param_groups[0]["lr"] == opt.learning_rate  # the groups show the next rate
    assert seen == [0.3, 0.3, 0.2, 0.1]


def test_custom_schedules_subclass_the_base_and_deserialize_through_custom_objects():
    class Halving(LearningRateSchedule):
        def __init__(self, start):
            self.start = start

        def __call__(self, step):
            return self.start / 2 ** step

        def get_config(self):
            return {"start": self.start}

    config = schedules.serialize(Halving(1.0))
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'Halving'"):
        schedules.deserialize(config)
    assert schedules.deserialize(config, custom_objects={"Halving": Halving})(3) == 0.125
    with pytest.raises(NotImplementedError, match="__call__"):
        LearningRateSchedule()(0)


@pytest.mark.parametrize(("make", "match"), [
    (lambda: ExponentialDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: PolynomialDecay(0.1, -1), "decay_steps"),
    (lambda: InverseTimeDecay(0.1, 0, 0.5), "decay_steps"),
    (lambda: CosineDecay(0.1, 0), "decay_steps"),
    (lambda: CosineDecay(0.1, 10, warmup_steps=-1), "warmup_steps"),
    (lambda: CosineDecayRestarts(0.1, 0), "first_decay_steps"),
    (lambda: PiecewiseConstantDecay([1, 2], [0.1, 0.2]), "one element fewer"),
    (lambda: PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3]), "increasing"),
])
def test_bad_arguments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_serialize_and_deserialize_reject_other_things():
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        schedules.serialize(lambda step: 0.1)
    with pytest.raises(ValueError, match="class_name"):
        schedules.deserialize({"config": {}})
    with pytest.raises(ValueError, match="Unknown"):
        schedules.deserialize({"class_name": "subprocess.Popen", "config": {}})
    assert isinstance(schedules.get({"class_name": "CosineDecay", "config": {"initial_learning_rate": 1.0,
                                                                              "decay_steps": 2}}), CosineDecay)
