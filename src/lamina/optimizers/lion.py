"""Lion (EvoLved Sign Momentum), Keras 3's formula: the update is the sign of an interpolation of the momentum
and the gradient. PyTorch has no Lion, so it runs on ``KerasLion`` (foreach ops).

>>> Lion().get_config()["beta_2"]
0.99
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


class KerasLion(ForeachOptimizer):
    """``w -= lr * sign(b1 m + (1 - b1) g)``; then ``m = b2 m + (1 - b2) g``."""

    def __init__(self, params: Any, lr: float, beta_1: float, beta_2: float):
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"momentum": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        b1, b2 = group["beta_1"], group["beta_2"]
        m = [s["momentum"] for s in states]
        direction = torch._foreach_mul(m, b1)
        torch._foreach_add_(direction, grads, alpha=1.0 - b1)
        torch._foreach_sign_(direction)
        torch._foreach_add_(params, direction, alpha=-group["lr"])
        torch._foreach_mul_(m, b2)
        torch._foreach_add_(m, grads, alpha=1.0 - b2)


@OPTIMIZERS("lion", "Lion")
class Lion(Optimizer):
    """Lion (Keras defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.99).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> Lion(learning_rate=0.1).apply([torch.tensor([0.5, -3.0])], [w]); w.data
    tensor([-0.1000,  0.1000])
    """

    torch_class = KerasLion

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.99,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: `beta_1` must be in (0, 1] (at 0 Lion degenerates to sign SGD); received "
                             f"beta_1={beta_1!r}.")
        self.beta_1, self.beta_2 = beta_1, beta_2

    def _torch_kwargs(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
