"""The Adam family: Adam, AdamW, Adamax, Nadam (Keras 3's formulas, defaults and configs).

Adam and AdamW run on ``torch.optim.Adam`` (fused on CPU/CUDA, else foreach). Keras adds epsilon to the root of the
raw second moment, torch to the bias-corrected one; passing torch ``epsilon / sqrt(1 - beta_2 ** t)`` at step t
makes the two formulas identical. Nadam is ``torch.optim.NAdam`` with ``momentum_decay=1`` (Keras's momentum
schedule ``beta_1 * (1 - 0.5 * 0.96 ** t)``). Adamax runs on ``KerasAdamax``: torch's adds epsilon inside the
running maximum, Keras outside it.

>>> Adam(learning_rate=0.01, amsgrad=True).get_config()["amsgrad"]
True
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer, fused_ok
from lamina.optimizers.foreach import ForeachOptimizer, scalar_dtype, torch_step_tensor


def _zeros(param: torch.Tensor) -> torch.Tensor:
    return torch.zeros_like(param, memory_format=torch.preserve_format)


@OPTIMIZERS("adam", "Adam")
class Adam(Optimizer):
    """Adam (Keras defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad False).

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> Adam(learning_rate=0.1).apply([torch.tensor([1.0, -4.0])], [w]); w.data  # first step: -lr * sign(g)
    tensor([-0.1000,  0.1000])
    """

    torch_class = torch.optim.Adam
    _keras_slot_groups = (("exp_avg", "exp_avg_sq"), ("max_exp_avg_sq",))  # Keras: velocity_hat after the rest

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _torch_kwargs(self) -> dict:
        kwargs = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": bool(self.amsgrad)}
        return {**kwargs, "fused": True} if fused_ok(self._params) else {**kwargs, "foreach": True}

    def _torch_state(self, param: torch.Tensor, group: dict) -> dict:
        state = {"step": torch_step_tensor(param, group), "exp_avg": _zeros(param), "exp_avg_sq": _zeros(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = _zeros(param)
        return state

    def _before_update(self) -> None:
        t = self.iterations + 1
        eps = self.epsilon / math.sqrt(1.0 - self.beta_2 ** t)
        for group in self.torch_optimizer.param_groups:
            group["eps"] = eps

    def _traceable_rule(self) -> tuple[Any, Any]:
        """Keras's Adam on torch.optim's slots: ``w -= lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)``."""
        states = [self.torch_optimizer.state[p] for p in self._params]
        slots = {"step": [s["step"] for s in states], "m": [s["exp_avg"] for s in states],
                 "v": [s["exp_avg_sq"] for s in states]}
        if self.amsgrad:
            slots["v_max"] = [s["max_exp_avg_sq"] for s in states]
        b1, b2, eps = self.beta_1, self.beta_2, self.epsilon

        def apply(params: list, grads: list, slots: dict, lr: torch.Tensor) -> None:
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                t = slots["step"][i].add_(1)
                m = slots["m"][i].lerp_(g, 1.0 - b1)
                v = slots["v"][i].mul_(b2).addcmul_(g, g, value=1.0 - b2)
                if "v_max" in slots:
                    v = torch.maximum(slots["v_max"][i], v, out=slots["v_max"][i])
                scale = lr * torch.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
                p.sub_(scale * m / (v.sqrt() + eps))

        return slots, apply

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


@OPTIMIZERS("adamw", "AdamW")
class AdamW(Adam):
    """Adam with decoupled weight decay (Keras default ``weight_decay=0.004``).

    >>> AdamW().weight_decay
    0.004
    """

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        if weight_decay is None:
            raise ValueError("AdamW: `weight_decay` must be a float; received None. Use Adam for no decay.")
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class KerasAdamax(ForeachOptimizer):
    """``m = b1 m + (1 - b1) g``; ``u = max(b2 u, |g|)``; ``w -= lr m / ((1 - b1^t) (u + eps))``."""

    def __init__(self, params: Any, lr: float, beta_1: float, beta_2: float, epsilon: float):
        super().__init__(params, {"lr": lr, "beta_1": beta_1, "beta_2": beta_2, "epsilon": epsilon})

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        return {"momentum": _zeros(param), "norm": _zeros(param)}

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        b1, b2 = group["beta_1"], group["beta_2"]
        m, u = [s["momentum"] for s in states], [s["norm"] for s in states]
        torch._foreach_mul_(m, b1)
        torch._foreach_add_(m, grads, alpha=1.0 - b1)
        torch._foreach_mul_(u, b2)
        torch._foreach_maximum_(u, torch._foreach_abs(grads))
        denominators = torch._foreach_add(u, group["epsilon"])
        torch._foreach_mul_(denominators, 1.0 - b1 ** group["step"])
        torch._foreach_add_(params, torch._foreach_div(torch._foreach_mul(m, group["lr"]), denominators), alpha=-1.0)


@OPTIMIZERS("adamax", "Adamax")
class Adamax(Optimizer):
    """Adamax, Adam with the infinity norm (Keras defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999,
    epsilon 1e-7).

    >>> Adamax().get_config()["beta_2"]
    0.999
    """

    torch_class = KerasAdamax

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _torch_kwargs(self) -> dict:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


@OPTIMIZERS("nadam", "Nadam")
class Nadam(Optimizer):
    """Adam with Nesterov momentum (Keras defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7).

    >>> Nadam().get_config()["epsilon"]
    1e-07
    """

    torch_class = torch.optim.NAdam

    def _keras_extra_variables(self) -> list[torch.Tensor]:
        """Keras's one ``u_product`` (torch keeps the same product in every weight's state)."""
        return [self.torch_optimizer.state[self._params[0]]["mu_product"]] if self.built else []

    def _after_set_weights(self) -> None:
        product = self.torch_optimizer.state[self._params[0]]["mu_product"]
        for p in self._params[1:]:
            self.torch_optimizer.state[p]["mu_product"].copy_(product)

    def __init__(self, learning_rate: LearningRate = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon

    def _torch_kwargs(self) -> dict:
        # torch: mu_t = beta_1 * (1 - 0.5 * 0.96 ** (t * momentum_decay)); Keras has no momentum_decay factor.
        return {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "momentum_decay": 1.0, "foreach": True}

    def _torch_state(self, param: torch.Tensor, group: dict) -> dict:
        # step and mu_product stay on the CPU (as torch places them), so reading them never synchronises.
        return {"step": torch_step_tensor(param, group), "mu_product": torch.ones((), dtype=scalar_dtype()),
                "exp_avg": _zeros(param), "exp_avg_sq": _zeros(param)}

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
