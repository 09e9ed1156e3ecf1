"""An optimizer's variables in Keras's layout: the slots of a weight (Adam's momentum and velocity, an EMA
average...) have the weight's shape, which for some layers differs between torch and Keras (a conv kernel is
``(out, in, kh, kw)`` in torch, ``(kh, kw, in, out)`` in Keras). Each slot is translated with its weight's
layer's ``weight_to_keras`` / ``weight_from_keras``; the step count and learning rate pass as they are.

>>> import lamina
>>> model = lamina.Sequential([lamina.Input((4, 3)), lamina.layers.Conv1D(2, 1)])
>>> model.compile(optimizer="adam", loss="mse"); model.optimizer.build(model.trainable_weights)
>>> [a.shape for a in keras_values(model)]
[(), (), (1, 3, 2), (1, 3, 2), (2,), (2,)]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.layers.weights import export, with_owner


def _weights_of(optimizer: Any, variables: list) -> list[Any] | None:
    """For each of ``optimizer.variables``, the model weight it is a slot of (None for the others); None when
    the optimizer's variables cannot be matched to its weights."""
    params = list(getattr(optimizer, "_params", None) or [])
    torch_optimizer = getattr(optimizer, "torch_optimizer", None)
    slots = {id(t) for t in optimizer._slots()} if hasattr(optimizer, "_slots") else set()
    by_id = {id(v): None for v in variables}
    for p in params:
        state = torch_optimizer.state.get(p, {}) if torch_optimizer is not None else {}
        for t in state.values():
            if isinstance(t, torch.Tensor) and id(t) in slots:
                by_id[id(t)] = p
    for group_name in ("_ema", "_accumulators"):
        group = list(getattr(optimizer, group_name, None) or [])
        if len(group) == len(params):
            for t, p in zip(group, params, strict=True):
                by_id[id(t)] = p
    return [by_id.get(id(v)) for v in variables]


def _owners(model: Any) -> dict[int, tuple[Any, str]]:
    return {id(t): (owner, name) for owner, name, t in with_owner(model)}


def keras_values(model: Any) -> list[np.ndarray]:
    """``model.optimizer``'s variables as NumPy arrays in Keras's order and layout (what ``.keras`` files hold)."""
    optimizer = model.optimizer
    variables = list(optimizer.variables)
    values = optimizer.get_weights()
    owners = _owners(model)
    out = []
    for value, param in zip(values, _weights_of(optimizer, variables), strict=True):
        owner = owners.get(id(param)) if param is not None else None
        if owner is not None and tuple(value.shape) == tuple(param.shape):
            value = export(owner[0], owner[1], torch.as_tensor(value))
        out.append(value)
    return out


def from_keras(model: Any, arrays: list[Any]) -> list[Any]:
    """Arrays in Keras's layout (``keras_values``'s) translated back to the optimizer's own layout, for
    ``optimizer.set_weights`` / ``load_own_variables`` (the optimizer built)."""
    optimizer = model.optimizer
    variables = list(optimizer.variables)
    if len(arrays) != len(variables):
        return list(arrays)  # the optimizer's own check reports the mismatch
    owners = _owners(model)
    out = []
    for value, param, target in zip(arrays, _weights_of(optimizer, variables), variables, strict=True):
        owner = owners.get(id(param)) if param is not None else None
        arr = np.asarray(value)
        if owner is not None and tuple(arr.shape) != tuple(target.shape):
            converted = owner[0].weight_from_keras(owner[1], torch.as_tensor(arr))
            if tuple(converted.shape) == tuple(target.shape):
                arr = converted.numpy()
        out.append(arr)
    return out
