"""A guard for building models from files: tensor allocations beyond a budget are refused, so a config cannot
demand far more memory than the file's weights hold (e.g. ``Dense(units=10**9)`` in a small file).

>>> import torch
>>> with AllocationBudget(1024):
...     _ = torch.zeros(16)
>>> try:
...     with AllocationBudget(1024):
...         _ = torch.zeros(10_000)
... except UnsafeFileError as error:
...     print("refused")
refused
"""

from __future__ import annotations

from typing import Any

import torch
from torch.overrides import TorchFunctionMode

from lamina.saving.errors import UnsafeFileError


class AllocationBudget(TorchFunctionMode):
    """Refuses tensor allocations (outside the meta device) beyond ``budget`` bytes while a model is built from a
    config, so a config cannot demand far more memory than its weights file holds."""

    SIZED = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full, torch.empty_strided,
             torch.randint, torch.eye}

    def __init__(self, budget: int):
        super().__init__()
        self.left = budget

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func in self.SIZED and str(kwargs.get("device", "cpu")) != "meta":
            numel = _requested_numel(func, args, kwargs)
            dtype = kwargs.get("dtype") or torch.get_default_dtype()
            self.left -= numel * torch.empty((), dtype=dtype, device="meta").element_size()
            if self.left < 0:
                raise UnsafeFileError("The config asks for far more weight memory than the file's weights hold "
                                      f"(a {numel}-element tensor): refusing to build it.")
        return func(*args, **kwargs)


def _requested_numel(func: Any, args: tuple, kwargs: dict) -> int:
    if func is torch.eye:
        dims = [a for a in args[:2] if isinstance(a, int)]
        return dims[0] * (dims[1] if len(dims) > 1 else dims[0]) if dims else 0
    size = kwargs.get("size")
    if size is None:
        candidates = [a for a in args if isinstance(a, (tuple, list, torch.Size))]
        size = candidates[0] if candidates else [a for a in args if isinstance(a, int) and not isinstance(a, bool)]
        if func in (torch.full, torch.randint) and not candidates:
            size = []
    numel = 1
    for d in size:
        numel *= int(d) if isinstance(d, int) else 1
    return numel
