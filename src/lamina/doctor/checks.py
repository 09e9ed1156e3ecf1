"""The checks ``diagnose`` runs, one function each. A check reads a ``Sample`` (a few hundred rows of the data on
the device, and the model) and returns findings ``(severity, code, message)``; those that train do so on a probe
(a deep copy of the model and its optimizer, ``_sandbox.Probe``)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch

from lamina import activations
from lamina.core import tree
from lamina.data.adapters import make_adapter
from lamina.doctor._sandbox import Probe, set_learning_rate
from lamina.layers.layer import Layer
from lamina.training import preflight

ERROR, WARNING, INFO = "error", "warning", "info"


class Finding(NamedTuple):
    """One result of a check: ``severity`` (``"error"``, ``"warning"`` or ``"info"``), a stable ``code`` (e.g.
    ``"unscaled_inputs"``) and a message that says what was seen and what to do."""

    severity: str
    code: str
    message: str


@dataclass
class Sample:
    """What the checks look at: the model, its data and a sample of it (device tensors)."""

    model: Any
    x: Any
    y: Any
    x_sample: Any
    y_sample: Any
    batch_size: int
    y_pred: Any  # the model's outputs on x_sample (inference mode)
    loss: Any  # the compiled loss object of a single-output model, or None
    kind: str  # preflight's kind of that loss: "sparse", "categorical", "binary", "custom" or "other"
    seed: int

    def probe(self, y: Any = None, rows: slice | None = None, batch_size: int | None = None) -> Probe:
        """A fresh copy of the model trained on (a slice of) the sample, with targets ``y`` if given."""
        torch.manual_seed(self.seed)
        cut = (lambda t: t[rows]) if rows is not None else (lambda t: t)  # noqa: E731
        xs = tree.map_structure(cut, self.x_sample)
        ys = tree.map_structure(cut, self.y_sample if y is None else y)
        return Probe(self.model, xs, ys, batch_size=batch_size or self.batch_size)


def _leaves(x: Any) -> list[torch.Tensor]:
    return [t for t in tree.flatten(x) if isinstance(t, torch.Tensor)]


def leaf_layers(model: Any) -> list[Layer]:
    """The model's innermost lamina layers (those holding no other lamina layer), in order."""
    layers = [m for m in model.modules() if isinstance(m, Layer) and m is not model]
    return [layer for layer in layers if not any(isinstance(c, Layer) for c in layer.modules() if c is not layer)]


# ---------------------------------------------------------------------------------------------- data
def check_inputs(s: Sample) -> list[Finding]:
    out = []
    for i, x in enumerate(_leaves(s.x_sample)):
        name = "inputs" if len(_leaves(s.x_sample)) == 1 else f"input {i}"
        if not x.is_floating_point():
            continue
        flat = x.reshape(x.shape[0], -1).double()
        bad = int((~torch.isfinite(flat)).sum())
        if bad:
            out.append(Finding(ERROR, "nonfinite_inputs", f"{name} hold {bad} NaN/Inf values in a sample of "
                                                          f"{x.shape[0]} rows: impute or drop them."))
            flat = torch.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
        lo, hi, mean, std = (float(v) for v in (flat.min(), flat.max(), flat.mean(), flat.std()))
        integral = bool((flat == flat.round()).all())
        if lo >= 0 and 2 < hi <= 255 and integral:
            out.append(Finding(WARNING, "unscaled_inputs", f"{name} range {lo:g}..{hi:g} in whole numbers (mean "
                               f"{mean:.1f}): unscaled 0-255 pixels. Divide by 255 (x / 255.0) or start the model "
                               "with layers.Rescaling(1 / 255)."))
        elif max(abs(lo), abs(hi)) > 20 or std > 10:
            out.append(Finding(WARNING, "large_inputs", f"{name} range {lo:.3g}..{hi:.3g} (std {std:.3g}): "
                               "standardize them (layers.Normalization().adapt(x), or (x - mean) / std)."))
        constant = int((flat.std(0) == 0).sum()) if flat.shape[0] > 1 else 0
        if constant == flat.shape[1]:
            out.append(Finding(ERROR, "constant_inputs", f"every feature of {name} is constant over the sample: "
                                                         "the model cannot tell rows apart."))
        elif constant:
            out.append(Finding(INFO, "constant_features", f"{constant} of {flat.shape[1]} features of {name} are "
                               "constant over the sample (e.g. image borders); they carry no information."))
        out.append(Finding(INFO, "input_stats", f"{name}: min {lo:.3g}, max {hi:.3g}, mean {mean:.3g}, std "
                                                f"{std:.3g}."))
    return out


