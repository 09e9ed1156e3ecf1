"""The distillation losses: ``DistillationLoss`` (the base class), ``LogitsDistillation`` (the final outputs,
softened by a temperature) and ``FeatureDistillation`` (the outputs of named intermediate layers), with Keras 3's
arguments, defaults, configs and values.

>>> import torch
>>> loss = LogitsDistillation(temperature=2.0, loss="mse")
>>> float(loss.compute_loss(torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 0.0]])))
0.5
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.distillation import structures


def _check_not_all_none(loss: Any, owner: str) -> None:
    if all(leaf is None for leaf in structures.leaves(loss)):
        raise ValueError(f"{owner}(loss=...): at least one loss must be non-None (None skips an output; here every "
                         f"output would be skipped). Received loss={loss!r}.")


class DistillationLoss:
    """Base class of distillation losses: how the teacher's outputs teach the student's.

    Subclass it and implement ``compute_loss(teacher_outputs, student_outputs, **kwargs)`` (a scalar tensor);
    ``validate_model_compatibility`` and ``validate_outputs`` may refuse models or outputs before training starts.
    A subclass with ``teacher_layer_name``/``student_layer_name`` attributes is given those layers' outputs, as
    ``FeatureDistillation`` is.

    >>> import lamina as keras
    >>> class L1Distillation(keras.distillation.DistillationLoss):
    ...     def compute_loss(self, teacher_outputs, student_outputs, **kwargs):
    ...         return keras.ops.mean(keras.ops.abs(teacher_outputs - student_outputs))
    """

    def compute_loss(self, teacher_outputs: Any, student_outputs: Any, **kwargs: Any) -> torch.Tensor:
        """The distillation loss between ``teacher_outputs`` and ``student_outputs`` (tensors, or lists/dicts
        of tensors for models with several outputs), as a scalar tensor."""
        raise NotImplementedError(f"{type(self).__name__} must implement compute_loss(teacher_outputs, "
                                  "student_outputs, **kwargs).")

    def validate_outputs(self, teacher_outputs: Any, student_outputs: Any) -> None:
        """Raise ``ValueError`` if the outputs (tensors or symbolic tensors) cannot be compared (here: never)."""

    def validate_model_compatibility(self, teacher: Any, student: Any) -> None:
        """Raise ``ValueError`` if this loss cannot distill ``teacher`` into ``student`` (here: never)."""


class LogitsDistillation(DistillationLoss):
    """Distillation of the final outputs, both divided by ``temperature`` before ``loss`` compares them.

    As in Keras 3: ``loss`` (a name, a Loss, a callable, or one per output with ``None`` to skip an output;
    default ``"kl_divergence"``) is applied to ``(teacher_outputs / T, student_outputs / T)`` and averaged, and
    the values of several outputs are summed. A ``KLDivergence`` *instance* is given the softmax probabilities of
    the softened outputs instead, and its value is scaled by ``T ** 2`` (Hinton et al.'s form).

    >>> import lamina as keras
    >>> distillation_loss = keras.distillation.LogitsDistillation(
    ...     temperature=4.0, loss=keras.losses.KLDivergence())
    >>> distillation_loss.get_config()["temperature"]
    4.0
    """

    def __init__(self, temperature: float = 3.0, loss: Any = "kl_divergence"):
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
            raise ValueError(f"LogitsDistillation: temperature must be positive; received {temperature!r}.")
        self.temperature = temperature
        self.loss = structures.resolve_structure(loss)
        _check_not_all_none(self.loss, "LogitsDistillation")
        self._prepared = structures.prepare(self.loss)

    def _soften(self, loss: Any, teacher: torch.Tensor, student: torch.Tensor) -> torch.Tensor:
        t = self.temperature
        teacher, student = torch.as_tensor(teacher), torch.as_tensor(student)
        if structures.is_kl_divergence(loss):
            probs_t = torch.softmax(teacher / t, dim=-1)
            probs_s = torch.softmax(student / t, dim=-1)
            return torch.mean(loss(probs_t, probs_s)) * (t * t)
        return loss(teacher / t, student / t)

    def compute_loss(self, teacher_outputs: Any, student_outputs: Any, **kwargs: Any) -> torch.Tensor:
        """``mean(loss(teacher / T, student / T))``, summed over the outputs the loss structure names."""
        return structures.apply_losses(self._prepared, teacher_outputs, student_outputs, transform=self._soften,
                                       where="LogitsDistillation")

    def validate_outputs(self, teacher_outputs: Any, student_outputs: Any) -> None:
        """The outputs must match the loss structure, and each pair must have compatible shapes."""
        for _, t, s, path in structures.pairs(self.loss, teacher_outputs, student_outputs, "LogitsDistillation"):
            _check_shapes(t, s, f"{path}: the teacher's and student's outputs")

    def get_config(self) -> dict[str, Any]:
        """``{"temperature", "loss"}``, as Keras 3 writes it."""
        return {"temperature": self.temperature, "loss": structures.serialize_structure(self.loss)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LogitsDistillation:
        config = dict(config)
        if "loss" in config:
            config["loss"] = structures.deserialize_structure(config["loss"])
        return cls(**config)


class FeatureDistillation(DistillationLoss):
    """Distillation of intermediate features: ``loss`` between the output of the teacher's layer
    ``teacher_layer_name`` and the student's layer ``student_layer_name`` (each ``None``: the model's final
    outputs). Layer names need functional or Sequential models; the two features must have the same shape.

    >>> import lamina as keras
    >>> distillation_loss = keras.distillation.FeatureDistillation(
    ...     loss="mse", teacher_layer_name="dense_1", student_layer_name="dense_1")
    >>> sorted(distillation_loss.get_config())
    ['loss', 'student_layer_name', 'teacher_layer_name']
    """

    def __init__(self, loss: Any = "mse", teacher_layer_name: str | None = None,
                 student_layer_name: str | None = None):
        for arg, value in (("teacher_layer_name", teacher_layer_name), ("student_layer_name", student_layer_name)):
            if value is not None and not isinstance(value, str):
                raise ValueError(f"FeatureDistillation: {arg} must be a layer name or None; received {value!r}.")
        self.teacher_layer_name = teacher_layer_name
        self.student_layer_name = student_layer_name
        self.loss = structures.resolve_structure(loss)
        _check_not_all_none(self.loss, "FeatureDistillation")
        self._prepared = structures.prepare(self.loss)

    def compute_loss(self, teacher_outputs: Any, student_outputs: Any, **kwargs: Any) -> torch.Tensor:
        """``mean(loss(teacher_features, student_features))``, summed over the features the loss names."""
        return structures.apply_losses(self._prepared, teacher_outputs, student_outputs, where="FeatureDistillation")

    def validate_model_compatibility(self, teacher: Any, student: Any) -> None:
        """Named layers must exist, in models with a graph (functional or Sequential with an ``Input``)."""
        for role, model, name in (("teacher", teacher, self.teacher_layer_name),
                                  ("student", student, self.student_layer_name)):
            if name is None:
                continue
            if not getattr(model, "inputs", None):
                raise ValueError(
                    f"FeatureDistillation({role}_layer_name={name!r}) needs the {role} model "
                    f"'{getattr(model, 'name', model)}' to be functional or Sequential with an Input (a graph whose "
                    "layer outputs can be read); it is subclassed or not built. Use FeatureDistillation without "
                    "layer names (the final outputs), or LogitsDistillation.")
            names = [getattr(layer, "name", None) for layer in model.layers]
            if name not in names:
                raise ValueError(f"FeatureDistillation: the {role} model '{model.name}' has no layer named {name!r}. "
                                 f"Its layers are {names}.")

    def validate_outputs(self, teacher_outputs: Any, student_outputs: Any) -> None:
        """The features must match the loss structure, and have the same shape (dimensions unknown until the
        data comes, such as the batch, match anything)."""
        where = (f"FeatureDistillation(teacher_layer_name={self.teacher_layer_name!r}, "
                 f"student_layer_name={self.student_layer_name!r})")
        for _, t, s, path in structures.pairs(self.loss, teacher_outputs, student_outputs, where):
            _check_shapes(t, s, f"{path}: the teacher's and student's features")

    def get_config(self) -> dict[str, Any]:
        """``{"loss", "teacher_layer_name", "student_layer_name"}``, as Keras 3 writes it."""
        return {"loss": structures.serialize_structure(self.loss), "teacher_layer_name": self.teacher_layer_name,
                "student_layer_name": self.student_layer_name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FeatureDistillation:
        config = dict(config)
        if "loss" in config:
            config["loss"] = structures.deserialize_structure(config["loss"])
        return cls(**config)


def _check_shapes(teacher: Any, student: Any, what: str) -> None:
    t_shape, s_shape = structures.static_shape(teacher), structures.static_shape(student)
    if t_shape is not None and s_shape is not None and not structures.shapes_compatible(t_shape, s_shape):
        raise ValueError(f"{what} have incompatible shapes: teacher {t_shape}, student {s_shape}. Every dimension "
                         "must match (None, such as the batch, matches anything).")
