"""Adafactor, Keras 3's formula: second moments factored into row and column means for weights of rank >= 2,
updates scaled by the weight's RMS and clipped by their own RMS.

``torch.optim.Adafactor`` differs (it clamps the variance estimate with epsilon_1 squared where Keras adds
epsilon_1 to the squared gradient, and it has no ``clip_threshold``), so this runs on ``KerasAdafactor``.

>>> Adafactor().get_config()["beta_2_decay"]
-0.8
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


def _rms(x: torch.Tensor) -> torch.Tensor:
    return x.square().mean().sqrt()


class KerasAdafactor(ForeachOptimizer):
    """At step t: ``rho = min(lr, 1/sqrt(t))``, ``beta = 1 - t ** beta_2_decay``; ``r``/``c`` (rank >= 2) or
    ``v`` follow ``g^2 + epsilon_1`` with rate ``beta``; ``u = g / sqrt(v)``, clipped to RMS ``clip_threshold``;
    ``w -= max(epsilon_2, rms(w)) * rho * u``."""

    def __init__(self, params: Any, lr: float, beta_2_decay: float, epsilon_1: float, epsilon_2: float,
                 clip_threshold: float):
        super().__init__(params, {"lr": lr, "beta_2_decay": beta_2_decay, "epsilon_1": epsilon_1,
                                  "epsilon_2": epsilon_2, "clip_threshold": clip_threshold})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        if param.ndim >= 2:
            shape = tuple(param.shape)
            return {"r": param.new_zeros(shape[:-1]), "c": param.new_zeros(shape[:-2] + shape[-1:])}
        return {"v": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        t = group["step"]
        rho = min(group["lr"], 1.0 / math.sqrt(t))
        beta = 1.0 - t ** group["beta_2_decay"]
        for p, g, state in zip(params, grads, states, strict=True):
            alpha = torch.clamp(_rms(p), min=group["epsilon_2"]) * rho
            regulated = g * g + group["epsilon_1"]
            if p.ndim >= 2:
                r, c = state["r"], state["c"]
                r.mul_(beta).add_(regulated.mean(dim=-1), alpha=1.0 - beta)
                c.mul_(beta).add_(regulated.mean(dim=-2), alpha=1.0 - beta)
                v = (r / r.mean(dim=-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2)
            else:
                v = state["v"]
                v.mul_(beta).add_(regulated, alpha=1.0 - beta)
            u = g / v.sqrt()
            u = u / torch.clamp(_rms(u) / group["clip_threshold"], min=1.0)
            p.sub_(alpha * u)


@OPTIMIZERS("adafactor", "Adafactor")
class Adafactor(Optimizer):
    """Adafactor (Keras defaults: learning_rate 0.001, beta_2_decay -0.8, epsilon_1 1e-30, epsilon_2 1e-3,
    clip_threshold 1.0, relative_step True).

    ``relative_step`` is kept for Keras's config: in Keras's formula the step size is ``min(lr, 1/sqrt(t))``
    either way.

    >>> Adafactor(clip_threshold=2.0).get_config()["clip_threshold"]
    2.0
    """

    torch_class = KerasAdafactor

    def _slot_items(self) -> list[tuple[torch.Tensor, str, torch.Tensor]]:
        """Keras's three variables per weight: row and column factors, then the velocity. A vector has no
        factors (zeros of shape ``()`` here, as in Keras); a factored weight's velocity is the estimate its
        factors give (computed here, as Keras stores it; setting it changes nothing)."""
        if self.torch_optimizer is None:
            return []
        items = []
        for p in self._params:
            state = self.torch_optimizer.state[p]
            if "r" in state:
                r, c = state["r"], state["c"]
                velocity = ((r / r.mean(dim=-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2)).nan_to_num(0.0)
                items += [(p, "r", r), (p, "c", c), (p, "velocity", velocity)]
            else:
                zero = p.new_zeros(())
                items += [(p, "r", zero), (p, "c", zero.clone()), (p, "velocity", state["v"])]
        return items

    def __init__(self, learning_rate: LearningRate = 0.001, beta_2_decay: float = -0.8, epsilon_1: float = 1e-30,
                 epsilon_2: float = 1e-3, clip_threshold: float = 1.0, relative_step: bool = True, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not clip_threshold > 0:
            raise ValueError(f"Adafactor: `clip_threshold` must be > 0; received {clip_threshold!r}.")
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    def _torch_kwargs(self) -> dict:
        return {"beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1, "epsilon_2": self.epsilon_2,
                "clip_threshold": self.clip_threshold}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}
