"""Small tensor helpers shared by losses and metrics (both may import only ``core``).

>>> import torch
>>> divide_no_nan(torch.tensor([1.0, 2.0]), torch.tensor([2.0, 0.0]))
tensor([0.5000, 0.0000])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def as_tensor(x: Any, dtype: torch.dtype | None = None, device: torch.device | None = None, *,
              detach: bool = False) -> torch.Tensor:
    """A tensor view of ``x`` on ``device`` with ``dtype`` (no copy when it already matches); ``detach``: cut it
    from the autograd graph (metrics read their inputs so, keeping no graph alive in their state)."""
    if isinstance(x, torch.Tensor):
        if detach and x.requires_grad:
            x = x.detach()
        if (dtype is not None and x.dtype != dtype) or (device is not None and x.device != device):
            return x.to(device=device, dtype=dtype)
        return x
    return torch.as_tensor(np.asarray(x), dtype=dtype, device=device)


def match_rank(x1: torch.Tensor, x2: torch.Tensor, expand_rank_1: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras's rule: when ranks differ by one and the longer one ends in 1, drop that axis (or, when the shorter
    one has rank 1 and ``expand_rank_1``, give the shorter one a trailing axis instead)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        return (x1, x2.unsqueeze(-1)) if r2 == 1 and expand_rank_1 else (x1.squeeze(-1), x2)
    if r2 == r1 + 1 and x2.shape[-1] == 1:
        return (x1.unsqueeze(-1), x2) if r1 == 1 and expand_rank_1 else (x1, x2.squeeze(-1))
    return x1, x2


def divide_no_nan(num: torch.Tensor, den: torch.Tensor) -> torch.Tensor:
    """``num / den``, and 0 where ``den`` is 0 (no host round trip; the gradient is 0 there too)."""
    zero = den == 0
    return torch.where(zero, 0.0, num / torch.where(zero, 1.0, den))
