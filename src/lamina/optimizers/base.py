"""The optimizer base class: Keras 3's optimizer contract driving a ``torch.optim`` optimizer.

``Optimizer`` holds the Keras-level machinery every optimizer shares (learning rate or schedule, iterations,
loss-scale undoing, gradient accumulation, clipping, decoupled weight decay, EMA of the weights, constraints,
config and exact-resume state); the update itself is a ``torch.optim.Optimizer``: one of PyTorch's where its
formula is Keras's, else a ``ForeachOptimizer`` subclass that writes Keras's formula with ``torch._foreach_*``.
Everything per step stays on the device; the host keeps only Python ints and floats (step, learning rate).

>>> import torch
>>> from lamina.optimizers import SGD
>>> w = torch.nn.Parameter(torch.ones(2))
>>> opt = SGD(learning_rate=0.5)
>>> opt.apply([torch.ones(2)], [w]); w.data, opt.iterations
(tensor([0.5000, 0.5000]), 1)
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from typing import Any

import torch

from lamina.core.registry import Registry
from lamina.core.variable import Variable
from lamina.optimizers import schedules
from lamina.optimizers.schedules import LearningRateSchedule
from lamina.optimizers.state import OptimizerState

OPTIMIZERS = Registry("optimizer")

LearningRate = float | LearningRateSchedule | Callable[..., float]


def _number(value: Any, argument: str, owner: str, low: float = 0.0, allow_none: bool = True) -> Any:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
        raise ValueError(f"{owner}: `{argument}` must be a number >= {low:g}{' or None' if allow_none else ''}; "
                         f"received {argument}={value!r}.")
    return value


class Optimizer(OptimizerState):
    """Base class of lamina's optimizers (Keras 3's ``keras.optimizers.Optimizer`` arguments and behaviour).

    Args:
        learning_rate: a float, a ``LearningRateSchedule`` (called with the step), or a callable (called with no
            argument, or with the step if it takes one).
        weight_decay: decoupled decay, ``w -= learning_rate * weight_decay * w`` before each update.
        clipnorm / clipvalue / global_clipnorm: at most one; clips each gradient's norm, each value, or the norm
            of all gradients together.
        use_ema / ema_momentum / ema_overwrite_frequency: keep an exponential moving average of the weights (and
            copy it into the weights every ``ema_overwrite_frequency`` steps, or by ``finalize_variable_values``).
        loss_scale_factor: ``scale_loss(loss)`` multiplies the loss by it; each step divides the gradients back.
        gradient_accumulation_steps: sum the gradients of that many steps and apply their mean on the last one.
        name: the optimizer's name.
    """

    torch_class: type[torch.optim.Optimizer] = torch.optim.SGD

    def __init__(self, learning_rate: LearningRate = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None, global_clipnorm: float | None = None,
                 use_ema: bool = False, ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None, gradient_accumulation_steps: int | None = None,
                 name: str | None = None, **kwargs: Any):
        owner = type(self).__name__
        if kwargs:
            raise ValueError(f"{owner}: argument(s) not recognized: {sorted(kwargs)}. Valid arguments are those of "
                             f"{owner}.__init__ and of lamina.optimizers.Optimizer.")
        self.weight_decay = _number(weight_decay, "weight_decay", owner)
        self.clipnorm = _number(clipnorm, "clipnorm", owner)
        self.clipvalue = _number(clipvalue, "clipvalue", owner)
        self.global_clipnorm = _number(global_clipnorm, "global_clipnorm", owner)
        if sum(c is not None for c in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(f"{owner}: only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set; "
                             f"received clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}.")
        self.use_ema = bool(use_ema)
        if use_ema and not 0 <= ema_momentum <= 1:
            raise ValueError(f"{owner}: `ema_momentum` must be in [0, 1]; received ema_momentum={ema_momentum!r}.")
        if ema_overwrite_frequency is not None and (not isinstance(ema_overwrite_frequency, int)
                                                    or ema_overwrite_frequency < 1):
            raise ValueError(f"{owner}: `ema_overwrite_frequency` must be an int >= 1 or None; received "
                             f"{ema_overwrite_frequency!r}.")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if loss_scale_factor is not None and not _number(loss_scale_factor, "loss_scale_factor", owner) > 0:
            raise ValueError(f"{owner}: `loss_scale_factor` must be > 0; received {loss_scale_factor!r}.")
        self.loss_scale_factor = loss_scale_factor
        if gradient_accumulation_steps is not None and (
                isinstance(gradient_accumulation_steps, bool) or not isinstance(gradient_accumulation_steps, int)
                or gradient_accumulation_steps < 2):
            raise ValueError(f"{owner}: `gradient_accumulation_steps` must be an int >= 2 (or None); received "
                             f"{gradient_accumulation_steps!r}.")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", owner).lower()
        self._learning_rate: Variable | LearningRateSchedule | Callable[..., float] | None = None
        self._lr_takes_step = False
        self._lr_cache: tuple[int, float] = (-1, 0.0)  # (version of the learning-rate variable, its value)
        self._set_learning_rate(learning_rate)
        self._iterations = 0  # calls of step/apply; Keras's `_iterations` (not divided by the accumulation steps)
        self.torch_optimizer: torch.optim.Optimizer | None = None
        self._params: list[torch.Tensor] = []
        self._index: dict[int, int] = {}
        self._ema: list[torch.Tensor] = []
        self._accumulators: list[torch.Tensor] = []
        self._exclude_ids: set[int] = set()
        self._exclude_pattern: re.Pattern | None = None
        self._own_variables: list[Variable] = []  # add_variable's (custom optimizers' slots)

    # -------------------------------------------------------------- what each optimizer maps to torch.optim
    def _torch_kwargs(self) -> dict:
        return {}

    def _torch_state(self, param: torch.Tensor, group: dict) -> dict:
        """The slots ``torch_class`` creates lazily for ``param``, created here at build instead (as Keras does)."""
        init = getattr(self.torch_optimizer, "init_state", None)
        return init(param, group) if init is not None else {}

    def _before_update(self) -> None:
        """Set per-step hyper-parameters of the torch param groups (called right before each torch step)."""

    # -------------------------------------------------------------- learning rate and iterations
    def _set_learning_rate(self, value: LearningRate) -> None:
        if isinstance(value, LearningRateSchedule):
            self._learning_rate, self._lr_takes_step = value, True
        elif callable(value):
            required = [p for p in inspect.signature(value).parameters.values()
                        if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
            self._learning_rate, self._lr_takes_step = value, bool(required)
        else:
            if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise ValueError(
                    f"{type(self).__name__}: `learning_rate` must be a float >= 0, a LearningRateSchedule or a "
                    f"callable; received learning_rate={value!r}.")
            if isinstance(self._learning_rate, Variable):
                with torch.no_grad():  # the same variable, as Keras's assignment keeps it (no float32 round trip)
                    self._learning_rate.fill_(float(value))
            else:
                # float64 on the host: reading it needs no device sync and keeps the number as given.
                self._learning_rate = Variable.wrap(torch.tensor(float(value), dtype=torch.float64),
                                                    name="learning_rate", path=f"{self.name}/learning_rate")
                self._lr_cache = (-1, 0.0)
            self._lr_takes_step = False

    def _current_lr(self) -> float:
        lr = self._learning_rate
        if isinstance(lr, Variable):
            # Read the variable only when it changed (its in-place version counter moved): no tensor read a step.
            if self._lr_cache[0] != lr._version:
                self._lr_cache = (lr._version, float(lr))
            return self._lr_cache[1]
        if not callable(lr):
            return float(lr)
        return float(lr(self._iterations) if self._lr_takes_step else lr())

    @property
    def learning_rate(self) -> Variable | float:
        """The learning rate: for a number, a 0-dim float64 ``Variable`` (``float()`` it, ``.assign()`` it, as
        Keras's); with a schedule or a callable, the float it gives for the next step. Settable to a number
        (assigned into the same variable) or a schedule.

        >>> from lamina.optimizers import SGD
        >>> opt = SGD(learning_rate=0.1); _ = opt.learning_rate.assign(0.5); float(opt.learning_rate)
        0.5
        """
        lr = self._learning_rate
        return lr if isinstance(lr, Variable) else self._current_lr()

    @learning_rate.setter
    def learning_rate(self, value: LearningRate) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule) and not callable(value):
            # (Keras's rule: a schedule given at creation cannot become a number.)
            raise TypeError(
                f"This optimizer was created with a LearningRateSchedule ({self._learning_rate!r}), so its learning "
                "rate cannot be set to a number. Assign another schedule, or create the optimizer with a float "
                "learning_rate to set it later (e.g. by ReduceLROnPlateau).")
        self._set_learning_rate(value)
        self._sync_lr()

    def _sync_lr(self) -> None:
        if self.torch_optimizer is not None:
            lr = self._current_lr()
            for group in self.torch_optimizer.param_groups:
                group["lr"] = lr

    @property
    def iterations(self) -> int:
        """Completed optimizer steps (with gradient accumulation: applied updates). Settable."""
        n = self.gradient_accumulation_steps
        return self._iterations // n if n else self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"`iterations` must be an int >= 0; received {value!r}.")
        self._iterations = value * (self.gradient_accumulation_steps or 1)
        if self.torch_optimizer is not None:
            # The update formulas' bias corrections follow the step, as Keras's follow `iterations`.
            for group in self.torch_optimizer.param_groups:
                if isinstance(group.get("step"), int):
                    group["step"] = value
            for state in self.torch_optimizer.state.values():
                if isinstance(state.get("step"), torch.Tensor):
                    state["step"].fill_(value)
            self._sync_lr()

    # -------------------------------------------------------------- build
    @property
    def built(self) -> bool:
        return self.torch_optimizer is not None

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        """Create the torch optimizer and every slot for ``variables`` (no-op once built, as in Keras)."""
        if self.built:
            return
        params, seen = [], set()
        for v in variables:
            if not isinstance(v, torch.Tensor) or not v.is_floating_point():
                raise ValueError(f"{type(self).__name__} can only train floating-point torch tensors (e.g. "
                                 f"nn.Parameter); received {type(v).__name__} "
                                 f"{getattr(v, 'dtype', '')}.")
            if id(v) not in seen:
                seen.add(id(v))
                params.append(v)
        if not params:
            raise ValueError("The optimizer received no trainable weights. Check that the model has weights and "
                             "that `trainable` is not False everywhere.")
        self._params = params
        self._index = {id(p): i for i, p in enumerate(params)}
        self.torch_optimizer = self.torch_class(params, lr=self._current_lr(), **self._torch_kwargs())
        group = self.torch_optimizer.param_groups[0]
        for p in params:
            self.torch_optimizer.state[p].update(self._torch_state(p, group))
        with torch.no_grad():
            self._ema = [torch.zeros_like(p) for p in params] if self.use_ema else []
            self._accumulators = [torch.zeros_like(p) for p in params] if self.gradient_accumulation_steps else []

    def _require_built(self) -> None:
        if self.torch_optimizer is None:
            raise ValueError(f"The optimizer {self.name!r} is not built: call "
                             "`optimizer.build(model.trainable_weights)` first (or `apply(grads, variables)`).")

    # -------------------------------------------------------------- the step
    def zero_grad(self) -> None:
        for p in self._params:
            p.grad = None

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss * loss_scale_factor`` (the loss unchanged without one); ``step`` divides the gradients back."""
        return loss * self.loss_scale_factor if self.loss_scale_factor is not None else loss

    def step(self) -> None:
        """Apply the gradients in the weights' ``.grad`` (after ``loss.backward()``) and advance ``iterations``.

        The ``.grad`` tensors are used as workspace (unscaled, clipped, accumulated in place)."""
        self._require_built()
        params = [p for p in self._params if p.grad is not None]
        if not params:
            raise ValueError("No gradients provided for any variable: call `loss.backward()` before `step()`, and "
                             "check that the loss depends on the trained weights.")
        self._apply(params, [p.grad for p in params])

    def apply(self, grads: list[torch.Tensor | None], trainable_variables: list[torch.Tensor] | None = None) -> None:
        """Apply ``grads`` to ``trainable_variables`` (Keras's API; builds on first use). A None gradient leaves its
        variable alone; the caller's gradient tensors are not modified."""
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            self._require_built()
            variables = self._params
            if len(grads) != len(variables):
                raise ValueError(f"Received {len(grads)} gradients for the {len(variables)} variables the optimizer "
                                 "was built with; pass one gradient per variable, in order.")
        else:
            variables = list(trainable_variables)
            if len(grads) != len(variables):
                raise ValueError(f"Received {len(grads)} gradients and {len(variables)} variables; they pair one to "
                                 "one.")
            if not self.built:
                self.build(variables)
            unknown = [i for i, v in enumerate(variables) if id(v) not in self._index]
            if unknown:
                raise ValueError(f"Variables at positions {unknown} were not in the list the optimizer was built "
                                 "with. Build it on every variable it will update.")
        pairs = [(v, g) for v, g in zip(variables, grads, strict=True) if g is not None]
        if not pairs:
            raise ValueError("No gradients provided for any variable (all are None).")
        copy = (self.loss_scale_factor is not None or self.gradient_accumulation_steps is not None
                or self.clipnorm is not None or self.clipvalue is not None or self.global_clipnorm is not None)
        params, owned = [], []
        for v, g in pairs:
            g = torch.as_tensor(g)
            if g.shape != v.shape:
                raise ValueError(f"A gradient of shape {tuple(g.shape)} was given for a variable of shape "
                                 f"{tuple(v.shape)}; gradients must have their variable's shape.")
            g = g.detach().to(device=v.device, dtype=v.dtype)
            params.append(v)
            owned.append(g.clone() if copy else g)
        self._apply(params, owned)

    def apply_gradients(self, grads_and_vars: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> int:
        """Apply ``(gradient, variable)`` pairs (Keras's API); returns ``iterations``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [v for _, v in pairs])
        return self.iterations

    def _apply(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        """Keras's order: unscale, accumulate (or update: clip, decay, step), EMA, constraints, count."""
        with torch.no_grad():
            if self.loss_scale_factor is not None:
                torch._foreach_div_(grads, self.loss_scale_factor)
            n = self.gradient_accumulation_steps
            if n:
                accumulators = [self._accumulators[self._index[id(p)]] for p in params]
                if (self._iterations + 1) % n == 0:
                    torch._foreach_add_(grads, accumulators)
                    torch._foreach_div_(grads, n)
                    self._update(params, grads)
                    torch._foreach_zero_(self._accumulators)
                else:
                    torch._foreach_add_(accumulators, grads)
            else:
                self._update(params, grads)
            if self.use_ema:
                self._update_ema()
            for p in params:
                constraint = getattr(p, "constraint", None)
                if constraint is not None:
                    p.copy_(constraint(p))
        self._count_step()

    def _count_step(self) -> None:
        """One more step in ``iterations``, after an update (eager or compiled)."""
        self._iterations += 1
        if callable(self._learning_rate):
            self._sync_lr()  # the torch param groups show the rate of the next step, as `learning_rate` does

    def _update(self, params: list[torch.Tensor], grads: list[torch.Tensor]) -> None:
        lr = self._current_lr()
        self._clip(grads)
        self._apply_weight_decay(params, lr)
        if self._custom_update_step():
            rate = torch.tensor(lr, dtype=torch.float32)
            for p, g in zip(params, grads, strict=True):
                self.update_step(g, p, rate)
            return
        optimizer = self.torch_optimizer
        for group in optimizer.param_groups:
            group["lr"] = lr
        self._before_update()
        # torch.optim reads `.grad`: show it exactly these gradients, then put every `.grad` back as it was.
        saved = [p.grad for p in self._params]
        try:
            for p in self._params:
                p.grad = None
            for p, g in zip(params, grads, strict=True):
                p.grad = g
            optimizer.step()
        finally:
            for p, g in zip(self._params, saved, strict=True):
                p.grad = g

    def _apply_weight_decay(self, params: list[torch.Tensor], lr: float) -> None:
        """Keras's decoupled decay ``w *= 1 - weight_decay * lr`` on the weights not excluded from it."""
        if self.weight_decay:
            decayed = [p for p in params if self._use_weight_decay(p)]
            if decayed:
                torch._foreach_mul_(decayed, 1.0 - self.weight_decay * lr)

    def _clip(self, grads: list[torch.Tensor]) -> None:
        """Keras's clipping, on the device: ``g * c / max(||g||, c)`` per gradient (clipnorm) or with the norm of
        all of them (global_clipnorm, NaN if that norm is not finite), or element-wise into [-c, c]."""
        if self.clipnorm:
            c = self.clipnorm
            norms = torch._foreach_norm(grads)
            torch._foreach_mul_(grads, [c / torch.clamp(n, min=c) for n in norms])
        elif self.global_clipnorm:
            c = self.global_clipnorm
            total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
            torch._foreach_mul_(grads, c / torch.clamp(total, min=c) + (total - total))
        elif self.clipvalue:
            torch._foreach_clamp_min_(grads, -self.clipvalue)
            torch._foreach_clamp_max_(grads, self.clipvalue)

    def _update_ema(self) -> None:
        momentum = self.ema_momentum if self.iterations != 0 else 0.0
        torch._foreach_mul_(self._ema, momentum)
        torch._foreach_add_(self._ema, self._params, alpha=1.0 - momentum)
        freq = self.ema_overwrite_frequency
        if freq and (self.iterations + 1) % freq == 0:
            torch._foreach_copy_(self._params, self._ema)

    def finalize_variable_values(self, variables: Iterable[torch.Tensor]) -> None:
        """With ``use_ema``, copy the moving averages into ``variables`` (the weights the optimizer was built
        with, in any order); the trainer calls this at the end of ``fit``."""
        if not self.use_ema or not self.built:
            return
        with torch.no_grad():
            for v in variables:
                i = self._index.get(id(v))
                if i is None:
                    raise ValueError("finalize_variable_values() received a variable the optimizer was not built "
                                     f"with (shape {tuple(v.shape)}); pass the model's trainable weights.")
                v.copy_(self._ema[i])

    # -------------------------------------------------------------- compiled training steps
    def _traceable_update(self) -> tuple[Any, Callable] | None:
        """For ``jit_compile=True``'s compiled training step: ``(slots, update)``, where ``update(params, grads,
        slots, lr)`` applies one step in place with tensor operations ``torch.compile`` traces into the step's graph
        (``params`` aliases of the weights, in the order the optimizer was built with; ``lr`` a 0-dim tensor, so a
        changing rate does not recompile) and ``slots`` are the optimizer's own state tensors, passed back in.
        Clipping and weight decay are part of it. None where this optimizer, or an option it was given (loss
        scaling, gradient accumulation, EMA, weight constraints), needs the eager step."""
        self._require_built()
        if (self.loss_scale_factor is not None or self.gradient_accumulation_steps or self.use_ema
                or any(getattr(p, "constraint", None) is not None for p in self._params)
                or self._custom_update_step()):
            return None
        rule = self._traceable_rule()
        if rule is None:
            return None
        slots, apply = rule
        decayed = [self._use_weight_decay(p) for p in self._params] if self.weight_decay else []
        rate = self.weight_decay

        def update(params: list, grads: list, slots: Any, lr: torch.Tensor) -> None:
            self._clip(grads)
            if any(decayed):
                torch._foreach_mul_([p for p, d in zip(params, decayed, strict=True) if d], 1.0 - rate * lr)
            apply(params, grads, slots, lr)

        return slots, update

    def _traceable_rule(self) -> tuple[Any, Callable] | None:
        """``(slots, apply(params, grads, slots, lr))``: this optimizer's update rule alone, as traceable in-place
        tensor operations on its slots (see ``_traceable_update``); None: no such rule (the eager step only)."""
        return None

    def _after_traced_step(self) -> None:
        """Count a step applied by a compiled training step, as ``step`` does after its update (the torch
        optimizers that count in their param groups, lamina's foreach ones, counted there too)."""
        for group in self.torch_optimizer.param_groups:
            if isinstance(group.get("step"), int):
                group["step"] += 1
        self._count_step()

    # -------------------------------------------------------------- weight decay exclusions
    def exclude_from_weight_decay(self, var_list: Iterable[torch.Tensor] | None = None,
                                  var_names: Iterable[str] | None = None) -> None:
        """Exempt variables (by identity) or names (a variable's ``path`` or ``name`` attribute containing one of
        ``var_names``) from weight decay. Call before the optimizer is built."""
        if self.built:
            raise ValueError("exclude_from_weight_decay() must be called before the optimizer is built.")
        self._exclude_ids = {id(v) for v in var_list or ()}
        names = sorted(set(var_names or ()))
        self._exclude_pattern = re.compile("|".join(re.escape(n) for n in names)) if names else None

    def _use_weight_decay(self, variable: torch.Tensor) -> bool:
        if id(variable) in self._exclude_ids:
            return False
        if self._exclude_pattern is not None:
            name = getattr(variable, "path", None) or getattr(variable, "name", None)
            if isinstance(name, str) and self._exclude_pattern.search(name):
                return False
        return True

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, Variable):
            lr = float(lr)
        elif isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            raise TypeError(f"The learning rate {lr!r} is a plain callable and cannot be saved: use a "
                            "lamina.optimizers.schedules.LearningRateSchedule subclass with get_config().")
        return {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                "clipnorm": self.clipnorm, "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
                "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
                "ema_overwrite_frequency": self.ema_overwrite_frequency, "loss_scale_factor": self.loss_scale_factor,
                "gradient_accumulation_steps": self.gradient_accumulation_steps}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} learning_rate={self._current_lr():g} " \
               f"iterations={self.iterations}>"


