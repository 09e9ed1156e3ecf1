"""``Distiller``: a model that trains a student from a frozen teacher, as Keras 3's ``keras.distillation``.

The distiller's output is the student's. Its loss, for a batch ``(x, y)``, is

    student_loss_weight * mean(loss(y, student(x)))
        + (1 - student_loss_weight) * sum_i(distillation_loss_weights[i] * distillation_losses[i])

where ``loss`` is the one given to ``compile`` (no sample weights, no regularization penalties, as in Keras) and
the teacher runs in inference mode without gradients. ``fit``/``evaluate`` log ``student_loss``,
``distillation_loss`` (the weighted sum) and ``total_loss`` besides ``loss`` and the compiled metrics (computed
on the student's outputs).

>>> import numpy as np, lamina as keras
>>> def mlp(units, name):
...     inputs = keras.Input((4,))
...     hidden = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
...     return keras.Model(inputs, keras.layers.Dense(3, name="logits")(hidden), name=name)
>>> distiller = keras.distillation.Distiller(
...     teacher=mlp(16, "teacher"), student=mlp(4, "student"),
...     distillation_losses=keras.distillation.LogitsDistillation(temperature=3.0))
>>> distiller.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
>>> history = distiller.fit(np.zeros((8, 4)), np.zeros(8), epochs=1, verbose=0)
>>> sorted(history.history)
['distillation_loss', 'loss', 'student_loss', 'total_loss']
"""

from __future__ import annotations

from typing import Any

import torch

from lamina import metrics as metrics_module
from lamina.core import serialization
from lamina.core.serialization import deserialize_layer, serialize_layer
from lamina.distillation import structures
from lamina.distillation.features import FeatureExtractor, check_models, symbolic_outputs
from lamina.distillation.losses import DistillationLoss
from lamina.models.model import Model


