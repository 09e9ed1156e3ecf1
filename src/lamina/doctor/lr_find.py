"""``model.lr_find``: an exponential learning-rate sweep on a copy of the model and its optimizer.

The learning rate grows from ``start_lr`` to ``end_lr`` by the same factor at every step while a copy of the
model trains on the data; the smoothed loss against the rate shows where training is fastest and where it
breaks. Two rules read a rate off the curve (Smith 2017, fastai): the steepest descent of the loss, and the rate
of the lowest loss divided by ten. The user's model, optimizer (slots, step counter, schedule), metrics and random
streams are exactly as before afterwards: the sweep trains a deep copy, and the random streams are restored.

>>> import numpy as np, lamina
>>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
>>> x, y = np.random.rand(256, 4).astype("float32"), np.random.randint(0, 3, 256)
>>> result = model.lr_find(x, y, num_steps=30)
>>> sorted(result.suggestions)
['min_div_10', 'steepest']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from lamina.doctor import svg
from lamina.doctor._sandbox import Probe, saved_rng, set_learning_rate


@dataclass
class LRFinderResult:
    """The sweep: ``learning_rates[i]`` was used for step ``i`` whose loss was ``raw_losses[i]`` (``losses``: the
    same, smoothed with a bias-corrected moving average). ``suggestions`` holds both rules' rates
    (``"steepest"``, ``"min_div_10"``); ``suggestion`` is the one to use, the smaller of the two (see ``choose``).
    ``stopped_early``: the loss diverged before ``end_lr``."""

    learning_rates: list[float]
    losses: list[float]
    raw_losses: list[float]
    suggestions: dict[str, float] = field(default_factory=dict)
    suggestion: float = float("nan")
    stopped_early: bool = False

    def __repr__(self) -> str:
        rules = ", ".join(f"{k}={v:.2e}" for k, v in self.suggestions.items())
        return (f"LRFinderResult(suggestion={self.suggestion:.2e}, {rules}, steps={len(self.learning_rates)}"
                f"{', stopped early (diverged)' if self.stopped_early else ''})")

    def to_svg(self) -> str:
        """The curve (smoothed loss against the learning rate, log scale) with both suggestions marked, as SVG."""
        return svg.line_chart(self.learning_rates, self.losses, log_x=True, title="Learning-rate finder",
                              x_label="learning rate", y_label="loss (smoothed)", markers=self.suggestions)

    def plot(self, ax: Any = None) -> Any:
        """The curve on a matplotlib ``ax`` (a new figure's when None); returns the axes. Needs matplotlib (an
        optional dependency); ``to_svg()`` needs nothing."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError("LRFinderResult.plot() needs matplotlib (pip install matplotlib); to_svg() draws the "
                              "same curve without it.") from error
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.learning_rates, self.losses, label="loss (smoothed)")
        ax.set_xscale("log")
        for (name, lr), color in zip(self.suggestions.items(), ("tab:red", "tab:green"), strict=False):
            ax.axvline(lr, color=color, linestyle="--", label=f"{name}: {lr:.1e}")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend()
        return ax


def smooth(values: list[float], beta: float) -> list[float]:
    """Bias-corrected exponential moving average (what the curve shows)."""
    out, avg = [], 0.0
    for i, v in enumerate(values, 1):
        avg = beta * avg + (1 - beta) * v
        out.append(avg / (1 - beta ** i))
    return out


