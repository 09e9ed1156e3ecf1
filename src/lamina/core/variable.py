"""Keras's ``Variable`` API on PyTorch tensors.

A layer's trainable weight is a ``TrainableVariable``: an ``nn.Parameter`` (optimizers, ``state_dict``, DDP,
``torch.compile`` and ``model.parameters()`` see an ordinary parameter) that also answers Keras's variable API:
``value``, ``assign``/``assign_add``/``assign_sub``, ``numpy()``, ``name``, ``path``, ``trainable``,
``aggregation``, ``synchronization``, ``constraint``, ``regularizer``, ``initializer``. Non-trainable state
(BatchNormalization statistics, metric accumulators) is a plain ``Variable``, which a layer registers as a buffer.

Both classes switch ``__torch_function__`` off, as ``nn.Parameter`` does: every torch operation on a variable
returns a plain tensor, at no cost per operation.

``dtype`` stays the torch dtype (torch functions read it); compare dtypes by name with
``lamina.backend.standardize_dtype(v.dtype)`` (or ``lamina.core.config.dtype_name``).

>>> v = Variable(initializer=[1.0, 2.0], name="v")
>>> v.assign_add([1.0, 1.0]).numpy()
array([2., 3.], dtype=float32)
>>> type(Variable("zeros", shape=(2,), trainable=True)).__name__, v.path
('TrainableVariable', 'v')
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from lamina.core import config, scopes

AGGREGATIONS = ("none", "mean", "sum", "only_first_replica")
SYNCHRONIZATIONS = ("none", "on_write", "on_read", "auto")

# Resolves initializer names ("glorot_uniform", ...) for Variable(initializer="...") at this level, below the
# initializers module; lamina.layers installs lamina.initializers.get here when it is imported (a fixed wiring,
# set once, listed in core/config.py). Without it, only "zeros" and "ones" are known.
_initializer_lookup: Callable[[Any], Callable] | None = None


def set_initializer_lookup(lookup: Callable[[Any], Callable]) -> None:
    """Install the function that turns an initializer name into an initializer (``lamina.initializers.get``)."""
    global _initializer_lookup
    _initializer_lookup = lookup


def _resolve_initializer(identifier: Any) -> Callable:
    if callable(identifier):
        return identifier
    if _initializer_lookup is not None:
        return _initializer_lookup(identifier)
    fill = {"zeros": 0.0, "ones": 1.0}.get(str(identifier).lower())
    if fill is None:
        raise ValueError(f"Unknown initializer {identifier!r}: import lamina (or pass a callable initializer).")
    return lambda shape, dtype=None: torch.full(shape, fill, dtype=dtype)


def _python_value_dtype(value: Any) -> torch.dtype | None:
    """Keras's dtype for Python numbers and lists: int32 for ints, bool, floatx for floats."""
    kind = np.asarray(value).dtype.kind
    return {"i": torch.int32, "u": torch.int32, "b": torch.bool, "f": config.standardize_dtype(None)}.get(kind)


def initial_value(initializer: Any, shape: Any = None, dtype: Any = None) -> torch.Tensor:
    """The starting value of a variable, as Keras reads ``Variable(initializer, shape, dtype)``: a value (tensor,
    array, number, nested list) or an initializer (a name or a callable ``(shape, dtype) -> value``)."""
    torch_dtype = None if dtype is None else config.standardize_dtype(dtype)
    if isinstance(initializer, str) or (callable(initializer) and not isinstance(initializer, torch.Tensor)):
        if shape is None:
            raise ValueError(f"When creating a Variable from an initializer, the `shape` argument should be "
                             f"specified. Received: initializer={initializer!r} and shape=None")
        torch_dtype = torch_dtype or config.standardize_dtype(None)
        value = _resolve_initializer(initializer)(tuple(int(d) for d in shape), dtype=torch_dtype)
        return torch.as_tensor(value, dtype=torch_dtype)
    if isinstance(initializer, torch.Tensor):
        value = initializer.detach()
    elif isinstance(initializer, (np.ndarray, np.generic)):  # NumPy values keep their dtype
        value = torch.as_tensor(np.ascontiguousarray(initializer))
    else:  # Python numbers and (nested) lists
        value = torch.as_tensor(np.asarray(initializer), dtype=_python_value_dtype(initializer))
    if torch_dtype is not None and value.dtype != torch_dtype:
        value = value.to(torch_dtype)
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise ValueError(f"Initial value for variable has shape {tuple(value.shape)}, which does not match the "
                         f"requested shape {tuple(shape)}.")
    return value.clone() if isinstance(initializer, torch.Tensor) else value


