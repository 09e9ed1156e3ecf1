"""The one dtype rule of every weights loader (``load_weights``, ``load_model``, the Keras importer): a file tensor
whose dtype differs from its weight's is cast when both are floating (or both are not), with one warning, as
Keras's ``load_weights`` casts; it is refused when one is floating and the other is not."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import numpy as np
import torch


def dtype_change(file_dtype: Any, weight_dtype: Any) -> str | None:
    """The one rule of every weights loader (``load_weights``, ``load_model``, the Keras importer) for a tensor
    whose dtype differs from the weight it goes into: ``None`` when they agree; ``"cast"`` when both are floating
    (or both are not): the value is cast to the weight's dtype, as Keras's ``load_weights`` casts, and the loader
    warns (``warn_casts``); ``"refuse"`` when one is floating and the other is not (integers or booleans): such a
    cast would change what the values mean, so the loader refuses it (Keras would cast it silently).

    >>> dtype_change(torch.float64, torch.float32), dtype_change(torch.int64, torch.float32)
    ('cast', 'refuse')
    """
    if str(file_dtype).removeprefix("torch.") == str(weight_dtype).removeprefix("torch."):
        return None
    return "cast" if _floating(file_dtype) == _floating(weight_dtype) else "refuse"


def _floating(dtype: Any) -> bool:
    return dtype.is_floating_point if isinstance(dtype, torch.dtype) else np.dtype(dtype).kind == "f"


def warn_casts(where: str, casts: list[str]) -> None:
    """One warning for the weights ``where`` cast to their model's dtype (``casts``: ``"name (file X, model Y)"``),
    pointing at the user's line that loaded them (the first caller outside lamina)."""
    if not casts:
        return
    frame, level = sys._getframe(0), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("lamina."):
        frame, level = frame.f_back, level + 1
    shown = ", ".join(casts[:5]) + (f" and {len(casts) - 5} more" if len(casts) > 5 else "")
    warnings.warn(f"{where}: cast {len(casts)} weight(s) to the model's dtype, as Keras's load_weights does: "
                  f"{shown}. Precision a narrower dtype lacks is lost; build the model with the file's dtype to "
                  "load the values exactly.", UserWarning, stacklevel=level)
