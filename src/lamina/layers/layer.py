"""``Layer``: a ``torch.nn.Module`` that builds its weights lazily and speaks Keras's conventions.

>>> import torch
>>> from lamina import layers
>>> class Scale(layers.Layer):
...     def build(self, input_shape):
...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
...     def call(self, x):
...         return x * self.w
>>> Scale()(torch.ones(2, 3)).shape
torch.Size([2, 3])
"""

from __future__ import annotations

import contextlib
import inspect
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.modules import module as _torch_module

from lamina import constraints, initializers, regularizers
from lamina.core import config, dtype_policy, tree
from lamina.core.naming import snake_case
from lamina.core.variable import TrainableVariable, Variable, set_initializer_lookup
from lamina.layers import weights as weights_module
from lamina.layers.spec import InputSpec, format_shape, shape_of
from lamina.layers.symbolic import Node, SymbolicTensor, is_symbolic
from lamina.layers.weights import WeightInfo as _WeightInfo

#: How many times any layer added a loss (add_loss, activity regularizers): the trainer looks at the layers'
#: lists only when this moved since its last look.
LOSSES_ADDED = 0
_META_FILLS = (83, 89)  # two sizes for unknown dims in shape inference; dims that differ come out None
set_initializer_lookup(initializers.get)  # Variable("glorot_uniform", shape=...) below this level