def check_labels(s: Sample) -> list[Finding]:
    if s.kind not in ("sparse", "categorical", "binary"):
        return []
    y = s.y if isinstance(s.y, (torch.Tensor, np.ndarray)) else s.y_sample  # all labels when in memory
    if not isinstance(y, (torch.Tensor, np.ndarray)) or (isinstance(y, np.ndarray) and y.dtype.kind not in "biuf"):
        return []
    y = torch.as_tensor(y).detach().cpu()
    if s.kind == "categorical":
        counts = y.reshape(-1, y.shape[-1]).float().sum(0)
    elif s.kind == "binary":
        positives = float((y > 0.5).float().mean())
        counts = torch.tensor([1 - positives, positives]) * y.numel()
    else:
        counts = torch.bincount(y.reshape(-1).long().clamp_min(0))
    units = int(_leaves(s.y_pred)[0].shape[-1])
    classes = max(units, 2) if s.kind != "binary" else 2
    if counts.numel() < classes:
        counts = torch.cat([counts, torch.zeros(classes - counts.numel(), dtype=counts.dtype)])
    share = (counts / counts.sum()).tolist()
    shown = ", ".join(f"{i}: {p:.1%}" for i, p in enumerate(share[:12])) + (" ..." if len(share) > 12 else "")
    out = [Finding(INFO, "label_balance", f"label shares: {shown}.")]
    present = [p for p in share if p > 0]
    if len(present) < classes:
        out.append(Finding(WARNING, "missing_classes", f"{classes - len(present)} of the {classes} classes never "
                           "appear in the labels: check the label encoding or the output size."))
    elif max(present) / min(present) > 10:
        out.append(Finding(WARNING, "label_imbalance", f"the most frequent class is {max(present) / min(present):.0f}"
                           "x the rarest: pass class_weight to fit, or resample."))
    return out


# ---------------------------------------------------------------------------------------------- the untrained model
def check_output_and_initial_loss(s: Sample, probe: Probe) -> list[Finding]:
    out = []
    y_pred = s.y_pred
    if s.loss is not None and isinstance(y_pred, torch.Tensor) and s.kind in ("sparse", "categorical", "binary"):
        problem = preflight._logit_problem(s.loss, s.kind, y_pred)
        if problem:
            out.append(Finding(ERROR, "logits_probabilities_mixup", problem))
    with torch.no_grad():
        loss = float(probe.loss((s.x_sample, s.y_sample), training=False))
    if not math.isfinite(loss):
        return [*out, Finding(ERROR, "nonfinite_loss", f"the loss on a sample is {loss}: check inputs and labels.")]
    if s.kind in ("sparse", "categorical", "binary") and isinstance(y_pred, torch.Tensor):
        classes = 2 if s.kind == "binary" else int(y_pred.shape[-1])
        expected = math.log(classes)
        message = (f"initial loss {loss:.4g}; an untrained classifier of {classes} classes expects about "
                   f"ln({classes}) = {expected:.4g}")
        if loss > 2 * expected + 0.5:
            out.append(Finding(WARNING, "initial_loss_high", message + ": the outputs are confidently wrong from "
                               "the start (unscaled inputs? a last layer's initializer or activation?)."))
        else:
            out.append(Finding(INFO, "initial_loss", message + "."))
    else:
        out.append(Finding(INFO, "initial_loss", f"initial loss {loss:.4g}."))
    return out


def check_gradients(s: Sample, probe: Probe) -> list[Finding]:
    """One backward pass: which layers get no gradient or a non-finite one; frozen layers."""
    model = probe.model
    model.train()
    rows = slice(0, min(s.batch_size * 2, _leaves(s.x_sample)[0].shape[0]))
    batch = (tree.map_structure(lambda t: t[rows], s.x_sample), tree.map_structure(lambda t: t[rows], s.y_sample))
    for p in model.parameters():
        p.grad = None
    probe.loss(batch).backward()
    model.eval()
    zero, nonfinite, frozen = [], [], []
    for layer in leaf_layers(model):
        params = list(layer.parameters())
        if not params:
            continue
        trained = [p for p in params if p.requires_grad]
        if not trained:
            frozen.append(layer.name)
            continue
        grads = [p.grad for p in trained if p.grad is not None]
        if not grads:
            zero.append(layer.name)
            continue
        norm = float(torch.stack(torch._foreach_norm(grads)).norm())
        if not math.isfinite(norm):
            nonfinite.append(layer.name)
        elif norm == 0:
            zero.append(layer.name)
    out = []
    if nonfinite:
        out.append(Finding(ERROR, "nonfinite_gradients", f"non-finite gradients in {', '.join(nonfinite)}."))
    if zero:
        out.append(Finding(WARNING, "zero_gradients", f"no gradient reaches {', '.join(zero)}: these layers will "
                           "not train (dead activations before them, or weights the loss does not use)."))
    if frozen:
        one = len(frozen) == 1
        out.append(Finding(WARNING, "frozen_layer", f"{', '.join(frozen)} {'is' if one else 'are'} frozen "
                           f"(trainable=False): {'its' if one else 'their'} weights will not change. Fine for "
                           "fine-tuning a pretrained base; otherwise set layer.trainable = True before compile."))
    return out


