"""What the doctor's probes share: a private copy of a compiled model to train on, the random streams put back
afterwards, the model's batches on its device, and one plain training step (forward, loss, backward, step).

Every probe (``lr_find``, the checks of ``diagnose``) trains a deep copy of the model with a copy of its
optimizer, so the user's model, optimizer and metrics are never touched; the only shared state is the random
streams, which ``sandbox`` saves and restores.
"""

from __future__ import annotations

import contextlib
import copy
import random
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from lamina.data.adapters import make_adapter, unpack_x_y_sample_weight
from lamina.training import step as step_module


def require_compiled(model: Any, what: str) -> Any:
    trainer = model.__dict__.get("_trainer")
    if trainer is None:
        raise RuntimeError(f"{what} needs a compiled model (it trains a copy with your optimizer and loss): call "
                           "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy') first.")
    return trainer


@contextlib.contextmanager
def saved_rng() -> Iterator[None]:
    """Torch's (and CUDA's), NumPy's and Python's random streams, restored on exit."""
    torch_state = torch.get_rng_state()
    cuda_states = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() \
        else None
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_rng_state(torch_state)
        if cuda_states is not None:
            torch.cuda.set_rng_state_all(cuda_states)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def clone_model(model: Any) -> Any:
    """A deep copy of ``model`` with its trainer, optimizer (and the optimizer's state) and metrics, run eagerly
    (a ``torch.compile``d forward is bound to the original module)."""
    copied = copy.deepcopy(model)
    for module in copied.modules():
        if module.__dict__.get("_compiled_call_impl") is not None:
            module._compiled_call_impl = None
    trainer = copied.__dict__.get("_trainer")
    if trainer is not None:
        trainer.jit = None
        trainer._jit_planned = True  # (a probe runs eagerly: compiling would cost more than it saves)
    return copied


def set_learning_rate(optimizer: Any, lr: float) -> Any:
    """``optimizer`` with a constant learning rate ``lr``; an optimizer on a schedule is replaced by a fresh one of
    the same class and settings (a schedule cannot be set to a number)."""
    try:
        optimizer.learning_rate = lr
        return optimizer
    except TypeError:
        config = optimizer.get_config()
        config["learning_rate"] = float(lr)
        return type(optimizer).from_config(config)


class Probe:
    """A copy of a compiled model that trains on the model's batches, one plain step at a time."""

    def __init__(self, model: Any, x: Any, y: Any = None, sample_weight: Any = None, batch_size: int | None = None,
                 shuffle: bool = True, optimizer: Any = None):
        self.original = model
        require_compiled(model, "The doctor")
        self.model = clone_model(model)
        self.trainer = self.model._trainer
        self.adapter = make_adapter(x, y, sample_weight, batch_size=batch_size or 32, shuffle=shuffle,
                                    device=self.trainer.device, check_finite=False)
        if not self.trainer._prepared:
            with warnings.catch_warnings():  # (pre-flight's advice is diagnose's to give, once, as a finding)
                warnings.simplefilter("ignore")
                self.trainer._prepare(self.adapter)
        else:
            self.model.to(self.trainer.device)
        if optimizer is not None:
            self.use_optimizer(optimizer)
        self.steps = step_module.DefaultSteps(self.model, self.trainer)
        self._batches: Iterator | None = None

    @property
    def optimizer(self) -> Any:
        return self.trainer.optimizer

    def use_optimizer(self, optimizer: Any) -> None:
        """Train with ``optimizer`` (built here on the copy's weights)."""
        self.trainer.optimizer = self.model.optimizer = optimizer
        if not optimizer.built:
            optimizer.build([p for p in self.model.parameters() if p.requires_grad])

    def next_batch(self) -> Any:
        """The next batch, starting another pass over the data when one ends."""
        while True:
            if self._batches is None:
                self._batches = iter(self.adapter.epoch())
            try:
                return next(self._batches)
            except StopIteration:
                self._batches = None

    def loss(self, batch: Any, training: bool = True) -> torch.Tensor:
        x, y, sw = unpack_x_y_sample_weight(batch)
        y_pred = self.model(x, training=training)
        return self.steps.loss(x, y, y_pred, sw, training)

    def train_step(self, batch: Any) -> torch.Tensor:
        """One step on ``batch``; returns the loss before the update (a device tensor: nothing is synced)."""
        self.model.train()
        loss = self.loss(batch)
        optimizer = self.optimizer
        optimizer.zero_grad()
        optimizer.scale_loss(loss).backward()
        optimizer.step()
        self.model.eval()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self, batch: Any) -> float:
        self.model.eval()
        return float(self.loss(batch, training=False))
