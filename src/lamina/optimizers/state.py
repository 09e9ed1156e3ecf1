"""The optimizer's own variables, Keras's way (``variables``, ``set_weights``, ``save_own_variables``,
``add_variable``, ``assign``, ``update_step``, ``stateless_apply``) and lamina's exact-resume state
(``state_dict``), as ``OptimizerState``, a base of ``lamina.optimizers.Optimizer``.

Keras's order of ``variables``: the step counter (``iteration``), the learning rate (when it is a number, not a
schedule), the moving averages of ``use_ema``, the gradient accumulators, then each optimizer's slots (momenta,
velocities, ...) weight by weight, then what ``add_variable`` created.

>>> import torch
>>> from lamina.optimizers import SGD
>>> opt = SGD(learning_rate=0.1, momentum=0.9)
>>> opt.build([torch.nn.Parameter(torch.zeros(3))])
>>> [tuple(v.shape) for v in opt.variables]
[(), (), (3,)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch

from lamina.core.variable import Variable

# torch.optim state entries that are not per-weight slots: step counters (Keras has one `iteration`) and Nadam's
# running momentum product.
_NOT_SLOTS = ("step", "mu_product")


def _path(variable: Any) -> str:
    return getattr(variable, "path", None) or getattr(variable, "name", None) or "variable"


class OptimizerState:
    """Keras's optimizer-variable API and lamina's exact-resume state, on the attributes ``Optimizer`` keeps
    (``torch_optimizer``, ``_params``, ``_ema``, ``_accumulators``, ``_iterations``, ``_learning_rate``)."""

    _own_variables: list
    # Keras's order of the slots: groups of torch state keys, each group weight by weight (Adam: momentum and
    # velocity of each weight, then amsgrad's maxima); None: every key of each weight, weight by weight.
    _keras_slot_groups: tuple[tuple[str, ...], ...] | None = None

    # -------------------------------------------------------------- Keras's variables
    def _slot_items(self) -> list[tuple[torch.Tensor, str, torch.Tensor]]:
        """``(weight, state key, slot)`` for every slot, in Keras's order."""
        if self.torch_optimizer is None:
            return []
        states = [(p, self.torch_optimizer.state[p]) for p in self._params]
        if self._keras_slot_groups is None:
            return [(p, key, t) for p, state in states for key, t in state.items()
                    if key not in _NOT_SLOTS and isinstance(t, torch.Tensor)]
        return [(p, key, state[key]) for keys in self._keras_slot_groups for p, state in states for key in keys
                if isinstance(state.get(key), torch.Tensor)]

    def _slots(self) -> list[torch.Tensor]:
        return [t for _, _, t in self._slot_items()] + self._keras_extra_variables()

    def _keras_extra_variables(self) -> list[torch.Tensor]:
        """Variables Keras keeps once per optimizer after the slots (Nadam's momentum product)."""
        return []

    def _after_set_weights(self) -> None:
        """Called after ``set_weights`` wrote the variables (Nadam copies its product to every weight's state)."""

    @property
    def variables(self) -> list[torch.Tensor]:
        """The optimizer's variables in Keras's order (see the module doc). ``iteration`` is a snapshot (an int32
        0-dim tensor: lamina counts steps on the host); the learning rate is the live variable
        ``optimizer.learning_rate``; the others are the live state tensors (before ``build``, only the first
        two, as in Keras)."""
        head = [Variable.wrap(torch.tensor(self._iterations, dtype=torch.int32), name="iteration",
                              path=f"{self.name}/iteration")]
        if isinstance(self._learning_rate, Variable):
            head.append(self._learning_rate)
        return head + self._ema + self._accumulators + self._slots() + list(self._own_variables)

    def get_weights(self) -> list[np.ndarray]:
        """The values of ``variables`` as NumPy arrays (the order ``set_weights`` takes).

        >>> import torch
        >>> from lamina.optimizers import Adam
        >>> opt = Adam(); opt.build([torch.nn.Parameter(torch.zeros(2))]); len(opt.get_weights())
        4
        """
        return [v.detach().cpu().numpy() if v.dtype != torch.bfloat16 else v.detach().float().cpu().numpy()
                for v in self.variables]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every variable from ``weights``, one value per entry of ``variables`` in its order (as Keras;
        the first sets the step count, the second the learning rate when it is a number).

        >>> import torch
        >>> from lamina.optimizers import SGD
        >>> opt = SGD(momentum=0.5); opt.build([torch.nn.Parameter(torch.zeros(2))])
        >>> opt.set_weights([3, 0.25, [1.0, 2.0]]); opt.iterations, float(opt.learning_rate)
        (3, 0.25)
        """
        if not self.built:
            raise ValueError("set_weights() was called on an optimizer that is not built: call "
                             "`optimizer.build(model.trainable_weights)` first.")
        targets, weights = self.variables, list(weights)
        if len(weights) != len(targets):
            raise ValueError(f"set_weights() received {len(weights)} values for the {len(targets)} variables of "
                             f"{type(self).__name__} {self.name!r} (in order: {self._variable_names()}).")
        values = [torch.as_tensor(np.asarray(w)) for w in weights]
        for i, (target, value) in enumerate(zip(targets, values, strict=True)):
            if tuple(value.shape) != tuple(target.shape):
                raise ValueError(f"set_weights(): value {i} ({self._variable_names()[i]}) has shape "
                                 f"{tuple(value.shape)}, the variable has shape {tuple(target.shape)}.")
        with torch.no_grad():
            for target, value in zip(targets[1:], values[1:], strict=True):
                target.copy_(value.to(device=target.device, dtype=target.dtype))
        self._set_raw_iterations(int(values[0]))
        self._after_set_weights()

    def _set_raw_iterations(self, raw: int) -> None:
        n = self.gradient_accumulation_steps or 1
        self.iterations = raw // n
        self._iterations = raw
        self._sync_lr()

    def _variable_names(self) -> list[str]:
        names = ["iteration"] + (["learning_rate"] if isinstance(self._learning_rate, Variable) else [])
        names += [f"{_path(p)}_average" for p in self._params if self._ema]
        names += [f"{_path(p)}_gradient_accumulator" for p in self._params if self._accumulators]
        names += [f"{_path(p)}_{key}" for p, key, _ in self._slot_items()]
        names += [f"{self.name}/{getattr(t, 'name', None) or 'variable'}" for t in self._keras_extra_variables()]
        return names + [_path(v) for v in self._own_variables]

    def save_own_variables(self, store: dict) -> None:
        """Write each variable's value into ``store`` under "0", "1", ... (Keras's layout)."""
        for i, value in enumerate(self.get_weights()):
            store[str(i)] = value

    def load_own_variables(self, store: Any) -> None:
        """Read back what ``save_own_variables`` wrote (the optimizer built on the same weights)."""
        count = len(list(store.keys()))
        expected = len(self.variables)
        if count != expected:
            hint = "" if self.built else " (it is not built: build it on the model's trainable weights first)"
            raise ValueError(f"The saved optimizer state has {count} variables; {type(self).__name__} "
                             f"{self.name!r} has {expected}{hint}. It was saved for other weights or other "
                             "optimizer settings.")
        self.set_weights([store[str(i)] for i in range(count)])

    # -------------------------------------------------------------- creating and assigning variables
    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros", dtype: Any = None,
                     aggregation: str = "none", layout: Any = None, name: str | None = None) -> Variable:
        """A new non-trainable variable owned by the optimizer (listed in ``variables``, saved with it); for
        custom optimizers' ``build``. ``layout`` is accepted for Keras's signature and ignored.

        >>> from lamina.optimizers import SGD
        >>> SGD().add_variable((2,), name="count").path
        'sgd/count'
        """
        variable = Variable(initializer, shape=tuple(shape), dtype=dtype, trainable=False,
                            aggregation=aggregation, name=name or "variable")
        variable.path = f"{self.name}/{variable.name}"
        if self._params:
            variable.data = variable.data.to(self._params[0].device)
        self._own_variables.append(variable)
        return variable

    def add_variable_from_reference(self, reference_variable: torch.Tensor, name: str | None = None,
                                    initializer: Any = "zeros") -> Variable:
        """A new variable with ``reference_variable``'s shape, dtype and device (a slot such as a momentum),
        named ``<reference path>_<name>``.

        >>> import torch
        >>> from lamina.optimizers import SGD
        >>> SGD().add_variable_from_reference(torch.ones(2, 3), "momentum").shape
        torch.Size([2, 3])
        """
        full = f"{_path(reference_variable).replace('/', '_')}_{name or 'variable'}"
        variable = Variable(initializer, shape=tuple(reference_variable.shape), dtype=reference_variable.dtype,
                            trainable=False, name=full)
        variable.path = f"{self.name}/{full}"
        variable.data = variable.data.to(reference_variable.device)
        self._own_variables.append(variable)
        return variable

    def add_optimizer_variables(self, trainable_variables: Iterable[torch.Tensor], name: str | Sequence[str],
                                initializer: Any = "zeros") -> list | tuple[list, ...]:
        """One variable per trainable variable (``add_variable_from_reference``), or, for a list of names, a
        tuple of such lists. Variables with ``overwrite_with_gradient`` get None (they take no optimizer step)."""
        trainable_variables = list(trainable_variables)
        names = [name] if isinstance(name, str) else list(name)
        lists = [[None if getattr(v, "overwrite_with_gradient", False)
                  else self.add_variable_from_reference(v, n, initializer) for v in trainable_variables]
                 for n in names]
        return lists[0] if isinstance(name, str) else tuple(lists)

    @staticmethod
    def assign(variable: torch.Tensor, value: Any) -> None:
        """``variable = value``, in place, no gradient recorded (Keras's optimizer helper)."""
        with torch.no_grad():
            variable.copy_(torch.as_tensor(value).to(device=variable.device, dtype=variable.dtype))

    @staticmethod
    def assign_add(variable: torch.Tensor, value: Any) -> None:
        """``variable += value``, in place."""
        with torch.no_grad():
            variable.add_(torch.as_tensor(value).to(device=variable.device, dtype=variable.dtype))

    @staticmethod
    def assign_sub(variable: torch.Tensor, value: Any) -> None:
        """``variable -= value``, in place."""
        with torch.no_grad():
            variable.sub_(torch.as_tensor(value).to(device=variable.device, dtype=variable.dtype))

    def _get_variable_index(self, variable: torch.Tensor) -> int:
        """The position of ``variable`` among the weights the optimizer was built with (Keras's helper that
        custom ``update_step``s use to find their slots)."""
        return self._index[id(variable)]

    # -------------------------------------------------------------- moving averages
    def swap_ema_weights(self) -> bool:
        """With ``use_ema``, exchange the weights and their moving averages in place (one weight at a time, so
        the extra memory is one weight's size); calling it again swaps back. Returns False, changing nothing,
        where there is no average yet (no ``use_ema``, not built, or no step taken).

        >>> import torch
        >>> from lamina.optimizers import SGD
        >>> w = torch.nn.Parameter(torch.zeros(1)); opt = SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
        >>> for _ in range(2): opt.apply([torch.ones(1)], [w])
        >>> opt.swap_ema_weights(), w.data  # the average of -1 and -2 (weighted 0.5, 0.5)
        (True, tensor([-1.5000]))
        """
        if not self._ema or self._iterations == 0:
            return False
        with torch.no_grad():
            for weight, average in zip(self._params, self._ema, strict=True):
                held = weight.detach().clone()
                weight.copy_(average)
                average.copy_(held)
        return True

    # -------------------------------------------------------------- the update of one variable
    def update_step(self, gradient: torch.Tensor, variable: torch.Tensor, learning_rate: Any) -> None:
        """One update of ``variable`` by ``gradient`` at ``learning_rate``, without counting a step.

        Override it (with ``build`` creating slots by ``add_variable_from_reference``) to write a custom
        optimizer, as in Keras: ``apply`` then calls it for each variable after clipping and weight decay.
        On a built-in optimizer it runs that optimizer's formula on this one variable at step
        ``iterations + 1``."""
        self._require_built()
        i = self._index.get(id(variable))
        if i is None:
            raise ValueError(f"update_step() received a variable (shape {tuple(variable.shape)}) the optimizer "
                             "was not built with.")
        optimizer = self.torch_optimizer
        state = optimizer.state[variable]
        saved_steps = [g.get("step") for g in optimizer.param_groups]
        saved_tensor_step = state["step"].clone() if isinstance(state.get("step"), torch.Tensor) else None
        saved_grads = [p.grad for p in self._params]
        try:
            for p in self._params:
                p.grad = None
            variable.grad = torch.as_tensor(gradient).to(device=variable.device, dtype=variable.dtype)
            for group in optimizer.param_groups:
                group["lr"] = float(learning_rate)
                if isinstance(group.get("step"), int):
                    group["step"] = self.iterations
            self._before_update()
            optimizer.step()
        finally:
            for p, g in zip(self._params, saved_grads, strict=True):
                p.grad = g
            for group, step in zip(optimizer.param_groups, saved_steps, strict=True):
                if step is not None:
                    group["step"] = step
            if saved_tensor_step is not None:
                state["step"].copy_(saved_tensor_step)
            self._sync_lr()

    def _custom_update_step(self) -> bool:
        """Whether a subclass wrote its own ``update_step`` (Keras's way of writing an optimizer)."""
        return type(self).update_step is not OptimizerState.update_step

    def stateless_apply(self, optimizer_variables: Sequence[Any], grads: Sequence[Any],
                        trainable_variables: Sequence[Any]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """``apply`` on values instead of the variables: returns ``(new trainable values, new optimizer variable
        values)`` computed from the given ones (in ``variables``' order and the built weights' order), and
        leaves the optimizer and its weights as they were."""
        self._require_built()
        if len(trainable_variables) != len(self._params):
            raise ValueError(f"stateless_apply() received {len(trainable_variables)} trainable values for the "
                             f"{len(self._params)} variables the optimizer was built with.")
        saved_weights = [p.detach().clone() for p in self._params]
        saved_state = self.get_weights()
        try:
            with torch.no_grad():
                for p, value in zip(self._params, trainable_variables, strict=True):
                    p.copy_(torch.as_tensor(value).to(device=p.device, dtype=p.dtype))
            self.set_weights([torch.as_tensor(v).detach().cpu() for v in optimizer_variables])
            self.apply(list(grads))
            new_weights = [p.detach().clone() for p in self._params]
            new_state = [v.detach().clone() for v in self.variables]
        finally:
            with torch.no_grad():
                for p, value in zip(self._params, saved_weights, strict=True):
                    p.copy_(value)
            self.set_weights(saved_state)
        return new_weights, new_state

    # -------------------------------------------------------------- lamina's exact-resume state
    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        """``(tensors, meta)``: the live state tensors by flat name, and a JSON-able description (iterations,
        learning rate, shapes). Copy the tensors if training continues while you keep them."""
        meta: dict[str, Any] = {"class_name": type(self).__name__, "iterations": self._iterations,
                                "learning_rate": None if callable(self._learning_rate) else float(self._learning_rate),
                                "built": self.built}
        tensors: dict[str, torch.Tensor] = {}
        if not self.built:
            return tensors, meta
        for i, p in enumerate(self._params):
            for key, value in self.torch_optimizer.state[p].items():
                if isinstance(value, torch.Tensor):
                    tensors[f"slots/{i}/{key}"] = value
        for i, t in enumerate(self._ema):
            tensors[f"ema/{i}"] = t
        for i, t in enumerate(self._accumulators):
            tensors[f"accumulators/{i}"] = t
        for i, t in enumerate(self._own_variables):  # a custom optimizer's add_variable slots
            tensors[f"own/{i}"] = t
        meta["variables"] = [[list(p.shape), str(p.dtype).removeprefix("torch.")] for p in self._params]
        meta["group_steps"] = [g.get("step") if isinstance(g.get("step"), int) else None
                               for g in self.torch_optimizer.param_groups]
        return tensors, meta

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Restore what ``state_dict`` returned (the optimizer must be built on the same weights). Checks the
        optimizer class, the variables, and every tensor's name, shape and dtype before changing anything."""
        if meta.get("class_name") != type(self).__name__:
            raise ValueError(f"This state belongs to a {meta.get('class_name')!r} optimizer; it cannot be loaded "
                             f"into {type(self).__name__}. Create the same optimizer class as the saved one.")
        if not meta.get("built", True) or not self.built:
            if not self.built and meta.get("built", True):
                raise ValueError("Build the optimizer (optimizer.build(model.trainable_weights)) before loading a "
                                 "saved state into it.")
            self._iterations = int(meta["iterations"])
            return
        own_tensors, _ = self.state_dict()
        problems = []
        saved_vars = meta.get("variables", [])
        if len(saved_vars) != len(self._params):
            problems.append(f"the state is for {len(saved_vars)} variables, this optimizer has {len(self._params)}")
        else:
            for i, ((shape, dtype), p) in enumerate(zip(saved_vars, self._params, strict=True)):
                if tuple(shape) != tuple(p.shape) or dtype != str(p.dtype).removeprefix("torch."):
                    problems.append(f"variable {i}: saved {tuple(shape)} {dtype}, found {tuple(p.shape)} "
                                    f"{str(p.dtype).removeprefix('torch.')}")
        missing, unexpected = sorted(set(own_tensors) - set(tensors)), sorted(set(tensors) - set(own_tensors))
        if missing:
            problems.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            problems.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        for name in sorted(set(own_tensors) & set(tensors)):
            mine, theirs = own_tensors[name], tensors[name]
            if not isinstance(theirs, torch.Tensor) or theirs.shape != mine.shape or theirs.dtype != mine.dtype:
                problems.append(f"{name}: saved {tuple(getattr(theirs, 'shape', ()))} "
                                f"{getattr(theirs, 'dtype', type(theirs).__name__)}, expected {tuple(mine.shape)} "
                                f"{mine.dtype}")
        if problems:
            raise ValueError(f"Cannot load this state into {type(self).__name__} {self.name!r}: "
                             + "; ".join(problems[:8]) + ". It was saved for other weights or other optimizer "
                             "settings (e.g. amsgrad, momentum, use_ema, gradient_accumulation_steps).")
        with torch.no_grad():
            for name, mine in own_tensors.items():
                mine.copy_(tensors[name])
        self._iterations = int(meta["iterations"])
        for group, step in zip(self.torch_optimizer.param_groups, meta.get("group_steps", []), strict=False):
            if step is not None:
                group["step"] = int(step)
        if meta.get("learning_rate") is not None and not callable(self._learning_rate):
            self._set_learning_rate(float(meta["learning_rate"]))
        self._sync_lr()
