"""``Progbar``: the text progress bar of ``keras.utils``.

>>> bar = Progbar(2, verbose=2)
>>> bar.update(1, [("loss", 1.0)])
>>> bar.update(2, [("loss", 0.5)])  # the last step shows its own value, as in Keras
2/2 - ...s - ...s/step - loss: 0.5000
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


class Progbar:
    """A text progress bar, as ``keras.utils.Progbar``: ``update(current, values)`` or ``add(n, values)`` with
    ``values`` a list of ``(name, number)``; numbers are averaged over the steps since the start (weighted by the
    steps each covers), except ``stateful_metrics`` (shown as given). ``verbose=1`` redraws one line, ``verbose=2``
    prints one line at the end, ``verbose=0`` prints nothing. ``target=None`` when the total is unknown."""

    def __init__(self, target: int | None, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stateful_metrics: Iterable[str] | None = None, stateless_metrics: Iterable[str] | None = None,
                 unit_name: str = "step"):
        self.target, self.width, self.verbose, self.interval = target, width, verbose, interval
        self.unit_name = unit_name
        self.stateful_metrics = set(stateful_metrics or ())
        self.stateless_metrics = set(stateless_metrics or ())
        self._values: dict[str, list[float]] = {}
        self._seen_so_far = 0
        self._start = time.time()
        self._last_update = 0.0
        self._prev_width = 0

    def update(self, current: int, values: Iterable[tuple[str, Any]] | None = None,
               finalize: bool | None = None) -> None:
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            number = float(np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value))
            if name in self.stateful_metrics or finalize:
                self._values[name] = [number, 1]
            else:
                steps = max(current - self._seen_so_far, 1)
                total = self._values.setdefault(name, [0.0, 0])
                total[0] += number * steps
                total[1] += steps
        self._seen_so_far = current
        now = time.time()
        if self.verbose == 1 and (finalize or now - self._last_update >= self.interval):
            self._write(self._line(current, now, finalize, bar=True), finalize)
        elif self.verbose == 2 and finalize:
            self._write(self._line(current, now, finalize, bar=False), finalize)
        self._last_update = now

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        self.update(self._seen_so_far + n, values)

    def _line(self, current: int, now: float, finalize: bool, bar: bool) -> str:
        elapsed = now - self._start
        per_unit = elapsed / current if current else 0.0
        if self.target is None:
            head = f"{current:7d}/Unknown"
        elif bar:
            digits = len(str(self.target))
            filled = min(int(self.width * current / self.target), self.width) if self.target else self.width
            head = (f"\x1b[1m{current:{digits}d}/{self.target}\x1b[0m \x1b[32m{'━' * filled}\x1b[0m"
                    f"\x1b[37m{'━' * (self.width - filled)}\x1b[0m")
        else:
            head = f"{current}/{self.target}"
        seconds = elapsed if finalize or self.target is None else per_unit * (self.target - current)
        if per_unit >= 1:
            rate = f"{per_unit:.0f}s/{self.unit_name}"
        elif per_unit >= 1e-3:
            rate = f"{per_unit * 1e3:.0f}ms/{self.unit_name}"
        else:
            rate = f"{per_unit * 1e6:.0f}us/{self.unit_name}"
        parts = [head, f"\x1b[1m{seconds:.0f}s\x1b[0m {rate}" if bar else f"{seconds:.0f}s - {rate}"]
        line = " ".join(parts) if bar else " - ".join(parts)
        for name, (total, count) in self._values.items():
            mean = total / max(count, 1)
            line += f" - {name}: " + (f"{mean:.4f}" if abs(mean) > 1e-3 else f"{mean:.4e}")
        return line

    def _write(self, line: str, finalize: bool) -> None:
        padded = line + " " * max(self._prev_width - len(line), 0)
        self._prev_width = len(line)
        sys.stdout.write(("\r" + padded if self.verbose == 1 else padded) + ("\n" if finalize else ""))
        sys.stdout.flush()
