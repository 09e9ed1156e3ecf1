"""Choice of device: CUDA when present, else CPU, overridable.

>>> import torch
>>> set_device("cpu")
>>> get_device()
device(type='cpu')
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

_CHOSEN: torch.device | None = None


def set_device(device: str | torch.device | None) -> None:
    """Choose where models train and predict (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; None = auto)."""
    global _CHOSEN
    if device is None:
        _CHOSEN = None
        return
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"set_device({str(device)!r}): CUDA is not available on this machine; use 'cpu'.")
    _CHOSEN = dev


def get_device() -> torch.device:
    """The device lamina uses: the one chosen with set_device, else CUDA if available, else CPU."""
    if _CHOSEN is not None:
        return _CHOSEN
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


# ------------------------------------------------------------------------------------------ denormal floats
_FLUSH_DENORMAL = True


def set_flush_denormal(enabled: bool) -> None:
    """Whether ``fit``/``evaluate``/``predict`` on the CPU flush denormal floats to zero (default: True).

    Values below ~1.2e-38 (float32) are "denormal", and x86 CPUs compute with them tens of times slower. Training
    makes them: Adam's first moment decays by 0.9 a step wherever a gradient is zero (a dead ReLU unit), and
    after a few hundred steps the optimizer step runs several times slower. TensorFlow flushes them to zero by
    default, and so does lamina while it trains or predicts on the CPU (PyTorch's ``torch.set_flush_denormal``),
    restoring the previous mode afterwards. Results differ from exact IEEE arithmetic only below 1.2e-38.

    >>> set_flush_denormal(False)  # exact IEEE denormals in fit/evaluate/predict
    >>> set_flush_denormal(True)
    """
    global _FLUSH_DENORMAL
    if not isinstance(enabled, bool):
        raise TypeError(f"set_flush_denormal expects True or False; received {enabled!r}.")
    _FLUSH_DENORMAL = enabled


def flushing_denormals() -> bool:
    """Whether this thread currently flushes denormal floats to zero (probed with one denormal product)."""
    return float(torch.full((1,), 1e-39, dtype=torch.float32).mul_(1.0)) == 0.0


@contextlib.contextmanager
def denormals_flushed(device: torch.device) -> Iterator[None]:
    """Inside: denormals flushed to zero when ``device`` is the CPU and ``set_flush_denormal`` allows it; the
    previous mode afterwards."""
    if device.type != "cpu" or not _FLUSH_DENORMAL or flushing_denormals():
        yield
        return
    changed = torch.set_flush_denormal(True)  # False on CPUs without the DAZ/FTZ bits: then nothing changed
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
