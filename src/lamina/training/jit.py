"""``compile(jit_compile=True)``: the model's forward pass (and with it the backward graph) through
``torch.compile``, with the batch axis dynamic so the last, smaller batch reuses the compiled graph.

What is compiled is the model's own call: every step that calls the model (the default train, test and predict
steps, and a user's ``train_step``) runs it compiled; loss, optimizer (fused/foreach kernels already) and metrics
stay eager. If compilation fails, training goes on eagerly after one warning saying why.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

from lamina.core import tree

# torch.compile's backend: inductor generates fused C++/Triton kernels. (Tests swap in lighter backends.)
BACKEND: Any = "inductor"


def resolve(jit_compile: Any, run_eagerly: bool) -> bool:
    """Keras's meaning on the torch backend: ``"auto"`` runs eagerly, ``True`` compiles, ``run_eagerly`` wins."""
    if jit_compile not in (True, False, "auto"):
        raise ValueError(f"jit_compile must be True, False or 'auto'; received {jit_compile!r}.")
    return jit_compile is True and not run_eagerly


class CompiledModel:
    """Owns the compiled state of one model: compiles it once, marks batch axes dynamic, falls back to eager."""

    def __init__(self, model: Any, device: torch.device):
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

    def _fall_back(self, error: BaseException) -> None:
        self.model._compiled_call_impl = None
        self.active = False
        warnings.warn(
            f"jit_compile=True: torch.compile could not compile model '{self.model.name}' "
            f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); running eagerly "
            "instead. Pass jit_compile=False to silence this warning.", UserWarning, stacklevel=4)

    def run(self, step_fn: Callable[[Any], Any], batch: Any, kind: str) -> Any:
        """``step_fn(batch)`` with the batch axis of every input marked dynamic (no recompilation for the last,
        partial batch); the first step of each kind falls back to eager if compilation fails."""
        if not self.active:
            return step_fn(batch)
        x = batch[0] if isinstance(batch, tuple) else batch
        for t in tree.flatten(x):
            if isinstance(t, torch.Tensor) and t.ndim:
                torch._dynamo.maybe_mark_dynamic(t, 0)
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