def suggest(lrs: list[float], losses: list[float], skip_start: int = 5, skip_end: int = 3) -> dict[str, float]:
    """Both rules on a smoothed curve: ``steepest``, the rate where the loss falls fastest against log(rate)
    before its minimum; ``min_div_10``, the rate of the lowest loss divided by 10."""
    finite = [i for i, v in enumerate(losses) if math.isfinite(v)]
    if len(finite) < 3:
        raise ValueError(f"lr_find: {len(finite)} finite losses; the sweep needs more steps (num_steps) or a lower "
                         "start_lr.")
    loss = np.asarray(losses, dtype=np.float64)
    best = min(finite, key=lambda i: loss[i])
    lo = min(skip_start, max(best - 2, 0))
    hi = max(best, min(lo + 2, len(losses) - 1))
    if len(losses) - skip_end > lo + 2:
        hi = min(hi, len(losses) - skip_end)
    window = np.arange(lo, hi + 1)
    log_lr = np.log10(np.asarray(lrs, dtype=np.float64))
    slope = np.gradient(loss[window], log_lr[window]) if len(window) > 1 else np.zeros(1)
    slope = np.where(np.isfinite(slope), slope, np.inf)
    steepest = float(lrs[int(window[int(np.argmin(slope))])])
    return {"steepest": steepest, "min_div_10": float(lrs[best]) / 10}


def choose(suggestions: dict[str, float]) -> float:
    """One rate from the two rules: the smaller. The smoothed curve lags the raw losses, so over a 100-step sweep
    its minimum sits late and the minimum / 10 can still be too high (0.05-0.09 for Adam on the README's
    classifier, where the steepest point, about 7e-3, trains well); when the curve falls steeply early, the
    minimum / 10 is the smaller and the safer."""
    return min(suggestions["steepest"], suggestions["min_div_10"]) if suggestions["steepest"] > 0 \
        else suggestions["min_div_10"]


def lr_find(model: Any, x: Any, y: Any = None, *, batch_size: int | None = None, start_lr: float = 1e-7,
            end_lr: float = 10.0, num_steps: int = 100, beta: float = 0.98, diverge_factor: float = 4.0,
            sample_weight: Any = None, check_every: int = 10) -> LRFinderResult:
    """Sweep the learning rate exponentially from ``start_lr`` to ``end_lr`` over ``num_steps`` steps on a copy of
    ``model`` (compiled) and its optimizer, stopping early once the smoothed loss exceeds ``diverge_factor`` times
    its lowest value (or turns NaN). Losses stay on the device and are read every ``check_every`` steps.

    Returns an ``LRFinderResult`` with the curve and both suggestions; ``model`` is left bit-identical."""
    if not (0 < start_lr < end_lr):
        raise ValueError(f"lr_find needs 0 < start_lr < end_lr; received start_lr={start_lr}, end_lr={end_lr}.")
    if num_steps < 5:
        raise ValueError(f"lr_find needs num_steps >= 5 to draw a curve; received num_steps={num_steps}.")
    factor = (end_lr / start_lr) ** (1 / (num_steps - 1))
    rates = [start_lr * factor ** i for i in range(num_steps)]
    with saved_rng():
        probe = Probe(model, x, y, sample_weight=sample_weight, batch_size=batch_size)
        optimizer = set_learning_rate(probe.optimizer, start_lr)
        probe.use_optimizer(optimizer)
        device_losses = torch.empty(num_steps, dtype=torch.float32, device=probe.trainer.device)
        raw: list[float] = []
        stopped = False
        for i, lr in enumerate(rates):
            optimizer.learning_rate = lr
            device_losses[i] = probe.train_step(probe.next_batch()).float()
            if (i + 1) % check_every == 0 or i + 1 == num_steps:  # one host read per `check_every` steps
                raw = device_losses[: i + 1].tolist()
                smoothed = smooth(raw, beta)
                bad = next((j for j, v in enumerate(smoothed) if not math.isfinite(v) or (
                    j > check_every and v > diverge_factor * min(smoothed[: j + 1]))), None)
                if bad is not None:
                    raw, stopped = raw[: bad + 1], True
                    break
    smoothed = smooth(raw, beta)
    lrs = rates[: len(raw)]
    suggestions = suggest(lrs, smoothed)
    return LRFinderResult(learning_rates=lrs, losses=smoothed, raw_losses=raw, suggestions=suggestions,
                          suggestion=choose(suggestions), stopped_early=stopped)
