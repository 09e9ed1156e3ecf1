"""Optimizers with Keras's names and defaults, built on ``torch.optim`` (never re-implemented).

The torch optimizer is created when the weights exist (``build``), so lazily built models just work.
``learning_rate`` is a float or a callable of the step (e.g. a schedule).

>>> import torch
>>> opt = Adam(learning_rate=1e-3)
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt.build([w]); (w.sum() ** 2).backward(); opt.step(); opt.iterations
1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from lamina.core.registry import Registry

OPTIMIZERS = Registry("optimizer")


class Optimizer:
    """Base class: holds Keras-style hyper-parameters and drives a ``torch.optim`` optimizer."""

    torch_class: type[torch.optim.Optimizer] = torch.optim.SGD

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s) {sorted(kwargs)}.")
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Pass at most one of clipnorm, clipvalue and global_clipnorm.")
        if not callable(learning_rate) and not float(learning_rate) >= 0:
            raise ValueError(f"learning_rate must be a non-negative float or a schedule; received {learning_rate!r}.")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.torch_optimizer: torch.optim.Optimizer | None = None
        self._params: list[torch.nn.Parameter] = []
        self._constrained: list[torch.nn.Parameter] = []

    # -------------------------------------------------------------- what each optimizer maps to torch.optim
    def _torch_kwargs(self) -> dict:
        return {}

    @property
    def built(self) -> bool:
        return self.torch_optimizer is not None

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        """Create the torch optimizer (and its state) for ``variables``."""
        self._params = [v for v in variables if v.requires_grad]
        # Weights with a constraint (set by Layer.add_weight) are projected after every update, as in Keras.
        self._constrained = [v for v in self._params if getattr(v, "constraint", None) is not None]
        if not self._params:
            raise ValueError(
                "The optimizer received no trainable weights. Check that the model has weights and that "
                "`trainable` is not False everywhere."
            )
        self.torch_optimizer = self.torch_class(self._params, lr=self._current_lr(), **self._torch_kwargs())

    def _current_lr(self) -> float:
        lr = self._learning_rate
        return float(lr(self.iterations)) if callable(lr) else float(lr)

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step (settable)."""
        return self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value: float | Callable[[int], float]) -> None:
        self._learning_rate = value
        self._sync_lr()

    def _sync_lr(self) -> None:
        if self.torch_optimizer is not None:
            lr = self._current_lr()
            for group in self.torch_optimizer.param_groups:
                group["lr"] = lr

    @property
    def variables(self) -> list[torch.Tensor]:
        if self.torch_optimizer is None:
            return []
        return [t for s in self.torch_optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]

    # -------------------------------------------------------------- the step
    def zero_grad(self) -> None:
        if self.torch_optimizer is not None:
            self.torch_optimizer.zero_grad(set_to_none=True)

    def _clip(self) -> None:
        """Keras's clipping, on the device: g * c / max(norm, c), per gradient (clipnorm) or over all of them
        (global_clipnorm); or element-wise into [-c, c] (clipvalue)."""
        grads = [p.grad for p in self._params if p.grad is not None]
        if not grads:
            return
        if self.clipvalue is not None:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)
            return
        norms = torch._foreach_norm(grads)
        if self.clipnorm is not None:
            limit = self.clipnorm
            torch._foreach_mul_(grads, [limit / torch.clamp(n, min=limit) for n in norms])
        else:
            limit = self.global_clipnorm
            total = torch.linalg.vector_norm(torch.stack(norms))
            torch._foreach_mul_(grads, limit / torch.clamp(total, min=limit))

    def _decoupled_decay(self) -> None:
        """Keras applies weight decay decoupled from the gradient: w -= lr * wd * w (torch.optim's SGD and
        RMSprop only know coupled L2 decay, so it is applied here; AdamW-style optimizers pass it to torch)."""
        if self.weight_decay:
            torch._foreach_mul_(self._params, 1.0 - self._current_lr() * self.weight_decay)

    def step(self) -> None:
        """Apply the gradients in ``.grad`` to the weights and advance ``iterations``."""
        if self.torch_optimizer is None:
            raise ValueError("The optimizer is not built: call `optimizer.build(model.trainable_weights)` first.")
        if self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None:
            self._clip()
        if self.weight_decay:
            with torch.no_grad():
                self._decoupled_decay()
        self.torch_optimizer.step()
        if self._constrained:
            with torch.no_grad():
                for v in self._constrained:
                    v.copy_(v.constraint(v))
        self.iterations += 1
        if callable(self._learning_rate):
            self._sync_lr()

    def apply(self, grads: list[torch.Tensor], trainable_variables: list[torch.Tensor] | None = None) -> None:
        """Apply ``grads`` to ``trainable_variables`` (Keras's API); builds on first use."""
        variables = list(trainable_variables) if trainable_variables is not None else self._params
        if self.torch_optimizer is None:
            self.build(variables)
        clipping = self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None
        for v, g in zip(variables, grads, strict=True):
            # A None gradient leaves its variable alone (torch.optim skips weights whose .grad is None); clipping
            # works in place, so it gets a copy and the caller's gradients stay as they were.
            v.grad = None if g is None else (g.detach().clone() if clipping else g.detach())
        self.step()

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Apply ``(gradient, variable)`` pairs (Keras's API)."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        config = {"name": self.name, "learning_rate": lr if not callable(lr) else _serialize_schedule(lr),
                  "weight_decay": self.weight_decay, "clipnorm": self.clipnorm, "clipvalue": self.clipvalue,
                  "global_clipnorm": self.global_clipnorm}
        return config

    @classmethod
    def from_config(cls, config: dict) -> Optimizer:
        return cls(**config)


