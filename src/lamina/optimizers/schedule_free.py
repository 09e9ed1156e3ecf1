"""Schedule-Free AdamW (Defazio et al., 2024), Keras 3's formula: Adam-normalised gradient steps on a sequence
``z`` (the ``momentum`` slot, starting at the weights) while the weights follow the running average of ``z``,
so no learning-rate schedule is needed. Runs on ``KerasScheduleFreeAdamW`` (foreach ops).

>>> ScheduleFreeAdamW().get_config()["warmup_steps"]
0
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


class KerasScheduleFreeAdamW(ForeachOptimizer):
    """At step t: ``lr_t = lr * min(1, t / warmup_steps)``; ``v = b2 v + (1 - b2) g^2``;
    ``z -= lr_t * g / (sqrt(v / (1 - b2^t)) + eps)``; ``w += (z - w) / t`` (the average of the ``z``s)."""

    def __init__(self, params: Any, lr: float, beta_2: float, epsilon: float, warmup_steps: int):
        super().__init__(params, {"lr": lr, "beta_2": beta_2, "epsilon": epsilon, "warmup_steps": warmup_steps})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"momentum": param.detach().clone(memory_format=torch.preserve_format),
                "velocity": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        t, b2, warmup = group["step"], group["beta_2"], group["warmup_steps"]
        lr = group["lr"] * (min(1.0, t / warmup) if warmup else 1.0)
        z, v = [s["momentum"] for s in states], [s["velocity"] for s in states]
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
        denominators = torch._foreach_div(v, 1.0 - b2 ** t)
        torch._foreach_sqrt_(denominators)
        torch._foreach_add_(denominators, group["epsilon"])
        torch._foreach_addcdiv_(z, grads, denominators, value=-lr)
        torch._foreach_lerp_(params, z, 1.0 / t)


@OPTIMIZERS("schedule_free_adamw", "ScheduleFreeAdamW")
class ScheduleFreeAdamW(Optimizer):
    """Schedule-Free AdamW (Keras defaults: learning_rate 0.0025, beta_1 0.9, beta_2 0.999, epsilon 1e-8,
    warmup_steps 0). During the first ``warmup_steps`` steps the rate rises linearly to ``learning_rate``.

    ``beta_1`` is kept for Keras's config: Keras's update of the weights does not depend on it (checked
    numerically against Keras 3.15 for several values).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> opt = ScheduleFreeAdamW(learning_rate=0.1, epsilon=0.0)
    >>> opt.apply([torch.tensor([1.0, -1.0])], [w]); w.data  # step 1: w = z = -lr * sign(g)
    tensor([-0.1000,  0.1000])
    """

    torch_class = KerasScheduleFreeAdamW

    def __init__(self, learning_rate: LearningRate = 0.0025, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-8, warmup_steps: int = 0, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int) or warmup_steps < 0:
            raise ValueError("ScheduleFreeAdamW: `warmup_steps` must be an int >= 0; received "
                             f"warmup_steps={warmup_steps!r}.")
        self.beta_1, self.beta_2, self.epsilon, self.warmup_steps = beta_1, beta_2, epsilon, warmup_steps

    def _torch_kwargs(self) -> dict:
        return {"beta_2": self.beta_2, "epsilon": self.epsilon, "warmup_steps": self.warmup_steps}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "warmup_steps": self.warmup_steps}
