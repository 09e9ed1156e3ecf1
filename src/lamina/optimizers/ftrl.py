"""FTRL-Proximal ("Follow The Regularized Leader"), Keras 3's formula, with online L1/L2 and shrinkage L2.

PyTorch has no FTRL, so it runs on ``KerasFtrl`` (foreach ops, no host synchronisation).

>>> Ftrl(l1_regularization_strength=0.01).get_config()["l1_regularization_strength"]
0.01
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


class KerasFtrl(ForeachOptimizer):
    """Per step, with ``p = -learning_rate_power``: ``n' = n + g^2``; ``z += g + 2 l2s w - (n'^p - n^p) / lr * w``;
    ``w = (clip(z, -l1, l1) - z) / (n'^p / lr + beta / lr + 2 l2)`` (zero where ``|z| <= l1``)."""

    def __init__(self, params: Any, lr: float, learning_rate_power: float, initial_accumulator_value: float,
                 l1: float, l2: float, l2_shrinkage: float, beta: float):
        super().__init__(params, {"lr": lr, "learning_rate_power": learning_rate_power,
                                  "initial_accumulator_value": initial_accumulator_value, "l1": l1, "l2": l2,
                                  "l2_shrinkage": l2_shrinkage, "beta": beta})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"accumulator": torch.full_like(param, group["initial_accumulator_value"],
                                               memory_format=torch.preserve_format),
                "linear": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        lr, power = group["lr"], -group["learning_rate_power"]
        accumulators, linears = [s["accumulator"] for s in states], [s["linear"] for s in states]
        shrunk = grads
        if group["l2_shrinkage"] > 0:
            shrunk = torch._foreach_add(grads, params, alpha=2.0 * group["l2_shrinkage"])
        old_powered = torch._foreach_pow(accumulators, power)
        torch._foreach_addcmul_(accumulators, grads, grads)
        new_powered = torch._foreach_pow(accumulators, power)
        # z += g_shrunk - sigma * w, sigma = (n'^p - n^p) / lr
        sigma = torch._foreach_sub(new_powered, old_powered)
        torch._foreach_div_(sigma, lr)
        torch._foreach_add_(linears, shrunk)
        torch._foreach_sub_(linears, torch._foreach_mul(sigma, params))
        quadratic = torch._foreach_div(new_powered, lr)
        torch._foreach_add_(quadratic, group["beta"] / lr + 2.0 * group["l2"])
        l1 = group["l1"]
        numerators = torch._foreach_clamp_max(torch._foreach_clamp_min(linears, -l1), l1)
        torch._foreach_sub_(numerators, linears)
        torch._foreach_copy_(params, torch._foreach_div(numerators, quadratic))


def _non_negative(value: float, argument: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ValueError(f"Ftrl: `{argument}` needs to be a number >= 0; received {argument}={value!r}.")
    return value


@OPTIMIZERS("ftrl", "Ftrl")
class Ftrl(Optimizer):
    """FTRL (Keras defaults: learning_rate 0.001, learning_rate_power -0.5, initial_accumulator_value 0.1, no
    regularization, beta 0.0). Suited to shallow models with large, sparse feature spaces.

    Args:
        learning_rate_power: <= 0; how the per-coordinate rate decays with the accumulated squared gradients
            (0: a fixed rate).
        initial_accumulator_value: >= 0, the accumulators' starting value.
        l1_regularization_strength / l2_regularization_strength: >= 0, FTRL's online L1 and (stabilising) L2.
        l2_shrinkage_regularization_strength: >= 0, an L2 penalty added to the gradient (``g + 2 * s * w``).
        beta: the paper's beta, added to the accumulated root.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> Ftrl(learning_rate=0.5, initial_accumulator_value=0.0).apply([torch.tensor([1.0, -2.0])], [w]); w.data
    tensor([-0.5000,  0.5000])
    """

    torch_class = KerasFtrl

    def __init__(self, learning_rate: LearningRate = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if isinstance(learning_rate_power, bool) or not isinstance(learning_rate_power, (int, float)) \
                or not learning_rate_power <= 0:
            raise ValueError("Ftrl: `learning_rate_power` needs to be a number <= 0 (0 for a fixed rate); received "
                             f"learning_rate_power={learning_rate_power!r}.")
        self.learning_rate_power = learning_rate_power
        self.initial_accumulator_value = _non_negative(initial_accumulator_value, "initial_accumulator_value")
        self.l1_regularization_strength = _non_negative(l1_regularization_strength, "l1_regularization_strength")
        self.l2_regularization_strength = _non_negative(l2_regularization_strength, "l2_regularization_strength")
        self.l2_shrinkage_regularization_strength = _non_negative(
            l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength")
        self.beta = beta

    def _torch_kwargs(self) -> dict:
        return {"learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1": self.l1_regularization_strength, "l2": self.l2_regularization_strength,
                "l2_shrinkage": self.l2_shrinkage_regularization_strength, "beta": self.beta}

    def get_config(self) -> dict:
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
