"""Choice of device: CUDA when present, else CPU, overridable.

>>> import torch
>>> set_device("cpu")
>>> get_device()
device(type='cpu')
"""

from __future__ import annotations

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
