"""Ops on symbolic tensors: one ``OpLayer`` node per call of a ``lamina.ops`` op in a functional graph.

``lamina.ops`` hands any call with a symbolic argument to ``record_op`` (installed here, once, when
``lamina.layers`` is imported). The call becomes an ``OpLayer``: the op's registered name plus its other
arguments as data, called on the symbolic tensors. Shapes and dtypes come from running the op on the meta
device, like any layer. Saved, an op node is its name and its arguments as JSON data; loading resolves the name
in the op registry only, so a file can name ops but never run anything else.

>>> import lamina as keras
>>> from lamina import ops
>>> x = keras.Input((3,))
>>> y = ops.relu(x * 2.0 + 1)
>>> y.shape, type(y.node.layer).__name__, y.node.layer.op
((None, 3), 'OpLayer', 'relu')
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.symbolic import SymbolicTensor
from lamina.ops import dispatch, dtypes

_MAX_INLINE_ELEMENTS = 65536  # constants saved inside an op node's config (a bigger one belongs in a weight)


class _Slot:
    """Where the i-th symbolic tensor goes in an op's arguments."""

    __slots__ = ("index",)

    def __init__(self, index: int):
        self.index = index


class OpLayer(Layer):
    """One call of the op ``op`` in a functional model: its non-tensor arguments are stored as data.

    Made by calling a ``lamina.ops`` op (or an operator such as ``+`` or ``[...]``) on symbolic tensors; not
    usually constructed by hand. ``arguments`` is the saved form: ``{"args": [...], "kwargs": {...}}`` with
    ``{"__tensor__": i}`` where the i-th input tensor goes.
    """

    def __init__(self, op: str, arguments: dict | None = None, *, template: Any = None, **kwargs: Any):
        self._fn = dispatch.get_op(op)  # before anything else: a file naming a non-op is refused here
        kwargs.setdefault("name", config.unique_name(op))
        super().__init__(**kwargs)
        self.op = op
        if template is None:
            if not isinstance(arguments, dict) or set(arguments) - {"args", "kwargs"}:
                raise ValueError(f"OpLayer '{op}': `arguments` must be a dict with 'args' and 'kwargs'; "
                                 f"received {arguments!r:.200}.")
            template = (_decode(arguments.get("args", []), op), _decode(arguments.get("kwargs", {}), op))
            if not isinstance(template[0], list) or not isinstance(template[1], dict):
                raise ValueError(f"OpLayer '{op}': malformed arguments {arguments!r:.200}.")
        self._template = template
        self.built = True

    def call(self, tensors: list) -> Any:
        args, kwargs = _fill(self._template, list(tensors))
        return self._fn(*args, **kwargs)

    def get_config(self) -> dict:
        args, kwargs = self._template
        return {"name": self.name, "op": self.op,
                "arguments": {"args": _encode(list(args), self.op), "kwargs": _encode(dict(kwargs), self.op)}}

    @classmethod
    def from_config(cls, config: dict) -> OpLayer:
        config = dict(config)
        config.pop("trainable", None)
        config.pop("dtype", None)
        return cls(**config)


def record_op(name: str, fn: Any, args: tuple, kwargs: dict) -> Any:
    """The symbolic hook: a call of op ``name`` with symbolic arguments becomes an ``OpLayer`` node."""
    tensors: list[SymbolicTensor] = []
    template = (_extract(list(args), tensors), _extract(dict(kwargs), tensors))
    return OpLayer(name, template=template)(tensors)


dispatch.install_symbolic_hook((SymbolicTensor,), record_op)


