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


class MetaBuild(TorchFunctionMode):
    """While active, every tensor is made on PyTorch's ``meta`` device (shapes and dtypes, no memory), whatever
    device the code asks for: a model is built from an untrusted config this way first, so that its declared
    weights can be checked against the weights file before anything is allocated. Code that needs values (e.g.
    ``.item()``) fails inside, and the caller then leaves the checks to the real, budgeted build.

    >>> import torch
    >>> with MetaBuild():
    ...     torch.zeros(10**12, device="cpu").device.type, torch.ones(3).to("cpu").device.type
    ('meta', 'meta')
    """

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = dict(kwargs or {})
        if "device" in kwargs:
            kwargs["device"] = "meta"
        if func is torch.Tensor.to:
            args = tuple("meta" if i > 0 and isinstance(a, (str, torch.device)) else a for i, a in enumerate(args))
        elif func in (torch.Tensor.cpu, torch.Tensor.cuda):
            return args[0]
        with torch.device("meta"):
            return func(*args, **kwargs)


class ShapeOnlyArray:
    """What ``meta_arrays`` gives for a meta tensor's ``.numpy()``: its shape and dtype, no data."""

    def __init__(self, shape: tuple[int, ...], dtype: Any):
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    def copy(self) -> ShapeOnlyArray:
        return self

    def astype(self, *args: Any, **kwargs: Any) -> ShapeOnlyArray:
        return self


class MetaArrays(TorchFunctionMode):
    """While active, ``.cpu()`` and ``.to(device)`` of a meta tensor keep it on meta and ``.numpy()`` gives a
    ``ShapeOnlyArray``: the weights' Keras layout and a layer's ``save_own_variables`` then tell the shapes they
    would save without a byte of data.

    >>> import torch
    >>> with MetaArrays():
    ...     torch.empty(10**12, device="meta").cpu().numpy().copy().shape
    (1000000000000,)
    """

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        meta = bool(args) and isinstance(args[0], torch.Tensor) and args[0].is_meta
        if meta and func is torch.Tensor.numpy:
            return ShapeOnlyArray(tuple(args[0].shape), args[0].dtype)
        if meta and func in (torch.Tensor.cpu, torch.Tensor.cuda):
            return args[0]
        if meta and func is torch.Tensor.to:  # .to("cpu") of a meta tensor stays on meta
            args = tuple("meta" if i > 0 and isinstance(a, (str, torch.device)) else a for i, a in enumerate(args))
            kwargs = {k: "meta" if k == "device" else v for k, v in (kwargs or {}).items()}
        return func(*args, **(kwargs or {}))
