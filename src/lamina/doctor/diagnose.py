"""``model.diagnose(x, y)``: a few seconds of checks before a long fit, with a plain report.

The checks (``checks.py``): input statistics (NaN, unscaled 0-255 pixels, constant features), label balance, the
logits/probabilities pairing of the output and the loss, the initial loss against its expected value (ln(C) for C
classes), gradients reaching every layer (and frozen layers), dead or saturated activations, whether the model
can overfit one small batch, the learning rate against a tenth of it, a shuffled-label control, and the input
pipeline's share of the step time. Everything that trains works on copies of the model and its optimizer, with
fixed seeds; the model, its optimizer and the random streams are left as they were.

>>> import numpy as np, lamina
>>> model = lamina.Sequential([lamina.Input((8,)), lamina.layers.Dense(16, activation="relu"),
...                            lamina.layers.Dense(3, activation="softmax")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
>>> x = np.random.randint(0, 256, (256, 8)).astype("float32")  # pixels, not divided by 255
>>> report = model.diagnose(x, (x[:, 0] // 86).astype("int64"))
>>> report.ok, "unscaled_inputs" in report.codes
(False, True)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import torch

from lamina.data.adapters import make_adapter, unpack_x_y_sample_weight
from lamina.doctor import checks
from lamina.doctor._sandbox import require_compiled, saved_rng
from lamina.doctor.checks import ERROR, INFO, WARNING, Finding
from lamina.training import preflight

ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


@dataclass
class Diagnosis:
    """What ``diagnose`` found: ``findings`` is a list of ``Finding(severity, code, message)``, errors first;
    ``ok`` is True when none is an error or a warning. ``print(report)`` shows it as text."""

    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not any(f.severity in (ERROR, WARNING) for f in self.findings)

    @property
    def codes(self) -> list[str]:
        """The codes of the errors and warnings."""
        return [f.code for f in self.findings if f.severity != INFO]

    def __str__(self) -> str:
        problems = sum(f.severity != INFO for f in self.findings)
        head = (f"Diagnosis: {'nothing alarming' if self.ok else f'{problems} problem(s)'} "
                f"({len(self.findings)} findings, {self.seconds:.1f} s)")
        width = max((len(f.code) for f in self.findings), default=0)
        lines = [f"  {f.severity.upper():<7} {f.code:<{width}}  {f.message}" for f in self.findings]
        return "\n".join([head, *lines])


def _sample(x: Any, y: Any, rows: int, device: torch.device, seed: int) -> tuple[Any, Any]:
    """``rows`` random rows of the data as device tensors (what fit would feed the model)."""
    torch.manual_seed(seed)
    adapter = make_adapter(x, y, batch_size=rows, shuffle=True, device=device, check_finite=False)
    sx, sy, _ = unpack_x_y_sample_weight(adapter.first_batch())
    return sx, sy


def diagnose(model: Any, x: Any, y: Any = None, *, batch_size: int = 32, sample_size: int = 512, seed: int = 0,
             steps: int = 60) -> Diagnosis:
    """Run the checks on ``model`` (compiled) with data ``x``/``y`` (arrays, tensors, or what ``fit`` takes);
    ``sample_size`` rows are drawn (with ``seed``) for the checks, ``batch_size`` is the batch of the short
    trainings (``steps`` each). Returns a ``Diagnosis``; ``print`` it. A model not built yet is built on the
    sample, as ``fit`` would; nothing else about it changes (the checks that train use copies)."""
    trainer = require_compiled(model, "diagnose")
    start = time.perf_counter()
    findings: list[Finding] = []
    with saved_rng():
        was_training = model.training
        model.to(trainer.device)
        sx, sy = _sample(x, y, sample_size, trainer.device, seed)
        if not model.built:
            with torch.no_grad():
                model(sx, training=False)
        with torch.no_grad():
            y_pred = model(sx, training=False)
        model.train(was_training)
        compiled = trainer.compiled_loss
        loss = None
        if compiled is not None:
            if not compiled.built:
                compiled.build(model, sy, y_pred)
            if len(compiled.names) == 1:
                loss = compiled.losses[0]
        kind = preflight._kind(loss) if loss is not None else "other"
        sample = checks.Sample(model=model, x=x, y=y if y is not None else sy, x_sample=sx, y_sample=sy,
                               batch_size=batch_size, y_pred=y_pred, loss=loss, kind=kind, seed=seed)
        findings += checks.check_inputs(sample)
        findings += checks.check_labels(sample)
        probe = sample.probe()
        findings += checks.check_output_and_initial_loss(sample, probe)
        findings += checks.check_gradients(sample, probe)
        findings += checks.check_activations(sample, probe)
        del probe
        findings += checks.check_overfit_one_batch(sample)
        findings += checks.check_training_runs(sample, steps=steps)
        findings += checks.check_step_time(sample)
    findings.sort(key=lambda f: ORDER[f.severity])  # (stable: checks keep their order within a severity)
    return Diagnosis(findings=findings, seconds=time.perf_counter() - start)
