"""``compile(jit_compile=True)``: ``torch.compile`` around the steps ``training/step.py`` builds, with the batch
axis dynamic, so the last, smaller batch reuses the compiled graph. ``plan`` chooses, per model, what is compiled:

- On the CPU, a model with a weight of rank above 2 (a convolution kernel) runs eagerly: eager lamina feeds its
  convolutions to oneDNN's channels-last kernels, which inductor's CPU code does not use, so compiling made such
  models slower than eager (bench/README.md: the CNN and ResNet rows). ``jit_compile=True`` never costs speed.
- Otherwise on the CPU, the default training step compiles whole (``CompiledTrainStep``): forward pass, loss,
  gradients (``torch.func.grad``) and the optimizer's update in one graph, called once a step, which removes the
  per-step Python of autograd and ``torch.optim``. Where the optimizer or its options have no traceable update
  (``Optimizer._traceable_update``), the strategy wraps the model (DDP/FSDP own the backward pass), or that
  compilation fails, it is the next case.
- Otherwise what is compiled is the model's own call (``CompiledModel``): every built step that calls the model (a
  user's ``train_step``, the default test and predict steps, training on CUDA with CUDA graphs) runs it compiled;
  loss, optimizer (fused/foreach kernels already) and metrics stay eager. If that fails too, the step runs
  eagerly after one warning saying why.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import torch

from lamina.core import config, tree
from lamina.data.adapters import unpack_x_y_sample_weight
from lamina.training import step

# torch.compile's backend: inductor generates fused C++/Triton kernels. (Tests swap in lighter backends.)
BACKEND: Any = "inductor"


def resolve(jit_compile: Any, run_eagerly: bool) -> bool:
    """Keras's meaning on the torch backend: ``"auto"`` runs eagerly, ``True`` compiles, ``run_eagerly`` wins."""
    if jit_compile not in (True, False, "auto"):
        raise ValueError(f"jit_compile must be True, False or 'auto'; received {jit_compile!r}.")
    return jit_compile is True and not run_eagerly


def plan(model: Any, device: torch.device) -> bool:
    """Whether ``jit_compile=True`` compiles ``model`` on ``device`` (see the module docstring): not on the CPU
    when it has convolution kernels (weights of rank above 2)."""
    return device.type != "cpu" or all(p.ndim <= 2 for p in model.parameters())


class CompiledModel:
    """Owns the compiled state of one model: compiles it once, marks batch axes dynamic, falls back to eager.
    ``wrap`` turns a built step into its compiled form."""

    def __init__(self, model: Any, device: torch.device, whole_step: bool = True):
        self.model = model
        self.active = False
        self._checked: set[str] = set()  # kinds of step ("train", "test", "predict") whose first call ran
        # CUDA graphs where kernel launches dominate; modes are an inductor option
        mode = "reduce-overhead" if device.type == "cuda" and BACKEND == "inductor" else None
        # Every compiled model runs through the same code (Layer.forward), and dynamo keeps a bounded number of
        # graphs per code object: allow one per model and mode for the models of a long-lived process.
        dynamo_config = torch._dynamo.config
        dynamo_config.recompile_limit = max(dynamo_config.recompile_limit, 64)
        dynamo_config.accumulated_recompile_limit = max(dynamo_config.accumulated_recompile_limit, 512)
        try:
            torch.nn.Module.compile(model, backend=BACKEND, mode=mode)
            self.active = True
        except Exception as error:  # noqa: BLE001  (any failure means: run eagerly)
            self._fall_back(error)
        self.whole: CompiledTrainStep | None = None
        # (CUDA keeps the compiled model with its CUDA graphs; a wrapped model's backward pass is DDP/FSDP's)
        self._whole_tried = device.type != "cpu" or not whole_step

    def _fall_back(self, error: BaseException) -> None:
        self.model._compiled_call_impl = None
        self.active = False
        warnings.warn(
            f"jit_compile=True: torch.compile could not compile model '{self.model.name}' "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); running eagerly "
            "instead. Pass jit_compile=False to silence this warning.", UserWarning, stacklevel=4)

    def wrap(self, step_fn: Callable[[Any], Any], kind: str, default: bool) -> Callable[[Any], Any]:
        """The built step ``step_fn`` of ``kind`` run compiled (``default``: it is lamina's default step)."""
        whole = kind == "train" and default

        def compiled_step(batch: Any) -> Any:
            return self.run(step_fn, batch, kind, whole)

        return compiled_step

    def run(self, step_fn: Callable[[Any], Any], batch: Any, kind: str, whole: bool = False) -> Any:
        """``step_fn(batch)`` with the batch axis of every input marked dynamic (no recompilation for the last,
        partial batch); the first step of each kind falls back to eager if compilation fails. ``whole``: the
        default training step, which may run as ``CompiledTrainStep``."""
        if not self.active:
            return step_fn(batch)
        x = batch[0] if isinstance(batch, tuple) else batch
        for t in tree.flatten(x):
            if isinstance(t, torch.Tensor) and t.ndim:
                torch._dynamo.maybe_mark_dynamic(t, 0)
        if whole:
            if not self._whole_tried:
                self._whole_tried = True
                self.whole = CompiledTrainStep.create(self.model)
                if self.whole is not None:
                    try:
                        return self.whole(batch)
                    except _NotCompiled:  # nothing was applied: the compiled model, below, is the next thing to try
                        self.whole = None
            elif self.whole is not None and self.whole.active:
                return self.whole(batch)
        if kind in self._checked:
            return step_fn(batch)
        try:
            out = step_fn(batch)
        except Exception as compiled_error:  # noqa: BLE001
            self.model._compiled_call_impl = None
            self.active = False
            out = step_fn(batch)  # an error of the model itself surfaces here, eagerly, with its own message
            self._fall_back(compiled_error)  # eager works: compilation was the problem
        self._checked.add(kind)
        return out


