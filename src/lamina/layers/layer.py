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

import inspect
from typing import Any

import numpy as np
import torch
from torch import nn

from lamina import constraints, initializers, regularizers
from lamina.core import config, dtype_policy, scopes
from lamina.core.naming import snake_case
from lamina.core.variable import TrainableVariable, Variable, set_initializer_lookup
from lamina.layers import calling, penalties, shape_inference
from lamina.layers import weights as weights_module
from lamina.layers.calling import hooked  # noqa: F401  (re-exported: models/sequential.py)
from lamina.layers.keras_members import KerasLayerMembers
from lamina.layers.spec import InputSpec, format_shape, shape_of  # noqa: F401  (format_shape: re-exported)
from lamina.layers.symbolic import Node
from lamina.layers.weights import WeightInfo as _WeightInfo

set_initializer_lookup(initializers.get)  # Variable("glorot_uniform", shape=...) below this level


class Layer(KerasLayerMembers, nn.Module):
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
        self._remat = scopes.current_remat_scope()  # made inside a RematScope: activations recomputed in backward
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
    _plain = False  # set per instance after its first real call (see calling.plain); any assignment resets it

    def __setattr__(self, key: str, value: Any) -> None:
        if key == "training" and type(value) is bool:  # model.train()/eval() on every module: a plain flag,
            self.__dict__["training"] = value  # which a plain layer never reads (calling.plain)
            return
        self.__dict__.pop("_plain", None)
        info = self.__dict__.get("_weight_info")
        if info is not None and isinstance(value, torch.Tensor):
            old = weights_module.own_key_of(self, value)
            if old is not None:
                if old != key:
                    weights_module.rename(self, old, key)
                return
            if isinstance(value, Variable):  # `self.v = lamina.Variable(...)`: tracked like add_weight's
                weights_module.track_variable(self, key, value)
                return
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, nn.Module) for v in value):
            value = nn.ModuleList(value)
        elif isinstance(value, dict) and value and all(isinstance(v, nn.Module) for v in value.values()):
            value = nn.ModuleDict(value)
        super().__setattr__(key, value)

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
        where = self.__dict__.get("_path") or "/".join(filter(None, (scopes.current_path(), self.name)))
        metadata = {"name": key, "path": f"{where}/{key}", "initializer": init, "regularizer": regularizer,
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

    def add_variable(self, shape: tuple, initializer: Any, dtype: Any = None, trainable: bool = True,
                     autocast: bool = True, regularizer: Any = None, constraint: Any = None,
                     name: str | None = None) -> Variable:
        """Keras's other name for ``add_weight`` (shape and initializer first)."""
        return self.add_weight(shape=shape, initializer=initializer, dtype=dtype, trainable=trainable,
                               autocast=autocast, regularizer=regularizer, constraint=constraint, name=name)

    @property
    def input_dtype(self) -> str:
        """The dtype floating inputs are cast to before ``call``: the compute dtype."""
        return self.compute_dtype

    @property
    def metrics_variables(self) -> list:
        """The state variables of the metrics this layer (or model) tracks."""
        return [v for m in getattr(self, "metrics", None) or [] for v in getattr(m, "variables", [])]

    def _constrain(self, weight: torch.Tensor) -> torch.Tensor:
        """The weight's constraint, applied in Keras's layout (e.g. per filter of a conv kernel)."""
        key = weights_module.own_key_of(self, weight)
        constraint = self._weight_info[key].constraint
        return self.weight_from_keras(key, constraint(self.weight_to_keras(key, weight)))

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
        if isinstance(loss, torch.Tensor) and loss.is_meta:
            return  # a call made for shape inference, not a step
        config.LOSSES_ADDED += 1
        self._added_losses.append(loss)

    @property
    def losses(self) -> list[torch.Tensor]:
        """Penalties of this layer and its sub-layers: added losses, activity and weight regularizers'."""
        return penalties.collect(self)

    def _reset_losses(self) -> None:
        penalties.reset(self)

    def _clear_losses(self) -> None:
        penalties.clear_added(self)

    # ---------------------------------------------------------------------------- dtypes
    def _set_dtype_policy(self, dtype: Any) -> None:
        policy = dtype_policy.get(dtype)
        self._dtype_policy = policy
        self._dtype = config.standardize_dtype(policy.variable_dtype)  # the weights' dtype
        self._compute_dtype = config.standardize_dtype(policy.compute_dtype)
        self._mixed = policy.is_mixed  # computation under torch.autocast in the compute dtype
        if self._mixed:
            config.MIXED_IN_USE = True  # from now on, layers look for an enclosing autocast region

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
        with weights_module.buffers_kept_variables(self):  # (torch replaces buffers by plain tensors)
            result = super()._apply(fn, recurse)
        new_dtype = fn(torch.empty((), dtype=self._dtype)).dtype
        if new_dtype.is_floating_point and new_dtype != self._dtype:
            self._set_dtype_policy(new_dtype)
        return result

    def _build_from(self, args: tuple, kwargs: dict) -> None:
        # Weights are made on the build device even inside shape inference's meta-device context.
        with torch.device(self._build_device):
            self._build_shapes_dict = shape_inference.build_from_arguments(self, args, kwargs)
        self.built = True

    __call__ = calling.layer_call  # build on first use, check the input, run call (layers/calling.py)

    def compute_output_spec(self, *args: Any, **kwargs: Any) -> Any:
        """Output shapes and dtypes for symbolic inputs, found without data (layers/shape_inference.py)."""
        shape_rule = type(self).compute_output_shape is not Layer.compute_output_shape
        return shape_inference.output_spec(self, args, kwargs, shape_rule)

    def compute_output_shape(self, input_shape: Any) -> Any:
        """Output shape for ``input_shape`` (Keras style, ``None`` for unknown), computed without data."""
        return shape_inference.output_shape(self, input_shape)

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

    def get_build_config(self) -> dict | None:
        """The shapes this layer was built with (``{"input_shape": ...}``), or None before it is built."""
        shapes = getattr(self, "_build_shapes_dict", None)
        return dict(shapes) if self.built and isinstance(shapes, dict) and shapes else None

    def build_from_config(self, config: dict | None) -> None:
        """Build with the shapes ``get_build_config`` returned (nothing to do for an empty config)."""
        if config:
            shapes = {k: tuple(v) if isinstance(v, list) and all(d is None or type(d) is int for d in v) else v
                      for k, v in config.items()}
            self.build(**shapes)
            self._build_shapes_dict = shapes
            self.built = True

    # ---------------------------------------------------------------------------- Keras's saving hooks
    def save_own_variables(self, store: Any) -> None:
        """Write this layer's own variables (not its sub-layers') into ``store`` as ``"0"``, ``"1"``... in
        Keras's layout; ``model.save("m.keras")`` calls it for every layer, so an override saves extra state.

        >>> store = {}
        >>> layer = Layer(); layer.save_own_variables(store); store
        {}
        """
        weights_module.save_own(self, store)

    def load_own_variables(self, store: Any) -> None:
        """Set this layer's own variables from ``store`` (what ``save_own_variables`` wrote); loading a ``.keras``
        file calls it for every layer, so an override restores extra state."""
        weights_module.load_own(self, store)

    def save_assets(self, dir_path: str) -> None:
        """Write files (a vocabulary...) into ``dir_path``; they travel in the ``.keras`` file's ``assets/``."""

    def load_assets(self, dir_path: str) -> None:
        """Read back the files ``save_assets`` wrote into ``dir_path``."""

    def extra_repr(self) -> str:
        return f"name={self.name!r}"