class Distiller(Model):
    """Knowledge distillation: train ``student`` on the labels and on what the frozen ``teacher`` outputs.

    Args:
        teacher: a trained model, frozen here (``teacher.trainable = False``).
        student: the model to train; ``distiller.student`` is it, trained, afterwards.
        distillation_losses: a ``DistillationLoss`` (``LogitsDistillation``, ``FeatureDistillation``, a subclass)
            or a list of them.
        distillation_loss_weights: one weight per distillation loss (default: 1.0 each).
        student_loss_weight: the weight of the student's supervised loss, in [0, 1] (default 0.5); the
            distillation losses get ``1 - student_loss_weight``.
        name: the model's name (default ``"distiller"``); other keyword arguments go to ``Model``.

    Models whose inputs, outputs or named features cannot match are refused here, before any training.

    >>> import lamina as keras
    >>> distiller = keras.distillation.Distiller(
    ...     teacher, student, [keras.distillation.LogitsDistillation(temperature=3.0),
    ...                        keras.distillation.FeatureDistillation(teacher_layer_name="hidden",
    ...                                                               student_layer_name="hidden")],
    ...     distillation_loss_weights=[1.0, 0.5])  # doctest: +SKIP
    """

    def __init__(self, teacher: Model, student: Model, distillation_losses: Any,
                 distillation_loss_weights: list[float] | None = None, student_loss_weight: float = 0.5,
                 name: str = "distiller", **kwargs: Any):
        for role, model in (("Teacher", teacher), ("Student", student)):
            if not isinstance(model, Model):
                raise ValueError(f"{role} must be a lamina Model (keras.Model), got {type(model)}.")
        if isinstance(student_loss_weight, bool) or not isinstance(student_loss_weight, (int, float)) \
                or not 0.0 <= student_loss_weight <= 1.0:
            raise ValueError(f"student_loss_weight must be between 0.0 and 1.0, got {student_loss_weight!r}.")
        losses = _as_loss_list(distillation_losses)
        if distillation_loss_weights is None:
            weights = [1.0] * len(losses)
        else:
            weights = list(distillation_loss_weights)
            if len(weights) != len(losses):
                raise ValueError(f"Number of distillation_loss_weights ({len(weights)}) must match number of "
                                 f"distillation_losses ({len(losses)}).")
        super().__init__(name=name, **kwargs)
        self.teacher = teacher
        self.student = student
        self.student_loss_weight = student_loss_weight
        self.distillation_losses = losses
        self.distillation_loss_weights = weights
        self.__dict__["_student_loss"] = None
        check_models(teacher, student)
        for loss in losses:
            loss.validate_model_compatibility(teacher, student)
        # the extractors are kept out of the sub-modules (their layers are the teacher's and the student's)
        self.__dict__["_teacher_extractor"] = self._extractor(teacher, "teacher_layer_name")
        self.__dict__["_student_extractor"] = self._extractor(student, "student_layer_name")
        self._check_features()
        teacher.trainable = False  # (only once the models are accepted)
        self.student_loss_tracker = metrics_module.Mean(name="student_loss")
        self.distillation_loss_tracker = metrics_module.Mean(name="distillation_loss")
        self.total_loss_tracker = metrics_module.Mean(name="total_loss")

    # ------------------------------------------------------------------ features
    def _extractor(self, model: Model, attribute: str) -> FeatureExtractor | None:
        names = [getattr(loss, attribute, None) for loss in self.distillation_losses]
        names = [n for n in names if n is not None]
        return FeatureExtractor(model, names) if names else None

    def _check_features(self) -> None:
        """Give each loss the symbolic features it will compare (``validate_outputs``), where both are known."""
        t_final, s_final = symbolic_outputs(self.teacher), symbolic_outputs(self.student)
        for loss in self.distillation_losses:
            t_name = getattr(loss, "teacher_layer_name", None)
            s_name = getattr(loss, "student_layer_name", None)
            t = self._teacher_extractor.symbolic_feature(t_name) if t_name is not None else t_final
            s = self._student_extractor.symbolic_feature(s_name) if s_name is not None else s_final
            if t is not None and s is not None:
                loss.validate_outputs(t, s)

    def _teacher_outputs(self, x: Any) -> tuple[Any, dict[str, Any]]:
        with torch.no_grad():
            if self._teacher_extractor is not None:
                return self._teacher_extractor(x, training=False)
            return self.teacher(x, training=False), {}

    def _student_features(self, x: Any, training: bool) -> dict[str, Any]:
        if self._student_extractor is None:
            return {}
        return self._student_extractor(x, training=training)[1]

    # ------------------------------------------------------------------ compile, call, loss
    def compile(self, optimizer: Any = "adam", loss: Any = None, metrics: Any = None, **kwargs: Any) -> None:
        """Configure training: ``optimizer`` trains the student, ``loss`` is the student's supervised loss
        (required: a name, a Loss, a callable, or one per output), ``metrics`` are computed on the student's
        outputs; other arguments go to ``Model.compile`` (which records no compiled loss, as Keras's does).

        >>> distiller.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # doctest: +SKIP
        """
        if loss is None:
            raise ValueError("'loss' cannot be `None`: give the student's supervised loss, e.g. "
                             "distiller.compile(optimizer='adam', loss='sparse_categorical_crossentropy').")
        resolved = structures.prepare(structures.resolve_structure(loss))
        super().compile(optimizer=optimizer, loss=None, metrics=metrics, **kwargs)
        self.__dict__["_student_loss"] = resolved

    def call(self, inputs: Any, training: bool | None = None, **kwargs: Any) -> Any:
        """The student's outputs."""
        return self.student(inputs, training=training, **kwargs)

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> torch.Tensor:
        """The weighted sum of the student's loss (``compile``'s, on ``y``; 0 without targets) and the
        distillation losses (a part whose weight is 0 is skipped and logged as 0); updates the ``student_loss``,
        ``distillation_loss`` and ``total_loss`` metrics. ``sample_weight`` is not used (as in Keras)."""
        if self._student_loss is None:
            raise RuntimeError("You must call compile() before training the distiller: e.g. "
                               "distiller.compile(optimizer='adam', loss='sparse_categorical_crossentropy').")
        if y_pred is None:
            y_pred = self.student(x, training=training)
        w = self.student_loss_weight
        if y is None or w <= 0.0:  # (a part whose weight is 0 is neither computed nor logged, as in Keras)
            student_loss = torch.zeros((), device=_device_of(y_pred))
        else:
            student_loss = structures.apply_losses(self._student_loss, y, y_pred, where="The student's loss")
        distillation = torch.zeros((), device=student_loss.device)
        if self.distillation_losses and w < 1.0:
            t_final, t_features = self._teacher_outputs(x)
            s_features = self._student_features(x, training)
            for loss, weight in zip(self.distillation_losses, self.distillation_loss_weights, strict=True):
                t_name = getattr(loss, "teacher_layer_name", None)
                s_name = getattr(loss, "student_layer_name", None)
                t = t_features[t_name] if t_name is not None else t_final
                s = s_features[s_name] if s_name is not None else y_pred
                distillation = distillation + weight * loss.compute_loss(t, s)
        total = w * student_loss + (1.0 - w) * distillation
        self.student_loss_tracker.update_state(student_loss)
        self.distillation_loss_tracker.update_state(distillation)
        self.total_loss_tracker.update_state(total)
        return total

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        """The teacher, student, losses and weights, in Keras 3's layout (``from_config`` rebuilds it)."""
        config = super().get_config()
        config["dtype"] = self._dtype_policy.name
        config.update({
            "teacher": serialize_layer(self.teacher),
            "student": serialize_layer(self.student),
            "distillation_losses": [serialization.serialize(loss) for loss in self.distillation_losses],
            "distillation_loss_weights": list(self.distillation_loss_weights),
            "student_loss_weight": self.student_loss_weight,
        })
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Distiller:
        """A distiller (new weights) from ``get_config``'s output or Keras 3's, through lamina's registry only."""
        config = dict(config)
        with serialization.custom_object_scope(custom_objects):
            teacher = deserialize_layer(config.pop("teacher"))
            student = deserialize_layer(config.pop("student"))
            losses = config.pop("distillation_losses")
            losses = [serialization.deserialize(c, kind="distillation") if isinstance(c, dict) else c
                      for c in (losses if isinstance(losses, list) else [losses])]
        config.pop("trainable", None)
        dtype = config.pop("dtype", None)
        kwargs = {k: config[k] for k in ("distillation_loss_weights", "student_loss_weight", "name") if k in config}
        if isinstance(dtype, str):
            kwargs["dtype"] = dtype
        return cls(teacher, student, losses, **kwargs)


def _as_loss_list(distillation_losses: Any) -> list[DistillationLoss]:
    if distillation_losses is None:
        raise ValueError("'distillation_losses' cannot be `None`. Provide a distillation loss (e.g. "
                         "LogitsDistillation or FeatureDistillation) or a list of distillation losses.")
    losses = list(distillation_losses) if isinstance(distillation_losses, (list, tuple)) else [distillation_losses]
    for loss in losses:
        if not isinstance(loss, DistillationLoss):
            raise ValueError(
                f"distillation_losses must be DistillationLoss instances (LogitsDistillation, FeatureDistillation or "
                f"a subclass); got {loss!r}. To compare outputs with a plain loss, wrap it: "
                "LogitsDistillation(loss=...) or FeatureDistillation(loss=...).")
    return losses


def _device_of(x: Any) -> torch.device | None:
    for leaf in (x if isinstance(x, (list, tuple)) else list(x.values()) if isinstance(x, dict) else [x]):
        if isinstance(leaf, torch.Tensor):
            return leaf.device
    return None
