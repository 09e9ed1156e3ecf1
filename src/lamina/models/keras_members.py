"""The members of Keras's ``Model`` about its machinery: ``make_train_function`` / ``make_test_function`` /
``make_predict_function`` and the ``train_function``/``test_function``/``predict_function`` they set,
``get_state_tree``/``set_state_tree``, ``stateless_compute_loss`` and ``operations``.

``Model`` takes them from ``KerasModelMembers``.

>>> import numpy as np, lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(1, name="out")], name="net")
>>> model.compile(optimizer="sgd", loss="mse")
>>> step = model.make_train_function()
>>> sorted(step([(np.ones((2, 3), "float32"), np.zeros((2, 1), "float32"))]))
['loss']
>>> sorted(model.get_state_tree()["trainable_variables"]["net"]["out"])
['bias', 'kernel']
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from lamina.data.adapters import unpack_x_y_sample_weight
from lamina.layers.keras_members import call_with_state

_VALUE_FORMATS = ("backend_tensor", "numpy_array")


class KerasModelMembers:
    """Keras ``Model`` members about its machinery (mixed into ``lamina.Model``)."""

    train_function: Callable[..., Any] | None = None
    test_function: Callable[..., Any] | None = None
    predict_function: Callable[..., Any] | None = None

    # ------------------------------------------------------------------ step functions
    def _make_function(self, kind: str, force: bool) -> Callable[..., Any]:
        attribute = f"{kind}_function"
        existing = self.__dict__.get(attribute)
        if existing is not None and not force:
            return existing
        trainer = self._require_trainer(f"make_{kind}_function") if kind != "predict" else self._predict_trainer()

        def one_step_on_data(data: Any) -> Any:
            """One step on the first batch of ``data`` (a list of batches, as Keras's torch backend passes)."""
            if isinstance(data, list):
                data = data[0]
            elif isinstance(data, Iterator):
                data = next(data)
            out = trainer.run_step(kind, *unpack_x_y_sample_weight(data))
            return dict(out) if isinstance(out, Mapping) else out

        self.__dict__[attribute] = one_step_on_data
        return one_step_on_data

    def make_train_function(self, force: bool = False) -> Callable[..., Any]:
        """The function one training step runs: called with ``[batch]`` (a list holding one ``(x, y)`` or
        ``(x, y, sample_weight)`` batch), it trains on it and returns the step's logs. Sets
        ``model.train_function``; kept until ``force=True``."""
        return self._make_function("train", force)

    def make_test_function(self, force: bool = False) -> Callable[..., Any]:
        """The function one evaluation step runs (``[batch]`` in, logs out); sets ``model.test_function``."""
        return self._make_function("test", force)

    def make_predict_function(self, force: bool = False) -> Callable[..., Any]:
        """The function one prediction step runs (``[batch]`` in, outputs out); sets
        ``model.predict_function``."""
        return self._make_function("predict", force)

    # ------------------------------------------------------------------ graph
    @property
    def operations(self) -> list:
        """The layers of the model, input layers included for a functional model (Keras's ``operations``)."""
        graph = self.__dict__.get("_graph")
        layers = getattr(graph, "layers", None)
        return list(layers) if layers is not None else list(self.layers)

    # ------------------------------------------------------------------ state trees
    def get_state_tree(self, value_format: str = "backend_tensor") -> dict[str, dict]:
        """The model's state as nested dicts keyed by the parts of each variable's path:
        ``{"trainable_variables": {"dense": {"kernel": ..., "bias": ...}}, "non_trainable_variables": ...,
        "optimizer_variables": ..., "metrics_variables": ...}`` (the last two only when compiled). Values are
        tensors, or NumPy arrays with ``value_format="numpy_array"``."""
        if value_format not in _VALUE_FORMATS:
            raise ValueError(f"value_format must be one of {_VALUE_FORMATS}; received {value_format!r}.")
        convert = (lambda t: t.detach().cpu().numpy()) if value_format == "numpy_array" else (lambda t: t)
        out = {"trainable_variables": _nest(_named(self.trainable_variables), convert),
               "non_trainable_variables": _nest(_named(self.non_trainable_variables), convert)}
        optimizer = getattr(self, "optimizer", None)
        if optimizer is not None and getattr(optimizer, "built", True):
            prefix = getattr(optimizer, "name", "optimizer")
            out["optimizer_variables"] = _nest(_named(list(optimizer.variables), prefix), convert)
        if self.__dict__.get("_compiled") or getattr(self, "compiled", False):
            out["metrics_variables"] = _nest(metric_states(self.metrics), convert)
        return out

    def set_state_tree(self, state_tree: Mapping[str, Mapping]) -> None:
        """Assign the values of a tree shaped like ``get_state_tree()``'s (any of its four parts)."""
        current = self.get_state_tree()
        for part, values in state_tree.items():
            if part not in current:
                raise ValueError(f"set_state_tree: unknown part {part!r}; expected some of {sorted(current)}.")
            flat_target, flat_value = _flatten(current[part]), _flatten(values)
            unknown = sorted(set(flat_value) - set(flat_target))
            if unknown:
                raise ValueError(f"set_state_tree: no variable at {unknown[:5]} in {part}; the model has "
                                 f"{sorted(flat_target)[:10]}.")
            with torch.no_grad():
                for path, value in flat_value.items():
                    target = flat_target[path]
                    target.copy_(torch.as_tensor(np.asarray(value) if not isinstance(value, torch.Tensor) else value,
                                                 dtype=target.dtype).to(target.device))

    # ------------------------------------------------------------------ stateless loss
    def stateless_compute_loss(self, trainable_variables: Sequence[Any], non_trainable_variables: Sequence[Any],
                               metrics_variables: Sequence[Any], x: Any = None, y: Any = None, y_pred: Any = None,
                               sample_weight: Any = None, training: bool = True) -> tuple:
        """``compute_loss`` with the given variable values, changing nothing: returns ``(loss,
        (trainable_variables, non_trainable_variables, metrics_variables))`` with the state after the
        computation (the loss tracker's sums updated in the returned metric values)."""
        own_metrics = [v for m in self.metrics for v in m.variables]
        if len(metrics_variables) != len(own_metrics):
            raise ValueError(f"stateless_compute_loss: metrics_variables must hold one value per variable of "
                             f"model.metrics_variables ({len(own_metrics)}); received {len(metrics_variables)}.")
        saved = [v.detach().clone() for v in own_metrics]
        with torch.no_grad():
            for v, value in zip(own_metrics, metrics_variables, strict=True):
                v.copy_(torch.as_tensor(value, dtype=v.dtype).to(v.device))
        fresh = [torch.as_tensor(v).detach().clone() for v in non_trainable_variables]
        try:
            loss = call_with_state(
                self, lambda: self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight,
                                                training=training),
                [*self.trainable_variables, *self.non_trainable_variables], [*trainable_variables, *fresh], (), {})
            new_metrics = [v.detach().clone() for v in own_metrics]
        finally:
            with torch.no_grad():
                for v, old in zip(own_metrics, saved, strict=True):
                    v.copy_(old)
        return loss, (list(trainable_variables), fresh, new_metrics)

    @property
    def metrics_variables(self) -> list[torch.Tensor]:
        """The state tensors of the model's metrics (loss tracker and compiled metrics), in order."""
        return [v for m in self.metrics for v in m.variables]


