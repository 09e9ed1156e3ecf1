"""``Model``: a layer that holds layers, plus ``compile``/``fit``/``evaluate``/``predict``.

Three ways to make one, as in Keras:

>>> import lamina as keras
>>> inputs = keras.Input(shape=(784,))
>>> outputs = keras.layers.Dense(10, activation="softmax")(inputs)
>>> model = keras.Model(inputs, outputs)           # functional
>>> class MLP(keras.Model):                        # subclassing
...     def __init__(self):
...         super().__init__()
...         self.dense = keras.layers.Dense(10)
...     def call(self, x):
...         return self.dense(x)

and ``keras.Sequential([...])``. A model is an ``nn.Module``: it also works in plain PyTorch code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lamina import metrics as metrics_module
from lamina.core import config, serialization, tree
from lamina.core.serialization import deserialize_layer, serialize_layer
from lamina.layers.core import InputLayer
from lamina.layers.layer import Layer
from lamina.layers.quantizable import quantize_model
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.functional import Graph, from_intermediate_inputs, graph_config, graph_from_config, standardize_input
from lamina.models.keras_members import KerasModelMembers
from lamina.models.summary import print_summary
from lamina.training import step, strategy
from lamina.training.progress import to_floats
from lamina.training.trainer import Trainer


class Model(KerasModelMembers, Layer):
    """A model: functional (``Model(inputs, outputs)``), subclassed (override ``call``), or ``Sequential``."""

    def __init__(self, *args: Any, **kwargs: Any):
        inputs = kwargs.pop("inputs", args[0] if len(args) > 0 else None)
        outputs = kwargs.pop("outputs", args[1] if len(args) > 1 else None)
        if len(args) > 2:
            raise TypeError("Model() takes inputs and outputs as positional arguments, and the rest by keyword.")
        if inputs is not None and type(self) is Model and kwargs.get("name") is None:
            kwargs["name"] = config.unique_name("functional")  # Keras names functional models so
        super().__init__(**kwargs)
        self._trainer: Trainer | None = None
        self._tracked_metrics: list = []
        self._graph: Graph | None = None
        self.stop_training = False
        self.history = None
        self.optimizer = None
        self.loss = None
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("A functional Model needs both inputs and outputs: Model(inputs, outputs).")
            self._init_graph(inputs, outputs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        route = self.__dict__.get("_distributed_call")
        if route is not None:  # under lamina.distribution: training forwards run through DDP/FSDP
            return route(*args, **kwargs)
        outputs = super().__call__(*args, **kwargs)
        if config.MIXED_IN_USE and self._dtype is torch.float32:
            # mixed precision: the model's outputs (what losses and users see) in float32, as Keras advises
            outputs = tree.map_structure(_full_precision, outputs)
        return outputs

    def __setattr__(self, key: str, value: Any) -> None:
        if isinstance(value, metrics_module.Metric) and "_tracked_metrics" in self.__dict__:
            self._tracked_metrics.append(value)
        super().__setattr__(key, value)

    # ------------------------------------------------------------------ structure
    def _init_graph(self, inputs: Any, outputs: Any) -> None:
        graph = Graph(*from_intermediate_inputs(inputs, outputs))
        for layer in graph.layers:
            if not isinstance(layer, InputLayer):
                self._track_layer(layer)
        self.__dict__["_graph"] = graph
        self.built = True

    def _track_layer(self, layer: nn.Module) -> None:
        name = getattr(layer, "name", None) or type(layer).__name__.lower()
        existing = self._modules.get(name)
        if existing is layer:
            return
        if existing is not None or name in self.__dict__ or hasattr(type(self), name):
            raise ValueError(
                f"Model '{self.name}' already has a layer or attribute named '{name}'. Layer names in a model must be "
                f"unique: pass name='...' to one of the layers."
            )
        self.add_module(name, layer)

    @property
    def layers(self) -> list[Layer]:
        """The model's layers (for functional models, InputLayers included, as in Keras)."""
        if self._graph is not None:
            return list(self._graph.layers)
        out: list = []

        def collect(module: nn.Module) -> None:
            for child in module.children():
                if isinstance(child, Layer):
                    out.append(child)
                elif isinstance(child, (nn.ModuleList, nn.ModuleDict, nn.Sequential)):
                    collect(child)
                else:
                    out.append(child)

        collect(self)
        return out

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index in ``layers``."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if getattr(layer, "name", None) == name:
                return layer
        names = [getattr(layer, "name", None) for layer in self.layers]
        raise ValueError(f"No layer named {name!r} in model '{self.name}'. Layers: {names}.")

    @property
    def inputs(self) -> list | None:
        """The symbolic inputs as a flat list (``input`` keeps the structure they were given in)."""
        return None if self._graph is None else list(self._graph.flat_inputs)

    @property
    def outputs(self) -> list | None:
        """The symbolic outputs as a flat list (``output`` keeps the structure they were given in)."""
        return None if self._graph is None else list(self._graph.flat_outputs)

    @property
    def input(self) -> Any:
        return None if self._graph is None else self._graph.inputs

    @property
    def output(self) -> Any:
        return None if self._graph is None else self._graph.outputs

    @property
    def input_shape(self) -> Any:
        """Functional models: the shape of the input (a list of shapes for several inputs)."""
        if self._graph is None:
            raise AttributeError(f"Model '{self.name}' has no defined input (it is not a functional model).")
        shapes = [tuple(t.shape) for t in self._graph.flat_inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self) -> Any:
        """Functional models: the shape of the output (a list of shapes for several outputs)."""
        if self._graph is None:
            raise AttributeError(f"Model '{self.name}' has no defined output (it is not a functional model).")
        shapes = [tuple(t.shape) for t in self._graph.flat_outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def input_names(self) -> list[str]:
        return [] if self._graph is None else [t.name for t in self._graph.flat_inputs]

    @property
    def output_names(self) -> list[str] | None:
        if self._graph is None:
            return None
        if isinstance(self._graph.outputs, dict):
            return sorted(self._graph.outputs)
        names, counts = [], {}
        for t in self._graph.flat_outputs:
            base = t.node.layer.name
            counts[base] = counts.get(base, 0) + 1
            names.append(base if counts[base] == 1 else f"{base}_{counts[base] - 1}")
        return names

    # ------------------------------------------------------------------ build and call
    def _build_from(self, args: tuple, kwargs: dict) -> None:
        self.built = True  # sub-layers build themselves on the first real call, on the data's device
        if args and self._graph is None:  # what get_build_config reports, as Keras records it
            self._build_shapes_dict = {"input_shape": tree.map_structure(
                lambda t: tuple(t.shape) if hasattr(t, "shape") else None, args[0])}

    def build(self, input_shape: Any = None) -> None:
        """Build a subclassed model for ``input_shape`` without data (shapes only, on the meta device)."""
        if self._graph is not None or input_shape is None:
            self.built = True
            return
        self.built = True
        self._build_shapes_dict = {"input_shape": input_shape}
        is_shape = isinstance(input_shape, (tuple, list)) and all(d is None or isinstance(d, int) for d in input_shape)
        sym = SymbolicTensor(tuple(input_shape), self._dtype) if is_shape else tree.map_structure(
            lambda s: SymbolicTensor(tuple(s), self._dtype), input_shape)
        self.compute_output_spec(sym)

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        graph = self._graph
        if graph is None:
            raise TypeError(
                f"Model '{self.name}' has no call(): subclass Model and define call(self, inputs), or make a "
                "functional model with Model(inputs, outputs)."
            )
        outputs = graph.run(self._flat_inputs(inputs))
        return outputs[0] if isinstance(graph.outputs, SymbolicTensor) else tree.pack_as(graph.outputs, outputs)

    def _flat_inputs(self, inputs: Any) -> list:
        specs = self._graph.flat_inputs
        if len(specs) == 1 and isinstance(inputs, torch.Tensor):
            return [standardize_input(inputs, specs[0], self.name)]
        if isinstance(inputs, Mapping) and not isinstance(self._graph.inputs, dict):
            missing = [t.name for t in specs if t.name not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}' got a dict of inputs without the keys {missing}; its inputs are "
                                 f"named {[t.name for t in specs]}.")
            flat = [inputs[t.name] for t in specs]
        else:
            flat = tree.flatten(inputs)
        if len(flat) != len(specs):
            raise ValueError(
                f"Model '{self.name}' expects {len(specs)} input(s) {[t.name for t in specs]}, but received "
                f"{len(flat)}. Pass a list (or a dict keyed by input name) with one array per input."
            )
        return [standardize_input(x if isinstance(x, torch.Tensor) or s.dtype == "string" else torch.as_tensor(x),
                                  s, self.name) for x, s in zip(flat, specs, strict=True)]

    # ------------------------------------------------------------------ compile and the training API
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: bool = False, steps_per_execution: int = 1,
                jit_compile: Any = "auto", auto_scale_loss: bool = True) -> None:
        """Configure training: optimizer, loss(es), metrics (names, classes, or objects).

        >>> import lamina
        >>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        """
        self._trainer = Trainer(self, optimizer=optimizer, loss=loss, loss_weights=loss_weights, metrics=metrics,
                                weighted_metrics=weighted_metrics, run_eagerly=run_eagerly,
                                steps_per_execution=steps_per_execution, jit_compile=jit_compile,
                                auto_scale_loss=auto_scale_loss)
        self.optimizer = self._trainer.optimizer
        self.loss = loss

    @property
    def compiled(self) -> bool:
        return self._trainer is not None

    def _compile_setting(self, key: str, default: Any) -> Any:
        return getattr(self._trainer, key) if self._trainer is not None else self.__dict__.get("_" + key, default)

    def _set_compile_setting(self, key: str, value: Any) -> None:
        self.__dict__["_" + key] = value
        if self._trainer is not None:
            setattr(self._trainer, key, value)

    run_eagerly = property(lambda self: self._compile_setting("run_eagerly", False),
                           lambda self, v: self._set_compile_setting("run_eagerly", bool(v)),
                           doc="Whether training steps run eagerly (compile's ``run_eagerly``).")
    jit_compile = property(lambda self: self._compile_setting("jit_compile", False),
                           lambda self, v: self._set_compile_setting("jit_compile", v is True),
                           doc="Whether training steps are compiled (compile's ``jit_compile``, resolved).")
    steps_per_execution = property(lambda self: self._compile_setting("steps_per_execution", 1),
                                   lambda self, v: self._set_compile_setting("steps_per_execution", int(v)),
                                   doc="Batches run per execution (compile's ``steps_per_execution``).")

    def get_compile_config(self) -> dict:
        """The arguments ``compile`` was given, as JSON-ready data (empty before ``compile``)."""
        from lamina.saving import model_config

        return model_config.compile_config(self) or {}

    def compile_from_config(self, config: dict) -> None:
        """Compile as ``get_compile_config`` described; names resolve through the registry only."""
        from lamina.saving import model_config

        if config:
            model_config.compile_from_config(self, config, None)

    def to_json(self, **kwargs: Any) -> str:
        """The model's config (with its build and compile configs) as JSON; ``kwargs`` go to ``json.dumps``.
        ``lamina.models.model_from_json`` rebuilds the model (new weights)."""
        from lamina.saving import model_config

        config = serialize_layer(self)
        config["build_config"] = model_config.build_configs(self)
        config["compile_config"] = model_config.compile_config(self)
        return json.dumps(config, **kwargs)

    def _predict_trainer(self) -> Trainer:
        return self._trainer if self._trainer is not None else Trainer.for_predict(self)

    def _require_trainer(self, what: str) -> Trainer:
        if self._trainer is None:
            raise RuntimeError(
                f"You must call compile() before {what}(): e.g. model.compile(optimizer='adam', "
                "loss='sparse_categorical_crossentropy', metrics=['accuracy'])."
            )
        return self._trainer

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1) -> Any:
        """Train for ``epochs`` epochs; returns a ``History``.

        >>> import lamina, numpy as np
        >>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax")])
        >>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        >>> x_train, y_train = np.random.default_rng(0).random((64, 4)), np.arange(64) % 3
        >>> history = model.fit(x_train, y_train, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
        >>> sorted(history.history), len(history.history["loss"])
        (['accuracy', 'loss', 'val_accuracy', 'val_loss'], 2)
        """
        return self._require_trainer("fit").fit(
            x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
            validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
            class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
            validation_batch_size=validation_batch_size, validation_freq=validation_freq)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: list | None = None,
                 return_dict: bool = False) -> Any:
        """Loss and metrics on the given data: a scalar, a list in ``metrics_names`` order, or a dict."""
        return self._require_trainer("evaluate").evaluate(
            x, y, batch_size=batch_size, verbose=verbose, sample_weight=sample_weight, steps=steps,
            callbacks=callbacks, return_dict=return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: list | None = None) -> Any:
        """Outputs for ``x`` as NumPy arrays (works without compile)."""
        return self._predict_trainer().predict(x, batch_size=batch_size, verbose=verbose, steps=steps,
                                               callbacks=callbacks)

    def _as_result(self, logs: Any, return_dict: bool) -> Any:
        values = to_floats(step.flat_logs(dict(logs)))
        if return_dict:
            return values
        out = step.in_keras_order(self.metrics, values)
        return out[0] if len(out) == 1 else out

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: dict | None = None,
                       return_dict: bool = False) -> Any:
        """One training step on one batch; returns the loss and metrics of this batch."""
        logs = self._require_trainer("train_on_batch").run_on_batch("train", x, y, sample_weight, class_weight)
        return self._as_result(logs, return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        """Loss and metrics of one batch."""
        logs = self._require_trainer("test_on_batch").run_on_batch("test", x, y, sample_weight)
        return self._as_result(logs, return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        """Outputs of one batch as NumPy arrays."""
        return self.predict(x, batch_size=int(tree.flatten(x)[0].shape[0]), verbose=0)

    # ------------------------------------------------------------------ steps (override for custom training)
    def train_step(self, data: Any) -> Any:
        """One training step on ``data`` (a batch ``(x, y[, sample_weight])``); returns the metric logs. (The
        trainer runs the same default step, built once per ``fit``: ``training/step.py``.)"""
        return step.train_step(self, data)

    train_step._lamina_default = True  # type: ignore[attr-defined]

    def test_step(self, data: Any) -> Any:
        """One evaluation step; returns the metric logs."""
        return step.test_step(self, data)

    test_step._lamina_default = True  # type: ignore[attr-defined]

    def predict_step(self, data: Any) -> Any:
        """One prediction step; returns the model's outputs."""
        return step.predict_step(self, data)

    predict_step._lamina_default = True  # type: ignore[attr-defined]

    def compute_loss(self, x: Any = None, y: Any = None, y_pred: Any = None, sample_weight: Any = None,
                     training: bool = True) -> torch.Tensor:
        """The compiled loss of ``y_pred`` against ``y`` plus the layers' penalties (regularizers, add_loss)."""
        return self._require_trainer("compute_loss").compute_loss(y, y_pred, sample_weight, training)

    compute_loss._lamina_default = True  # type: ignore[attr-defined]

    def compute_metrics(self, x: Any, y: Any, y_pred: Any, sample_weight: Any = None) -> Mapping:
        """Update the compiled metrics and return ``{name: result}`` (computed when read)."""
        self._require_trainer("compute_metrics").update_metrics(y, y_pred, sample_weight)
        return step.MetricLogs(self.metrics)

    compute_metrics._lamina_default = True  # type: ignore[attr-defined]

    @property
    def _loss_tracker(self) -> Any:
        # None before compile (attribute walkers such as torch.jit.trace read every property; compute_loss is
        # where a missing compile() is reported)
        return self._trainer.loss_tracker if self._trainer is not None else None

    @property
    def metrics(self) -> list:
        """All metrics: the loss tracker, compiled metrics, and Metric attributes of the model."""
        compiled = self._trainer.metrics if self._trainer is not None else []
        if not self._tracked_metrics:
            return compiled
        return compiled + [m for m in self._tracked_metrics if all(m is not c for c in compiled)]

    @property
    def metrics_names(self) -> list[str]:
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        for m in self.metrics:
            m.reset_state()

    def get_metrics_result(self) -> dict:
        return to_floats(step.MetricLogs(self.metrics))

    def quantize(self, mode: str | None = None, config: Any = None, filters: Any = None, **kwargs: Any) -> None:
        """Quantize the model's Dense and Embedding layers in place: ``"int8"`` or ``"float8"`` (Dense only),
        as Keras 3; ``filters`` (a name regex, a list of them, or ``layer -> bool``) picks the layers.

        >>> model.quantize("int8")  # doctest: +SKIP
        """
        quantize_model(self, mode, config, filters)

    # ------------------------------------------------------------------ the training doctor (lamina.doctor)
    def lr_find(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        """An exponential learning-rate sweep on a copy of this model and its optimizer (this model is left
        bit-identical); returns the curve and suggested rates. See ``lamina.doctor.lr_find`` for the arguments.

        >>> # result = model.lr_find(x_train, y_train, batch_size=128); result.suggestion
        """
        from lamina.doctor import lr_find

        return lr_find(self, x, y, **kwargs)

    def diagnose(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        """A few seconds of checks before a long fit (inputs, labels, initial loss, gradient flow, dead layers,
        overfitting one batch, the learning rate, a shuffled-label control, the input pipeline's share of a step),
        on copies of this model; returns a printable report with ``.findings`` and ``.ok``. See
        ``lamina.doctor.diagnose`` for the arguments.

        >>> # print(model.diagnose(x_train, y_train))
        """
        from lamina.doctor import diagnose

        return diagnose(self, x, y, **kwargs)

    # ------------------------------------------------------------------ summary and weights files
    def summary(self, line_length: int | None = None, positions: list | None = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print the layers, their output shapes and parameter counts, as Keras does."""
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      expand_nested=expand_nested, show_trainable=show_trainable, layer_range=layer_range)

    def save_weights(self, filepath: str, overwrite: bool = True, max_shard_size: float | None = None) -> None:
        """Write the weights, atomically: ``.weights.safetensors`` (lamina's format) or ``.weights.h5`` (Keras 3's,
        which Keras's ``load_weights`` reads). ``max_shard_size`` (Keras's sharded files) must stay None: lamina
        writes one file."""
        from lamina.saving.weights import save_weights

        if max_shard_size is not None:
            raise ValueError(f"save_weights(max_shard_size={max_shard_size!r}): lamina writes the weights as one file "
                             "and does not shard them; leave max_shard_size=None.")

        # (distributed: full weights, gathered when sharded, written by rank 0; call it on every rank)
        strategy.current().save(self, lambda: save_weights(self, filepath, overwrite=overwrite))

    def load_weights(self, filepath: str, skip_mismatch: bool = False) -> None:
        """Read weights written by ``save_weights`` (``.weights.safetensors``), or Keras 3's ``.weights.h5``."""
        from lamina.saving.weights import load_weights

        # (distributed: every rank reads; a sharded model keeps its shard)
        strategy.current().load(self, lambda: load_weights(self, filepath, skip_mismatch=skip_mismatch))

    def save(self, filepath: str, overwrite: bool = True, zipped: bool | None = None, **kwargs: Any) -> None:
        """Write the whole model (architecture, weights, compile settings, optimizer state), atomically: a
        ``.lamina`` file (lamina's format: signing, encryption), a ``.keras`` file (Keras 3's, which
        ``keras.saving.load_model`` reads) or a legacy ``.h5`` file. ``lamina.models.load_model`` reads all three
        back without running code from the file.

        ``zipped`` (Keras's choice of an unzipped ``.keras`` folder) must be None or True: lamina writes the zip.

        >>> model.save("classifier.keras")  # doctest: +SKIP
        """
        from lamina.saving import save_model

        if zipped is False:
            raise ValueError("model.save(zipped=False): lamina writes .keras files zipped (the form Keras's "
                             "load_model reads everywhere); leave zipped=None or True.")

        strategy.current().save(self, lambda: save_model(self, filepath, overwrite=overwrite, **kwargs))

    def export(self, filepath: str, format: str = "onnx", verbose: bool | None = None, input_signature: Any = None,
               **kwargs: Any) -> None:
        """Export the model for inference outside lamina (ONNX through ``torch.onnx``, dynamic batch axis).
        ``input_signature``: the input shapes (batch first) for models without symbolic inputs.

        >>> model.export("classifier.onnx")  # doctest: +SKIP
        """
        from lamina.saving.export import export_model

        export_model(self, filepath, format=format, input_signature=input_signature, verbose=bool(verbose),
                     **kwargs)

    def report(self, path: str, x: Any = None, y: Any = None, **kwargs: Any) -> str:
        """Write a self-contained HTML training report (curves, confusion matrix, worst mistakes, the graph) to
        ``path``; keyword arguments as ``lamina.report.write_report`` (docs/report.md).

        >>> model.report("report.html", x_test, y_test, class_names=names)  # doctest: +SKIP
        """
        from lamina.report import write_report

        return write_report(self, path, x, y, **kwargs)

    def get_config(self) -> dict:
        """Functional models: Keras 3's graph config (``layers`` with ``inbound_nodes``, ``input_layers``,
        ``output_layers``). Subclassed models: ``name`` and ``trainable``; override to add constructor arguments."""
        config = {"name": self.name, "trainable": self.trainable}
        if self._graph is not None:
            config.update(graph_config(self._graph, serialize_layer))
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> Model:
        """Rebuild a model from ``get_config``'s output; layer classes resolve through lamina's registry,
        ``register_serializable`` and ``custom_objects`` only."""
        with serialization.custom_object_scope(custom_objects):
            if all(k in config for k in ("layers", "input_layers", "output_layers")):
                inputs, outputs = graph_from_config(config, deserialize_layer)
                model = cls(inputs, outputs, name=config.get("name"))
                if config.get("trainable") is False:
                    model.trainable = False
                return model
            kwargs = serialization.accepted_kwargs(cls.__init__, config)
            try:
                model = cls(**kwargs)
            except TypeError as error:
                raise TypeError(f"Cannot rebuild {cls.__name__} from its config {sorted(config)}: {error}. A "
                                "subclassed model must return its constructor arguments from get_config() (and "
                                "override from_config if they need converting).") from None
            if isinstance(config.get("name"), str) and "name" not in kwargs:
                model.name = config["name"]
            return model


def _full_precision(t: Any) -> Any:
    if isinstance(t, torch.Tensor) and t.dtype in (torch.float16, torch.bfloat16):
        mask = getattr(t, "_keras_mask", None)
        t = t.float()
        if mask is not None:
            t._keras_mask = mask
    return t


def load_model(filepath: str, custom_objects: dict | None = None, compile: bool = True, safe_mode: bool = True,
               **kwargs: Any) -> Model:
    """Read a model written by ``model.save`` (``.lamina``) or by Keras (``.keras``, legacy ``.h5``); class names
    resolve only through lamina's registry and ``custom_objects``, and nothing in the file is ever executed.

    >>> model = lamina.models.load_model("classifier.lamina")  # doctest: +SKIP
    """
    from lamina.saving import load_model as _load

    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode, **kwargs)


def save_model(model: Model, filepath: str, overwrite: bool = True, **kwargs: Any) -> None:
    """``model.save(filepath, ...)``, under Keras's ``keras.models.save_model`` name: the suffix picks the format
    (``.keras``, ``.lamina``, legacy ``.h5``).

    >>> lamina.models.save_model(model, "classifier.keras")  # doctest: +SKIP
    """
    model.save(filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Model:
    """A new model (new weights) from ``Model.to_json``'s text: class names resolve only through lamina's
    registry, ``register_serializable`` and ``custom_objects``, as in ``load_model``; no code is read from it."""
    from lamina.saving import model_config

    config = model_config.parse_config_text(json_string)  # bounded: depth, size, values and layers
    if not isinstance(config, dict):
        raise ValueError("model_from_json expects the JSON of a model config (an object).")
    with serialization.custom_object_scope(custom_objects):
        model = deserialize_layer(config)
        if not isinstance(model, Model):
            raise ValueError(f"The JSON describes a {type(model).__name__}, not a model.")
        model_config.apply_build_configs(model, config.get("build_config") or {})
        if config.get("compile_config"):
            model_config.compile_from_config(model, config["compile_config"], custom_objects)
    return model


serialization.register_builtin("layers", "Model", Model)
serialization.register_builtin("layers", "Functional", Model)
