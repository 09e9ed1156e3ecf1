"""SGD with optional (Nesterov) momentum, Keras's formula.

Without momentum this is ``torch.optim.SGD``. With momentum Keras keeps ``m = momentum * m - lr * g`` (the rate
inside the buffer) where torch keeps ``b = momentum * b + g`` and multiplies by the current rate: the two agree
only while the rate is constant, so momentum runs on ``MomentumSGD`` (Keras's formula, foreach ops).

>>> SGD(learning_rate=0.1, momentum=0.9, nesterov=True).get_config()["momentum"]
0.9
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer


class MomentumSGD(ForeachOptimizer):
    """``m = momentum * m - lr * g``; ``w += m``, or with Nesterov ``w += momentum * m - lr * g``."""

    def __init__(self, params: Any, lr: float, momentum: float, nesterov: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"momentum": torch.zeros_like(param, memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        lr, mu = group["lr"], group["momentum"]
        buffers = [s["momentum"] for s in states]
        torch._foreach_mul_(buffers, mu)
        torch._foreach_add_(buffers, grads, alpha=-lr)
        if group["nesterov"]:
            torch._foreach_add_(params, grads, alpha=-lr)
            torch._foreach_add_(params, buffers, alpha=mu)
        else:
            torch._foreach_add_(params, buffers)


@OPTIMIZERS("sgd", "SGD")
class SGD(Optimizer):
    """Stochastic gradient descent (Keras defaults: learning_rate 0.01, momentum 0, nesterov False).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> opt = SGD(learning_rate=0.1, momentum=0.5)
    >>> for _ in range(2): opt.apply([torch.ones(1)], [w])
    >>> w.data  # m1 = -0.1, m2 = 0.5 * m1 - 0.1
    tensor([-0.2500])
    """

    def __init__(self, learning_rate: LearningRate = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"SGD: `momentum` must be a float in [0, 1]; received momentum={momentum!r}.")
        self.momentum = momentum
        self.nesterov = nesterov

    @property
    def torch_class(self) -> type[torch.optim.Optimizer]:  # type: ignore[override]
        return MomentumSGD if self.momentum else torch.optim.SGD

    def _torch_kwargs(self) -> dict:
        if self.momentum:
            return {"momentum": self.momentum, "nesterov": bool(self.nesterov)}
        return {"foreach": True}

    def _traceable_rule(self) -> tuple[Any, Any]:
        """Keras's SGD (see MomentumSGD) on its momentum slots."""
        slots = [self.torch_optimizer.state[p]["momentum"] for p in self._params] if self.momentum else []
        mu, nesterov = self.momentum, bool(self.nesterov)

        def apply(params: list, grads: list, slots: list, lr: torch.Tensor) -> None:
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                if not mu:
                    p.sub_(lr * g)
                    continue
                m = slots[i].mul_(mu).sub_(lr * g)
                p.add_(mu * m - lr * g if nesterov else m)

        return slots, apply

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}
