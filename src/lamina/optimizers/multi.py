"""Different optimizers for different weights: ``OptimizerMap`` (regular expressions on a weight's ``path`` ->
optimizer, with a default) and ``MultiOptimizer``, which builds each sub-optimizer on its own weights and
delegates every step to them (Keras 3's classes and rules).

>>> import torch
>>> from lamina.optimizers import SGD, Adam
>>> optimizer = MultiOptimizer(OptimizerMap(SGD(), {"encoder/.*": Adam()}))
>>> [type(o).__name__ for o in optimizer.optimizers]
['Adam', 'SGD']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from typing import Any

import numpy as np
import torch

from lamina.core.variable import Variable
from lamina.optimizers.base import OPTIMIZERS, Optimizer, deserialize, serialize

Selector = Callable[[torch.Tensor], Optimizer]


def _path(variable: Any) -> str:
    return getattr(variable, "path", None) or getattr(variable, "name", None) or ""


def _check_optimizer(value: Any, what: str) -> Optimizer:
    if not isinstance(value, Optimizer) or isinstance(value, MultiOptimizer):
        raise TypeError(f"{what} must be a lamina Optimizer instance (e.g. lamina.optimizers.Adam()); received "
                        f"{value!r}.")
    return value


class OptimizerMap(MutableMapping):
    """Patterns -> optimizers: a weight goes to the optimizer whose regular expression matches its whole
    ``path`` (e.g. ``"encoder/.*"``), else to ``default_optimizer``; two matching patterns are an error. The
    weights of a Sequential or a nested model have paths that start with its name (``sequential/encoder/kernel``),
    as in Keras: match them with ``".*encoder/.*"``.

    ``optimizer_map[path]`` gives the optimizer for a path, ``optimizer_map(variable)`` for a weight.

    >>> from lamina.optimizers import SGD, Adam
    >>> m = OptimizerMap(SGD(), {"encoder/.*": Adam()})
    >>> type(m["encoder/kernel"]).__name__, type(m["decoder/kernel"]).__name__
    ('Adam', 'SGD')
    """

    def __init__(self, default_optimizer: Optimizer, optimizer_map: Mapping[str, Optimizer] | None = None):
        self.default_optimizer = _check_optimizer(default_optimizer, "OptimizerMap: `default_optimizer`")
        self._map: dict[str, Optimizer] = {}
        for pattern, optimizer in (optimizer_map or {}).items():
            self[pattern] = optimizer

    def __getitem__(self, path: str) -> Optimizer:
        matches = [(pattern, opt) for pattern, opt in self._map.items() if re.fullmatch(pattern, path)]
        if len(matches) > 1:
            raise ValueError(f"Multiple optimizers assigned to variable {path!r}: patterns "
                             f"{[p for p, _ in matches]} all match it. Make the patterns exclusive.")
        return matches[0][1] if matches else self.default_optimizer

    def __setitem__(self, pattern: str, optimizer: Optimizer) -> None:
        if not isinstance(pattern, str):
            raise TypeError(f"OptimizerMap keys are regular expressions (str); received {pattern!r}.")
        re.compile(pattern)  # a malformed pattern fails here, not at build
        self._map[pattern] = _check_optimizer(optimizer, f"OptimizerMap[{pattern!r}]")

    def __delitem__(self, pattern: str) -> None:
        del self._map[pattern]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __call__(self, variable: torch.Tensor) -> Optimizer:
        return self[_path(variable)]

    def get_config(self) -> dict:
        return {"default_optimizer": serialize(self.default_optimizer),
                "optimizer_map": {pattern: serialize(opt) for pattern, opt in self._map.items()}}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> OptimizerMap:
        return cls(deserialize(config["default_optimizer"], custom_objects),
                   {p: deserialize(c, custom_objects) for p, c in config.get("optimizer_map", {}).items()})


@OPTIMIZERS("MultiOptimizer", "multi_optimizer")
class MultiOptimizer(Optimizer):
    """Delegates each weight to the optimizer an ``OptimizerMap`` (or a function ``variable -> optimizer``)
    chooses. Each sub-optimizer keeps its own learning rate, schedule, clipping, decay and EMA; the
    ``MultiOptimizer`` itself has only ``loss_scale_factor`` (the gradients are divided by it before the
    sub-optimizers see them) and, as in Keras, no ``learning_rate``: read it on ``.optimizers``.

    >>> import torch
    >>> from lamina.optimizers import SGD
    >>> fast, slow = SGD(learning_rate=1.0), SGD(learning_rate=0.1)
    >>> opt = MultiOptimizer(lambda v: fast if v.ndim == 2 else slow)
    >>> w, b = torch.nn.Parameter(torch.zeros(1, 1)), torch.nn.Parameter(torch.zeros(1))
    >>> opt.apply([torch.ones(1, 1), torch.ones(1)], [w, b]); w.item(), b.item()
    (-1.0, -0.10000000149011612)
    """

    def __init__(self, optimizer_map: OptimizerMap | Selector, loss_scale_factor: float | None = None,
                 name: str | None = None):
        if isinstance(optimizer_map, dict) and optimizer_map.get("class_name") == "OptimizerMap":
            optimizer_map = OptimizerMap.from_config(optimizer_map.get("config", {}))  # a saved config's entry
        if not isinstance(optimizer_map, OptimizerMap) and not callable(optimizer_map):
            raise TypeError("MultiOptimizer takes an OptimizerMap or a function variable -> optimizer; received "
                            f"{optimizer_map!r}.")
        super().__init__(learning_rate=0.0, loss_scale_factor=loss_scale_factor, name=name)
        self._learning_rate = None
        self.optimizer_map = optimizer_map
        self._chosen: list[Optimizer] = []  # a function's choices, in order of first use
        self._groups: list[tuple[Optimizer, list[torch.Tensor]]] | None = None
        self._owner: dict[int, Optimizer] = {}

    @property
    def optimizers(self) -> list[Optimizer]:
        """The sub-optimizers: an OptimizerMap's (mapped ones, then the default), or those a function chose."""
        if isinstance(self.optimizer_map, OptimizerMap):
            found = [*self.optimizer_map.values(), self.optimizer_map.default_optimizer]
        else:
            found = self._chosen
        unique: list[Optimizer] = []
        for opt in found:
            if not any(opt is o for o in unique):
                unique.append(opt)
        return unique

    @property
    def use_ema(self) -> bool:
        """Whether a sub-optimizer keeps a moving average of its weights (then ``fit`` ends with the averages,
        and ``SwapEMAWeights`` swaps them in)."""
        return any(opt.use_ema for opt in self.optimizers)

    @use_ema.setter
    def use_ema(self, value: bool) -> None:
        if value:
            raise AttributeError("A MultiOptimizer has no moving average of its own: create its sub-optimizers "
                                 "with use_ema=True.")

    @property
    def learning_rate(self) -> Any:
        raise AttributeError("Learning rate cannot be accessed on a MultiOptimizer: each sub-optimizer has its "
                             "own. Read or set it on `optimizer.optimizers[i].learning_rate`.")

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        raise AttributeError("A MultiOptimizer has no learning rate of its own: set it on each of "
                             "`optimizer.optimizers`.")

    @property
    def built(self) -> bool:
        return self._groups is not None

    def build(self, variables: Iterable[torch.Tensor]) -> None:
        """Choose each weight's optimizer and build every chosen one on its weights (no-op once built)."""
        if self.built:
            return
        variables = list(dict.fromkeys(variables))  # unique, in order (tensors hash by identity)
        if not variables:
            raise ValueError("The optimizer received no trainable weights. Check that the model has weights and "
                             "that `trainable` is not False everywhere.")
        groups: dict[int, tuple[Optimizer, list[torch.Tensor]]] = {}
        for v in variables:
            opt = _check_optimizer(self.optimizer_map(v), f"The optimizer chosen for {_path(v) or 'a weight'!r}")
            groups.setdefault(id(opt), (opt, []))[1].append(v)
            self._owner[id(v)] = opt
            if not any(opt is o for o in self._chosen):
                self._chosen.append(opt)
        for opt, group in groups.values():
            opt.build(group)
        self._groups = list(groups.values())
        self._params = variables
        self._index = {id(p): i for i, p in enumerate(variables)}

    def zero_grad(self) -> None:
        for opt, _ in self._groups or []:
            opt.zero_grad()

    def step(self) -> None:
        """Each sub-optimizer applies the ``.grad`` of its weights (those that have one)."""
        self._require_built()
        grads = [p.grad for p in self._params if p.grad is not None]
        if not grads:
            raise ValueError("No gradients provided for any variable: call `loss.backward()` before `step()`.")
        if self.loss_scale_factor is not None:
            torch._foreach_div_(grads, self.loss_scale_factor)
        for opt, group in self._groups:
            if any(p.grad is not None for p in group):
                opt.step()
        self._count_step()

    def apply(self, grads: list[torch.Tensor | None], trainable_variables: list[torch.Tensor] | None = None) -> None:
        """Apply ``grads`` to ``trainable_variables`` (default: the weights it was built with), each through its
        sub-optimizer; a sub-optimizer whose weights all have None gradients is left alone."""
        grads = list(grads)
        variables = list(trainable_variables) if trainable_variables is not None else list(self._params)
        if len(grads) != len(variables):
            raise ValueError(f"Received {len(grads)} gradients and {len(variables)} variables; they pair one to one.")
        if not self.built:
            self.build(variables)
        if all(g is None for g in grads):
            raise ValueError("No gradients provided for any variable (all are None).")
        per_opt: dict[int, tuple[Optimizer, list, list]] = {}
        for g, v in zip(grads, variables, strict=True):
            opt = self._owner.get(id(v))
            if opt is None:
                raise ValueError(f"A variable (shape {tuple(v.shape)}) was not among those the MultiOptimizer was "
                                 "built with. Build it on every variable it will update.")
            if g is not None and self.loss_scale_factor is not None:
                g = torch.as_tensor(g) / self.loss_scale_factor
            entry = per_opt.setdefault(id(opt), (opt, [], []))
            entry[1].append(g)
            entry[2].append(v)
        for opt, sub_grads, sub_vars in per_opt.values():
            if any(g is not None for g in sub_grads):
                opt.apply(sub_grads, sub_vars)
        self._count_step()

    def _count_step(self) -> None:
        self._iterations += 1

    def _current_lr(self) -> float:
        raise AttributeError("A MultiOptimizer has no learning rate of its own; see `optimizer.optimizers`.")

    def _traceable_update(self) -> None:
        """None: the eager step (each sub-optimizer runs its own update)."""
        return None

    def finalize_variable_values(self, variables: Iterable[torch.Tensor]) -> None:
        for opt, group in self._groups or []:
            mine = {id(v) for v in group}
            opt.finalize_variable_values([v for v in variables if id(v) in mine])

    def swap_ema_weights(self) -> bool:
        return any([opt.swap_ema_weights() for opt, _ in self._groups or []])

    # -------------------------------------------------------------- state
    @property
    def variables(self) -> list[torch.Tensor]:
        """The step counter, then each built sub-optimizer's variables, in ``optimizers`` order."""
        if not self.built:
            return []
        own = Variable.wrap(torch.tensor(self._iterations, dtype=torch.int32), name="iteration",
                            path=f"{self.name}/iteration")
        return [own] + [v for opt in self.optimizers if opt.built for v in opt.variables]

    def set_weights(self, weights: Iterable[Any]) -> None:
        self._require_built()
        weights = list(weights)
        built = [opt for opt in self.optimizers if opt.built]
        counts = [len(opt.variables) for opt in built]
        if len(weights) != 1 + sum(counts):
            raise ValueError(f"set_weights() received {len(weights)} values; this MultiOptimizer has "
                             f"{1 + sum(counts)} variables (its step counter, then {counts} per sub-optimizer).")
        self._iterations = int(np.asarray(weights[0]))
        start = 1
        for opt, n in zip(built, counts, strict=True):
            opt.set_weights(weights[start:start + n])
            start += n

    def _require_built(self) -> None:
        if not self.built:
            raise ValueError(f"The optimizer {self.name!r} is not built: call "
                             "`optimizer.build(model.trainable_weights)` first (or `apply(grads, variables)`).")

    def state_dict(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors: dict[str, torch.Tensor] = {}
        metas = []
        for i, (opt, _) in enumerate(self._groups or []):
            sub_tensors, sub_meta = opt.state_dict()
            tensors.update({f"optimizer_{i}/{k}": t for k, t in sub_tensors.items()})
            metas.append(sub_meta)
        return tensors, {"class_name": type(self).__name__, "iterations": self._iterations, "built": self.built,
                         "optimizers": metas}

    def load_state_dict(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        if meta.get("class_name") != type(self).__name__:
            raise ValueError(f"This state belongs to a {meta.get('class_name')!r} optimizer; it cannot be loaded "
                             "into a MultiOptimizer.")
        metas = meta.get("optimizers", [])
        groups = self._groups or []
        if len(metas) != len(groups):
            raise ValueError(f"The saved MultiOptimizer state has {len(metas)} sub-optimizers in use; this one "
                             f"has {len(groups)}. Build it on the same weights with the same mapping first.")
        for i, ((opt, _), sub_meta) in enumerate(zip(groups, metas, strict=True)):
            prefix = f"optimizer_{i}/"
            opt.load_state_dict({k[len(prefix):]: t for k, t in tensors.items() if k.startswith(prefix)}, sub_meta)
        self._iterations = int(meta["iterations"])

    # -------------------------------------------------------------- config
    def get_config(self) -> dict:
        if not isinstance(self.optimizer_map, OptimizerMap):
            raise TypeError("This MultiOptimizer chooses optimizers with a function, which cannot be saved: use an "
                            "OptimizerMap (patterns -> optimizers) to save it in a config.")
        return {"optimizer_map": {"class_name": "OptimizerMap", "config": self.optimizer_map.get_config()},
                "loss_scale_factor": self.loss_scale_factor, "name": self.name}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> MultiOptimizer:
        config = dict(config)
        mapping = config.pop("optimizer_map")
        if isinstance(mapping, dict) and "config" in mapping:
            mapping = mapping["config"]
        return cls(OptimizerMap.from_config(mapping, custom_objects), **config)

    def __repr__(self) -> str:
        return f"<MultiOptimizer name={self.name!r} optimizers={[type(o).__name__ for o in self.optimizers]}>"