def fused_ok(params: list[torch.Tensor]) -> bool:
    """torch's fused kernels exist for CPU and CUDA floating-point weights on one device."""
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
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, torch.optim.Optimizer):
        raise TypeError(
            "compile() takes a lamina optimizer (e.g. lamina.optimizers.Adam(learning_rate=1e-3)) or its name; "
            "a torch.optim optimizer cannot be used directly because lamina creates it once the weights exist."
        )
    raise TypeError(f"Could not interpret optimizer {identifier!r}: pass a name like 'adam', a config dict or an "
                    "Optimizer.")


def serialize(optimizer: Optimizer) -> dict:
    """``{"class_name": ..., "config": ...}``.

    >>> serialize(get("sgd"))["class_name"]
    'SGD'
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize() takes a lamina Optimizer; received {optimizer!r}.")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """An optimizer from ``serialize``'s output; classes are looked up in lamina's registry (then
    ``custom_objects``), never imported.

    >>> float(deserialize({"class_name": "Adam", "config": {"learning_rate": 0.01}}).learning_rate)
    0.01
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"An optimizer config is a dict with 'class_name' and 'config'; received {config!r}.")
    name = config["class_name"]
    cls = custom_objects[name] if custom_objects and name in custom_objects else OPTIMIZERS.get(name)
    return cls.from_config(dict(config.get("config", {})), custom_objects)
