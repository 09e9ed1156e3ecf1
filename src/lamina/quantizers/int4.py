"""Two int4 values per byte: ``pack_int4`` / ``unpack_int4`` as Keras 3 defines them (low nibble: the first of
each pair of rows along ``axis``; an odd length is padded with one row of zeros).

>>> import torch
>>> packed, shape, length = pack_int4(torch.tensor([[-3, 7], [2, -8], [1, 0]], dtype=torch.int8))
>>> packed.tolist(), shape, length
([[45, -121], [1, 0]], (2, 2), 3)
>>> unpack_int4(packed, length).tolist()
[[-3, 7], [2, -8], [1, 0]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

_KINDS = {"int8": torch.int8, "uint8": torch.uint8}


def _kind(dtype: Any) -> torch.dtype:
    name = str(dtype).replace("torch.", "")
    if name not in _KINDS:
        raise ValueError(f"int4 packing works on 'int8' or 'uint8' tensors; received dtype={dtype!r}.")
    return _KINDS[name]


def _tensor(x: Any) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))


def pack_int4(arr: Any, axis: int = 0, dtype: Any = "int8") -> tuple[torch.Tensor, tuple[int, ...], int]:
    """Pack pairs of int4 values (held in an ``int8`` tensor in ``[-8, 7]``, or ``uint8`` in ``[0, 15]``) along
    ``axis`` into one byte each. Returns ``(packed, packed_shape, original_length_of_axis)``.

    >>> pack_int4(torch.tensor([[-3, 7, 2], [-8, 1, 0]], dtype=torch.int8), axis=1)[0].tolist()
    [[125, 2], [24, 0]]
    """
    kind = _kind(dtype)
    x = _tensor(arr)
    if x.dtype != kind:
        raise TypeError(f"Expected {str(kind).replace('torch.', '')} tensor for packing, got "
                        f"{str(x.dtype).replace('torch.', '')}. Cast it first (the values must fit in 4 bits).")
    axis = axis % x.ndim
    moved = torch.movedim(x, axis, 0)
    length = moved.shape[0]
    if length % 2:
        moved = torch.cat([moved, torch.zeros_like(moved[:1])])
    nibbles = moved.to(torch.int16) & 0x0F
    packed = (nibbles[0::2] | (nibbles[1::2] << 4)).to(torch.uint8)
    packed = torch.movedim(packed.view(kind), 0, axis).contiguous()
    return packed, tuple(packed.shape), int(length)


def unpack_int4(packed: Any, orig_len: int, axis: int = 0, dtype: Any = "int8") -> torch.Tensor:
    """The inverse of ``pack_int4``: two values per byte along ``axis``, cut back to ``orig_len``; with ``int8``
    the 4-bit values are sign-extended to ``[-8, 7]``.

    >>> unpack_int4(torch.tensor([125, 2], dtype=torch.int8), 3).tolist()
    [-3, 7, 2]
    """
    kind = _kind(dtype)
    x = _tensor(packed)
    if x.dtype not in (torch.int8, torch.uint8):
        raise TypeError(f"Expected an int8 or uint8 packed tensor; got {str(x.dtype).replace('torch.', '')}.")
    axis = axis % x.ndim
    moved = torch.movedim(x, axis, 0).to(torch.int16) & 0xFF
    low, high = moved & 0x0F, (moved >> 4) & 0x0F
    if kind == torch.int8:
        low, high = torch.where(low > 7, low - 16, low), torch.where(high > 7, high - 16, high)
    both = torch.stack([low, high], dim=1).reshape(-1, *moved.shape[1:])[:orig_len]
    return torch.movedim(both.to(kind), 0, axis).contiguous()
