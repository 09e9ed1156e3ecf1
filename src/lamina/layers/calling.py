"""How a layer is called: ``Layer.__call__`` (defined here, bound in ``layer.py``) and what it does around
``call``: the fast path of plain layers, conversion of NumPy inputs, the autocast of inputs to the compute dtype,
the ``training`` flag seen by nested calls, masks riding on tensors, mixed precision, and the note that says in
which layer an error happened.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(2)
>>> dense(torch.ones(1, 3)).shape  # the first call builds the layer
torch.Size([1, 2])
>>> plain(dense)  # later calls on one tensor go straight to Dense.call
True
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as _torch_module

from lamina.core import config, scopes, tree
from lamina.layers import penalties, shape_inference, weights
from lamina.layers.spec import add_layer_note, check_input
from lamina.layers.symbolic import is_symbolic

if TYPE_CHECKING:
    from lamina.layers.layer import Layer


def layer_call(self: Layer, *args: Any, **kwargs: Any) -> Any:
    """``Layer.__call__``: build on first use, check the input, run ``call`` with the training flag and masks it
    takes; on a symbolic input, record a graph node instead (``shape_inference.symbolic_call``)."""
    if self._plain and not kwargs and len(args) == 1:
        # The common case, made cheap: a built leaf layer with nothing to do around its call (see plain) on one
        # tensor already in its compute dtype; nothing else to set up, nothing to attach afterwards.
        x = args[0]
        if type(x) is torch.Tensor and (x.dtype is self._compute_dtype or not (
                self._autocast and x.is_floating_point())) and not x.is_meta and \
                not config.MIXED_IN_USE and not hooked(self):
            try:
                if self._added_losses and config.TRAINING.get() is None:
                    self._added_losses.clear()  # a new top-level call: Keras keeps this call's losses only
                out = self.call(x)
            except Exception as error:
                explain_failure(self, error, x, args, kwargs)
                raise
            if self.supports_masking:  # the default compute_mask: the input's mask passes through
                mask = getattr(x, "_keras_mask", None)
                if mask is not None and type(out) is torch.Tensor:
                    out._keras_mask = mask
            return out
    first = probe = args[0] if args else None
    if type(first) is not torch.Tensor:
        if is_symbolic((args, kwargs)):
            return shape_inference.symbolic_call(self, args, kwargs)
        # a model (it has `layers`) hands string arrays on to its first layer, which may take them
        args = tree.map_structure(_to_tensor_keeping_strings if hasattr(self, "layers") else _to_tensor, args)
        first = args[0] if args else None
        probe = next((t for t in tree.flatten((args, kwargs)) if isinstance(t, torch.Tensor)), None)
    # Meta tensors (shape inference) know no autocast: a mixed layer then runs in its weights' dtype.
    cast_to = self._compute_dtype if not self._mixed or probe is None or not probe.is_meta else self._dtype
    if self._autocast and type(first) is torch.Tensor and first.dtype is not cast_to \
            and first.is_floating_point():
        mask = getattr(first, "_keras_mask", None)
        first = first.to(cast_to)
        if mask is not None:  # the cast makes a new tensor: keep the mask riding on it
            first._keras_mask = mask
        args = (first, *args[1:])
    training = kwargs.pop("training", None)
    compiling = torch.compiler.is_compiling()
    if compiling:
        # Inside a torch.compile'd model (jit_compile=True), which cannot trace context variables: the
        # module flags carry the mode, set on the whole model by the compiled model's own call (below).
        outer = training = self.training if training is None else training
    else:
        outer = config.TRAINING.get()
        if training is None:
            training = outer if outer is not None else self.training
    if self._compiled_call_impl is not None and training != self.training:
        return _call_in_mode(self, training, args, kwargs)
    changed = training is not outer  # nested calls usually inherit the flag: then nothing to set
    if changed:
        config.TRAINING.set(training)
    if outer is None and not compiling and self.__dict__.get("_losses_reset_at") != config.LOSSES_ADDED:
        self._reset_losses()  # a top-level call: as Keras, `losses` will hold this call's losses only
    just_built = not self.built
    scope = None
    if just_built:  # layers built inside this one's build and first call get paths under its path
        self.__dict__["_path"] = "/".join(filter(None, (scopes.current_path(), self.name)))
        scope = scopes.name_scope(self.name).__enter__()
    try:
        on_meta = probe is not None and probe.is_meta
        if just_built:
            weights.track_containers(self)
            self._build_device = torch.device("cpu") if on_meta or probe is None else probe.device
            self._build_from(args, kwargs)
        if just_built and self.input_spec is not None:  # later calls check only when the call fails
            check_input(self, first if first is not None else next(iter(kwargs.values()), None))
        if self._call_has_training:
            kwargs["training"] = training
        if self._call_has_mask and kwargs.get("mask") is None:
            mask = _mask_of(first)
            if mask is not None:
                kwargs["mask"] = mask
        if on_meta:
            with shape_inference.meta_weights(self):
                outputs = nn.Module.__call__(self, *args, **kwargs)
            if self._mixed:  # what autocast would have produced
                outputs = tree.map_structure(lambda t: t.to(self._compute_dtype) if isinstance(
                    t, torch.Tensor) and t.is_floating_point() else t, outputs)
        elif self._mixed or config.MIXED_IN_USE:
            config.MIXED_IN_USE = True  # (again after clear_session: this mixed layer's sublayers must look)
            with _precision(self, probe):
                outputs = nn.Module.__call__(self, *args, **kwargs)
        elif self._remat is not None and torch.is_grad_enabled() and not compiling:
            outputs = self.rematerialized_call(lambda *a, **k: nn.Module.__call__(self, *a, **k), *args)(
                *args, **kwargs)
        elif self._direct_call and self._compiled_call_impl is None and not hooked(self):
            outputs = self.call(*args, **kwargs)  # what nn.Module.__call__ comes to without hooks, frames fewer
        else:
            outputs = nn.Module.__call__(self, *args, **kwargs)
        if self.activity_regularizer is not None:
            penalties.add_activity_loss(self, outputs)
        if self.supports_masking or self._computes_mask:
            _attach_mask(outputs, self.compute_mask(first, kwargs.get("mask", _mask_of(first))))
        if just_built:  # for summary(): the output shape of the first call (shape-inference sizes -> None)
            unknown = shape_inference.META_FILLS if on_meta else ()
            self.recorded_output_shape = tree.map_structure(
                lambda t: (None, *(None if d in unknown else d for d in t.shape[1:]))
                if isinstance(t, torch.Tensor) and t.ndim else None, outputs)
    except Exception as error:  # keep the user's traceback; add where it happened
        if just_built:
            add_layer_note(error, self, args)
        else:
            explain_failure(self, error, first, args, kwargs)
        raise
    finally:
        if changed:
            config.TRAINING.set(outer)
        if scope is not None:
            scope.__exit__(None, None, None)
    if "_plain" not in self.__dict__ and self.built and not on_meta and not compiling:
        self.__dict__["_plain"] = plain(self)  # reset by any attribute assignment (Layer.__setattr__)
    return outputs


def plain(layer: Layer) -> bool:
    """Whether calls of this built layer on one tensor can go straight to ``call``: no training or mask
    argument, no mask of its own to compute (one passed through is attached there), no activity regularizer,
    no mixed precision, no sublayers (which would read the training flag this layer sets), no torch
    ``forward`` override and no ``torch.compile`` of the layer."""
    return (layer._direct_call and not layer._call_has_training and not layer._call_has_mask
            and not layer._computes_mask and layer.activity_regularizer is None
            and not layer._mixed and not layer._modules and layer._compiled_call_impl is None
            and layer._remat is None)


def hooked(module: nn.Module) -> bool:
    """Whether calling ``module`` must go through ``nn.Module.__call__``: it (or every module) has hooks, or
    ``torch.jit.trace`` is recording."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks or _torch_module._global_forward_hooks
                or _torch_module._global_forward_pre_hooks or _torch_module._global_backward_hooks
                or _torch_module._global_backward_pre_hooks or torch._C._get_tracing_state())


