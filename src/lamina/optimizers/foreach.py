"""``ForeachOptimizer``: a ``torch.optim.Optimizer`` whose update is Keras's formula written with
``torch._foreach_*`` (for optimizers whose PyTorch counterpart computes something else), and the step-count
helpers the optimizers share.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


class ForeachOptimizer(torch.optim.Optimizer):
    """A ``torch.optim.Optimizer`` whose update is Keras's formula, written with ``torch._foreach_*`` ops.

    Subclasses define ``init_state(param, group)`` (the slots, created eagerly by lamina's ``build``) and
    ``update(group, params, grads, states)``. ``group["step"]`` counts the updates (Keras's ``iterations + 1``
    during an update), as a Python int so that no step needs a device synchronisation.
    """

    def __init__(self, params: Iterable[torch.Tensor], defaults: dict):
        super().__init__(params, {**defaults, "step": 0})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update().")  # abstract: each subclass

    @torch.no_grad()
    def step(self, closure: Callable | None = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            for p in params:
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients.")
                if not self.state[p]:
                    self.state[p].update(self.init_state(p, group))
            group["step"] += 1
            self.update(group, params, [p.grad for p in params], [self.state[p] for p in params])
        return loss


def scalar_dtype(fused: bool = False) -> torch.dtype:
    """The dtype torch.optim gives its ``step`` tensors."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 and not fused else torch.float32


def torch_step_tensor(param: torch.Tensor, group: dict) -> torch.Tensor:
    """A zero ``step`` placed where torch.optim puts it: on the weight's device when fused or capturable, else on
    the CPU (so reading it never synchronises)."""
    if group.get("fused") or group.get("capturable"):
        return torch.zeros((), dtype=scalar_dtype(bool(group.get("fused"))), device=param.device)
    return torch.tensor(0.0, dtype=scalar_dtype())
