"""The Keras-style console progress bar, and the one place where logs are pulled to the host.

On a terminal (verbose=1) the line is redrawn at most every ``interval`` seconds; elsewhere (a log file, CI)
it prints plain lines: one per epoch, plus at most one every ``log_interval`` seconds in long epochs.
The first step's time (compilation, warm-up) is kept out of the ETA and the per-step time.
With ``lamina.config.disable_interactive_logging()`` the plain lines go to Python's ``logging`` instead
(logger ``"lamina"``, level INFO), as Keras then sends its progress to absl's logging.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

import torch

from lamina.core import config

BAR_WIDTH = 20
LOGGER = logging.getLogger("lamina")


def to_floats(logs: Mapping | None) -> dict[str, float]:
    """Logs as Python floats, with a single device-to-host transfer for all tensor values."""
    if not logs:
        return {}
    items = list(logs.items())
    # Host values and CPU tensors are read directly; accelerator tensors come over in one transfer.
    tensors = [(k, v) for k, v in items if isinstance(v, torch.Tensor) and v.device.type != "cpu"]
    values = {k: float(v.detach() if isinstance(v, torch.Tensor) else v) for k, v in items
              if v is not None and not (isinstance(v, torch.Tensor) and v.device.type != "cpu")}
    if tensors:
        stacked = torch.stack([v.detach().reshape(()).float() for _, v in tensors]).tolist()
        values.update(zip((k for k, _ in tensors), stacked, strict=True))
    return {k: values[k] for k, _ in items if k in values}


def format_value(value: float) -> str:
    return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.4e}"


def format_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(seconds)}s"


def format_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


class Progress:
    """Reports one loop (an epoch of fit, or evaluate/predict) to a text stream."""

    def __init__(self, verbose: int, total_steps: int | None, stream: TextIO | None = None,
                 interval: float = 0.05, log_interval: float = 30.0, unit: str = "step"):
        self.verbose = verbose
        self.total = total_steps
        self.stream = stream or sys.stdout
        self.interactive = config.is_interactive_logging_enabled()  # False: plain lines to `logging`
        self.is_tty = self.interactive and bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.log_interval = log_interval
        self.unit = unit
        self._start = self._first_done = self._last_draw = 0.0
        self._samples = 0
        self._last_len = 0

    def start(self) -> None:
        self._start = self._last_draw = time.perf_counter()
        self._first_done = 0.0
        self._samples = 0

    def note(self, text: str) -> None:
        """A line of its own (such as where a resumed run resumed), written where the bar goes when verbose, and
        to the ``"lamina"`` logger (level INFO) otherwise."""
        if self.verbose:
            self._write(text + "\n")
        else:
            LOGGER.info(text)

    def epoch_header(self, epoch: int, epochs: int) -> None:
        if self.verbose:
            self._write(f"Epoch {epoch + 1}/{epochs}\n")

    def update(self, step: int, logs: Mapping | None, batch_size: int = 0) -> None:
        """Called after every step; draws only when the refresh interval has passed."""
        now = time.perf_counter()
        self._samples += batch_size
        if step == 1:
            self._first_done = now
        if self.verbose != 1:
            return
        wait = self.interval if self.is_tty else self.log_interval
        if now - self._last_draw < wait:
            return
        self._last_draw = now
        self._draw(step, to_floats(logs), now, final=False)

    def finish(self, step: int, logs: dict[str, float]) -> None:
        """The final line of the loop, with total time, per-step time and the final logs."""
        if not self.verbose:
            return
        self._draw(step, logs, time.perf_counter(), final=True)

    def _per_step(self, step: int, now: float) -> float:
        if step > 1 and self._first_done:
            return (now - self._first_done) / (step - 1)  # warm-up (step 1) excluded
        return (now - self._start) / max(step, 1)

    def _draw(self, step: int, logs: dict[str, float], now: float, final: bool) -> None:
        per_step = self._per_step(step, now)
        elapsed = now - self._start
        rate = self._samples / elapsed if elapsed > 0 and self._samples else 0.0
        metrics = "".join(f" - {k}: {format_value(v)}" for k, v in sorted(logs.items()))
        speed = f" - {rate:,.0f} samples/s" if rate else ""
        counter = f"{step}/{self.total}" if self.total else f"{step}"
        if self.verbose == 2 or not self.is_tty:
            if final:
                line = f"{counter} - {format_time(elapsed)} - {format_per_step(per_step)}{speed}{metrics}"
            else:
                eta = f" - ETA: {format_time(per_step * (self.total - step))}" if self.total else ""
                line = f"{counter}{eta}{metrics}"
            self._write(line + "\n")
            return
        if self.total:
            done = int(BAR_WIDTH * min(step / self.total, 1.0))
            bar = "━" * done + "\x1b[2m" + "━" * (BAR_WIDTH - done) + "\x1b[0m" if done < BAR_WIDTH else "━" * BAR_WIDTH
            counter = f"{step:>{len(str(self.total))}}/{self.total} {bar}"
        shown_time = elapsed if final or not self.total else per_step * (self.total - step)
        line = f"{counter} {format_time(shown_time)} {format_per_step(per_step)}{speed}{metrics}"
        pad = max(self._last_len - len(line), 0)
        self._last_len = len(line)
        self._write("\r" + line + " " * pad + ("\n" if final else ""))

    def _write(self, text: str) -> None:
        if not self.interactive:
            LOGGER.info(text.strip("\r\n"))
            return
        self.stream.write(text)
        self.stream.flush()


def resolve_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2; received {verbose!r}.")
    return int(verbose)