class Layer(nn.Module):
    """Base class of all layers.

    Subclasses store configuration in ``__init__``, create weights in ``build(input_shape)`` with
    ``add_weight``, and compute in ``call(inputs, training=None)``. Calling a layer builds it on first use
    from the input's shape. Called on a symbolic tensor (``lamina.Input``), it records a graph node instead.
    """

    def __init__(self, *, activity_regularizer=None, trainable: bool = True, dtype: Any = None,
                 autocast: bool = True, name: str | None = None, input_shape: tuple | None = None,
                 input_dim: int | None = None, batch_input_shape: tuple | None = None,
                 batch_size: int | None = None, **kwargs: Any):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}() got unexpected keyword argument(s) {sorted(kwargs)}. "
                f"Check the spelling against the documentation of {type(self).__name__}."
            )
        super().__init__()
        self.training = False  # like Keras, a freshly made layer computes in inference mode
        self.name = name or config.unique_name(snake_case(type(self).__name__))
        self._trainable = bool(trainable)
        self._set_dtype_policy(dtype)
        self._autocast = autocast
        self.built = False
        self.input_spec: InputSpec | list | None = None
        self.supports_masking = False
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self._activity_losses: list[torch.Tensor] = []
        self._weight_info: dict[str, _WeightInfo] = {}
        self._added_losses: list[torch.Tensor] = []
        self._inbound_nodes: list[Node] = []
        self._build_device: torch.device = torch.device("cpu")
        self._build_shapes_dict: Any = None
        self.recorded_output_shape: Any = None
        if batch_input_shape is not None:
            self._batch_input_shape = tuple(batch_input_shape)
        elif input_shape is not None:
            self._batch_input_shape = (batch_size, *tuple(input_shape))
        elif input_dim is not None:
            self._batch_input_shape = (batch_size, input_dim)
        else:
            self._batch_input_shape = None
        call_params = inspect.signature(self.call).parameters
        self._call_has_training = "training" in call_params
        self._call_has_mask = "mask" in call_params
        self._computes_mask = type(self).compute_mask is not Layer.compute_mask
        # ``call`` can be invoked directly (no torch ``forward`` override to honour)
        self._direct_call = type(self).forward is Layer.forward

    # ----------------------------------------------------------------- attributes and weight tracking
    _plain = False  # set per instance after its first real call (see _is_plain); any assignment resets it

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "training" and type(value) is bool:  # model.train()/eval() on every module: a plain flag,
            self.__dict__["training"] = value  # which a plain layer never reads (see _is_plain)
            return
        self.__dict__.pop("_plain", None)
        info = self.__dict__.get("_weight_info")
        if info is not None and isinstance(value, torch.Tensor):
            old = self._own_key_of(value)
            if old is not None:
                if old != key:
                    self._rename_weight(old, key)
                return
            if isinstance(value, Variable):  # `self.v = lamina.Variable(...)`: tracked like add_weight's
                self._track_variable(key, value)
                return
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, nn.Module) for v in value):
            value = nn.ModuleList(value)
        elif isinstance(value, dict) and value and all(isinstance(v, nn.Module) for v in value.values()):
            value = nn.ModuleDict(value)
        super().__setattr__(key, value)

    def _track_containers(self) -> None:
        """Register layers kept in plain lists/dicts that were empty when assigned (``self.blocks = []`` then
        ``append``), so their weights are tracked like Keras tracks them."""
        if "_modules" not in self.__dict__:
            return
        children = {id(m) for m in self._modules.values()}
        for key, value in list(self.__dict__.items()):
            items = list(value.values()) if isinstance(value, dict) else value
            if not isinstance(value, (list, tuple, dict)) or not items:
                continue
            # Only lists of modules not tracked another way (Sequential keeps its own list of named children).
            if all(isinstance(v, nn.Module) and id(v) not in children for v in items):
                del self.__dict__[key]
                self.__setattr__(key, value)

    def _track_variable(self, key: str, variable: Variable) -> None:
        weights_module.track_variable(self, key, variable)

    def _own_key_of(self, value: torch.Tensor) -> str | None:
        for store in (self._parameters, self._buffers):
            for k, v in store.items():
                if v is value:
                    return k
        return None

    def _rename_weight(self, old: str, new: str) -> None:
        weights_module.rename(self, old, new)

    def add_weight(self, shape: tuple | None = None, initializer: Any = None, dtype: Any = None,
                   trainable: bool = True, autocast: bool = True, regularizer: Any = None,
                   constraint: Any = None, aggregation: str = "none", overwrite_with_gradient: bool = False,
                   name: str | None = None) -> Variable:
        """Create a weight: a ``TrainableVariable`` (an ``nn.Parameter``) if trainable, else a ``Variable``
        registered as a buffer (saved, moved, never trained); both speak Keras's variable API.

        >>> layer = Layer(); w = layer.add_weight(shape=(3,), initializer="zeros", name="w"); w.shape
        torch.Size([3])
        """
        shape = () if shape is None else tuple(int(d) for d in shape)
        torch_dtype = config.standardize_dtype(dtype if dtype is not None else self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if torch_dtype.is_floating_point else "zeros"
        init = initializers.get(initializer)
        value = torch.as_tensor(init(shape, dtype=torch_dtype), dtype=torch_dtype).to(self._build_device)
        base = name or "variable"
        key, i = base, 1
        if self.__dict__.get(key, 0) is None:  # a None placeholder (e.g. `self.bias = None`) gives way
            del self.__dict__[key]
        while key in self._parameters or key in self._buffers or key in self.__dict__:
            key, i = f"{base}_{i}", i + 1
        regularizer, constraint = regularizers.get(regularizer), constraints.get(constraint)
        # path: Keras's variable path (optimizer.exclude_from_weight_decay matches it)
        metadata = {"name": key, "path": f"{self.name}/{key}", "initializer": init, "regularizer": regularizer,
                    "autocast": autocast, "aggregation": aggregation,
                    "overwrite_with_gradient": overwrite_with_gradient}
        if trainable:
            weight = TrainableVariable.wrap(value, trainable=self._trainable, **metadata)
            if constraint is not None:  # applied by the optimizer after each update, in Keras's layout
                weight.constraint = constraint if type(self).weight_to_keras is Layer.weight_to_keras \
                    else self._constrain
            self.register_parameter(key, weight)
        else:
            weight = Variable.wrap(value, **metadata)
            weight.constraint = constraint
            self.register_buffer(key, weight)
        self._weight_info[key] = _WeightInfo(bool(trainable), regularizer, constraint)
        return weight

    def _constrain(self, weight: torch.Tensor) -> torch.Tensor:
        """The weight's constraint, applied in Keras's layout (e.g. per filter of a conv kernel)."""
        key = self._own_key_of(weight)
        constraint = self._weight_info[key].constraint
        return self.weight_from_keras(key, constraint(self.weight_to_keras(key, weight)))

    def _own_weights(self) -> list[tuple[str, torch.Tensor]]:
        """(name, tensor) of this layer's own weights: trainable-by-design first, then the others."""
        first = [(k, self._parameters[k]) for k, i in self._weight_info.items() if i.trainable]
        rest = [(k, self._buffers[k]) for k, i in self._weight_info.items() if not i.trainable]
        return first + rest

    def _weights_with_owner(self) -> list[tuple[Any, str, torch.Tensor]]:
        """(owning module, name, tensor) for every weight, in Keras's order, without duplicates."""
        return weights_module.with_owner(self)

    @property
    def weights(self) -> list[torch.Tensor]:
        """All weights (trainable and not), this layer's own first, then its sub-layers', as in Keras."""
        return [t for _, _, t in self._weights_with_owner()]

    @property
    def trainable_weights(self) -> list[torch.Tensor]:
        return [t for t in self.weights if isinstance(t, nn.Parameter) and t.requires_grad]

    @property
    def non_trainable_weights(self) -> list[torch.Tensor]:
        return [t for t in self.weights if not (isinstance(t, nn.Parameter) and t.requires_grad)]

    @property
    def variables(self) -> list[torch.Tensor]:
        """All state: the weights, and the states of ``lamina.random.SeedGenerator``s held as attributes (after
        their holder's weights, as Keras lists them; built-in layers draw from torch generators instead)."""
        return [t for _, _, t in weights_module.with_owner(self, seed_states=True)]

    @property
    def trainable_variables(self) -> list[torch.Tensor]:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list[torch.Tensor]:
        return [t for t in self.variables if not (isinstance(t, nn.Parameter) and t.requires_grad)]

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        weights_module.set_trainable(self, value)

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays in Keras 3's layout and order (e.g. a Dense kernel is (in, out))."""
        return weights_module.get_weights(self)

    def set_weights(self, weights: list) -> None:
        """Set the weights from arrays in Keras 3's layout and order (what ``get_weights`` returns)."""
        weights_module.set_weights(self, weights)

    def weight_to_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """Translate one of this layer's weights to Keras's layout (identity unless a layer overrides it)."""
        return value

    def weight_from_keras(self, name: str, value: torch.Tensor) -> torch.Tensor:
        """Inverse of ``weight_to_keras``."""
        return value

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' is not built yet, so it has no weights to count. Call it on data "
                "or build it with `layer.build(input_shape)` first."
            )
        return int(sum(t.numel() for t in self.weights))

    # ---------------------------------------------------------------------------- losses
    def add_loss(self, loss: torch.Tensor) -> None:
        """Add a loss (e.g. an activity penalty) that joins the training loss of the current step."""
        global LOSSES_ADDED
        if isinstance(loss, torch.Tensor) and loss.is_meta:
            return  # a call made for shape inference, not a step
        LOSSES_ADDED += 1
        self._added_losses.append(loss)

    def _add_activity_loss(self, outputs: Any) -> None:
        # Keras: the regularizer of each output, divided by the batch size; replaced on each call.
        global LOSSES_ADDED
        LOSSES_ADDED += 1
        self._activity_losses = [self.activity_regularizer(t) / (t.shape[0] if t.ndim else 1)
                                 for t in tree.flatten(outputs) if isinstance(t, torch.Tensor)]

    @property
    def losses(self) -> list[torch.Tensor]:
        """Penalties of this layer and its sub-layers: added losses and weight regularizers."""
        out = []
        for module in self.modules():
            if isinstance(module, Layer):
                out.extend(module._added_losses)
                out.extend(module._activity_losses)
                for key, info in module._weight_info.items():
                    if info.regularizer is not None:
                        out.append(info.regularizer(getattr(module, key)))
        return out

    def _reset_losses(self) -> None:
        for module in self.modules():
            if isinstance(module, Layer):
                module._added_losses.clear()
                module._activity_losses = []
        self.__dict__["_losses_reset_at"] = LOSSES_ADDED  # (not an attribute assignment: keeps _plain)

    def _clear_losses(self) -> None:
        for module in self.modules():
            if isinstance(module, Layer):
                module._added_losses.clear()

    # ---------------------------------------------------------------------------- dtypes
    def _set_dtype_policy(self, dtype: Any) -> None:
        policy = dtype_policy.get(dtype)
        self._dtype_policy = policy
        self._dtype = config.standardize_dtype(policy.variable_dtype)  # the weights' dtype
        self._compute_dtype = config.standardize_dtype(policy.compute_dtype)
        self._mixed = policy.is_mixed  # computation under torch.autocast in the compute dtype

    @property
    def dtype_policy(self) -> dtype_policy.DTypePolicy:
        """The layer's ``DTypePolicy`` (its weights' and its computation's dtypes)."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, value: Any) -> None:
        self._set_dtype_policy(value)

    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights (Keras: the policy's variable dtype)."""
        return config.dtype_name(self._dtype)

    @property
    def compute_dtype(self) -> str:
        return config.dtype_name(self._compute_dtype)

    @property
    def variable_dtype(self) -> str:
        return config.dtype_name(self._dtype)

    # ---------------------------------------------------------------------------- build / call
    def build(self, input_shape: Any = None) -> None:
        """Create the layer's weights for inputs of ``input_shape`` (batch first, ``None`` if unknown)."""
        self.built = True

    def call(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        """The computation. Override in subclasses."""
        return inputs

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        """The mask of the outputs: by default the input's mask if the layer ``supports_masking``, else None.

        Masks ride on tensors as ``tensor._keras_mask`` (a bool tensor, True = keep), as in Keras; a layer whose
        ``call`` takes ``mask`` receives the mask of its input.
        """
        return mask if self.supports_masking else None

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(*args, **kwargs)

    def _apply(self, fn: Any, recurse: bool = True) -> Layer:
        # .to(torch.float64) / .double() / .half(): the layer computes in its weights' new dtype from now on.
        before = {k: b for k, b in self._buffers.items() if isinstance(b, Variable)}
        result = super()._apply(fn, recurse)
        for key, old in before.items():  # torch replaces buffers by plain tensors: keep them Keras variables
            new = self._buffers.get(key)
            if new is not None and new is not old and not isinstance(new, Variable):
                self._buffers[key] = old.rewrap(new)
        new_dtype = fn(torch.empty((), dtype=self._dtype)).dtype
        if new_dtype.is_floating_point and new_dtype != self._dtype:
            self._set_dtype_policy(new_dtype)
        return result

    def _build_from(self, args: tuple, kwargs: dict) -> None:
        # Weights are made on the build device even inside shape inference's meta-device context.
        with torch.device(self._build_device):
            self._build_with_shapes(args, kwargs)
        self.built = True

    def _build_with_shapes(self, args: tuple, kwargs: dict) -> None:
        params = [p for p in inspect.signature(self.build).parameters.values()
                  if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if len(params) <= 1:
            first = args[0] if args else next(iter(kwargs.values()), None)
            shapes = {"input_shape": shape_of(first)}
            self.build(shapes["input_shape"])
        else:  # build(query_shape, value_shape, ...) takes the shapes of call's arguments by name
            bound = inspect.signature(self.call).bind_partial(*args, **kwargs).arguments
            shapes = {p.name: shape_of(bound.get(p.name[: -len("_shape")])) for p in params}
            self.build(**shapes)
        self._build_shapes_dict = shapes

    def _check_input(self, inputs: Any) -> None:
        specs = self.input_spec
        if specs is None:
            return
        spec_list = specs if isinstance(specs, (list, tuple)) else [specs]
        leaves = tree.flatten(inputs) if isinstance(inputs, (list, tuple, dict)) else [inputs]
        for i, (spec, x) in enumerate(zip(spec_list, leaves, strict=False)):
            if spec is None or not hasattr(x, "shape"):
                continue
            problem = spec.problem_with(tuple(x.shape))
            if problem:
                which = f"input {i} of " if len(spec_list) > 1 else ""
                got = tuple(x.shape)
                raise ValueError(
                    f"Input {f'{i} ' if which else ''}of layer '{self.name}' ({type(self).__name__}) is "
                    f"incompatible with the layer: {problem}. The layer expects {which}{spec.describe()}, "
                    f"but received input of shape {format_shape(got)}.{self._input_fix_hint(spec, got)}"
                )

    def _input_fix_hint(self, spec: InputSpec, got: tuple) -> str:
        axes = spec.axes or {}
        if -1 in axes and len(got) > 0:
            return (f" The layer was built for inputs whose last axis has size {axes[-1]}; feed data of that "
                    "width, or build a new layer for the new width.")
        if spec.shape is not None:
            return f" Reshape your data to {format_shape(spec.shape)} or change the model's input shape."
        return ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._plain and not kwargs and len(args) == 1:
            # The common case, made cheap: a built leaf layer with nothing to do around its call (see _is_plain)
            # on one tensor already in its compute dtype; nothing else to set up, nothing to attach afterwards.
            x = args[0]
            if type(x) is torch.Tensor and (x.dtype is self._compute_dtype or not (
                    self._autocast and x.is_floating_point())) and not x.is_meta and \
                    not dtype_policy.MIXED_IN_USE and not hooked(self):
                try:
                    if self._added_losses and config.TRAINING.get() is None:
                        self._added_losses.clear()  # a new top-level call: Keras keeps this call's losses only
                    out = self.call(x)
                except Exception as error:
                    self._explain_failure(error, x, args, kwargs)
                    raise
                if self.supports_masking:  # the default compute_mask: the input's mask passes through
                    mask = getattr(x, "_keras_mask", None)
                    if mask is not None and type(out) is torch.Tensor:
                        out._keras_mask = mask
                return out
        first = probe = args[0] if args else None
        if type(first) is not torch.Tensor:
            if is_symbolic((args, kwargs)):
                return self._symbolic_call(args, kwargs)
            args = tree.map_structure(_to_tensor, args)
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
            return self._call_in_mode(training, args, kwargs)
        changed = training is not outer  # nested calls usually inherit the flag: then nothing to set
        if changed:
            config.TRAINING.set(training)
        if outer is None and not compiling and self.__dict__.get("_losses_reset_at") != LOSSES_ADDED:
            self._reset_losses()  # a top-level call: as Keras, `losses` will hold this call's losses only
        try:
            on_meta = probe is not None and probe.is_meta
            just_built = not self.built
            if just_built:
                self._track_containers()
                self._build_device = torch.device("cpu") if on_meta or probe is None else probe.device
                self._build_from(args, kwargs)
            if just_built and self.input_spec is not None:  # later calls check only when the call fails
                self._check_input(first if first is not None else next(iter(kwargs.values()), None))
            if self._call_has_training:
                kwargs["training"] = training
            if self._call_has_mask and kwargs.get("mask") is None:
                mask = _mask_of(first)
                if mask is not None:
                    kwargs["mask"] = mask
            if on_meta:
                with _meta_weights(self):
                    outputs = nn.Module.__call__(self, *args, **kwargs)
                if self._mixed:  # what autocast would have produced
                    outputs = tree.map_structure(lambda t: t.to(self._compute_dtype) if isinstance(
                        t, torch.Tensor) and t.is_floating_point() else t, outputs)
            elif dtype_policy.MIXED_IN_USE:
                with _precision(self, probe):
                    outputs = nn.Module.__call__(self, *args, **kwargs)
            elif self._direct_call and self._compiled_call_impl is None and not hooked(self):
                outputs = self.call(*args, **kwargs)  # what nn.Module.__call__ comes to without hooks, frames fewer
            else:
                outputs = nn.Module.__call__(self, *args, **kwargs)
            if self.activity_regularizer is not None:
                self._add_activity_loss(outputs)
            if self.supports_masking or self._computes_mask:
                _attach_mask(outputs, self.compute_mask(first, kwargs.get("mask", _mask_of(first))))
            if just_built:  # for summary(): the output shape of the first call (shape-inference sizes -> None)
                unknown = _META_FILLS if on_meta else ()
                self.recorded_output_shape = tree.map_structure(
                    lambda t: (None, *(None if d in unknown else d for d in t.shape[1:]))
                    if isinstance(t, torch.Tensor) and t.ndim else None, outputs)
        except Exception as error:  # keep the user's traceback; add where it happened
            if just_built:
                _add_layer_note(error, self, args)
            else:
                self._explain_failure(error, first, args, kwargs)
            raise
        finally:
            if changed:
                config.TRAINING.set(outer)
        if "_plain" not in self.__dict__ and self.built and not on_meta and not compiling:
            self.__dict__["_plain"] = self._is_plain()  # reset by any attribute assignment (__setattr__)
        return outputs

    def _is_plain(self) -> bool:
        """Whether calls of this built layer on one tensor can go straight to ``call``: no training or mask
        argument, no mask of its own to compute (one passed through is attached there), no activity regularizer,
        no mixed precision, no sublayers (which would read the training flag this layer sets), no torch
        ``forward`` override and no ``torch.compile`` of the layer."""
        return (self._direct_call and not self._call_has_training and not self._call_has_mask
                and not self._computes_mask and self.activity_regularizer is None
                and not self._mixed and not self._modules and self._compiled_call_impl is None)

    def _explain_failure(self, error: BaseException, first: Any, args: tuple, kwargs: dict) -> None:
        """Add to a failed call's error where it happened; an input of a shape the layer was not built for
        becomes that error instead, said in the user's terms."""
        if self.input_spec is not None:
            try:
                self._check_input(first if first is not None else next(iter(kwargs.values()), None))
            except ValueError as spec_error:
                raise spec_error from error
        _add_layer_note(error, self, args)

    def _call_in_mode(self, training: bool, args: tuple, kwargs: dict) -> Any:
        """A compiled model called in the other mode: switch every module's flag for this call (what its
        compiled layers read), then restore it."""
        was = self.training
        try:
            self.train(training)
            return self(*args, training=training, **kwargs)
        finally:
            self.train(was)

    # ---------------------------------------------------------------------------- symbolic calls
    def _symbolic_call(self, args: tuple, kwargs: dict) -> Any:
        try:
            if not self.built:
                self._build_device = torch.device("cpu")
                self._build_from(args, kwargs)
            first = args[0] if args else next(iter(kwargs.values()), None)
            if self.input_spec is not None:
                self._check_input(first)
            outputs = self.compute_output_spec(*args, **kwargs)
        except Exception as error:
            _add_layer_note(error, self, args)
            raise
        node = Node(self, args, kwargs)
        flat = []
        for i, spec in enumerate(tree.flatten(outputs)):
            t = SymbolicTensor(spec.shape, spec.dtype, name=f"{self.name}_{i}" if i else self.name, node=node, index=i)
            t._keras_mask = getattr(spec, "_keras_mask", None)
            flat.append(t)
        node.outputs = tree.pack_as(outputs, flat)
        self._inbound_nodes.append(node)
        return node.outputs

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """Output shapes and dtypes for symbolic inputs, found by running ``call`` on the meta device.

        Unknown dimensions are filled with two different sizes; output dimensions that differ between the
        two runs are unknown (``None``) too. No real computation runs and no memory is allocated.
        """
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            # The layer knows its shape rule (merges, Reshape, ...): use it, so unknown sizes stay unknown
            # instead of meeting placeholder sizes that clash with known ones.
            x = args[0] if args else next(iter(kwargs.values()))
            leaves = [t for t in tree.flatten(x) if isinstance(t, SymbolicTensor)]
            shape = self.compute_output_shape(tree.map_structure(lambda t: t.shape, x)
                                              if not isinstance(x, SymbolicTensor) else x.shape)
            return _symbolic_like(shape, leaves[0].dtype if leaves else self._dtype)
        first, second = (self._run_on_meta(args, kwargs, fill) for fill in _META_FILLS)
        merged = [_merge_meta(x, y) for x, y in zip(tree.flatten(first), tree.flatten(second), strict=True)]
        return tree.pack_as(first, merged)

    def _run_on_meta(self, args: tuple, kwargs: dict, fill: int) -> Any:
        def to_meta(t: Any) -> Any:
            if isinstance(t, SymbolicTensor):
                meta = torch.empty([fill if d is None else d for d in t.shape], dtype=t.dtype, device="meta")
                if t._keras_mask is not None:  # the mask rides along, so call(mask=...) and compute_mask see it
                    meta._keras_mask = to_meta(t._keras_mask)
                return meta
            return t

        m_args, m_kwargs = tree.map_structure(to_meta, (args, kwargs))
        # Tensors that call() creates (ops.zeros, torch.arange, ...) must be meta tensors too.
        with torch.no_grad(), torch.device("meta"):
            return self(*m_args, **m_kwargs)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for ``input_shape`` (Keras style, ``None`` for unknown), computed without data."""
        def to_symbolic(s: Any) -> Any:
            return SymbolicTensor(s, self._dtype)

        is_shape = isinstance(input_shape, tuple) and all(d is None or isinstance(d, int) for d in input_shape)
        sym = to_symbolic(input_shape) if is_shape else tree.map_structure(to_symbolic, input_shape)
        if not self.built:
            self._build_from((sym,), {})
        out = self.compute_output_spec(sym)
        return tree.map_structure(lambda t: t.shape, out)

    @property
    def output(self) -> Any:
        """The symbolic output of this layer's (single) call in a functional graph."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has not been called on a symbolic input, so it has no output.")
        return self._inbound_nodes[0].outputs

    @property
    def input(self) -> Any:
        """The symbolic input of this layer's (single) call in a functional graph."""
        if not self._inbound_nodes:
            raise AttributeError(f"Layer '{self.name}' has not been called on a symbolic input, so it has no input.")
        node = self._inbound_nodes[0]
        return node.args[0] if node.args else node.inputs[0]

    # ---------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        """The constructor arguments that rebuild this layer (no weights)."""
        cfg: dict[str, Any] = {"name": self.name, "trainable": self.trainable, "dtype": self._dtype_policy.name}
        if self._batch_input_shape is not None:
            cfg["batch_input_shape"] = self._batch_input_shape
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def hooked(module: nn.Module) -> bool:
    """Whether calling ``module`` must go through ``nn.Module.__call__``: it (or every module) has hooks, or
    ``torch.jit.trace`` is recording."""
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks or _torch_module._global_forward_hooks
                or _torch_module._global_forward_pre_hooks or _torch_module._global_backward_hooks
                or _torch_module._global_backward_pre_hooks or torch._C._get_tracing_state())


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


def _is_shape(x: Any) -> bool:
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, int) for d in x)