def _check_choice(what: str, value: Any, choices: tuple[str, ...]) -> str:
    if value is None:
        return choices[0] if what == "aggregation" else "auto"
    if value not in choices:
        raise ValueError(f"Invalid value for argument `{what}`. Expected one of {list(choices)}. Received: "
                         f"{what}={value!r}")
    return value


class Variable(torch.Tensor):
    """A Keras variable: a tensor that is a layer's (or a metric's) state.

    ``Variable(initializer, shape=None, dtype=None, trainable=True, autocast=True, aggregation="none",
    synchronization="auto", name=None)``, Keras's signature: a trainable variable is a ``TrainableVariable``
    (an ``nn.Parameter``); a non-trainable one a ``Variable`` (a layer registers it as a buffer). Assigned as a
    layer attribute, either is tracked by the layer.
    """

    __torch_function__ = torch._C._disabled_torch_function_impl
    # Keras's metadata, as class defaults (instances set their own in __dict__)
    path: str | None = None
    aggregation: str = "none"
    synchronization: str = "auto"
    constraint: Any = None
    regularizer: Any = None
    initializer: Any = None
    autocast: bool = True
    overwrite_with_gradient: bool = False
    follows_device: bool = False  # metric state: assigning a tensor from another device moves the variable there
    _keras_name: str | None = None

    def __new__(cls, initializer: Any = None, shape: Any = None, dtype: Any = None, trainable: bool = True,
                autocast: bool = True, aggregation: str = "none", synchronization: str = "auto",
                name: str | None = None) -> Variable:
        if name is not None and (not isinstance(name, str) or "/" in name):
            raise ValueError(f"Argument `name` must be a string and cannot contain character `/`. "
                             f"Received: name={name!r}")
        value = initial_value(initializer, shape, dtype)
        if cls is Variable and trainable:  # Keras's one constructor: a trainable variable is a parameter
            cls = TrainableVariable
        name = name or config.unique_name("variable")
        path = "/".join(filter(None, (scopes.current_path(), name)))  # under the enclosing name_scopes, as Keras
        variable = cls.wrap(value, trainable=trainable, name=name, path=path)
        variable.initializer = initializer if not isinstance(initializer, (torch.Tensor, np.ndarray)) else None
        variable.autocast = bool(autocast)
        variable.aggregation = _check_choice("aggregation", aggregation, AGGREGATIONS)
        variable.synchronization = _check_choice("synchronization", synchronization, SYNCHRONIZATIONS)
        return variable

    def __init__(self, *args: Any, **kwargs: Any):  # everything happened in __new__
        super().__init__()

    @classmethod
    def wrap(cls, data: torch.Tensor, trainable: bool = False, **metadata: Any) -> Variable:
        """``data`` (shared, not copied) as a variable of this class, with Keras's ``metadata`` (name, path, ...)."""
        requires_grad = bool(trainable) and (data.is_floating_point() or data.is_complex())
        variable = torch.Tensor._make_subclass(cls, data.detach(), requires_grad)
        if trainable and not requires_grad:
            variable.__dict__["_int_trainable"] = True  # an integer variable is trainable by name only
        name = metadata.pop("name", None)
        if name is not None:
            variable._keras_name = name
        variable.__dict__.update(metadata)
        return variable

    def rewrap(self, data: torch.Tensor) -> Variable:
        """``data`` as a variable of this one's class and metadata (after ``.to()`` made a plain tensor)."""
        variable = torch.Tensor._make_subclass(type(self), data.detach(), self.requires_grad)
        variable.__dict__.update(self.__dict__)
        return variable

    # ------------------------------------------------------------------ Keras's attributes
    @property
    def name(self) -> str | None:  # noqa: D401 (torch.Tensor's read-only `name` is replaced by Keras's)
        """Keras's short name (``"kernel"``, ``"moving_mean"``, the ``add_weight`` name)."""
        return self._keras_name

    @name.setter
    def name(self, value: str) -> None:
        self._keras_name = value

    @property
    def value(self) -> torch.Tensor:
        """The tensor itself: computing with it records gradients for a trainable variable."""
        return self

    @property
    def trainable(self) -> bool:
        """Whether optimizers update it (for a trainable float variable: ``requires_grad``). Settable."""
        return self.requires_grad or bool(self.__dict__.get("_int_trainable", False))

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if value:
            raise ValueError(f"Variable {self.path!r} is non-trainable state (a buffer); it cannot become trainable. "
                             "Create it with trainable=True instead.")

    # ------------------------------------------------------------------ assignment
    def _coerce(self, value: Any) -> torch.Tensor:
        if isinstance(value, torch.Tensor):
            value = value.detach()
            if self.follows_device and value.device != self.device and not value.is_meta and value.ndim <= self.ndim:
                self.data = self.data.to(value.device)  # the same variable, now beside the data (no sync each step)
        else:
            value = torch.as_tensor(np.asarray(value) if not isinstance(value, (int, float, bool)) else value)
        return value.to(device=self.device, dtype=self.dtype)

    def assign(self, value: Any) -> Variable:
        """Set the value in place (no gradient is recorded); returns the variable."""
        value = self._coerce(value)
        if tuple(value.shape) != tuple(self.shape):
            raise ValueError(f"The shape of the target variable and the shape of the target value in "
                             f"`variable.assign(value)` must match. variable.shape={tuple(self.shape)}, Received: "
                             f"value.shape={tuple(value.shape)}. Target variable: {self.path}")
        scopes.note_assignment(self)
        with torch.no_grad():
            self.copy_(value)
        return self

    def assign_add(self, value: Any) -> Variable:
        """Add ``value`` in place (broadcast to the variable's shape; no gradient recorded); returns the variable."""
        scopes.note_assignment(self)
        with torch.no_grad():
            self.add_(self._coerce(value))
        return self

    def assign_sub(self, value: Any) -> Variable:
        """Subtract ``value`` in place (no gradient recorded); returns the variable."""
        scopes.note_assignment(self)
        with torch.no_grad():
            self.sub_(self._coerce(value))
        return self

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The value as a NumPy array (a copy on the host; bfloat16, which NumPy lacks, as float32)."""
        value = self.detach()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.cpu().numpy(force=force)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    # ------------------------------------------------------------------ copies and pickling keep the class
    def __deepcopy__(self, memo: dict) -> Variable:
        if id(self) in memo:
            return memo[id(self)]
        result = torch.Tensor._make_subclass(type(self), self.detach().clone(), self.requires_grad)
        memo[id(self)] = result
        result.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return result

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _rebuild, (type(self), self.detach(), self.requires_grad, dict(self.__dict__))

    def __repr__(self, *, tensor_contents: Any = None) -> str:
        value = self.detach()
        shown = "<meta>" if value.is_meta else np.array2string(self.numpy(), separator=", ", threshold=20)
        return (f"<{type(self).__name__} path={self.path}, shape={tuple(self.shape)}, "
                f"dtype={config.dtype_name(self.dtype)}, value={shown}>")


class TrainableVariable(Variable, nn.Parameter):
    """A trainable Keras variable: an ``nn.Parameter`` with Keras's variable API."""

    @property
    def trainable(self) -> bool:
        return self.requires_grad or bool(self.__dict__.get("_int_trainable", False))

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if self.is_floating_point() or self.is_complex():
            self.requires_grad_(bool(value))
        else:
            self.__dict__["_int_trainable"] = bool(value)


def _rebuild(cls: type, data: torch.Tensor, requires_grad: bool, state: dict) -> Variable:
    variable = torch.Tensor._make_subclass(cls, data, requires_grad)
    variable.__dict__.update(state)
    return variable


def is_variable(x: Any) -> bool:
    return isinstance(x, Variable)
