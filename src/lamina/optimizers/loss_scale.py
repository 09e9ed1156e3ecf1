"""Dynamic loss scaling for float16 training (Keras's ``LossScaleOptimizer``): the loss is multiplied by a large
factor so small float16 gradients do not underflow; the gradients are divided back before the update; a step
whose gradients overflowed is skipped and the factor halved; after ``dynamic_growth_steps`` good steps it doubles.

``compile`` wraps the optimizer in one automatically when the model's dtype policy is ``"mixed_float16"``.

>>> import torch
>>> from lamina.optimizers import SGD
>>> opt = LossScaleOptimizer(SGD(0.1), initial_scale=1024.0)
>>> w = torch.nn.Parameter(torch.ones(2))
>>> opt.build([w]); opt.scale_loss((w ** 2).sum()).backward(); opt.step(); w.detach()
tensor([0.8000, 0.8000])
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from lamina.optimizers.base import OPTIMIZERS, Optimizer, deserialize, serialize


class LossScaleOptimizer(Optimizer):
    """Wraps ``inner_optimizer`` with a dynamic loss scale (float16 training).

    Args:
        inner_optimizer: the optimizer that applies the (unscaled) gradients.
        initial_scale: the starting loss scale (Keras: ``2**15``).
        dynamic_growth_steps: how many finite steps in a row double the scale (Keras: 2000).
    """

    def __init__(self, inner_optimizer: Any, initial_scale: float = 2.0**15, dynamic_growth_steps: int = 2000,
                 name: str | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"LossScaleOptimizer() got unexpected keyword argument(s) {sorted(kwargs)}: the inner "
                            "optimizer holds the learning rate, clipping and the other options.")
        if isinstance(inner_optimizer, dict) and "class_name" in inner_optimizer:
            inner_optimizer = deserialize(inner_optimizer)  # a saved config's entry
        if isinstance(inner_optimizer, LossScaleOptimizer) or not isinstance(inner_optimizer, Optimizer):
            raise TypeError(f"LossScaleOptimizer wraps a lamina optimizer; received {inner_optimizer!r}.")
        if not initial_scale > 0 or not isinstance(dynamic_growth_steps, int) or dynamic_growth_steps < 1:
            raise ValueError("initial_scale must be > 0 and dynamic_growth_steps a positive int; received "
                             f"{initial_scale!r} and {dynamic_growth_steps!r}.")
        self.inner_optimizer = inner_optimizer
        self.initial_scale = float(initial_scale)
        self.dynamic_growth_steps = dynamic_growth_steps
        self.name = name or "loss_scale_optimizer"
        self._scale: torch.Tensor | None = None  # on the device of the weights, created at build
        self._good_steps = 0

    # everything else is the inner optimizer's
    def __getattr__(self, key: str) -> Any:
        if key == "inner_optimizer":  # not set yet (during unpickling-free copies): no recursion
            raise AttributeError(key)
        return getattr(self.inner_optimizer, key)

    @property
    def learning_rate(self) -> float:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        self.inner_optimizer.learning_rate = value

    @property
    def iterations(self) -> int:
        return self.inner_optimizer.iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self.inner_optimizer.iterations = value

    @property
    def built(self) -> bool:
        return self.inner_optimizer.built

    @property
    def variables(self) -> list[torch.Tensor]:
        return self.inner_optimizer.variables + ([self._scale] if self._scale is not None else [])

    @property
    def dynamic_scale(self) -> float:
        """The current loss scale (reading it synchronises with the device)."""
        return float(self._scale) if self._scale is not None else self.initial_scale

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        variables = list(variables)
        self.inner_optimizer.build(variables)
        if self._scale is None:
            device = variables[0].device if variables else torch.device("cpu")
            self._scale = torch.tensor(self.initial_scale, dtype=torch.float32, device=device)

    def zero_grad(self) -> None:
        self.inner_optimizer.zero_grad()

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        loss = self.inner_optimizer.scale_loss(loss)
        return loss * self._scale.to(loss.dtype) if self._scale is not None else loss * self.initial_scale

    def _unscale(self, grads: list[torch.Tensor]) -> bool:
        """Divide ``grads`` by the scale in place; whether they are all finite (one read of a device flag)."""
        found_inf = torch.zeros(1, device=self._scale.device)
        by_device: dict[torch.device, list[torch.Tensor]] = {}
        for g in grads:
            by_device.setdefault(g.device, []).append(g)
        for device, group in by_device.items():
            flag = torch.zeros(1, device=device)
            torch._amp_foreach_non_finite_check_and_unscale_(group, flag, self._scale.reciprocal().to(device))
            found_inf += flag.to(found_inf.device)
        return not bool(found_inf)  # the one host sync of float16 training: skipping a step is a decision

    def _after(self, finite: bool) -> None:
        if finite:
            self._good_steps += 1
            if self._good_steps >= self.dynamic_growth_steps:
                self._scale.mul_(2.0)
                self._good_steps = 0
        else:
            self._scale.mul_(0.5)
            self._good_steps = 0

    def _traceable_update(self) -> None:
        """None: the scale adapts to each step's gradients, a decision taken on the host (the eager step)."""
        return None

    def step(self) -> None:
        """Unscale the gradients in ``.grad``; apply them with the inner optimizer unless they overflowed."""
        params = [p for p in self.inner_optimizer._params if p.grad is not None]
        finite = self._unscale([p.grad for p in params])
        if finite:
            self.inner_optimizer.step()
        else:
            self.inner_optimizer.zero_grad()
        self._after(finite)

    def apply(self, grads: list[torch.Tensor | None], trainable_variables: list[torch.Tensor] | None = None) -> None:
        if not self.built:
            self.build(trainable_variables if trainable_variables is not None else [])
        owned = [None if g is None else g.detach().clone() for g in grads]
        finite = self._unscale([g for g in owned if g is not None])
        if finite:
            self.inner_optimizer.apply(owned, trainable_variables)
        self._after(finite)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> int:
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self.iterations

    def finalize_variable_values(self, variables: Iterable[torch.Tensor]) -> None:
        self.inner_optimizer.finalize_variable_values(variables)

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors, meta = self.inner_optimizer.state_dict()
        if self._scale is not None:
            tensors = {**tensors, "loss_scale/scale": self._scale}
        return tensors, {**meta, "loss_scale": {"good_steps": self._good_steps}}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        tensors = dict(tensors)
        scale = tensors.pop("loss_scale/scale", None)
        own = dict(meta).pop("loss_scale", {"good_steps": 0})
        self.inner_optimizer.load_state_dict(tensors, {k: v for k, v in meta.items() if k != "loss_scale"})
        if scale is not None:
            device = self._scale.device if self._scale is not None else scale.device
            self._scale = scale.to(device=device, dtype=torch.float32).clone()
        self._good_steps = int(own["good_steps"])

    def get_config(self) -> dict:
        return {"name": self.name, "inner_optimizer": serialize(self.inner_optimizer),
                "initial_scale": self.initial_scale, "dynamic_growth_steps": self.dynamic_growth_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> LossScaleOptimizer:
        config = dict(config)
        inner = deserialize(config.pop("inner_optimizer"), custom_objects=custom_objects)
        return cls(inner, **config)

    def __repr__(self) -> str:
        return f"LossScaleOptimizer({self.inner_optimizer!r})"


OPTIMIZERS.register("LossScaleOptimizer", LossScaleOptimizer)
