"""The members of Keras's ``Layer`` that are about Keras's own machinery rather than computing: ``path``,
``stateless_call``, ``symbolic_call``, ``rematerialized_call``, ``torch_params``, ``metrics``,
``call_signature_parameters``, ``autocast``, ``supports_jit`` and ``add_metric`` (which Keras 3 refuses).

``Layer`` takes them from ``KerasLayerMembers``; they only read the layer's public state.

>>> import torch, lamina
>>> dense = lamina.layers.Dense(2, name="d")
>>> _ = dense(torch.ones(1, 3))
>>> dense.path, dense.call_signature_parameters
('d', ['inputs'])
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from lamina.core import scopes
from lamina.layers import shape_inference


class _Calling(nn.Module):
    """Holds a layer as its one submodule and calls ``fn`` in ``forward``, so ``torch.func.functional_call`` can
    swap the layer's weights for a call of any of its methods."""

    def __init__(self, layer: nn.Module, fn: Callable[..., Any]):
        super().__init__()
        self.layer = layer
        self.fn = fn

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)


def state_names(module: nn.Module) -> dict[int, str]:
    """``id(tensor) -> name`` for every parameter and buffer of ``module`` (its state_dict names)."""
    names = {id(t): n for n, t in module.named_buffers(remove_duplicate=False)}
    names.update({id(t): n for n, t in module.named_parameters(remove_duplicate=False)})
    return names