def _precision(layer: Layer, probe: Any) -> Any:
    """The autocast region of a layer's computation: on in its compute dtype for a mixed policy, off for a
    full-precision layer inside a mixed model (its computation stays in its own dtype), else unchanged."""
    device = probe.device.type if isinstance(probe, torch.Tensor) else "cpu"
    if layer._mixed:
        return torch.autocast(device, dtype=layer._compute_dtype)
    if torch.is_autocast_enabled(device):
        return torch.autocast(device, enabled=False)
    return contextlib.nullcontext()


def _merge_meta(x: Any, y: Any) -> SymbolicTensor:
    """The symbolic output of two shape-inference runs: dimensions that differ between them are unknown."""
    out = SymbolicTensor(tuple(a if a == b else None for a, b in zip(x.shape, y.shape, strict=True)), x.dtype)
    mask_x, mask_y = getattr(x, "_keras_mask", None), getattr(y, "_keras_mask", None)
    if isinstance(mask_x, torch.Tensor) and isinstance(mask_y, torch.Tensor):
        out._keras_mask = _merge_meta(mask_x, mask_y)
    return out


def _symbolic_like(shape: Any, dtype: torch.dtype) -> Any:
    """SymbolicTensors for a shape or a list of shapes."""
    if _is_shape(shape):
        return SymbolicTensor(tuple(shape), dtype)
    return [_symbolic_like(s, dtype) for s in shape]


