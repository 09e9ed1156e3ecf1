"""Keras's scopes: ``name_scope`` (the prefix of layer paths), ``RematScope``/``remat`` (recompute activations in
the backward pass instead of keeping them: ``torch.utils.checkpoint``), ``StatelessScope`` (variables read
given values; assignments inside are collected, not kept) and ``SymbolicScope``.

>>> with name_scope("block"):
...     current_path()
'block'
>>> import torch
>>> double = remat(lambda x: x * 2)
>>> double(torch.ones(2, requires_grad=True)).sum().backward()
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.checkpoint import checkpoint

_NAMES: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("lamina_name_scope", default=())
_REMAT: contextvars.ContextVar[RematScope | None] = contextvars.ContextVar("lamina_remat", default=None)
_STATELESS: contextvars.ContextVar[StatelessScope | None] = contextvars.ContextVar("lamina_stateless", default=None)
_SYMBOLIC: contextvars.ContextVar[bool] = contextvars.ContextVar("lamina_symbolic", default=False)


class name_scope:  # noqa: N801  (Keras's name)
    """Names created inside get ``name/`` in front of their path (``layer.path``, a variable's ``path``).

    >>> with name_scope("encoder"), name_scope("block_1"):
    ...     current_path()
    'encoder/block_1'
    """

    def __init__(self, name: str, **kwargs: Any):
        if not isinstance(name, str) or not name:
            raise ValueError(f"name_scope needs a non-empty string name; received {name!r}.")
        self.name = name
        self._token: contextvars.Token | None = None

    def __enter__(self) -> name_scope:
        self._token = _NAMES.set((*_NAMES.get(), *self.name.strip("/").split("/")))
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _NAMES.reset(self._token)
            self._token = None


def current_path() -> str:
    """The names of the enclosing ``name_scope``s joined by ``/`` (``""`` outside any)."""
    return "/".join(_NAMES.get())


# ------------------------------------------------------------------------------------------------ remat
_REMAT_MODES = ("full", "activations", "larger_than", "list_of_layers", None)


def remat(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` whose intermediate activations are recomputed during the backward pass instead of being kept
    (``torch.utils.checkpoint``, non-reentrant): less memory for one more forward computation.

    >>> import torch
    >>> y = remat(torch.tanh)(torch.ones(3, requires_grad=True))
    """

    def rematerialized(*args: Any, **kwargs: Any) -> Any:
        if not torch.is_grad_enabled():
            return f(*args, **kwargs)
        return checkpoint(f, *args, use_reentrant=False, **kwargs)

    rematerialized.__wrapped__ = f  # type: ignore[attr-defined]
    return rematerialized


class RematScope:
    """Layers created inside recompute their activations in the backward pass (Keras's ``RematScope``).

    Args:
        mode: ``"full"`` (every layer), ``"activations"`` (layers that have an ``activation``),
            ``"larger_than"`` (layers whose output has more than ``output_size_threshold`` elements),
            ``"list_of_layers"`` (the layers named in ``layer_names``) or ``None`` (off).
        output_size_threshold: for ``"larger_than"``.
        layer_names: for ``"list_of_layers"``.

    >>> import lamina
    >>> with RematScope(mode="full"):
    ...     layer = lamina.layers.Dense(4)
    """

    def __init__(self, mode: str | None = "full", output_size_threshold: int = 1024,
                 layer_names: Sequence[str] | None = None):
        if mode not in _REMAT_MODES:
            raise ValueError(f"RematScope: mode must be one of {_REMAT_MODES}; received {mode!r}.")
        if mode == "list_of_layers" and not layer_names:
            raise ValueError("RematScope(mode='list_of_layers') needs layer_names=[...] (the names of the layers).")
        self.mode = mode
        self.output_size_threshold = int(output_size_threshold)
        self.layer_names = list(layer_names or [])
        self._token: contextvars.Token | None = None

    def __enter__(self) -> RematScope:
        self._token = _REMAT.set(self if self.mode is not None else None)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._token is not None:
            _REMAT.reset(self._token)
            self._token = None

    def applies_to(self, layer: Any, outputs_size: int | None = None) -> bool:
        """Whether this scope rematerializes ``layer`` (``outputs_size``: elements of its output, if known)."""
        if self.mode == "full":
            return True
        if self.mode == "activations":
            return getattr(layer, "activation", None) is not None
        if self.mode == "list_of_layers":
            return getattr(layer, "name", None) in self.layer_names
        return outputs_size is not None and outputs_size > self.output_size_threshold


def current_remat_scope() -> RematScope | None:
    """The innermost active ``RematScope`` (None outside any, or inside ``RematScope(mode=None)``)."""
    return _REMAT.get()


# ------------------------------------------------------------------------------------------------ stateless
class StatelessScope:
    """Inside, the variables in ``state_mapping`` hold the given values; whatever is assigned to variables
    inside (with ``assign``/``assign_add``/``assign_sub``) is seen inside and collected
    (``get_current_value``), and every variable gets its own value back on exit.

    >>> import lamina
    >>> v = lamina.Variable(torch.zeros(2))
    >>> with StatelessScope(state_mapping=[(v, torch.ones(2))]) as scope:
    ...     _ = v.assign(v + 1.0)
    ...     seen = scope.get_current_value(v)
    >>> seen.tolist(), v.numpy().tolist()
    ([2.0, 2.0], [0.0, 0.0])
    """

    def __init__(self, state_mapping: Sequence[tuple[Any, Any]] | None = None, collect_losses: bool = False,
                 initialize_variables: bool = True):
        self.state_mapping = list(state_mapping or [])
        for pair in self.state_mapping:
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2 and isinstance(pair[0], torch.Tensor)):
                raise ValueError("StatelessScope: state_mapping must be a list of (variable, value) pairs; "
                                 f"received {pair!r}.")
        self.collect_losses = collect_losses
        self.initialize_variables = initialize_variables
        self.losses: list = []
        self._saved: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._current: dict[int, torch.Tensor] = {}
        self._token: contextvars.Token | None = None

    def __enter__(self) -> StatelessScope:
        with torch.no_grad():
            for variable, value in self.state_mapping:
                self._saved.append((variable, variable.detach().clone()))
                variable.copy_(torch.as_tensor(value, dtype=variable.dtype, device=variable.device))
        self._token = _STATELESS.set(self)
        return self

    def _note(self, variable: torch.Tensor) -> None:
        if all(v is not variable for v, _ in self._saved):  # its value from before the scope, put back on exit
            self._saved.append((variable, variable.detach().clone()))

    def get_current_value(self, variable: torch.Tensor) -> torch.Tensor:
        """The value ``variable`` has inside the scope (what was assigned to it, or its mapped value)."""
        return self._current.get(id(variable), variable.detach().clone())

    def __exit__(self, *exc: Any) -> None:
        with torch.no_grad():
            for variable, value in self._saved:
                self._current[id(variable)] = variable.detach().clone()
                variable.copy_(value)
        self._saved.clear()
        if self._token is not None:
            _STATELESS.reset(self._token)
            self._token = None


def note_assignment(variable: torch.Tensor) -> None:
    """Called by ``Variable.assign*`` before it changes ``variable``: inside a ``StatelessScope`` the change
    lasts until the scope ends."""
    scope = _STATELESS.get()
    if scope is not None:
        scope._note(variable)


def in_stateless_scope() -> bool:
    return _STATELESS.get() is not None


def get_stateless_scope() -> StatelessScope | None:
    return _STATELESS.get()


@contextlib.contextmanager
def _flag(var: contextvars.ContextVar, value: Any) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


class SymbolicScope:
    """Marks code that only traces shapes (Keras's ``SymbolicScope``); ``in_symbolic_scope()`` says so inside.

    >>> with SymbolicScope():
    ...     in_symbolic_scope()
    True
    """

    def __enter__(self) -> SymbolicScope:
        self._context = _flag(_SYMBOLIC, True)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


def in_symbolic_scope() -> bool:
    return _SYMBOLIC.get()