def call_with_state(layer: nn.Module, fn: Callable[..., Any], variables: Sequence[torch.Tensor],
                    values: Sequence[Any], args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` with each of ``variables`` (the layer's weights or other state) holding the
    matching value of ``values``; gradients flow to ``values``. State that is not a parameter or buffer (a
    seed generator's) is swapped in place and put back afterwards."""
    names = state_names(layer)
    mapping: dict[str, Any] = {}
    swapped: list[tuple[torch.Tensor, torch.Tensor]] = []
    for variable, value in zip(variables, values, strict=True):
        value = torch.as_tensor(value, device=variable.device) if not isinstance(value, torch.Tensor) else value
        if tuple(value.shape) != tuple(variable.shape):
            raise ValueError(f"stateless_call: the value for {getattr(variable, 'path', 'a variable')} has shape "
                             f"{tuple(value.shape)}, but the variable has shape {tuple(variable.shape)}; pass the "
                             "values in the order of layer.trainable_variables / non_trainable_variables.")
        name = names.get(id(variable))
        if name is not None:
            mapping[f"layer.{name}"] = value
        else:
            swapped.append((variable, variable.detach().clone()))
            with torch.no_grad():
                variable.copy_(value)
    try:
        return functional_call(_Calling(layer, fn), mapping, args, kwargs, strict=False, tie_weights=False)
    finally:
        with torch.no_grad():
            for variable, old in swapped:
                variable.copy_(old)


class KerasLayerMembers:
    """Keras ``Layer`` members about its machinery (mixed into ``lamina.layers.Layer``)."""

    supports_jit = True  # every lamina layer runs under torch.compile (jit_compile=True)

    @property
    def path(self) -> str | None:
        """Where the layer sits: the names of the layers (and ``name_scope``s) that built it, then its own name
        (``"outer/dense"`` for a Dense built inside a layer named ``outer``). None until the layer is built, as
        in Keras; a model built when it was made (functional, Sequential with an Input) has its name."""
        return self.__dict__.get("_path") or (self.name if self.built else None)

    @property
    def autocast(self) -> bool:
        """Whether floating inputs are cast to the layer's compute dtype (the constructor's ``autocast``)."""
        return bool(self.__dict__.get("_autocast", True))

    @property
    def call_signature_parameters(self) -> list[str]:
        """The names of ``call``'s parameters (without ``self``)."""
        return [p.name for p in inspect.signature(self.call).parameters.values()
                if p.kind not in (p.VAR_POSITIONAL,)]

    @property
    def torch_params(self) -> dict[str, torch.Tensor]:
        """Every variable of the layer by its ``path`` (Keras's torch backend's mapping; the tensors are the
        layer's own)."""
        return {getattr(v, "path", None) or f"variable_{i}": v for i, v in enumerate(self.variables)}

    @property
    def metrics(self) -> list:
        """The ``lamina.metrics.Metric`` objects held as attributes of this layer and of its sublayers."""
        found: list = []
        seen: set[int] = set()
        for module in self.modules():
            for value in vars(module).values():
                candidates = value if isinstance(value, (list, tuple)) else [value]
                for item in candidates:
                    if _is_metric(item) and id(item) not in seen:
                        seen.add(id(item))
                        found.append(item)
        return found

    # ------------------------------------------------------------------ quantization (Dense/Embedding implement it)
    @property
    def quantization_mode(self) -> str | None:
        """The quantization mode of the layer's weights (None: not quantized)."""
        return None

    def quantize(self, mode: str | None = None, type_check: bool = True, config: Any = None) -> None:
        """Quantize the layer's weights; only Dense, EinsumDense and Embedding can (``model.quantize`` skips other
        layers)."""
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantize` method implemented; "
                                  "lamina quantizes Dense, EinsumDense and Embedding layers.")

    def quantized_build(self, kernel_shape: Any, mode: str, config: Any = None) -> None:
        raise NotImplementedError(f"Layer {type(self).__name__} does not have a `quantized_build` method "
                                  "implemented; lamina quantizes Dense, EinsumDense and Embedding layers.")

    def quantized_call(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"Layer {type(self).__name__} is not quantized (quantization_mode=None): call "
                                  "layer.quantize('int8') first, on a Dense or Embedding layer.")

    def add_metric(self, *args: Any, **kwargs: Any) -> None:
        """Refused, as in Keras 3: metrics are given to ``compile(metrics=[...])``, or created in ``__init__``
        and updated with ``metric.update_state()`` in ``call``/``train_step``."""
        raise NotImplementedError(
            f"{type(self).__name__}.add_metric() does not exist in Keras 3 (nor in lamina). Pass metrics to "
            "model.compile(metrics=[...]), or create a metric tracker in __init__ (e.g. self.tracker = "
            "lamina.metrics.Mean(name='my_metric')) and call self.tracker.update_state(value) where you need it."
        )

    def symbolic_call(self, *args: Any, **kwargs: Any) -> Any:
        """Call the layer on symbolic tensors (``lamina.Input`` and what layers made from them): records a graph
        node and returns symbolic outputs with their shapes, computing nothing."""
        return shape_inference.symbolic_call(self, args, kwargs)

    def rematerialized_call(self, layer_call: Callable[..., Any], *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """``layer_call`` wrapped so that its activations are recomputed in the backward pass when the layer was
        created inside a ``RematScope`` that applies to it (else ``layer_call`` itself)."""
        scope = self.__dict__.get("_remat")
        if scope is None or not scope.applies_to(self, remat_output_size(self, args)):
            return layer_call
        return scopes.remat(layer_call)

    def stateless_call(self, trainable_variables: Sequence[Any], non_trainable_variables: Sequence[Any], *args: Any,
                       return_losses: bool = False, **kwargs: Any) -> tuple:
        """Call the layer with the given variable values, changing nothing: returns ``(outputs,
        non_trainable_variables)`` with the new values of the non-trainable state (BatchNormalization's moving
        statistics after a training call), and the call's losses too with ``return_losses=True``. Gradients
        flow to ``trainable_variables``.

        >>> import torch, lamina
        >>> dense = lamina.layers.Dense(1, kernel_initializer="ones")
        >>> _ = dense(torch.ones(1, 2))
        >>> out, _ = dense.stateless_call([torch.full((2, 1), 2.0), torch.zeros(1)], [], torch.ones(1, 2))
        >>> out.tolist(), dense.kernel.detach().tolist()
        ([[4.0]], [[1.0], [1.0]])
        """
        if not self.built:
            raise ValueError(f"To call stateless_call, {type(self).__name__} must be built (its variables must exist): "
                             "call it on some data first, or call layer.build(input_shape).")
        for given, own, what in ((trainable_variables, self.trainable_variables, "trainable_variables"),
                                 (non_trainable_variables, self.non_trainable_variables, "non_trainable_variables")):
            if len(given) != len(own):
                raise ValueError(f"stateless_call: {what} must hold one value per variable of "
                                 f"{type(self).__name__}().{what} ({len(own)}); received {len(given)}.")
        own_state = list(self.non_trainable_variables)
        fresh = [torch.as_tensor(v).detach().clone() if not isinstance(v, torch.Tensor) or not v.requires_grad
                 else v.clone() for v in non_trainable_variables]  # the call updates these copies, not the user's
        outputs = call_with_state(self, self, [*self.trainable_variables, *own_state],
                                  [*trainable_variables, *fresh], args, kwargs)
        if return_losses:
            return outputs, fresh, list(self.losses)
        return outputs, fresh


def _is_metric(value: Any) -> bool:
    """A ``lamina.metrics.Metric`` (known by its API: metrics sit above layers in the package)."""
    return not isinstance(value, nn.Module) and all(
        callable(getattr(value, name, None)) for name in ("update_state", "result", "reset_state"))


def remat_output_size(layer: Any, args: tuple) -> int | None:
    """The number of elements of ``layer``'s output for inputs ``args``, from its first call's output shape
    (None when unknown): what ``RematScope(mode="larger_than")`` compares with its threshold."""
    shape = getattr(layer, "recorded_output_shape", None)
    first = args[0] if args else None
    if not isinstance(shape, tuple) or not all(isinstance(d, int) or d is None for d in shape):
        return None
    batch = first.shape[0] if isinstance(first, torch.Tensor) and first.ndim else 1
    size = 1
    for d in shape:
        size *= batch if d is None else d
    return size