def _to_tensor(x: Any) -> Any:
    if isinstance(x, np.ndarray):
        if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
            raise TypeError(f"Layers take numeric arrays; received an array of dtype {x.dtype}.")
        return torch.from_numpy(np.ascontiguousarray(x))
    return x


@contextlib.contextmanager
def _meta_weights(module: nn.Module):
    """Swap every weight of ``module`` (and its children) for a meta tensor of the same shape, then restore."""
    saved = []
    for m in module.modules():
        for store in (m._parameters, m._buffers):
            for key, value in store.items():
                if value is not None and not value.is_meta:
                    saved.append((store, key, value))
                    twin = torch.empty_like(value, device="meta")
                    store[key] = value.rewrap(twin) if isinstance(value, Variable) else twin
    try:
        yield
    finally:
        for store, key, value in saved:
            store[key] = value


def _add_layer_note(error: BaseException, layer: Layer, args: tuple) -> None:
    shapes = shape_of(args[0] if len(args) == 1 else list(args))
    line = f"  in layer '{layer.name}' ({type(layer).__name__}), called on inputs of shape {format_shape(shapes)}"
    notes = getattr(error, "__notes__", [])
    if not any(n.startswith("Layer path") for n in notes):
        error.add_note("Layer path (innermost first):")
    error.add_note(line)