RELU_LIKE = {"relu", "relu6", "elu", "selu", "gelu", "silu", "softplus"}
DEAD_CAN_BE = {"relu", "relu6"}  # units that output exactly 0 on every input do not learn
SATURATING = {"sigmoid": (0.03, 0.97), "tanh": (-0.97, 0.97), "hard_sigmoid": (0.0, 1.0)}


def _activation_name(layer: Layer) -> str | None:
    if type(layer).__name__ == "ReLU":
        return "relu"
    fn = getattr(layer, "activation", None)
    if fn is None or not callable(fn):
        return None
    try:
        return activations.serialize(fn)
    except Exception:  # noqa: BLE001  (a user's activation object: nothing to say about it)
        return None


def check_activations(s: Sample, probe: Probe) -> list[Finding]:
    """Dead ReLU units (zero on every sample row) and saturated sigmoid/tanh outputs, per layer."""
    model = probe.model
    watched: dict[str, str] = {}
    seen: dict[str, torch.Tensor] = {}
    handles = []
    layers = leaf_layers(model)
    last = layers[-1] if layers else None
    for layer in layers:
        name = _activation_name(layer)
        if name in DEAD_CAN_BE or (name in SATURATING and layer is not last):
            watched[layer.name] = name

            def hook(module: Any, args: Any, output: Any, key: str = layer.name) -> None:
                if isinstance(output, torch.Tensor):
                    seen[key] = output.detach()

            handles.append(layer.register_forward_hook(hook))
    try:
        with torch.no_grad():
            model(s.x_sample, training=False)
    finally:
        for handle in handles:
            handle.remove()
    out = []
    for key, act in seen.items():
        name = watched[key]
        units = act.reshape(act.shape[0], -1) if act.ndim > 1 else act.reshape(-1, 1)
        if name in DEAD_CAN_BE:
            dead = float((units <= 0).all(0).float().mean())
            if dead == 1.0:
                out.append(Finding(ERROR, "dead_layer", f"every unit of {key} ({name}) outputs 0 on every sample "
                                   "row: the layer is dead and passes no gradient (a large negative bias? a too "
                                   "high learning rate in earlier training?)."))
            elif dead >= 0.5:
                out.append(Finding(WARNING, "dead_units", f"{dead:.0%} of the units of {key} ({name}) output 0 on "
                                   "every sample row (dead ReLUs): lower the learning rate, or use leaky_relu/gelu."))
        else:
            lo, hi = SATURATING[name]
            saturated = float(((units <= lo) | (units >= hi)).float().mean())
            if saturated >= 0.5:
                out.append(Finding(WARNING, "saturated_activations", f"{saturated:.0%} of {key}'s {name} outputs "
                                   "are saturated (their gradient is almost 0): scale the inputs, or use relu."))
    return out


# ---------------------------------------------------------------------------------------------- short trainings
def _train(probe: Probe, steps: int, check_every: int = 25,
           stop: Callable[[list[float]], bool] | None = None) -> list[float]:
    losses: list[torch.Tensor] = []
    values: list[float] = []
    for i in range(steps):
        losses.append(probe.train_step(probe.next_batch()).float())
        if (i + 1) % check_every == 0 or i + 1 == steps:
            values = torch.stack(losses).tolist()
            if not math.isfinite(values[-1]) or (stop is not None and stop(values)):
                break
    return values


def check_overfit_one_batch(s: Sample, rows: int = 16, steps: int = 150) -> list[Finding]:
    """Train on one small batch: a sound model and optimizer drive its loss near zero."""
    n = min(rows, _leaves(s.x_sample)[0].shape[0])
    probe = s.probe(rows=slice(0, n), batch_size=n)
    first = probe.evaluate(probe.adapter.first_batch())
    losses = _train(probe, steps, stop=lambda v: v[-1] < 0.05 * max(first, 1e-8))
    final = probe.evaluate(probe.adapter.first_batch())
    if math.isfinite(final) and final < 0.2 * first or final < 0.05:
        return [Finding(INFO, "overfits_one_batch", f"one batch of {n} rows: loss {first:.3g} -> {final:.3g} in "
                                                    f"{len(losses)} steps.")]
    return [Finding(WARNING, "cannot_overfit", f"the model cannot overfit one batch of {n} rows: loss {first:.3g} "
                    f"-> {final:.3g} after {len(losses)} steps. Check the learning rate, the loss/output pairing and "
                    "that the labels match the inputs; a model too small or too regularized shows this too.")]


