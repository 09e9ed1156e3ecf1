"""LAMB (layer-wise adaptive moments), Keras 3's formula: Adam's direction, scaled per weight by the trust ratio
``||w|| / ||update||``. PyTorch has no LAMB, so it runs on ``KerasLamb`` (foreach ops; the norms stay on the
device).

>>> Lamb().get_config()["beta_2"]
0.999
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


class KerasLamb(ForeachOptimizer):
    """``m``, ``v`` as Adam's; ``u = (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``;
    ``w -= lr * r * u`` with ``r = ||w|| / ||u||`` where both norms are > 0, else 1."""

    def __init__(self, params: Any, lr: float, beta_1: float, beta_2: float, epsilon: float):
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"momentum": torch.zeros_like(param, memory_format=torch.preserve_format),
                "velocity": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], group["step"]
        m, v = [s["momentum"] for s in states], [s["velocity"] for s in states]
        torch._foreach_lerp_(m, grads, 1.0 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
        denominators = torch._foreach_div(v, 1.0 - b2 ** t)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, group["epsilon"])
        updates = torch._foreach_div(m, denominators)
        torch._foreach_div_(updates, 1.0 - b1 ** t)
        weight_norms, update_norms = torch._foreach_norm(params), torch._foreach_norm(updates)
        ratios = [torch.where((wn > 0) & (un > 0), wn / un, torch.ones_like(wn))
                  for wn, un in zip(weight_norms, update_norms, strict=True)]
        torch._foreach_mul_(updates, ratios)
        torch._foreach_add_(params, updates, alpha=-group["lr"])


@OPTIMIZERS("lamb", "Lamb")
class Lamb(Optimizer):
    """LAMB (Keras defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7), for large batches.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([3.0, 4.0]))
    >>> Lamb(learning_rate=0.1).apply([torch.tensor([1.0, 1.0])], [w])  # u = (1, 1), r = 5 / sqrt(2)
    >>> w.data
    tensor([2.6464, 3.6464])
    """

    torch_class = KerasLamb

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _torch_kwargs(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