@contextlib.contextmanager
def _quiet_tracing() -> Iterator[None]:
    """The first compiled step is a trial: where an operation cannot be traced (PyTorch's fused CPU LSTM kernel),
    PyTorch logs the failure as an error with its traceback before raising it; lamina then takes the other path,
    so that log would only alarm."""
    logger = logging.getLogger("torch._subclasses.fake_tensor")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


class _NotCompiled(Exception):
    """The whole training step could not be compiled (raised before any update)."""


class _LossOf(torch.nn.Module):
    """The model's forward pass and loss as one module call, so that ``functional_call`` substitutes the weights
    for both: the loss's weight penalties (regularizers) then differentiate with respect to them too."""

    def __init__(self, model: Any):
        super().__init__()
        self.model = model
        step.takes_training(model)  # (asked now, eagerly: the compiled graph then finds the answer settled)

    def forward(self, x: Any, y: Any, sample_weight: Any) -> tuple[torch.Tensor, Any]:
        model = self.model
        y_pred = model(x, training=True)
        return step.compute_loss(model, x, y, y_pred, sample_weight, True), y_pred


class CompiledTrainStep:
    """The default training step compiled whole: forward pass, loss, gradients and the optimizer's update in one
    graph (``torch.func.grad`` of the loss over the trainable weights, through ``torch.func.functional_call``).

    Outside the graph, each step only updates the loss tracker and the metrics, as the eager step does. The
    learning rate enters as a tensor, so schedules do not recompile. Weights that get no gradient are updated as
    with a zero gradient (the eager step leaves them out).
    """

    def __init__(self, model: Any, slots: Any, update: Callable) -> None:
        self.model = model
        self.optimizer = model.optimizer
        self.loss_module = _LossOf(model)
        names = {id(p): name for name, p in self.loss_module.named_parameters(remove_duplicate=False)}
        self.params = list(self.optimizer._params)
        self.names = [names[id(p)] for p in self.params]
        # Buffers (BatchNormalization's moving statistics) enter as inputs too: the gradient transform lets the
        # step update its inputs in place, not tensors it would otherwise capture from the model.
        buffers = list(self.loss_module.named_buffers(remove_duplicate=False))
        self.buffer_names = [name for name, _ in buffers]
        self.buffers = [b for _, b in buffers]
        self.slots, self.update = slots, update
        self._rate = float(self.optimizer.learning_rate)
        self.lr = torch.tensor(self._rate, dtype=torch.float32, device=self.params[0].device)
        self.compiled = torch.compile(self._step, backend=BACKEND, dynamic=None)
        self.active = True
        self._tried = False

    @classmethod
    def create(cls, model: Any) -> CompiledTrainStep | None:
        """The compiled step for ``model``, or None where it does not apply: weights not all on one CPU device,
        an optimizer without a traceable update."""
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not optimizer.built:
            return None
        params = optimizer._params
        if not params or any(p.device.type != "cpu" for p in params):
            return None
        if any(getattr(m, "activity_regularizer", None) is not None for m in model.modules()):
            return None  # (losses added by the forward pass, collected on the host: the eager step)
        found = optimizer._traceable_update()
        return None if found is None else cls(model, *found)

    def _step(self, weights: list, buffers: list, slots: Any, lr: torch.Tensor, x: Any, y: Any,
              sample_weight: Any) -> Any:
        loss_module, names, buffer_names = self.loss_module, self.names, self.buffer_names

        def loss_of(weights: list, buffers: list) -> tuple[torch.Tensor, Any]:
            tensors = {**dict(zip(buffer_names, buffers, strict=True)), **dict(zip(names, weights, strict=True))}
            loss, y_pred = torch.func.functional_call(loss_module, tensors, (x, y, sample_weight), strict=False)
            return loss, (loss.detach(), tree.map_structure(torch.Tensor.detach, y_pred))

        grads, (loss, y_pred) = torch.func.grad(loss_of, has_aux=True)(weights, buffers)
        with torch.no_grad():
            self.update(weights, list(grads), slots, lr)
        return loss, y_pred

    def __call__(self, batch: Any) -> Any:
        x, y, sample_weight = unpack_x_y_sample_weight(batch)
        for t in tree.flatten((y, sample_weight)):
            if isinstance(t, torch.Tensor) and t.ndim:
                torch._dynamo.maybe_mark_dynamic(t, 0)
        optimizer, model, trainer = self.optimizer, self.model, self.model._trainer
        if trainer._reg_layers is None:
            # Find the layers that may add losses now, eagerly (dropping losses left by calls before this run):
            # the compiled step then only reads that state, and the same state at every step means one graph.
            trainer._regularization_losses()
        added = config.LOSSES_ADDED
        rate = optimizer._current_lr()
        if rate != self._rate:
            self._rate = rate
            self.lr.fill_(rate)
        args = ([p.detach() for p in self.params], self.buffers, self.slots, self.lr, x, y, sample_weight)
        if self._tried:
            loss, y_pred = self.compiled(*args)
        else:  # the first call compiles (before anything runs); a failure leaves the weights as they were
            try:
                with _quiet_tracing():
                    loss, y_pred = self.compiled(*args)
            except Exception as error:  # noqa: BLE001
                raise _NotCompiled from error
            self._tried = True
        defaults = step.default_steps(model)
        defaults.track_loss(loss, x)
        optimizer._after_traced_step()
        if added != config.LOSSES_ADDED:
            # A layer called add_loss: the step took it in, but the loss changes from step to step (each would
            # compile anew), so the next steps take the compiled model's path.
            self.active = False
        return defaults.metrics(x, y, y_pred, sample_weight)
