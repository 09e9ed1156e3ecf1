"""Layers whose inputs may be strings, which live only on the host: PyTorch has no string tensors.

``HostLayer`` is the base of the string-taking preprocessing layers (``StringLookup``, ``Hashing``,
``TextVectorization``...). Called on strings (a ``str``, a list, or a NumPy array of ``str``/``bytes``/objects)
it runs its ``call`` directly on the host and returns a tensor of ids; called on tensors, it is an ordinary layer.
Place such a layer in the data pipeline (map your dataset through it), or first in a ``Sequential`` model trained
on string arrays, as Keras suggests for its own TensorFlow-backed versions.

>>> to_host_array([["a", "b"], ["c", "d"]]).shape
(2, 2)
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch

from lamina.layers.layer import Layer
from lamina.layers.symbolic import is_symbolic


def is_string_array(x: Any) -> bool:
    """Whether ``x`` is a NumPy array of strings (``str``, ``bytes`` or Python objects)."""
    return isinstance(x, np.ndarray) and x.dtype.kind in "USO"


def is_host_data(x: Any) -> bool:
    """Whether ``x`` is data a layer cannot turn into a tensor: strings, or lists/tuples of anything."""
    return isinstance(x, (str, bytes, list, tuple)) or is_string_array(x) or (
        isinstance(x, np.ndarray) and x.dtype.kind not in "biuf")


def to_host_array(x: Any) -> np.ndarray:
    """``x`` as a NumPy array: strings become an object array of ``str``/``bytes``, numbers stay numbers."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (str, bytes)):
        return np.array(x, dtype=object)
    arr = np.asarray(x) if not isinstance(x, np.ndarray) else x
    if arr.dtype.kind in "US":
        arr = arr.astype(object)
    return arr


def to_text(value: Any, encoding: str = "utf-8") -> str:
    """One element as ``str`` (bytes are decoded with ``encoding``)."""
    if isinstance(value, bytes):
        return value.decode(encoding)
    if isinstance(value, np.bytes_):
        return bytes(value).decode(encoding)
    return str(value)


def to_bytes(value: Any, encoding: str = "utf-8") -> bytes:
    """One element as the bytes TensorFlow would hash: strings encoded, numbers in decimal."""
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value)
    if isinstance(value, (float, np.floating)):
        value = int(value)  # Keras casts floats to int64 before turning them into strings
    return str(value).encode(encoding)


class HostLayer(Layer):
    """A layer that runs ``call`` on the host when given strings or Python lists (no tensor conversion).

    Its tensors come out on the device the layer was last moved to (``model.to("cuda")`` moves it with the
    model), so the next layer of a model on a GPU receives them there; never moved, they stay on the CPU.
    """

    takes_tensors: bool = True  # False: even tensors go through the host path (no shape inference on them)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and (is_host_data(args[0]) or (isinstance(args[0], torch.Tensor) and not self.takes_tensors)) \
                and not is_symbolic(args[0]):
            if not self.built:
                self.built = True  # these layers have no weights to build
            kwargs.pop("training", None)
            return self._to_output_device(self.call(*args, **kwargs))
        return super().__call__(*args, **kwargs)

    def _to_output_device(self, out: Any) -> Any:
        device = self.__dict__.get("_output_device")
        if device is not None and isinstance(out, torch.Tensor) and out.device != device and not out.is_meta:
            return out.to(device)
        return out

    def _apply(self, fn: Any, recurse: bool = True) -> HostLayer:
        with contextlib.suppress(Exception):  # (a conversion that cannot take an empty tensor moves nothing)
            self.__dict__["_output_device"] = fn(torch.empty(0)).device  # where .to()/.cuda() sends tensors
        return super()._apply(fn, recurse)
