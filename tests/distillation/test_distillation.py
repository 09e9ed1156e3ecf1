"""lamina.distillation against Keras 3.15's keras.distillation: the same code, the same numbers.

The parity tests build the same teacher and student in Keras and in lamina from the same weights, train the
distiller for a few SGD steps, and compare the logged losses, the evaluation and the student's weights. The
other tests check what Keras does not compute here (multi-output models), the configs, and the errors, which
lamina raises when the distiller is made, before any training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import lamina
import lamina.distillation  # noqa: F401  (lamina.distillation as an attribute of lamina)
from lamina.core import serialization
from lamina.core.serialization import deserialize_layer, serialize_layer

ATOL = 1e-5


def mlp(k, units=6, name="model", outputs=3, inputs=4, hidden="hidden", activation="tanh", out_activation=None):
    x = k.Input((inputs,))
    h = k.layers.Dense(units, activation=activation, name=hidden)(x)
    return k.Model(x, k.layers.Dense(outputs, activation=out_activation, name="logits")(h), name=name)


def data(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 4)).astype("float32"), np.arange(n) % 3


# ---------------------------------------------------------------------------------------------- parity with Keras
CASES = {
    "logits_default": lambda k: dict(distillation_losses=k.distillation.LogitsDistillation()),
    "logits_kl_instance": lambda k: dict(
        distillation_losses=k.distillation.LogitsDistillation(temperature=2.0, loss=k.losses.KLDivergence())),
    "logits_cce_instance": lambda k: dict(distillation_losses=k.distillation.LogitsDistillation(
        temperature=4.0, loss=k.losses.CategoricalCrossentropy(from_logits=True))),
    "logits_and_features": lambda k: dict(
        distillation_losses=[k.distillation.LogitsDistillation(temperature=2.0, loss="mse"),
                             k.distillation.FeatureDistillation(teacher_layer_name="hidden",
                                                                student_layer_name="hidden")],
        distillation_loss_weights=[1.0, 0.5], student_loss_weight=0.3),
    "features_final_only": lambda k: dict(
        distillation_losses=k.distillation.FeatureDistillation(loss=k.losses.MeanAbsoluteError()),
        student_loss_weight=0.0),
    "student_loss_only": lambda k: dict(distillation_losses=[k.distillation.LogitsDistillation()],
                                        student_loss_weight=1),
    # probabilities out, losses by name (Keras's functions): the student's loss and the distillation loss
    "softmax_losses_by_name": lambda k: dict(
        distillation_losses=k.distillation.LogitsDistillation(loss="categorical_crossentropy"),
        _student_loss="sparse_categorical_crossentropy", _out_activation="softmax"),
}


def train(k, case, weights=None):
    kwargs = CASES[case](k)
    activation = kwargs.pop("_out_activation", None)
    student_loss = kwargs.pop("_student_loss", k.losses.SparseCategoricalCrossentropy(from_logits=True))
    teacher = mlp(k, 6, "teacher", out_activation=activation)
    student = mlp(k, 6, "student", out_activation=activation)
    if weights is not None:
        teacher.set_weights(weights[0])
        student.set_weights(weights[1])
    distiller = k.distillation.Distiller(teacher, student, **kwargs)
    distiller.compile(optimizer=k.optimizers.SGD(0.1), loss=student_loss)
    x, y = data()
    history = distiller.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    evaluation = distiller.evaluate(x, y, verbose=0, return_dict=True)
    listed = distiller.evaluate(x, y, verbose=0)
    prediction = distiller.predict(x, verbose=0)
    return dict(history=history, evaluation=evaluation, listed=listed, prediction=prediction,
                student=student.get_weights(), teacher=teacher.get_weights(), initial=weights)


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_losses_and_weights_as_keras(keras, case):
    keras.utils.set_random_seed(0)
    ref_teacher, ref_student = mlp(keras, 6, "teacher"), mlp(keras, 6, "student")
    initial = (ref_teacher.get_weights(), ref_student.get_weights())
    keras.backend.clear_session()
    ref = train(keras, case, initial)
    out = train(lamina, case, initial)
    assert set(out["history"]) == set(ref["history"]) == {"loss", "student_loss", "distillation_loss",
                                                           "total_loss"}
    for key, values in ref["history"].items():
        np.testing.assert_allclose(out["history"][key], values, atol=ATOL, err_msg=key)
    assert set(out["evaluation"]) == set(ref["evaluation"])
    for key, value in ref["evaluation"].items():
        assert out["evaluation"][key] == pytest.approx(value, abs=ATOL), key
    np.testing.assert_allclose(out["listed"], ref["listed"], atol=ATOL)  # Keras's order of evaluate's list
    np.testing.assert_allclose(out["prediction"], ref["prediction"], atol=ATOL)
    for mine, theirs in zip(out["student"], ref["student"], strict=True):
        np.testing.assert_allclose(mine, theirs, atol=ATOL)
    for mine, before in zip(out["teacher"], initial[0], strict=True):  # the teacher is frozen
        np.testing.assert_array_equal(mine, before)
    assert any(not np.allclose(a, b) for a, b in zip(out["student"], initial[1], strict=True))


def test_metrics_names_and_compiled_metrics_match_keras(keras):
    results = {}
    for k in (keras, lamina):
        distiller = k.distillation.Distiller(mlp(k, 6, "teacher"), mlp(k, 6, "student"),
                                             k.distillation.LogitsDistillation())
        distiller.compile(optimizer="sgd", loss=k.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
        x, y = data()
        history = distiller.fit(x, y, epochs=1, verbose=0).history
        results[k] = (distiller.metrics_names, sorted(history), distiller.get_compile_config()["loss"])
    assert results[lamina] == results[keras]


@pytest.mark.parametrize("loss_name", ["kl_divergence", "categorical_crossentropy", "mse", "KLDivergence"])
@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_logits_distillation_values_match_keras(keras, loss_name, temperature):
    rng = np.random.default_rng(1)
    teacher = rng.normal(size=(4, 3, 5)).astype("float32")
    student = rng.normal(size=(4, 3, 5)).astype("float32")
    ref = keras.distillation.LogitsDistillation(temperature=temperature, loss=loss_name)
    mine = lamina.distillation.LogitsDistillation(temperature=temperature, loss=loss_name)
    expected = float(ref.compute_loss(keras.ops.convert_to_tensor(teacher), keras.ops.convert_to_tensor(student)))
    got = float(mine.compute_loss(torch.tensor(teacher), torch.tensor(student)))
    assert got == pytest.approx(expected, abs=ATOL)


def test_kl_divergence_instance_is_hinton_form():
    # A KLDivergence instance compares the softened probabilities, scaled by T**2 (no Keras needed here)
    teacher, student, t = torch.randn(5, 4), torch.randn(5, 4), 2.5
    loss = lamina.distillation.LogitsDistillation(temperature=t, loss=lamina.losses.KLDivergence())
    p, q = torch.softmax(teacher / t, -1), torch.softmax(student / t, -1)
    expected = (p * (p / q).log()).sum(-1).mean() * t * t
    assert float(loss.compute_loss(teacher, student)) == pytest.approx(float(expected), rel=1e-5)
    # a function name: the loss of the softened logits themselves, as Keras 3.15 computes it
    mse = lamina.distillation.LogitsDistillation(temperature=t, loss="mse")
    assert float(mse.compute_loss(teacher, student)) == pytest.approx(float(((teacher - student) / t).pow(2).mean()))


# ---------------------------------------------------------------------------------------------- behaviour
def test_student_trains_teacher_frozen_and_in_inference_mode():
    x = lamina.Input((4,))
    teacher = lamina.Model(x, lamina.layers.Dense(3)(lamina.layers.Dropout(0.9, seed=1)(x)), name="teacher")
    student = mlp(lamina, 6, "student")
    before = [w.copy() for w in teacher.get_weights()]
    distiller = lamina.distillation.Distiller(teacher, student, lamina.distillation.LogitsDistillation(),
                                              student_loss_weight=0.0)
    assert teacher.trainable is False and student.trainable is True
    assert len(distiller.trainable_weights) == len(student.trainable_weights)
    assert [layer.name for layer in distiller.layers] == ["teacher", "student"]
    distiller.compile(optimizer=lamina.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    xs, ys = data()
    history = distiller.fit(xs, ys, batch_size=8, epochs=3, verbose=0).history
    # lr 0: the student does not move, and a teacher run in training mode (dropout) would change the loss
    assert max(history["distillation_loss"]) - min(history["distillation_loss"]) < 1e-6
    for after, b in zip(teacher.get_weights(), before, strict=True):
        np.testing.assert_array_equal(after, b)
    np.testing.assert_allclose(distiller.predict(xs, verbose=0), student.predict(xs, verbose=0))


def test_fit_without_targets_trains_on_the_teacher_alone():
    distiller = lamina.distillation.Distiller(mlp(lamina, 6, "teacher"), mlp(lamina, 6, "student"),
                                              lamina.distillation.LogitsDistillation())
    distiller.compile(optimizer="sgd", loss="mse")
    history = distiller.fit(data()[0], epochs=1, verbose=0).history
    assert history["student_loss"] == [0.0]
    assert history["loss"][0] == pytest.approx(0.5 * history["distillation_loss"][0], rel=1e-6)


def test_multi_output_models_and_skipped_outputs():
    def two_heads(name):
        x = lamina.Input((4,))
        h = lamina.layers.Dense(5, name="hidden")(x)
        return lamina.Model(x, [lamina.layers.Dense(3, name="a")(h), lamina.layers.Dense(2, name="b")(h)],
                            name=name)

    teacher, student = two_heads("teacher"), two_heads("student")
    distiller = lamina.distillation.Distiller(
        teacher, student, lamina.distillation.LogitsDistillation(temperature=2.0, loss=["mse", None]),
        student_loss_weight=0.25)
    distiller.compile(optimizer=lamina.optimizers.SGD(0.0), loss=["mse", "mae"])
    xs = data()[0]
    ys = [np.ones((8, 3), "float32"), np.zeros((8, 2), "float32")]
    result = distiller.evaluate(xs, ys, batch_size=8, verbose=0, return_dict=True)
    t, s = teacher.predict(xs, verbose=0), student.predict(xs, verbose=0)
    distill = np.mean((t[0] / 2 - s[0] / 2) ** 2)
    supervised = np.mean((s[0] - 1) ** 2) + np.mean(np.abs(s[1]))
    assert result["distillation_loss"] == pytest.approx(distill, rel=1e-5)
    assert result["student_loss"] == pytest.approx(supervised, rel=1e-5)
    assert result["loss"] == pytest.approx(0.25 * supervised + 0.75 * distill, rel=1e-5)


def test_sequential_models_and_a_custom_distillation_loss():
    class L1(lamina.distillation.DistillationLoss):
        def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
            return lamina.ops.mean(lamina.ops.abs(teacher_outputs - student_outputs))

    def seq(name):
        return lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(5, name="hidden"),
                                  lamina.layers.Dense(3, name="logits")], name=name)

    teacher, student = seq("teacher"), seq("student")
    distiller = lamina.distillation.Distiller(
        teacher, student, [L1(), lamina.distillation.FeatureDistillation(teacher_layer_name="hidden",
                                                                         student_layer_name="hidden")])
    distiller.compile(optimizer=lamina.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    xs, ys = data()
    result = distiller.evaluate(xs, ys, batch_size=8, verbose=0, return_dict=True)
    t, s = teacher.predict(xs, verbose=0), student.predict(xs, verbose=0)
    th = teacher.get_layer("hidden")(torch.tensor(xs)).detach().numpy()
    sh = student.get_layer("hidden")(torch.tensor(xs)).detach().numpy()
    expected = np.mean(np.abs(t - s)) + np.mean((th - sh) ** 2)
    assert result["distillation_loss"] == pytest.approx(expected, rel=1e-5)


# ---------------------------------------------------------------------------------------------- configs
def test_distillation_loss_configs_round_trip_and_match_keras(keras):
    pairs = [(lambda k: k.distillation.LogitsDistillation(), {"temperature", "loss"}),
             (lambda k: k.distillation.LogitsDistillation(temperature=5, loss=k.losses.KLDivergence()), None),
             (lambda k: k.distillation.LogitsDistillation(loss=["mse", None]), None),
             (lambda k: k.distillation.FeatureDistillation(), {"loss", "teacher_layer_name", "student_layer_name"}),
             (lambda k: k.distillation.FeatureDistillation(loss="mae", teacher_layer_name="a",
                                                           student_layer_name="b"), None)]
    for make, keys in pairs:
        ref, mine = make(keras), make(lamina)
        ref_config, config = ref.get_config(), mine.get_config()
        assert set(config) == set(ref_config)
        if keys is not None:
            assert set(config) == keys
        rebuilt = type(mine).from_config(json.loads(json.dumps(config)))
        assert rebuilt.get_config() == config
        # Keras's serialized loss objects load in lamina (class names, and functions by name)
        from_keras = serialization.deserialize(json.loads(json.dumps(keras.saving.serialize_keras_object(ref))),
                                               kind="distillation")
        assert type(from_keras) is type(mine)
        assert json.dumps(from_keras.get_config()) == json.dumps(config)
    assert lamina.distillation.LogitsDistillation().get_config()["temperature"] == 3.0
    assert lamina.distillation.FeatureDistillation().get_config()["loss"]["config"] == "mean_squared_error"


def test_distiller_config_round_trip(keras):
    kwargs = dict(distillation_loss_weights=[0.7, 0.3], student_loss_weight=0.2, name="dd")

    def make(k):
        return k.distillation.Distiller(
            mlp(k, 6, "teacher"), mlp(k, 6, "student"),
            [k.distillation.LogitsDistillation(temperature=4.0, loss=k.losses.KLDivergence()),
             k.distillation.FeatureDistillation(loss="mae", teacher_layer_name="hidden",
                                                student_layer_name="hidden")], **kwargs)

    distiller = make(lamina)
    config = json.loads(json.dumps(distiller.get_config()))
    assert set(config) == set(make(keras).get_config())
    rebuilt = lamina.distillation.Distiller.from_config(config)
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    assert rebuilt.teacher.trainable is False and rebuilt.name == "dd"
    assert [type(loss).__name__ for loss in rebuilt.distillation_losses] == ["LogitsDistillation",
                                                                            "FeatureDistillation"]
    assert rebuilt.distillation_loss_weights == [0.7, 0.3] and rebuilt.student_loss_weight == 0.2
    again = deserialize_layer(json.loads(json.dumps(serialize_layer(distiller))))  # through the registry
    assert type(again) is lamina.distillation.Distiller


# ---------------------------------------------------------------------------------------------- errors
def _distiller(teacher=None, student=None, losses=None, **kwargs):
    teacher = teacher if teacher is not None else mlp(lamina, 6, "teacher")
    student = student if student is not None else mlp(lamina, 6, "student")
    losses = losses if losses is not None else lamina.distillation.LogitsDistillation()
    return lamina.distillation.Distiller(teacher, student, losses, **kwargs)


FD = lamina.distillation.FeatureDistillation


@pytest.mark.parametrize("make, message", [
    (lambda: _distiller(student=mlp(lamina, 6, "s", outputs=4)), "output shapes are incompatible"),
    (lambda: _distiller(student=mlp(lamina, 6, "s", inputs=5)), "input shapes are incompatible"),
    (lambda: _distiller(losses=FD(teacher_layer_name="nope", student_layer_name="hidden")),
     "teacher model 'teacher' has no layer named 'nope'"),
    (lambda: _distiller(losses=FD(teacher_layer_name="hidden", student_layer_name="nope")),
     "student model 'student' has no layer named 'nope'"),
    (lambda: _distiller(student=mlp(lamina, 5, "s"), losses=FD(teacher_layer_name="hidden",
                                                               student_layer_name="hidden")),
     r"features have incompatible shapes: teacher \(None, 6\), student \(None, 5\)"),
    (lambda: _distiller(losses=FD(teacher_layer_name="hidden")), "features have incompatible shapes"),
    (lambda: _distiller(losses=lamina.distillation.LogitsDistillation(loss=["mse", "mse"])), "2 losses"),
    (lambda: _distiller(losses=[lamina.distillation.LogitsDistillation()] * 2, distillation_loss_weights=[1.0]),
     r"distillation_loss_weights \(1\) must match"),
    (lambda: _distiller(student_loss_weight=1.5), "between 0.0 and 1.0"),
    (lambda: _distiller(losses=[lamina.losses.MeanSquaredError()]), "DistillationLoss instances"),
    (lambda: lamina.distillation.Distiller(mlp(lamina, 6, "t"), mlp(lamina, 6, "s"), None), "cannot be `None`"),
    (lambda: _distiller(teacher=lamina.layers.Dense(3)), "Teacher must be a lamina Model"),
    (lambda: lamina.distillation.LogitsDistillation(temperature=0), "temperature must be positive"),
    (lambda: lamina.distillation.LogitsDistillation(loss=[None, None]), "at least one loss must be non-None"),
    (lambda: FD(loss="no_such_loss"), "Could not interpret loss identifier"),
])
def test_clear_errors_before_training(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_layer_names_need_a_graph_and_compile_needs_a_loss():
    class Sub(lamina.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = lamina.layers.Dense(6, name="hidden")
            self.out = lamina.layers.Dense(3)

        def call(self, x):
            return self.out(self.hidden(x))

    with pytest.raises(ValueError, match="functional or Sequential"):
        _distiller(student=Sub(), losses=FD(teacher_layer_name="hidden", student_layer_name="hidden"))
    _distiller(student=Sub())  # final outputs only: a subclassed student is fine
    distiller = _distiller()
    with pytest.raises(ValueError, match="'loss' cannot be `None`"):
        distiller.compile(optimizer="sgd")


@pytest.mark.parametrize("loss_name", ["mse", "kl_divergence"])
def test_one_loss_for_several_outputs_matches_keras(keras, loss_name):
    # Keras stacks outputs of one shape into one tensor: the mean of the per-output values
    rng = np.random.default_rng(2)
    teacher = [rng.normal(size=(4, 5)).astype("float32") for _ in range(2)]
    student = [rng.normal(size=(4, 5)).astype("float32") for _ in range(2)]
    expected = float(keras.distillation.LogitsDistillation(temperature=2.0, loss=loss_name).compute_loss(
        teacher, student))
    got = float(lamina.distillation.LogitsDistillation(temperature=2.0, loss=loss_name).compute_loss(
        [torch.tensor(a) for a in teacher], [torch.tensor(a) for a in student]))
    assert got == pytest.approx(expected, abs=ATOL)
