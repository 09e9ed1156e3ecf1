"""The loops behind ``fit``, ``evaluate`` and ``predict``: epochs, steps, callbacks, devices, progress.

The trainer knows nothing of layer types: it runs the steps ``training/step.py`` builds once per run (the
model's own ``train_step``/``test_step``/``predict_step`` or the default ones), wrapped by ``training/jit.py``
when ``jit_compile=True`` and by the current ``Strategy`` (``training/strategy.py``: one process unless
``lamina.distribution`` set one). The host is touched only when the progress bar refreshes, a callback asked
for batch logs, or an epoch ends.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from lamina import metrics as metrics_module
from lamina import optimizers
from lamina.core import config, tree
from lamina.core.device import denormals_flushed, get_device
from lamina.data.adapters import ArrayAdapter, DataError, unpack_x_y_sample_weight
from lamina.data.split import split_arrays
from lamina.training import jit, preflight, state, step
from lamina.training import strategy as strategy_module
from lamina.training.callbacks import BackupAndRestore, Callback, CallbackList, History
from lamina.training.compile_config import CompiledLoss, CompiledMetrics
from lamina.training.progress import Progress, resolve_verbose, to_floats


class Trainer:
    """What ``model.compile`` creates: the optimizer, compiled loss and metrics, and the loops."""

    def __init__(self, model: Any, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None,
                 metrics: Any = None, weighted_metrics: Any = None, run_eagerly: bool = False,
                 steps_per_execution: int = 1, jit_compile: Any = "auto", device: Any = None,
                 auto_scale_loss: bool = True):
        self.model = model
        self.optimizer = optimizers.get(optimizer)
        if auto_scale_loss and getattr(model, "dtype_policy", None) is not None and \
                model.dtype_policy.name == "mixed_float16" and \
                not isinstance(self.optimizer, optimizers.LossScaleOptimizer):
            self.optimizer = optimizers.LossScaleOptimizer(self.optimizer)  # Keras's rule: float16 scales the loss
        self.compiled_loss = CompiledLoss(loss, loss_weights) if loss is not None else None
        self.compiled_metrics = CompiledMetrics(metrics, weighted_metrics, model=model,
                                                compiled_loss=self.compiled_loss)
        self.loss_tracker = metrics_module.Mean(name="loss")
        if not isinstance(steps_per_execution, int) or steps_per_execution < 1:
            raise ValueError(f"steps_per_execution must be a positive int; received {steps_per_execution!r}.")
        self.run_eagerly = run_eagerly
        self.steps_per_execution = steps_per_execution
        self.jit_compile = jit.resolve(jit_compile, run_eagerly)
        self.jit: jit.CompiledModel | None = None
        self._jit_planned = False
        self.default_steps: step.DefaultSteps | None = None  # (step.build makes them for each run)
        self.after_backward: tuple = ()  # fit's callbacks' on_after_backward hooks, for the default train step
        self.device = torch.device(device) if device is not None else get_device()
        self._prepared = False
        self._epoch = 0
        self._warned_logits = False
        self._metrics: list | None = None
        self._reg_layers: list | None = None
        self._reg_weights: list = []
        self._losses_seen = -1  # config.LOSSES_ADDED when the layers' added losses were last collected

    # ------------------------------------------------------------------ loss and metrics used by the steps
    def compute_loss(self, y: Any, y_pred: Any, sample_weight: Any, training: bool) -> torch.Tensor:
        model = self.model
        if self.compiled_loss is None:  # Keras: the losses the layers added (add_loss, regularizers) alone
            extra = self._regularization_losses()
            if not extra:
                raise ValueError(
                    "No loss to compute: compile the model with a loss (model.compile(loss=...)), have layers "
                    "add losses (self.add_loss(...)), or override train_step/compute_loss."
                )
            total = sum((e.reshape(()) for e in extra[1:]), extra[0].reshape(()))
            return total.float() if total.dtype in (torch.float16, torch.bfloat16) else total
        if not self.compiled_loss.built:
            self.compiled_loss.build(model, y, y_pred)
        if y is None:
            raise DataError("Training needs targets: pass y to fit()/evaluate(), or yield (x, y) batches.")
        return self.add_penalties(self.compiled_loss(y, y_pred, sample_weight, track=True))

    def add_penalties(self, loss: torch.Tensor) -> torch.Tensor:
        """``loss`` plus the layers' penalties: weight regularizers, activity regularizers, ``add_loss``."""
        extra = self._regularization_losses()
        if extra:
            loss = loss + torch.stack([e.to(loss.dtype).reshape(()) for e in extra]).sum()
        return loss

    def _regularization_losses(self) -> list[torch.Tensor]:
        if self._reg_layers is None:  # found once per run: layers (may add_loss) and regularized weights
            layers = [m for m in self.model.modules() if hasattr(m, "_added_losses")]
            self._reg_layers = layers
            self._reg_weights = [(layer, key, info.regularizer) for layer in layers
                                 for key, info in layer._weight_info.items() if info.regularizer is not None]
            self._losses_seen = -1
        out = [reg(getattr(layer, key)) for layer, key, reg in self._reg_weights] if self._reg_weights else []
        if self._losses_seen == config.LOSSES_ADDED:  # no layer added a loss since the last look
            return out
        self._losses_seen = config.LOSSES_ADDED
        for layer in self._reg_layers:
            if layer._added_losses:
                out.extend(layer._added_losses)
                layer._added_losses.clear()
            if layer._activity_losses:
                out.extend(layer._activity_losses)
                layer._activity_losses = []
        return out

    def update_metrics(self, y: Any, y_pred: Any, sample_weight: Any) -> None:
        self.compiled_metrics.update_state(y, y_pred, sample_weight)  # (builds itself on first use)

    @property
    def metrics(self) -> list:
        """Keras's order: the loss tracker, the ``compile_metrics`` container (when compile() named metrics),
        then the per-output loss trackers of a multi-output model (once the loss is built)."""
        if self._metrics is None:
            metrics = [self.loss_tracker]
            if self.compiled_metrics.has_metrics:
                metrics.append(self.compiled_metrics)
            loss_built = self.compiled_loss is not None and self.compiled_loss.built
            if loss_built:
                metrics += [t for t in self.compiled_loss.trackers if t is not None]
            if not loss_built and self.compiled_loss is not None:
                return metrics
            self._metrics = metrics
        return self._metrics

    # ------------------------------------------------------------------ preparing a run
    def _prepare(self, adapter: Any, with_targets: bool = True) -> None:
        """Move the model, build it on the first batch, check data against model/loss, build the optimizer."""
        model = self.model
        model.to(self.device)
        x, y, sw = unpack_x_y_sample_weight(adapter.first_batch())
        custom_step = not step.is_default(model, "train_step")
        if custom_step and not model.built and all(getattr(m, "built", True) for m in model.modules()
                                                   if m is not model):
            model.built = True  # e.g. a GAN of two built models: its train_step, not its call, uses the data
        if not custom_step or not model.built:
            with torch.no_grad(), torch.compiler.set_stance("force_eager"):  # a look at the data: no graph for it
                y_pred = model(x, training=False)
            model._clear_losses()  # what layers added in this look at the data is no step's loss
            if with_targets and y is not None and self.compiled_loss is not None and not custom_step:
                if not self.compiled_loss.built:
                    self.compiled_loss.build(model, y, y_pred)
                label_range = self._label_ranges(adapter)
                for name, loss, _, t, p in self.compiled_loss.pairs(y, y_pred):
                    rng = label_range.get(name) if label_range else None
                    with warnings.catch_warnings():
                        if self._warned_logits:
                            warnings.simplefilter("ignore")
                        preflight.check_pair(name, loss, t, p, rng)
                self._warned_logits = True
                with torch.no_grad():
                    self.compiled_loss(y, y_pred, sw, track=False)
                    if not self.compiled_metrics.built:
                        self.compiled_metrics.build(model, y, y_pred, self.compiled_loss)
        self.strategy.prepare_model(self)  # after the build, before the optimizer: it must see wrapped weights
        if not self.optimizer.built and any(p.requires_grad for p in model.parameters()):
            self.optimizer.build([p for p in model.parameters() if p.requires_grad])
        self._reg_layers = None
        self._plan_jit()
        self._prepared = True

    def _plan_jit(self) -> None:
        """With ``jit_compile=True``, compile the model once it is built, where ``jit.plan`` says it pays."""
        if self.jit_compile and not self._jit_planned:
            self._jit_planned = True
            if jit.plan(self.model, self.device):
                self.jit = jit.CompiledModel(self.model, self.device, whole_step=not self.strategy.wraps_model)

    @property
    def strategy(self) -> strategy_module.Strategy:
        """How runs are spread over processes (``training/strategy.py``; one process by default)."""
        return strategy_module.current()

    def step_function(self, kind: str) -> Any:
        """The ``kind`` step of this run (``"train"``, ``"test"`` or ``"predict"``): built by ``step.build``,
        compiled with ``jit_compile=True``, as the strategy runs it. Called once per run."""
        fn = step.build(self, kind)
        if self.jit is not None:  # (hooks between backward and the update need the step's parts: not one graph)
            fn = self.jit.wrap(fn, kind, not self.after_backward and step.is_default(self.model, f"{kind}_step"))
        return self.strategy.wrap_step(fn, kind)

    def _label_ranges(self, adapter: Any) -> dict | None:
        """Min/max of each integer target over all in-memory data (one host sync per fit)."""
        if not isinstance(adapter, ArrayAdapter) or adapter.y is None or self.compiled_loss is None:
            return None
        names = self.compiled_loss.names or None
        leaves = tree.flatten(adapter.y)
        if names is None or len(names) != len(leaves):
            return None
        ordered = [adapter.y[n] for n in names] if isinstance(adapter.y, dict) else leaves
        stats = torch.stack([torch.stack([t.min().float(), t.max().float()]) for t in ordered]).tolist()
        return {n: (lo, hi) for n, (lo, hi) in zip(names, stats, strict=True)}

    def _adapter(self, x: Any, y: Any, sample_weight: Any, batch_size: Any, shuffle: Any = False,
                 class_weight: Any = None, steps: Any = None, training: bool = False,
                 check_finite: bool = True) -> Any:
        return self.strategy.adapter(self, x, y, sample_weight, batch_size, shuffle, class_weight, steps, training,
                                     check_finite)

    # ------------------------------------------------------------------ fit
    def fit(self, *args: Any, **kwargs: Any) -> History:
        """``Model.fit``: the epochs, with denormal floats flushed to zero on the CPU (see
        ``lamina.core.device.set_flush_denormal``)."""
        with denormals_flushed(self.device):
            try:
                return self._fit(*args, **kwargs)
            finally:
                self.after_backward = ()  # (train_on_batch and later runs call no hook of this run's callbacks)

    def _fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list[Callback] | None = None, validation_split: float = 0.0,
            validation_data: Any = None, shuffle: Any = True, class_weight: dict | None = None,
            sample_weight: Any = None, initial_epoch: int = 0, steps_per_epoch: int | None = None,
            validation_steps: int | None = None, validation_batch_size: int | None = None,
            validation_freq: int = 1) -> History:
        model, strategy = self.model, self.strategy
        verbose, callbacks = strategy.reporting(resolve_verbose(verbose), callbacks)
        if not isinstance(epochs, int) or epochs < 1 or initial_epoch < 0 or initial_epoch >= epochs:
            raise ValueError(f"fit(): need 0 <= initial_epoch < epochs; received initial_epoch={initial_epoch}, "
                             f"epochs={epochs}.")
        epochs = _capped(epochs, config.max_epochs(), "epochs")
        steps_per_epoch = _capped(steps_per_epoch, config.max_steps_per_epoch(), "steps_per_epoch")
        if validation_split and validation_data is not None:
            validation_split = 0.0  # Keras: validation_data wins
        if validation_split:
            if not _arrays(x):
                raise DataError("validation_split works with in-memory arrays only; pass validation_data instead.")
            (x, y, sample_weight), validation_data = split_arrays(
                _tensors(x), _tensors(y), _tensors(sample_weight), validation_split)
        train = self._adapter(x, y, sample_weight, batch_size, shuffle, class_weight, steps_per_epoch, training=True)
        val = None
        if validation_data is not None:
            vx, vy, vsw = unpack_x_y_sample_weight(validation_data)
            val = self._adapter(vx, vy, vsw, validation_batch_size or (batch_size if _arrays(vx) else None),
                                steps=_capped(validation_steps, config.max_steps_per_epoch(), "validation_steps"))
        self._prepare(train)
        if val is not None:
            self._check_validation(val)

        history = History()
        cbs = CallbackList([*(callbacks or []), history], model=model)
        cbs.set_params({"verbose": verbose, "epochs": epochs, "steps": train.num_batches})
        model.stop_training = False
        model.history = history
        self.after_backward = tuple(cb.on_after_backward for cb in cbs.callbacks if hasattr(cb, "on_after_backward"))
        train_fn = self.step_function("train")
        epoch_logs: dict = {}
        backup = next((cb for cb in cbs.callbacks if isinstance(cb, BackupAndRestore)), None)
        cbs.on_train_begin()
        saved = strategy.restore_backup(backup, self) if backup is not None else None
        start_epoch, resume_steps = (int(saved[1]["epoch"]), int(saved[1]["epoch_steps"])) if saved else (
            initial_epoch, 0)
        if saved:  # said out loud: a resume must be told apart from a fresh start with the same seed
            history.resumed_from = {"epoch": start_epoch, "step": resume_steps, "backup": backup.restored_path}
            Progress(verbose, None).note(
                f"BackupAndRestore: resuming from {backup.restored_path or backup.backup_dir} at epoch "
                f"{start_epoch + 1}/{epochs} after {resume_steps} of its steps (history.resumed_from = "
                f"{{'epoch': {start_epoch}, 'step': {resume_steps}}}).")
        if saved and resume_steps == 0:  # a backup from an epoch's end: the next epoch starts as usual
            state.restore(self, train, cbs.callbacks, *saved)
        after_step = None
        if backup is not None and backup.save_freq != "epoch":
            after_step = lambda steps: backup._step_done(self, train, cbs.callbacks, self._epoch, steps)  # noqa: E731
        for epoch in range(start_epoch, epochs):
            self._epoch = epoch
            if not resume_steps:
                model.reset_metrics()
            cbs.on_epoch_begin(epoch)
            if resume_steps:  # mid-epoch: everything as it stood after that step (on_epoch_begin ran then too)
                state.restore(self, train, cbs.callbacks, *saved)
            progress = Progress(verbose, train.num_batches)
            progress.epoch_header(epoch, epochs)
            progress.start()
            model.train()
            logs, steps_done = self._loop(train.epoch(), train_fn, cbs, "train", progress, resume_steps,
                                          after_step)
            model.eval()
            if steps_done == resume_steps or (getattr(train, "exhausted", False) and (
                    epoch + 1 < epochs or (steps_per_epoch and steps_done < steps_per_epoch))):
                warnings.warn(
                    "Your input ran out of data; interrupting training. A Python generator can be read once: pass "
                    "steps_per_epoch (and make it yield forever), or use a re-iterable DataLoader, to train for "
                    "several epochs.", UserWarning, stacklevel=3)
            elif steps_per_epoch and steps_done < steps_per_epoch and not model.stop_training:
                # one pass is shorter than steps_per_epoch: the epoch ended with the pass, as in Keras (one text
                # for every such epoch, so Python's default filter shows it once)
                warnings.warn(
                    f"Your input ran out of data: the epoch got {steps_done} of steps_per_epoch={steps_per_epoch} "
                    "batches before its pass over the data ended. As in Keras, the epoch ends there and the next "
                    "one starts a new pass. Pass a steps_per_epoch no larger than one pass (or none), or repeat "
                    "the data.", UserWarning, stacklevel=3)
            if steps_done == resume_steps:
                break
            resume_steps = 0
            epoch_logs = strategy.reduce_logs(model, logs)
            if val is not None and (epoch + 1) % validation_freq == 0:
                val_logs = self._run_test(val, cbs, verbose=0)
                epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
            progress.finish(steps_done, epoch_logs)
            cbs.on_epoch_end(epoch, epoch_logs)
            if backup is not None:
                backup._epoch_done(self, train, cbs.callbacks, epoch)
            if model.stop_training or getattr(train, "exhausted", False):
                break
        finalize = getattr(self.optimizer, "finalize_variable_values", None)
        if finalize is not None and getattr(self.optimizer, "use_ema", False):
            finalize(model.trainable_weights)  # Keras: with use_ema, the averaged weights are the result
        cbs.on_train_end(epoch_logs)
        return history

    def _loop(self, batches: Any, step_fn: Any, cbs: CallbackList, kind: str, progress: Progress, start: int = 0,
              after_step: Any = None) -> tuple[Any, int]:
        """Run ``step_fn`` on each batch; batch hooks fire only for callbacks that define them, once per
        ``steps_per_execution`` steps (begin at the first step of each execution, end at its last). ``start``:
        steps of this epoch done before a resume; ``after_step(steps done)`` runs after each step's hooks."""
        begin, end = getattr(cbs, f"on_{kind}_batch_begin"), getattr(cbs, f"on_{kind}_batch_end")
        want_begin, want_end = cbs.wants(f"on_{kind}_batch_begin"), cbs.wants(f"on_{kind}_batch_end")
        model, every = self.model, self.steps_per_execution
        # Batch logs cost a host sync; callbacks that only count batches (BackupAndRestore) say they need none.
        batch_logs = to_floats if want_end and cbs.reads_batch_logs(f"on_{kind}_batch_end") else _no_logs
        logs: Any = {}
        n = start
        shown = bool(progress.verbose)  # a silent progress bar is not even told of the steps
        for i, batch in enumerate(batches, start):
            if want_begin and i % every == 0:
                begin(i)
            logs = step_fn(batch)
            if type(logs) is dict:  # a custom step's logs: nested dicts (a metric container's result) flattened
                logs = step.flat_logs(logs)
            n = i + 1
            if want_end and n % every == 0:
                end(i, batch_logs(logs))
            if shown:
                progress.update(n, logs, step.batch_size_of(batch[0]))
            if after_step is not None:
                after_step(n)
            if kind == "train" and model.stop_training:
                break
        if want_end and n % every and n > start:  # the last, shorter execution
            end(n - 1, batch_logs(logs))
        return logs, n

    def _check_validation(self, val: Any) -> None:
        vx, vy, _ = unpack_x_y_sample_weight(val.first_batch())
        with torch.no_grad():
            pred = self.model(vx, training=False)
        if vy is not None and self.compiled_loss is not None:
            for name, loss, _, t, p in self.compiled_loss.pairs(vy, pred):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        preflight.check_pair(name, loss, t, p)
                    except preflight.TargetError as error:
                        raise preflight.TargetError(f"In validation_data: {error}") from None

    # ------------------------------------------------------------------ evaluate
    def _run_test(self, adapter: Any, cbs: CallbackList, verbose: int) -> dict[str, float]:
        model = self.model
        model.reset_metrics()
        model.eval()
        test_fn = self.step_function("test")
        cbs.on_test_begin()
        progress = Progress(verbose, adapter.num_batches)
        progress.start()
        with torch.no_grad():  # as Keras: test steps (the default one or a user's) run without gradients
            logs, n = self._loop(adapter.epoch(), test_fn, cbs, "test", progress)
        result = self.strategy.reduce_logs(model, logs)
        progress.finish(n, result)
        cbs.on_test_end(result)
        return result

    def evaluate(self, *args: Any, **kwargs: Any) -> Any:
        """``Model.evaluate`` (denormals flushed to zero on the CPU, as in ``fit``)."""
        with denormals_flushed(self.device):
            return self._evaluate(*args, **kwargs)

    def _evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: list | None = None,
                 return_dict: bool = False) -> Any:
        steps = _capped(steps, config.max_steps_per_epoch(), "steps", stacklevel=4)
        verbose, callbacks = self.strategy.reporting(resolve_verbose(verbose), callbacks)
        # No whole-input NaN/Inf scan (as Keras, and as predict): a NaN in the data shows as a NaN loss. fit
        # still refuses such data before training, where a NaN would silently ruin the weights.
        adapter = self._adapter(x, y, sample_weight, batch_size, steps=steps, check_finite=False)
        if not self._prepared or not self.optimizer.built:
            self._prepare(adapter)
        else:
            move_to(self.model, self.device)
        cbs = CallbackList(callbacks, model=self.model)
        cbs.set_params({"verbose": verbose, "epochs": 1, "steps": adapter.num_batches})
        logs = self._run_test(adapter, cbs, verbose)
        if return_dict:
            return logs
        values = step.in_keras_order(self.model.metrics, logs)
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ predict
    @classmethod
    def for_predict(cls, model: Any) -> Trainer:
        """The trainer ``predict`` uses for a model that was never compiled (kept on the model, its device the
        current default)."""
        trainer = model.__dict__.get("_predictor")
        if trainer is None:
            trainer = model.__dict__["_predictor"] = cls(model)
        trainer.device = get_device()
        return trainer

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: list | None = None) -> Any:
        """``Model.predict``: the outputs as NumPy arrays (denormals flushed to zero on the CPU, as in ``fit``)."""
        strategy = self.strategy
        verbose, callbacks = strategy.reporting(resolve_verbose(verbose), callbacks)
        adapter = strategy.predict_adapter(self, x, batch_size, steps)
        with denormals_flushed(self.device):
            outputs = self._predict(adapter, verbose, callbacks)
        return strategy.gather_predictions(adapter, outputs)

    def _predict(self, adapter: Any, verbose: int, callbacks: Any) -> Any:
        model = self.model
        move_to(model, self.device)
        model.eval()
        if model.built:
            self._plan_jit()
        cbs = CallbackList(callbacks, model=model)
        # lamina.config.set_max_steps_per_epoch caps predict here, on every road to it (Model.predict, distributed).
        total = _capped(adapter.num_batches, limit := config.max_steps_per_epoch(), "steps", stacklevel=5)
        cbs.set_params({"verbose": verbose, "epochs": 1, "steps": total})
        cbs.on_predict_begin()
        progress = Progress(verbose, total)
        progress.start()
        outputs = _Outputs(getattr(adapter, "num_samples", None))
        n = 0
        want_begin, want_end = cbs.wants("on_predict_batch_begin"), cbs.wants("on_predict_batch_end")
        predict_fn, shown = self.step_function("predict"), bool(progress.verbose)
        with torch.no_grad():  # as Keras: predict steps run without gradients
            for i, batch in enumerate(adapter.epoch()):
                if want_begin:
                    cbs.on_predict_batch_begin(i)
                out = predict_fn(batch)
                outputs.add(out)
                n = i + 1
                if want_end:
                    cbs.on_predict_batch_end(i, {"outputs": out})
                if shown:
                    progress.update(n, None, step.batch_size_of(batch[0]))
                if limit and n >= limit:
                    break
        progress.finish(n, {})
        cbs.on_predict_end()
        if n == 0:
            raise DataError("predict() received no batches.")
        return outputs.result()

    # ------------------------------------------------------------------ one batch
    def run_on_batch(self, kind: str, x: Any, y: Any = None, sample_weight: Any = None,
                     class_weight: Any = None) -> Any:
        """``train_on_batch``/``test_on_batch``: the run's ``kind`` step on ``(x, y, sample_weight)`` as one batch,
        with the metrics reset first; returns the step's logs."""
        return self.run_step(kind, x, y, sample_weight, class_weight, reset_metrics=True)

    def run_step(self, kind: str, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                 reset_metrics: bool = False) -> Any:
        """One ``kind`` step (``"train"``, ``"test"``, ``"predict"``) on ``(x, y, sample_weight)`` as one batch,
        as ``fit``/``evaluate``/``predict`` run it (``model.make_train_function()``'s function runs this)."""
        model = self.model
        n = int(tree.flatten(x)[0].shape[0])
        adapter = ArrayAdapter(x, y, sample_weight, batch_size=max(n, 1), device=self.device,
                               class_weight=class_weight, one_batch=True)
        if not self._prepared or (kind == "train" and not self.optimizer.built):
            self._prepare(adapter, with_targets=kind != "predict")
        fn = self.step_function(kind)
        if reset_metrics:
            model.reset_metrics()
        if kind != "train":
            with torch.no_grad():  # as evaluate and predict
                return fn(adapter.first_batch())
        model.train()
        try:
            return fn(adapter.first_batch())
        finally:
            model.eval()


