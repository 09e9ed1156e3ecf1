"""``evaluate``'s default test step without its layers of indirection.

``step.test_step`` reaches the loss through ``Model.compute_loss`` -> ``Trainer.compute_loss`` ->
``CompiledLoss`` -> ``Loss.__call__`` and the metrics through three more calls; each layer re-checks what the
one above already knew, some tens of microseconds a batch (a tenth of a small MLP's batch on the CPU). When the
model keeps Keras's default ``test_step``/``compute_loss``/``compute_metrics`` and has one output,
``LeanTestStep`` computes the same values with those checks done once per ``evaluate``: the loss's fused mean
kernel when the prediction is in the loss's dtype and no sample weights are given (the loss object itself
otherwise), the metrics' own ``update_state``, the loss tracker. Nested or missing targets go through
``step.test_step``, outputs that are not one tensor through ``step.score``, unchanged.

>>> import torch, lamina
>>> model = lamina.Sequential([lamina.Input(shape=(3,)), lamina.layers.Dense(2)])
>>> model.compile(loss="mse")
>>> round(model.evaluate(torch.zeros(4, 3), torch.zeros(4, 2), verbose=0), 4)
0.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lamina.losses.base import MEAN_REDUCTIONS, Loss
from lamina.training import step


def _default(model: Any, name: str) -> bool:
    return getattr(getattr(type(model), name, None), "_lamina_default", False)


class LeanTestStep:
    """The default test step of ``trainer``'s model, for one-output models (see the module docstring)."""

    def __init__(self, trainer: Any):
        self.trainer = trainer
        self.model = trainer.model
        compiled_loss = trainer.compiled_loss
        self.loss = compiled_loss.losses[0]
        self.loss_weight = compiled_loss.weights[0]
        loss = self.loss
        self.fused = (type(loss).__call__ is Loss.__call__ and loss._fused_ok and loss.reduction in MEAN_REDUCTIONS)
        self.loss_dtype = loss._dtype if isinstance(loss, Loss) else None
        self.float_labels = getattr(loss, "_float_labels", True)
        self.tracker = trainer.loss_tracker
        self.metrics = [(metric, weighted) for _, metric, weighted in trainer.compiled_metrics.entries]
        self.logged = self.model.metrics

    @staticmethod
    def fits(trainer: Any) -> bool:
        """Whether the lean step computes exactly what the model's own test step would."""
        model, compiled_loss = trainer.model, trainer.compiled_loss
        return (trainer.jit is None and compiled_loss is not None and compiled_loss.built
                and len(compiled_loss.names) == 1 and compiled_loss.losses[0] is not None
                and trainer.compiled_metrics.built and len(trainer.compiled_metrics.names) <= 1
                and _default(model, "test_step") and _default(model, "compute_loss")
                and _default(model, "compute_metrics"))

    def __call__(self, data: Any) -> Mapping:
        if torch.is_grad_enabled():  # evaluate turns gradients off for the whole loop; anybody else gets it here
            with torch.no_grad():
                return self(data)
        if type(data) is tuple and len(data) == 2 and type(data[1]) is torch.Tensor:
            x, y = data
            sample_weight = None
        else:
            x, y, sample_weight = step.unpack_x_y_sample_weight(data)
            if type(y) is not torch.Tensor or not (sample_weight is None or type(sample_weight) is torch.Tensor):
                return step.test_step(self.model, data)  # nested or missing targets: the full step decides
        model = self.model
        y_pred = step.infer(model, x)
        if type(y_pred) is not torch.Tensor:  # a one-element list/dict output: the full path unwraps it
            return step.score(model, x, y, y_pred, sample_weight)
        self.tracker.update_state(self._loss(y, y_pred, sample_weight),
                                  sample_weight=x.shape[0] if type(x) is torch.Tensor else step.batch_size_of(x))
        for metric, weighted in self.metrics:
            metric.update_state(y, y_pred, sample_weight=sample_weight if weighted else None)
        return step.MetricLogs(self.logged)

    def _loss(self, y: torch.Tensor, y_pred: torch.Tensor, sample_weight: Any) -> torch.Tensor:
        value = None
        if (sample_weight is None and self.fused and y_pred.dtype is self.loss_dtype
                and (y.dtype is self.loss_dtype or not self.float_labels)):
            value = self.loss._fused_mean(y, y_pred)  # what Loss.__call__ returns, minus its checks (the fused
            # kernels move labels from another device themselves)
        if value is None:
            value = self.loss(y, y_pred, sample_weight=sample_weight)
        if self.loss_weight != 1.0:
            value = value * self.loss_weight
        return self.trainer.add_penalties(value)
