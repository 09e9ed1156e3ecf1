"""What ``compile(loss=..., metrics=...)`` turns into: losses and metrics matched to the model's outputs.

Single- and multi-output models alike: ``y``/``y_pred`` are put in the order of ``output_names`` (from lists,
tuples or dicts keyed by output name), then each output gets its loss, loss weight and metrics.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

from lamina import losses as losses_module
from lamina import metrics as metrics_module
from lamina.core import tree


def _as_list(value: Any, names: list[str], what: str, allow_single: bool = True) -> list:
    """One entry per output, from a single value, a list/tuple in output order, or a dict by output name."""
    n = len(names)
    if isinstance(value, dict):
        unknown = sorted(set(value) - set(names))
        if unknown:
            raise ValueError(
                f"compile(): {what} has keys {unknown} that are not output names. The model's outputs are "
                f"named {names}."
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and (n > 1 or (value and isinstance(value[0], (list, tuple)))):
        if len(value) != n:
            raise ValueError(
                f"compile(): {what} is a list of {len(value)} entries but the model has {n} outputs {names}. "
                "Give one entry per output, or a dict keyed by output name."
            )
        return list(value)
    if allow_single or n == 1:
        return [value] * n
    raise ValueError(f"compile(): give {what} as a list or dict with one entry per output {names}.")


def outputs_in_order(values: Any, names: list[str], what: str) -> list:
    """``values`` (a tensor, list/tuple, or dict keyed by output name) as a list in output order."""
    if isinstance(values, dict):
        missing = [n for n in names if n not in values]
        if missing:
            raise ValueError(f"{what} is a dict without the keys {missing}; the model's outputs are named {names}.")
        return [values[n] for n in names]
    if isinstance(values, (list, tuple)) and len(names) > 1:
        if len(values) != len(names):
            raise ValueError(
                f"{what} has {len(values)} entries but the model has {len(names)} outputs {names}."
            )
        return list(values)
    if isinstance(values, (list, tuple)) and len(values) == 1:
        return list(values)
    return [values]


def _per_output(sample_weight: Any, names: list[str]) -> list:
    if isinstance(sample_weight, (dict, list, tuple)):
        return outputs_in_order(sample_weight, names, "sample_weight")
    return [sample_weight] * len(names)


def output_names_for(model: Any, y_pred: Any) -> list[str]:
    names = getattr(model, "output_names", None)
    flat = tree.flatten(y_pred)
    if isinstance(y_pred, dict):
        return sorted(y_pred) if names is None or set(names) != set(y_pred) else list(names)
    if names and len(names) == len(flat):
        return list(names)
    return [f"output_{i}" for i in range(len(flat))] if len(flat) > 1 else ["output"]


class CompiledLoss:
    """The total loss: sum over outputs of ``loss_weight * loss(y_true, y_pred, sample_weight)``."""

    def __init__(self, loss: Any, loss_weights: Any = None):
        self.spec = loss
        self.weights_spec = loss_weights
        self.built = False
        self.names: list[str] = []
        self.losses: list = []
        self.weights: list[float] = []
        self.trackers: list = []  # per-output loss means (multi-output models only)

    def build(self, model: Any, y_true: Any, y_pred: Any) -> None:
        self.names = output_names_for(model, y_pred)
        specs = _as_list(self.spec, self.names, "loss")
        self.losses = [None if s is None else losses_module.get(s) for s in specs]
        weights = _as_list(self.weights_spec if self.weights_spec is not None else 1.0, self.names, "loss_weights")
        if not all(w is None or isinstance(w, (int, float)) for w in weights):
            raise TypeError(
                f"compile(): loss_weights must be numbers (one per output, or a dict by output name); received "
                f"{self.weights_spec!r}. If these are metrics, pass them by keyword: compile(..., metrics=[...])."
            )
        self.weights = [1.0 if w is None else float(w) for w in weights]
        if all(loss is None for loss in self.losses):
            raise ValueError("compile(): no loss was given for any output. Pass loss='...' to compile().")
        if len(self.names) > 1:
            self.trackers = [metrics_module.Mean(name=f"{n}_loss") if loss is not None else None
                             for n, loss in zip(self.names, self.losses, strict=True)]
        self.built = True

    def pairs(self, y_true: Any, y_pred: Any) -> list[tuple]:
        """(name, loss, weight, y_true, y_pred) for each output that has a loss."""
        preds = outputs_in_order(y_pred, self.names, "The model output")
        trues = outputs_in_order(y_true, self.names, "y")
        return [(n, loss, w, t, p) for n, loss, w, t, p in zip(self.names, self.losses, self.weights, trues, preds,
                                                               strict=True) if loss is not None]

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, track: bool = True) -> Any:
        if len(self.names) == 1:  # fast path: one output
            loss, w = self.losses[0], self.weights[0]
            y_true = y_true[0] if isinstance(y_true, (list, tuple)) and len(y_true) == 1 else y_true
            y_pred = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
            if isinstance(y_pred, dict):
                y_pred = next(iter(y_pred.values()))
            if isinstance(y_true, dict):
                y_true = next(iter(y_true.values()))
            value = loss(y_true, y_pred, sample_weight=sample_weight)
            return value if w == 1.0 else value * w
        sws = _per_output(sample_weight, self.names)
        total = None
        by_name = dict(zip(self.names, sws, strict=True))
        for (name, loss, w, t, p), tracker in zip(self.pairs(y_true, y_pred),
                                                  [tr for tr in self.trackers if tr is not None], strict=True):
            value = loss(t, p, sample_weight=by_name[name])
            if track:
                tracker.update_state(value.detach(), sample_weight=int(p.shape[0]))
            total = value * w if total is None else total + value * w
        return total


class _ChildStates(MutableMapping):
    """The accumulators of a container's metrics as one mapping (keys ``"<index>/<name>"``), so that code which
    saves and restores ``metric._state`` (exact resume, distributed evaluation) handles the container as a metric."""

    def __init__(self, owner: CompiledMetrics):
        self.owner = owner

    def _split(self, key: str) -> tuple[dict, str]:
        index, _, name = key.partition("/")
        return self.owner.metrics[int(index)]._state, name

    def __getitem__(self, key: str) -> Any:
        state, name = self._split(key)
        return state[name]

    def __setitem__(self, key: str, value: Any) -> None:
        state, name = self._split(key)
        state[name] = value

    def __delitem__(self, key: str) -> None:
        raise TypeError("The accumulators of compiled metrics cannot be removed.")

    def __iter__(self) -> Iterator[str]:
        for i, metric in enumerate(self.owner.metrics):
            for name in getattr(metric, "_state", {}):
                yield f"{i}/{name}"

    def __len__(self) -> int:
        return sum(len(getattr(m, "_state", {})) for m in self.owner.metrics)


class CompiledMetrics(metrics_module.Metric):
    """The metrics of ``compile(metrics=..., weighted_metrics=...)``, one set per output: Keras's
    ``compile_metrics`` entry of ``model.metrics``, a metric whose ``result()`` is ``{log name: value}``.

    It builds itself on the first ``update_state(y_true, y_pred, sample_weight)`` (the output names and the
    accuracy that fits the loss come from the data), so a custom ``train_step`` can update it like any metric.
    """

    def __init__(self, metrics: Any, weighted_metrics: Any = None, model: Any = None,
                 compiled_loss: CompiledLoss | None = None):
        super().__init__(name="compile_metrics")
        self.spec = metrics
        self.weighted_spec = weighted_metrics
        self.model = model
        self.compiled_loss = compiled_loss
        self.built = False
        self.entries: list[tuple[int, Any, bool]] = []  # (output index, metric, weighted)
        self.keys: list[str] = []  # each entry's name in the logs ("<output>_<metric>" for several outputs)
        self.names: list[str] = []
        self._state = _ChildStates(self)  # type: ignore[assignment]

    @property
    def has_metrics(self) -> bool:
        """Whether compile() was given any metric (Keras lists ``compile_metrics`` only then)."""
        return bool(self.spec) or bool(self.weighted_spec)

    def build(self, model: Any, y_true: Any, y_pred: Any, compiled_loss: CompiledLoss | None = None) -> None:
        if self.built:
            return
        self.names = output_names_for(model, y_pred)
        preds = outputs_in_order(y_pred, self.names, "The model output")
        trues = outputs_in_order(y_true, self.names, "y") if y_true is not None else [None] * len(preds)
        loss_for = compiled_loss.losses if compiled_loss is not None and compiled_loss.built else [None] * len(preds)
        multi = len(self.names) > 1
        for spec, weighted in ((self.spec, False), (self.weighted_spec, True)):
            if not spec:
                continue
            per_output = _as_list(spec, self.names, "metrics", allow_single=not multi) if multi or isinstance(
                spec, dict) else [spec]
            for i, entry in enumerate(per_output):
                for ident in ([] if entry is None else entry if isinstance(entry, (list, tuple)) else [entry]):
                    metric = self._resolve(ident, loss_for[i], trues[i], preds[i])
                    key = f"{self.names[i]}_{metric.name}" if multi else metric.name
                    if weighted and key in self.keys:
                        key = f"weighted_{key}"
                        if not multi:
                            metric.name = key
                    self.entries.append((i, metric, weighted))
                    self.keys.append(key)
        self.built = True

    def metric_names(self) -> list[str]:
        return list(self.keys)

    @staticmethod
    def _resolve(ident: Any, loss: Any, y_true: Any, y_pred: Any) -> Any:
        if isinstance(ident, str) and ident.lower() in ("accuracy", "acc"):
            true_shape = tuple(y_true.shape) if y_true is not None else None
            return metrics_module.resolve_accuracy(ident, loss, true_shape, tuple(y_pred.shape))
        metric = metrics_module.get(ident)
        if isinstance(ident, str) and ident.islower():  # Keras logs a metric named by string under that string
            metric.name = ident
        return metric

    @property
    def metrics(self) -> list:
        return [m for _, m, _ in self.entries]

    @property
    def variables(self) -> list:
        return [v for m in self.metrics for v in m.variables]

    def reset_state(self) -> None:
        for metric in self.metrics:
            metric.reset_state()

    def result(self) -> dict:
        """``{log name: result}`` of every compiled metric (empty before the first update)."""
        out: dict = {}
        for key, metric in zip(self.keys, self.metrics, strict=True):
            value = metric.result()
            if isinstance(value, dict):
                out.update(value)
            else:
                out[key] = value
        return out

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        if not self.built:
            self.build(self.model, y_true, y_pred, self.compiled_loss)
        if y_true is None:
            return
        if len(self.names) == 1:  # fast path: one output
            t = y_true[0] if isinstance(y_true, (list, tuple)) and len(y_true) == 1 else y_true
            p = y_pred[0] if isinstance(y_pred, (list, tuple)) else y_pred
            if isinstance(p, dict):
                p = next(iter(p.values()))
            if isinstance(t, dict):
                t = next(iter(t.values()))
            for _, metric, weighted in self.entries:
                metric.update_state(t, p, sample_weight=sample_weight if weighted else None)
            return
        preds = outputs_in_order(y_pred, self.names, "The model output")
        trues = outputs_in_order(y_true, self.names, "y")
        sws = _per_output(sample_weight, self.names)
        for i, metric, weighted in self.entries:
            metric.update_state(trues[i], preds[i], sample_weight=sws[i] if weighted else None)