def check_training_runs(s: Sample, steps: int = 60) -> list[Finding]:
    """Short runs from the same weights on most of the sample, judged on the rest: the learning rate against a
    tenth of it, and the true labels against shuffled ones (a model must learn more from real labels)."""
    n = _leaves(s.x_sample)[0].shape[0]
    train, held = slice(0, n - n // 4), slice(n - n // 4, n)
    optimizer = s.model.optimizer
    lr = float(optimizer.learning_rate) if not callable(getattr(optimizer, "_learning_rate", None)) else None

    def run(scale: float, y: Any = None) -> tuple[float, float]:
        probe = s.probe(y=y, rows=train)
        if lr is not None and scale != 1:
            probe.use_optimizer(set_learning_rate(probe.optimizer, lr * scale))
        losses = _train(probe, steps)
        tail = losses[-max(len(losses) // 5, 1):]
        train_loss = sum(tail) / len(tail) if tail else math.nan
        held_batch = (tree.map_structure(lambda t: t[held], s.x_sample),
                      tree.map_structure(lambda t: t[held], s.y_sample if y is None else y))
        return train_loss, probe.evaluate(held_batch)

    out = []
    base_train, base_held = run(1.0)
    best_scale = 1.0
    if lr is not None:
        low_train, low_held = run(0.1)
        diverged = not math.isfinite(base_train)
        if diverged or (math.isfinite(low_train) and low_train < 0.7 * base_train):
            out.append(Finding(WARNING, "lr_too_high", f"learning rate {lr:.3g}: after {steps} steps the loss is "
                               f"{base_train:.3g}, against {low_train:.3g} with {lr / 10:.3g}. Lower it (try "
                               "model.lr_find(x, y) for a rate)."))
            best_scale, base_held = 0.1, low_held
        else:
            out.append(Finding(INFO, "learning_rate", f"learning rate {lr:.3g}: loss {base_train:.3g} after {steps} "
                                                      f"steps ({low_train:.3g} with {lr / 10:.3g})."))
    generator = torch.Generator().manual_seed(s.seed)
    y_leaf = s.y_sample if isinstance(s.y_sample, torch.Tensor) else None
    if y_leaf is not None:
        order = torch.randperm(y_leaf.shape[0], generator=generator).to(y_leaf.device)
        _, shuffled_held = run(best_scale, y=y_leaf[order])
        if not (math.isfinite(base_held) and base_held < 0.85 * shuffled_held):
            out.append(Finding(WARNING, "no_signal_in_labels", f"held-out loss with the true labels {base_held:.3g}, "
                               f"with shuffled labels {shuffled_held:.3g}: the model learns nothing from the inputs "
                               "that shuffling the labels destroys. Are x and y aligned (shuffled apart, sorted "
                               "differently)?"))
        else:
            out.append(Finding(INFO, "label_control", f"held-out loss {base_held:.3g} with the true labels, "
                                                      f"{shuffled_held:.3g} with shuffled labels."))
    return out


def check_step_time(s: Sample, steps: int = 10) -> list[Finding]:
    """How much of a step the input pipeline takes: batches drawn alone, against whole training steps."""
    probe = s.probe()
    adapter = make_adapter(s.x, s.y, batch_size=s.batch_size, shuffle=True, device=probe.trainer.device,
                           check_finite=False)
    batches = iter(adapter.epoch())
    sync = torch.cuda.synchronize if probe.trainer.device.type == "cuda" else (lambda: None)
    probe.train_step(next(batches))  # warm-up: the first batch also pays for the pass's set-up (once per epoch)
    sync()
    start = time.perf_counter()
    drawn = []
    for _ in range(steps):
        batch = next(batches, None)
        if batch is None:
            break
        drawn.append(batch)
    sync()
    data_time = (time.perf_counter() - start) / max(len(drawn), 1)
    start = time.perf_counter()
    for batch in drawn:
        probe.train_step(batch)
    sync()
    step_time = (time.perf_counter() - start) / max(len(drawn), 1)
    share = data_time / max(data_time + step_time, 1e-12)
    message = (f"input pipeline {data_time * 1e3:.3g} ms a batch, training step {step_time * 1e3:.3g} ms: the "
               f"data takes {share:.0%} of a step")
    if share > 0.5:
        return [Finding(WARNING, "slow_input_pipeline", message + ". Load batches in parallel (DataLoader "
                        "num_workers), cache decoded data, or keep arrays in memory.")]
    return [Finding(INFO, "step_time", message + ".")]