def _named(variables: Sequence[torch.Tensor], prefix: str | None = None) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for i, v in enumerate(variables):
        path = getattr(v, "path", None) or f"variable_{i}"
        if prefix and not path.startswith(f"{prefix}/"):
            path = f"{prefix}/{path}"
        out[path if path not in out else f"{path}_{i}"] = v
    return out


def metric_states(metrics: Sequence[Any]) -> dict[str, torch.Tensor]:
    """``"metric_name/state_name" -> tensor`` for the metrics and the children of compiled containers."""
    out: dict[str, torch.Tensor] = {}
    for metric in metrics:
        children = getattr(metric, "metrics", None)
        if isinstance(children, list):
            out.update(metric_states(children))
            continue
        state = getattr(metric, "_state", None)
        names = list(state) if isinstance(state, Mapping) else []
        values = metric.variables
        for i, value in enumerate(values):
            key = names[i] if i < len(names) else getattr(value, "name", None) or f"variable_{i}"
            out[f"{metric.name}/{key}"] = value
    return out


def _nest(flat: Mapping[str, Any], convert: Callable[[Any], Any]) -> dict:
    tree: dict = {}
    for path, value in flat.items():
        node = tree
        *parents, leaf = path.split("/")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = convert(value)
    return tree


def _flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out