def _serialize_schedule(schedule: Any) -> Any:
    get_config = getattr(schedule, "get_config", None)
    if get_config is None:
        raise TypeError("This learning-rate callable cannot be serialized; use a schedule class with get_config.")
    return {"class_name": type(schedule).__name__, "config": get_config()}


@OPTIMIZERS("sgd", "SGD")
class SGD(Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, on ``torch.optim.SGD``.

    With momentum and a learning rate that changes (a schedule), torch scales the momentum buffer by the current
    rate, Keras only the newest gradient; with a fixed rate the two are the same.

    >>> SGD(learning_rate=0.1, momentum=0.9, nesterov=True).get_config()["momentum"]
    0.9
    """

    torch_class = torch.optim.SGD

    def __init__(self, learning_rate: float | Callable = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1]; received {momentum!r}.")
        self.momentum = momentum
        self.nesterov = nesterov

    def _torch_kwargs(self) -> dict:
        # Keras: m = momentum*m - lr*g; w += m.  torch: b = momentum*b + g; w -= lr*b.  Equal for a fixed lr.
        return {"momentum": self.momentum, "nesterov": self.nesterov and self.momentum > 0}

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


@OPTIMIZERS("adam", "Adam")
class Adam(Optimizer):
    """Adam (Keras defaults: lr 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7).

    Uses ``torch.optim.Adam``; it adds epsilon to the bias-corrected root of the second moment, Keras to the
    uncorrected one, a difference of order epsilon. ``weight_decay`` is decoupled, as in Keras.
    """

    torch_class = torch.optim.Adam

    def __init__(self, learning_rate: float | Callable = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon, self.amsgrad = beta_1, beta_2, epsilon, amsgrad

    def _torch_kwargs(self) -> dict:
        kwargs = {"betas": (self.beta_1, self.beta_2), "eps": self.epsilon, "amsgrad": self.amsgrad,
                  "weight_decay": self.weight_decay or 0.0, "decoupled_weight_decay": True}
        fused = _fused_ok(self._params)
        return {**kwargs, "fused": True} if fused else {**kwargs, "foreach": True}

    def _decoupled_decay(self) -> None:
        pass  # torch applies it (decoupled_weight_decay=True)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


@OPTIMIZERS("adamw", "AdamW")
class AdamW(Adam):
    """Adam with decoupled weight decay (Keras default ``weight_decay=0.004``)."""

    def __init__(self, learning_rate: float | Callable = 0.001, weight_decay: float = 0.004, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


@OPTIMIZERS("rmsprop", "RMSprop")
class RMSprop(Optimizer):
    """RMSprop (Keras defaults: lr 0.001, rho 0.9, momentum 0, epsilon 1e-7, centered False).

    Uses ``torch.optim.RMSprop``, which adds epsilon outside the square root (Keras adds it inside).
    """

    torch_class = torch.optim.RMSprop

    def __init__(self, learning_rate: float | Callable = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon, self.centered = rho, momentum, epsilon, centered

    def _torch_kwargs(self) -> dict:
        return {"alpha": self.rho, "momentum": self.momentum, "eps": self.epsilon, "centered": self.centered,
                "foreach": True}

    def get_config(self) -> dict:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


def _fused_ok(params: list[torch.Tensor]) -> bool:
    """torch's fused Adam kernels exist for CPU and CUDA floating-point weights on one device."""
    devices = {p.device for p in params}
    return len(devices) == 1 and next(iter(devices)).type in ("cpu", "cuda") and all(
        p.is_floating_point() for p in params)


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name (``"adam"``), a config dict, or an instance.

    >>> type(get("adam")).__name__
    'Adam'
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return OPTIMIZERS.get(identifier)()
    if isinstance(identifier, dict) and "class_name" in identifier:
        return OPTIMIZERS.get(identifier["class_name"]).from_config(identifier.get("config", {}))
    if isinstance(identifier, torch.optim.Optimizer):
        raise TypeError(
            "compile() takes a lamina optimizer (e.g. lamina.optimizers.Adam(learning_rate=1e-3)) or its name; "
            "a torch.optim optimizer cannot be used directly because lamina creates it once the weights exist."
        )
    raise TypeError(f"Could not interpret optimizer {identifier!r}: pass a name like 'adam' or an Optimizer.")


def serialize(optimizer: Optimizer) -> dict:
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
