"""Per-coordinate adaptive rates: RMSprop, Adagrad, Adadelta (Keras 3's formulas, defaults and configs).

Adadelta is ``torch.optim.Adadelta`` (the same formula, epsilon inside both roots). RMSprop and Adagrad run on
foreach re-statements of Keras's formulas, because torch adds epsilon outside the square root, RMSprop's torch
momentum buffer holds ``g / rms`` instead of ``lr * g / rms``, and torch's Adagrad starts from 0 rather than
``initial_accumulator_value`` inside Keras's root.

>>> RMSprop(centered=True).get_config()["rho"]
0.9
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer, torch_step_tensor


def _zeros(param: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(param, memory_format=torch.preserve_format)


class KerasRMSprop(ForeachOptimizer):
    """``v = rho v + (1 - rho) g^2``; ``d = sqrt(v - a^2 + eps)`` (``a`` the mean gradient, when centered);
    ``w -= lr g / d``, or through a momentum buffer ``m = momentum m + lr g / d``."""

    def __init__(self, params: Any, lr: float, rho: float, momentum: float, epsilon: float, centered: bool):
        super().__init__(params, {"lr": lr, "rho": rho, "momentum": momentum, "epsilon": epsilon,
                                  "centered": centered})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        state = {"velocity": _zeros(param)}
        if group["momentum"] > 0:
            state["momentum"] = _zeros(param)
        if group["centered"]:
            state["average_gradient"] = _zeros(param)
        return state

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        rho = group["rho"]
        velocities = [s["velocity"] for s in states]
        torch._foreach_mul_(velocities, rho)
        torch._foreach_add_(velocities, torch._foreach_mul(grads, grads), alpha=1.0 - rho)
        denominators = torch._foreach_add(velocities, group["epsilon"])
        if group["centered"]:
            averages = [s["average_gradient"] for s in states]
            torch._foreach_mul_(averages, rho)
            torch._foreach_add_(averages, grads, alpha=1.0 - rho)
            torch._foreach_add_(denominators, torch._foreach_mul(averages, averages), alpha=-1.0)
        torch._foreach_sqrt_(denominators)
        increments = torch._foreach_div(torch._foreach_mul(grads, group["lr"]), denominators)
        if group["momentum"] > 0:
            buffers = [s["momentum"] for s in states]
            torch._foreach_mul_(buffers, group["momentum"])
            torch._foreach_add_(buffers, increments)
            torch._foreach_add_(params, buffers, alpha=-1.0)
        else:
            torch._foreach_add_(params, increments, alpha=-1.0)


@OPTIMIZERS("rmsprop", "RMSprop")
class RMSprop(Optimizer):
    """RMSprop (Keras defaults: learning_rate 0.001, rho 0.9, momentum 0, epsilon 1e-7, centered False).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> RMSprop(learning_rate=0.1, rho=0.0, epsilon=0.0).apply([torch.tensor([3.0])], [w]); w.data
    tensor([-0.1000])
    """

    torch_class = KerasRMSprop
    _keras_slot_groups = (("velocity",), ("momentum",), ("average_gradient",))  # Keras: each kind for all weights

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _torch_kwargs(self) -> dict:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": bool(self.centered)}

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class KerasAdagrad(ForeachOptimizer):
    """``a += g^2`` (``a`` starts at ``initial_accumulator_value``); ``w -= lr g / sqrt(a + eps)``."""

    def __init__(self, params: Any, lr: float, initial_accumulator_value: float, epsilon: float):
        super().__init__(params, {"lr": lr, "initial_accumulator_value": initial_accumulator_value,
                                  "epsilon": epsilon})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"accumulator": torch.full_like(param, group["initial_accumulator_value"],
                                               memory_format=torch.preserve_format)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        accumulators = [s["accumulator"] for s in states]
        torch._foreach_add_(accumulators, torch._foreach_mul(grads, grads))
        roots = torch._foreach_sqrt(torch._foreach_add(accumulators, group["epsilon"]))
        torch._foreach_add_(params, torch._foreach_div(torch._foreach_mul(grads, group["lr"]), roots), alpha=-1.0)


@OPTIMIZERS("adagrad", "Adagrad")
class Adagrad(Optimizer):
    """Adagrad (Keras defaults: learning_rate 0.001, initial_accumulator_value 0.1, epsilon 1e-7).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(1))
    >>> Adagrad(learning_rate=1.0, initial_accumulator_value=0.0, epsilon=0.0).apply([torch.tensor([2.0])], [w])
    >>> w.data
    tensor([-1.])
    """

    torch_class = KerasAdagrad

    def __init__(self, learning_rate: LearningRate = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not initial_accumulator_value >= 0:
            raise ValueError("Adagrad: `initial_accumulator_value` must be >= 0; received "
                             f"{initial_accumulator_value!r}.")
        self.initial_accumulator_value, self.epsilon = initial_accumulator_value, epsilon

    def _torch_kwargs(self) -> dict:
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}

    def get_config(self) -> dict:
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


@OPTIMIZERS("adadelta", "Adadelta")
class Adadelta(Optimizer):
    """Adadelta (Keras defaults: learning_rate 0.001, rho 0.95, epsilon 1e-7), on ``torch.optim.Adadelta``.

    >>> Adadelta().get_config()["rho"]
    0.95
    """

    torch_class = torch.optim.Adadelta

    def __init__(self, learning_rate: LearningRate = 0.001, rho: float = 0.95, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon

    def _torch_kwargs(self) -> dict:
        return {"rho": self.rho, "eps": self.epsilon, "foreach": True}

    def _torch_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"step": torch_step_tensor(param, group), "square_avg": _zeros(param), "acc_delta": _zeros(param)}

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
