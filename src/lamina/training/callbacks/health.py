"""``TrainingMonitor``: training health during ``fit``, measured on the device and read a few times an epoch.

Every ``norm_every`` steps (the first step of each window among them) the monitor takes the gradient norm of
every trained weight (``torch._foreach_norm``: one fused kernel on an accelerator) between the backward pass and
the optimizer step (the ``on_after_backward`` hook of lamina's default train step) and adds their squares into
per-weight sums; it keeps every step's loss. All of it stays on the device. (A norm reads every gradient once:
on a small model on a CPU that is a few percent of a step, so by default one step in ten is measured; a NaN or
a spike between them still shows in that step's loss.)
Every ``check_every`` steps, and at each epoch's end, it reads the window in one host transfer and looks for a
NaN, a loss spike (a step's loss ``spike_factor`` times the last good window's median) and exploding gradients (a
norm ``explode_factor`` times the last good median); at the epoch's end also for vanishing gradients (a layer
whose gradient norm stays below ``vanish_threshold``). One step per window, it copies the weights before the
update and measures the update's norm against the weights' (the update/weight ratio; about 1e-3 is healthy).

``rollback=True`` keeps a copy of the last good state (weights, buffers, optimizer state) taken at each clean
check; on a NaN, a spike or exploding gradients it puts that state back and multiplies the learning rate by
``lr_factor``, so the run goes on instead of being lost.

>>> import numpy as np, lamina
>>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2, activation="softmax", name="out")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
>>> monitor = TrainingMonitor(check_every=4)
>>> _ = model.fit(np.random.rand(64, 4), np.random.randint(0, 2, 64), epochs=2, verbose=0, callbacks=[monitor])
>>> sorted(k for k in monitor.records if "/" not in k)
['grad_norm', 'learning_rate', 'loss', 'update_ratio', 'weight_norm']
>>> len(monitor.records["grad_norm"]), sorted(k for k in monitor.records if k.endswith("/out"))
(2, ['grad_norm/out', 'update_ratio/out', 'weight_norm/out'])
"""

from __future__ import annotations

import math
import sys
from typing import TextIO

import torch

from lamina.layers.layer import Layer
from lamina.training.callbacks.base import Callback

KINDS = ("nan", "loss_spike", "exploding_gradients", "vanishing_gradients", "rollback")


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