class _Outputs:
    """Collects predict's batches and returns them as NumPy arrays (bfloat16, which NumPy lacks, as float32).

    With the number of rows known, the result is allocated once on the host. A batch computed there is copied
    into it at once: a step may return one buffer that it refills for every batch (Keras converts each batch to
    NumPy before the next), and a copied batch is freed at once. Batches on an accelerator are copied on the
    device into a staging buffer of about ``flush_bytes``, which goes to the host when full, so that no batch
    waits for a device-to-host copy. Peak memory is the result plus that buffer. Without a row count, each batch
    is copied to the host and the copies are concatenated at the end."""

    def __init__(self, rows: int | None, flush_bytes: int = 16 << 20):
        self.rows, self.filled = rows, 0
        self.flush_bytes = flush_bytes
        self.structure: Any = None
        self.arrays: list[torch.Tensor] = []  # the result, on the host
        self.staging: list[torch.Tensor] = []  # accelerator batches waiting for one copy to the host
        self.staged = 0
        self.pieces: list[list[torch.Tensor]] = []  # rows unknown: host copies of every batch

    def add(self, out: Any) -> None:
        leaves = [out] if type(out) is torch.Tensor else tree.flatten(out)
        if self.structure is None:
            self.structure = out
            if self.rows is not None:
                self.arrays = [torch.empty((self.rows, *t.shape[1:]), dtype=_host_dtype(t)) for t in leaves]
        if not self.arrays:
            self.pieces.append([t.detach().to("cpu", copy=True) for t in leaves])
            return
        n = leaves[0].shape[0]
        if not self.staged_on(leaves[0]):
            stop = self.filled + n
            for array, t in zip(self.arrays, leaves, strict=True):
                array[self.filled:stop].copy_(t)
            self.filled = stop
            return
        if not self.staging:
            row_bytes = sum(t.numel() // max(t.shape[0], 1) * t.element_size() for t in leaves if t.ndim)
            rows = max(n, self.flush_bytes // max(row_bytes, 1))
            self.staging = [torch.empty((rows, *t.shape[1:]), dtype=t.dtype, device=t.device) for t in leaves]
        if self.staged + n > self.staging[0].shape[0]:
            self._flush()
        if n > self.staging[0].shape[0]:  # a batch bigger than the buffer (a last, odd one): straight over
            for array, t in zip(self.arrays, leaves, strict=True):
                array[self.filled:self.filled + n].copy_(t)
            self.filled += n
            return
        for buffer, t in zip(self.staging, leaves, strict=True):
            buffer[self.staged:self.staged + n].copy_(t)  # on the device, asynchronous
        self.staged += n

    @staticmethod
    def staged_on(t: torch.Tensor) -> bool:
        """Whether ``t``'s batches go through the staging buffer (those on an accelerator)."""
        return t.device.type != "cpu"

    def _flush(self) -> None:
        stop = self.filled + self.staged
        for array, buffer in zip(self.arrays, self.staging, strict=True):
            array[self.filled:stop].copy_(buffer[:self.staged])
        self.filled, self.staged = stop, 0

    def result(self) -> Any:
        if self.arrays:
            if self.staged:
                self._flush()
            joined = [a[:self.filled].numpy() for a in self.arrays]
        else:
            joined = [torch.cat([batch[i] for batch in self.pieces]).to(_host_dtype(self.pieces[0][i])).numpy()
                      for i in range(len(self.pieces[0]))]
        return tree.pack_as(self.structure, joined)


def _host_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float32 if t.dtype == torch.bfloat16 else t.dtype


def move_to(model: Any, device: torch.device) -> None:
    """``model.to(device)`` unless its first weight is there already (walking every module costs a few hundred
    microseconds: too much for each call of ``evaluate``/``predict`` on a small set)."""
    first = next(model.parameters(), None)
    if first is None or first.device.type != device.type or (
            device.index is not None and first.device.index != device.index):
        model.to(device)


def _no_logs(logs: Any) -> dict:
    return {}


def _arrays(x: Any) -> bool:
    return all(isinstance(v, (np.ndarray, torch.Tensor, list)) for v in tree.flatten(x)) and x is not None


def _tensors(x: Any) -> Any:
    if x is None:
        return None
    def convert(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            return v
        array = np.asarray(v)
        return array if array.dtype.kind in "USO" else torch.from_numpy(array)  # strings stay NumPy (host layers)

    return tree.map_structure(convert, x)


def _capped(value: int | None, limit: int | None, what: str, stacklevel: int = 4) -> int | None:
    """Keras's debugging caps (``lamina.config.set_max_epochs`` / ``set_max_steps_per_epoch``): ``limit``
    replaces ``value`` when ``value`` is larger or unset, with a warning."""
    if limit and (not value or limit < value):
        warnings.warn(f"Limiting {what} to {limit} (lamina.config's max_epochs/max_steps_per_epoch cap).",
                      UserWarning, stacklevel=stacklevel + 1)
        return limit
    return value
