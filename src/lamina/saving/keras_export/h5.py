"""Write a lamina model's weights in Keras 3's HDF5 layout (``model.weights.h5`` / ``x.weights.h5``).

Each layer's own variables go to ``<group>/vars/0``, ``vars/1``... in Keras's layout and order (see
``layout``); a layer that overrides ``save_own_variables`` writes its group itself through an ``H5Store``.

>>> import io, lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> buffer = io.BytesIO(); write_weights(model, buffer); buffer.getvalue()[:4]
b'\\x89HDF'
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import h5py
import numpy as np
import torch

from lamina.layers.weights import export
from lamina.saving.keras_export.layout import layout
from lamina.saving.keras_export.optimizer import keras_values


def _array(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().to("cpu")
        value = value.float() if value.dtype == torch.bfloat16 else value
        return value.numpy()
    return np.asarray(value)


class H5Store:
    """What ``save_own_variables(store)`` receives: ``store["0"] = array`` writes a dataset (NumPy arrays,
    torch tensors and numbers are accepted); reading a key back gives a NumPy array.

    >>> import io
    >>> with h5py.File(io.BytesIO(), "w") as f:
    ...     store = H5Store(f.create_group("vars")); store["0"] = [1.0, 2.0]; list(store.keys()), store["0"]
    (['0'], array([1., 2.]))
    """

    def __init__(self, group: h5py.Group):
        self.group = group

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str) or not key or "/" in key or key in (".", ".."):
            raise ValueError(f"save_own_variables: store keys are plain names such as '0' or 'vocab'; got {key!r}.")
        if key in self.group:
            del self.group[key]
        self.group.create_dataset(key, data=_array(value))

    def __getitem__(self, key: str) -> np.ndarray:
        return np.asarray(self.group[key][()])

    def __contains__(self, key: object) -> bool:
        return key in self.group

    def __len__(self) -> int:
        return len(self.group)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        return list(self.group.keys())


def write_weights(model: Any, target: Any, include_optimizer: bool = False) -> None:
    """Write ``model``'s weights to ``target`` (a path or a binary file object) in Keras's HDF5 layout; with
    ``include_optimizer``, a built optimizer's variables too (``optimizer/vars``, as in ``.keras`` files)."""
    with h5py.File(target, "w") as f:
        optimizer = getattr(model, "optimizer", None)
        if include_optimizer and getattr(optimizer, "built", False) and hasattr(optimizer, "get_weights"):
            variables = f.require_group("optimizer").require_group("vars")
            variables.attrs["name"] = optimizer.name
            for i, value in enumerate(keras_values(model)):
                variables.create_dataset(str(i), data=value)
        for group in layout(model, "save_own_variables"):
            node = f.require_group(group.path) if group.path else f
            variables = node.require_group("vars")
            variables.attrs["name"] = group.layer.name
            if group.hook:
                group.layer.save_own_variables(H5Store(variables))
                continue
            for i, (owner, name, tensor) in enumerate(group.entries):
                variables.create_dataset(str(i), data=export(owner, name, tensor))