class TrainingMonitor(Callback):
    """Per-layer gradient norms, weight norms and update/weight ratios, with warnings on NaN, loss spikes and
    exploding or vanishing gradients, and an optional rollback on a spike.

    Args:
        check_every: steps between two reads of the device values (the only host syncs the monitor adds).
        norm_every: measure the gradient norms every this many steps (1: every step).
        spike_factor: a step's loss above this multiple of the last good window's median loss is a spike.
        explode_factor: a step's gradient norm above this multiple of the last good window's median norm is an
            explosion.
        vanish_threshold: a layer whose epoch RMS gradient norm is below this has vanishing gradients.
        rollback: on a NaN, spike or explosion, restore the last good weights and optimizer state and lower the
            learning rate.
        lr_factor: the learning rate's multiplier at each rollback.
        max_rollbacks: after this many rollbacks in a run, training stops (``model.stop_training``).
        verbose: 1 prints each warning on its own line of the progress output (when fit's ``verbose`` is not 0).

    After ``fit``: ``records[key]`` holds one value per epoch for ``"loss"`` (the epoch's mean of the steps'
    losses), ``"grad_norm"`` (RMS over steps of the global gradient norm), ``"weight_norm"``, ``"update_ratio"``,
    ``"learning_rate"`` and, per layer, ``"grad_norm/<layer>"``, ``"weight_norm/<layer>"``,
    ``"update_ratio/<layer>"``; ``events`` lists ``{"epoch", "step", "kind", "message"}`` dicts (kinds: ``nan``,
    ``loss_spike``, ``exploding_gradients``, ``vanishing_gradients``, ``rollback``). The epoch logs get
    ``learning_rate`` when no other callback wrote it.

    The gradient statistics come from lamina's default train step; a model that overrides ``train_step`` gets
    weight norms only.
    """

    reads_batch_logs = False

    def __init__(self, check_every: int = 50, norm_every: int = 10, spike_factor: float = 4.0,
                 explode_factor: float = 10.0,
                 vanish_threshold: float = 1e-7, rollback: bool = False, lr_factor: float = 0.5,
                 max_rollbacks: int = 5, verbose: int = 1, stream: TextIO | None = None):
        super().__init__()
        if not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"TrainingMonitor: check_every must be an int >= 1; received {check_every!r}.")
        if not isinstance(norm_every, int) or norm_every < 1:
            raise ValueError(f"TrainingMonitor: norm_every must be an int >= 1; received {norm_every!r}.")
        self.norm_every = norm_every
        if not spike_factor > 1 or not explode_factor > 1:
            raise ValueError(f"TrainingMonitor: spike_factor and explode_factor must be > 1; received "
                             f"spike_factor={spike_factor}, explode_factor={explode_factor}.")
        if not 0 < lr_factor < 1:
            raise ValueError(f"TrainingMonitor: lr_factor must be in (0, 1); received lr_factor={lr_factor}.")
        self.check_every, self.spike_factor, self.explode_factor = check_every, spike_factor, explode_factor
        self.vanish_threshold, self.rollback, self.lr_factor = vanish_threshold, rollback, lr_factor
        self.max_rollbacks, self.verbose, self.stream = max_rollbacks, verbose, stream
        self.records: dict[str, list[float]] = {}
        self.events: list[dict] = []
        self.rollbacks = 0
        self._params: list[torch.Tensor] = []

    # ------------------------------------------------------------------ set-up
    def _layers(self) -> tuple[list[str], list[int]]:
        """The layer names and, for each trained weight, the index of its (innermost lamina) layer."""
        owner: dict[int, str] = {}
        for module in self.model.modules():  # pre-order: an inner layer overwrites its container's claim
            if isinstance(module, Layer) and module is not self.model:
                for p in module.parameters():
                    owner[id(p)] = module.name
        names: list[str] = []
        index = []
        for p in self._params:
            name = owner.get(id(p), self.model.name)
            if name not in names:
                names.append(name)
            index.append(names.index(name))
        return names, index

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.records, self.events, self.rollbacks = {}, [], 0
        self._params = [p for p in self.model.parameters() if p.requires_grad]
        self._names, index = self._layers()
        device = self._params[0].device if self._params else torch.device("cpu")
        self._layer_index = torch.tensor(index, dtype=torch.long, device=device)
        self._zero = torch.zeros((), device=device)
        self._ref_loss = self._ref_norm = None
        self._step = 0
        self._good: tuple | None = None
        self._before: list[torch.Tensor] | None = None
        if self.rollback:
            self._snapshot()

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._epoch = epoch
        n = len(self._params)
        device = self._zero.device
        self._grad_sq = torch.zeros(n, device=device)
        self._update_sq = torch.zeros(n, device=device)
        self._weight_sq = torch.zeros(n, device=device)
        self._loss_sum = torch.zeros((), device=device)
        self._count = self._norm_count = 0  # steps, and steps whose gradient norms were measured
        self._window_losses: list[torch.Tensor] = []
        self._window_norms: list[torch.Tensor] = []
        self._norm_positions: list[int] = []  # the window positions of the measured steps
        self._before = None

    # ------------------------------------------------------------------ each step (no host sync)
    def on_after_backward(self, loss: torch.Tensor) -> None:
        """Between backward and the optimizer step (lamina's default train step calls it). The cheapest form:
        one norm per weight and the loss kept as they come; everything else is done on the window at a check."""
        self._step += 1
        params = self._params
        position = len(self._window_losses)
        self._window_losses.append(loss.detach())
        if position % self.norm_every == 0:
            self._window_norms.extend(torch._foreach_norm([p.grad if p.grad is not None else self._zero
                                                           for p in params]))
            self._norm_positions.append(position)
        if self._before is not None:  # the weights now are the last step's result: measure its update
            before, self._before = self._before, None
            with torch.no_grad():
                updates = torch.stack(torch._foreach_norm(torch._foreach_sub([p.detach() for p in params], before)))
                weights = torch.stack(torch._foreach_norm(before))
                self._update_sq.addcmul_(updates, updates)
                self._weight_sq.addcmul_(weights, weights)
        elif len(self._window_losses) == 1:  # one sampled update per window
            self._before = [p.detach().clone() for p in params]

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if len(self._window_losses) >= self.check_every:
            self._check()

    # ------------------------------------------------------------------ the checks (one host read each)
    def _check(self) -> None:
        if not self._window_losses:
            return
        losses = torch.stack(self._window_losses).float()  # (k,)
        positions = self._norm_positions
        squares = (torch.stack(self._window_norms).float().square().view(len(positions), -1) if positions
                   else torch.zeros(0, len(self._params), device=losses.device))  # (measured steps, weights)
        with torch.no_grad():
            self._grad_sq.add_(squares.sum(0))
            self._loss_sum.add_(losses.sum())
        self._count += len(losses)
        self._norm_count += len(positions)
        values = torch.cat([losses, squares.sum(1).sqrt()]).tolist()  # one host read
        loss_values, measured = values[:len(losses)], values[len(losses):]
        norm_at = dict(zip(positions, measured, strict=True))
        first_step = self._step - len(loss_values) + 1
        self._window_losses, self._window_norms, self._norm_positions = [], [], []
        finite = [v for v in loss_values if math.isfinite(v)]
        finite_norms = [v for v in measured if math.isfinite(v)]
        found: dict[str, tuple[int, str]] = {}
        for j, loss in enumerate(loss_values):
            step = first_step + j
            norm = norm_at.get(j)  # None: this step's gradients were not measured
            # The last good window's medians; before the first check, the medians of this window's earlier steps
            # (from the third on: the loss falls fast at first, so earlier steps set a high bar).
            ref_loss, ref_norm = self._ref_loss, self._ref_norm
            if ref_loss is None and j >= 2:
                earlier = [v for i, v in norm_at.items() if i < j]
                ref_loss, ref_norm = _median(loss_values[:j]), _median(earlier) if earlier else None
            if not math.isfinite(loss) or (norm is not None and not math.isfinite(norm)):
                found.setdefault("nan", (step, f"non-finite {'loss' if not math.isfinite(loss) else 'gradients'} "
                                               f"(loss {loss:.4g}, gradient norm "
                                               f"{'not measured' if norm is None else format(norm, '.4g')})"))
            else:
                if ref_loss is not None and ref_loss > 0 and loss > self.spike_factor * ref_loss:
                    found.setdefault("loss_spike", (step, f"loss spike: {loss:.4g} against a recent median of "
                                                          f"{ref_loss:.4g} ({loss / ref_loss:.1f}x)"))
                if norm is not None and ref_norm is not None and ref_norm > 0 and norm > self.explode_factor * ref_norm:
                    found.setdefault("exploding_gradients", (
                        step, f"exploding gradients: norm {norm:.4g} against a recent median of {ref_norm:.4g} "
                              f"({norm / ref_norm:.0f}x)"))
        for kind, (step, message) in found.items():
            self._event(kind, step, message)
        if found and self.rollback:
            self._roll_back()
            return
        # (without rollback the run goes on from here: the new level is the reference, so one spike warns once)
        if finite:
            self._ref_loss = _median(finite)
        if finite_norms:
            self._ref_norm = _median(finite_norms)
        if self.rollback and not found:
            self._snapshot()

    def _event(self, kind: str, step: int, message: str) -> None:
        self.events.append({"epoch": self._epoch, "step": step, "kind": kind, "message": message})
        if self.verbose and self.params.get("verbose", 1):
            stream = self.stream or sys.stdout
            stream.write(f"\nTrainingMonitor warning (epoch {self._epoch + 1}, step {step}): {message}\n")
            stream.flush()

    # ------------------------------------------------------------------ rollback
    def _snapshot(self) -> None:
        """Copy the weights, buffers and optimizer state into the last-good buffers (allocated once)."""
        model_state = self.model.state_dict()
        optimizer = self.model.optimizer
        opt_tensors, opt_meta = optimizer.state_dict() if optimizer is not None else ({}, {})
        current = list(model_state.values()) + list(opt_tensors.values())
        with torch.no_grad():
            if self._good is None or len(self._good[0]) != len(current):
                buffers = [t.detach().clone() for t in current]
            else:
                buffers = self._good[0]
                torch._foreach_copy_(buffers, [t.detach() for t in current])
        self._good = (buffers, list(model_state), list(opt_tensors), dict(opt_meta))

    def _roll_back(self) -> None:
        if self._good is None:
            return
        if self.rollbacks >= self.max_rollbacks:
            self._event("rollback", self._step, f"{self.rollbacks} rollbacks already: stopping training.")
            self.model.stop_training = True
            return
        buffers, model_keys, opt_keys, opt_meta = self._good
        n = len(model_keys)
        self.model.load_state_dict(dict(zip(model_keys, buffers[:n], strict=True)))
        optimizer = self.model.optimizer
        if optimizer is not None and opt_meta:
            optimizer.load_state_dict(dict(zip(opt_keys, buffers[n:], strict=True)), opt_meta)
        self.rollbacks += 1
        self._before = None
        lowered = ""
        if optimizer is not None:
            try:
                old = float(optimizer.learning_rate)
                optimizer.learning_rate = old * self.lr_factor
                lowered = f"; learning rate {old:.3g} -> {old * self.lr_factor:.3g}"
            except TypeError:
                lowered = "; the learning rate follows a schedule and was kept"
        self._event("rollback", self._step, f"restored the last good weights and optimizer state{lowered}.")

    # ------------------------------------------------------------------ epoch end: the records
    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self._check()
        with torch.no_grad():
            weights = torch.stack(torch._foreach_norm([p.detach() for p in self._params])) if self._params \
                else torch.zeros(0)
            n_layers = len(self._names)
            index = self._layer_index

            def per_layer(values: torch.Tensor) -> torch.Tensor:
                return torch.zeros(n_layers, device=values.device).index_add_(0, index, values)

            count, norm_count = max(self._count, 1), max(self._norm_count, 1)
            rows = torch.stack([
                per_layer(self._grad_sq / norm_count).sqrt(), per_layer(weights.float().square()).sqrt(),
                per_layer(self._update_sq).sqrt() / per_layer(self._weight_sq).sqrt().clamp_min(1e-30)])
            totals = torch.stack([(self._grad_sq.sum() / norm_count).sqrt(), weights.float().square().sum().sqrt(),
                                  self._update_sq.sum().sqrt() / self._weight_sq.sum().sqrt().clamp_min(1e-30),
                                  self._loss_sum / count])
            layer_values, total_values = rows.tolist(), totals.tolist()
        records = self.records
        sampled = bool(self._norm_count)
        for key, value in zip(("grad_norm", "weight_norm", "update_ratio", "loss"), total_values, strict=True):
            if sampled or key == "weight_norm" or (key == "loss" and self._count):
                records.setdefault(key, []).append(value)
        for key, values in zip(("grad_norm", "weight_norm", "update_ratio"), layer_values, strict=True):
            if sampled or key == "weight_norm":
                for name, value in zip(self._names, values, strict=True):
                    records.setdefault(f"{key}/{name}", []).append(value)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            lr = float(optimizer.learning_rate)
            records.setdefault("learning_rate", []).append(lr)
            if logs is not None and "learning_rate" not in logs:
                logs["learning_rate"] = lr
        if sampled:
            vanished = [name for name, g in zip(self._names, layer_values[0], strict=True)
                        if g < self.vanish_threshold]
            if vanished:
                self._event("vanishing_gradients", self._step,
                            f"vanishing gradients in {', '.join(vanished)} (RMS gradient norm below "
                            f"{self.vanish_threshold:g} this epoch): these layers barely train.")