def explain_failure(layer: Layer, error: BaseException, first: Any, args: tuple, kwargs: dict) -> None:
    """Add to a failed call's error where it happened; an input of a shape the layer was not built for
    becomes that error instead, said in the user's terms."""
    if layer.input_spec is not None:
        try:
            check_input(layer, first if first is not None else next(iter(kwargs.values()), None))
        except ValueError as spec_error:
            raise spec_error from error
    add_layer_note(error, layer, args)


def _call_in_mode(layer: Layer, training: bool, args: tuple, kwargs: dict) -> Any:
    """A compiled model called in the other mode: switch every module's flag for this call (what its
    compiled layers read), then restore it."""
    was = layer.training
    try:
        layer.train(training)
        return layer(*args, training=training, **kwargs)
    finally:
        layer.train(was)


def _mask_of(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return getattr(x, "_keras_mask", None)
    if isinstance(x, (list, tuple)):
        masks = [getattr(t, "_keras_mask", None) for t in x]
        return None if all(m is None for m in masks) else masks
    return None


def _attach_mask(outputs: Any, mask: Any) -> None:
    if mask is None:
        return
    if isinstance(outputs, torch.Tensor):
        outputs._keras_mask = mask
    elif isinstance(outputs, (list, tuple)):
        masks = mask if isinstance(mask, (list, tuple)) else [mask] * len(outputs)
        for out, m in zip(outputs, masks, strict=False):
            if isinstance(out, torch.Tensor) and m is not None:
                out._keras_mask = m


def _precision(layer: Layer, probe: Any) -> Any:
    """The autocast region of a layer's computation: on in its compute dtype for a mixed policy, off for a
    full-precision layer inside a mixed model (its computation stays in its own dtype), else unchanged."""
    device = probe.device.type if isinstance(probe, torch.Tensor) else "cpu"
    if layer._mixed:
        return torch.autocast(device, dtype=layer._compute_dtype)
    if torch.is_autocast_enabled(device):
        return torch.autocast(device, enabled=False)
    return contextlib.nullcontext()


def _to_tensor_keeping_strings(x: Any) -> Any:
    """As ``_to_tensor``, but an array of strings stays a NumPy array (PyTorch has no string tensors): for a
    model whose first layer takes strings (``TextVectorization``, ``StringLookup``, ``Hashing``)."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "USO":
        return x
    return _to_tensor(x)


class NonNumericInputError(TypeError, ValueError):
    """A layer was given an array that does not hold numbers (strings, Python objects): a wrong type of input,
    and a bad value of the data (``fit``'s pre-flight reports it as such)."""


def _to_tensor(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise NonNumericInputError(
                f"A layer's input must hold numbers (layers take numeric arrays), but it is an array of dtype "
                f"{x.dtype!r}. Strings go first to a layer that takes them (TextVectorization, StringLookup, "
                "Hashing); other data: convert it to a numeric array, e.g. np.asarray(data, dtype='float32').")
        return torch.from_numpy(np.ascontiguousarray(x))
    return x