# ---------------------------------------------------------------------------------------------- arguments
def _extract(value: Any, tensors: list) -> Any:
    """``value`` with each symbolic tensor replaced by a ``_Slot`` (appending the tensor to ``tensors``)."""
    if isinstance(value, SymbolicTensor):
        tensors.append(value)
        return _Slot(len(tensors) - 1)
    if isinstance(value, list):
        return [_extract(v, tensors) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return tuple(_extract(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _extract(v, tensors) for k, v in value.items()}
    return value


def _fill(value: Any, tensors: list) -> Any:
    if isinstance(value, _Slot):
        return tensors[value.index]
    if isinstance(value, list):
        return [_fill(v, tensors) for v in value]
    if isinstance(value, tuple):
        return tuple(_fill(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, tensors) for k, v in value.items()}
    return value


def _encode(value: Any, op: str) -> Any:
    """JSON data for an argument: numbers, strings, None, lists, and tagged dicts for everything else."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, _Slot):
        return {"__tensor__": value.index}
    if isinstance(value, list):
        return [_encode(v, op) for v in value]
    if isinstance(value, tuple) and not hasattr(value, "_fields"):
        return {"__tuple__": [_encode(v, op) for v in value]}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: _encode(v, op) for k, v in value.items()}}
    if isinstance(value, slice):
        return {"__slice__": [_encode(value.start, op), _encode(value.stop, op), _encode(value.step, op)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, torch.dtype) or (isinstance(value, type) and value in (int, float, bool)):
        return {"__dtype__": dtypes.standardize_dtype(value)}
    if isinstance(value, np.generic):
        return _encode(value.item(), op)
    if isinstance(value, (np.ndarray, torch.Tensor)):
        arr = value.detach().cpu() if isinstance(value, torch.Tensor) else value
        if arr.numel() if isinstance(arr, torch.Tensor) else arr.size > _MAX_INLINE_ELEMENTS:
            raise ValueError(
                f"Op '{op}' in this functional model was given a constant of shape {tuple(arr.shape)}: too big to "
                "save inside the model's config. Make it a weight of a custom layer (add_weight) instead.")
        name = dtypes.standardize_dtype(arr.dtype)
        values = (arr.float() if name == "bfloat16" else arr).tolist() if isinstance(arr, torch.Tensor) \
            else arr.tolist()
        return {"__array__": values, "dtype": name}
    raise ValueError(
        f"Op '{op}' in this functional model was given {type(value).__name__} {value!r:.80}, which cannot be saved "
        "as data (lamina files never hold code). The model works in memory; to save it, move this computation "
        "into a custom Layer's call() and register the layer with lamina.saving.register_serializable().")


_TAGS = {"__tensor__", "__tuple__", "__dict__", "__slice__", "__ellipsis__", "__dtype__", "__array__", "__float__"}


def _decode(value: Any, op: str) -> Any:
    """Inverse of ``_encode``, accepting nothing but the tags it writes."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, op) for v in value]
    if not isinstance(value, dict) or not (set(value) & _TAGS):
        raise ValueError(f"OpLayer '{op}': an argument in the file is not data lamina writes: {value!r:.120}.")
    if "__tensor__" in value:
        index = value["__tensor__"]
        if type(index) is not int or index < 0:
            raise ValueError(f"OpLayer '{op}': bad tensor reference {value!r:.80}.")
        return _Slot(index)
    if "__tuple__" in value:
        return tuple(_decode(value["__tuple__"], op))
    if "__dict__" in value:
        inner = value["__dict__"]
        if not isinstance(inner, dict):
            raise ValueError(f"OpLayer '{op}': bad dict argument {value!r:.80}.")
        return {str(k): _decode(v, op) for k, v in inner.items()}
    if "__slice__" in value:
        parts = value["__slice__"]
        if not isinstance(parts, list) or len(parts) != 3 or not all(p is None or type(p) is int for p in parts):
            raise ValueError(f"OpLayer '{op}': bad slice {value!r:.80}.")
        return slice(*parts)
    if "__ellipsis__" in value:
        return Ellipsis
    if "__dtype__" in value:
        return dtypes.standardize_dtype(str(value["__dtype__"]))
    if "__float__" in value:
        text = value["__float__"]
        if text not in ("nan", "inf", "-inf"):
            raise ValueError(f"OpLayer '{op}': bad float {value!r:.80}.")
        return float(text)
    name = dtypes.standardize_dtype(str(value.get("dtype")))
    arr = np.asarray(value["__array__"], dtype=np.float32 if name == "bfloat16" else name)
    # A NumPy array, as the op would have been given: the op puts it on its tensors' device.
    return torch.from_numpy(arr).to(torch.bfloat16) if name == "bfloat16" else arr
