"""``SwapEMAWeights``: evaluate (and optionally checkpoint) with the optimizer's moving average of the weights
(Polyak averaging, ``use_ema=True``), then put the trained weights back, as Keras's callback does."""

from __future__ import annotations

import warnings
from typing import Any

from lamina.training.callbacks.base import Callback


class SwapEMAWeights(Callback):
    """Swap the model's weights with the optimizer's EMA weights around evaluation (validation in ``fit``,
    ``evaluate``, ``predict``) and, with ``swap_on_epoch=True``, from each epoch's end to the next epoch's
    start, so that callbacks listed after this one (e.g. ``ModelCheckpoint``) see the EMA weights.

    After the last epoch (or once ``stop_training`` is set when this callback runs) the EMA weights are
    copied in rather than swapped, since ``fit`` ends with them anyway. The optimizer needs ``use_ema=True``;
    without it this callback does nothing (with a warning). The swap happens in place, weight by weight.

    >>> from lamina.optimizers import SGD
    >>> optimizer = SGD(use_ema=True)  # compile with it, then: model.fit(..., callbacks=[SwapEMAWeights()])
    >>> SwapEMAWeights(swap_on_epoch=True).swap_on_epoch
    True
    """

    def __init__(self, swap_on_epoch: bool = False):
        super().__init__()
        self.swap_on_epoch = bool(swap_on_epoch)
        self._swapped = False  # whether the model holds the EMA weights now
        self._warned = False
        self._swapped_for_eval = False  # whether on_test_begin/on_predict_begin swapped (so the end swaps back)

    def _optimizer(self) -> Any:
        optimizer = getattr(self.model, "optimizer", None)
        while hasattr(optimizer, "inner_optimizer"):  # LossScaleOptimizer keeps the EMA in the inner one
            optimizer = optimizer.inner_optimizer
        if optimizer is None or not getattr(optimizer, "use_ema", False):
            if not self._warned:
                warnings.warn("SwapEMAWeights does nothing: the model's optimizer was not created with "
                              "use_ema=True (e.g. SGD(use_ema=True)).", UserWarning, stacklevel=3)
                self._warned = True
            return None
        return optimizer

    def _swap(self) -> None:
        optimizer = self._optimizer()
        if optimizer is not None and optimizer.swap_ema_weights():
            self._swapped = not self._swapped

    def on_train_begin(self, logs: dict | None = None) -> None:
        self._swapped = False

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self.swap_on_epoch and self._swapped:
            self._swap()

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if not self.swap_on_epoch or self._swapped:
            return
        last = epoch + 1 >= self.params.get("epochs", float("inf")) or getattr(self.model, "stop_training", False)
        if last:
            optimizer = self._optimizer()
            if optimizer is not None:
                optimizer.finalize_variable_values(self.model.trainable_weights)
        else:
            self._swap()

    def _begin_eval(self) -> None:
        if not self._swapped:
            self._swap()
            self._swapped_for_eval = self._swapped
        else:
            self._swapped_for_eval = False

    def _end_eval(self) -> None:
        if self._swapped_for_eval and self._swapped:
            self._swap()
        self._swapped_for_eval = False

    def on_test_begin(self, logs: dict | None = None) -> None:
        self._begin_eval()

    def on_test_end(self, logs: dict | None = None) -> None:
        self._end_eval()

    def on_predict_begin(self, logs: dict | None = None) -> None:
        self._begin_eval()

    def on_predict_end(self, logs: dict | None = None) -> None:
        self._end_eval()
