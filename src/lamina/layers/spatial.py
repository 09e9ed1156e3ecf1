"""What convolution and pooling layers share about their spatial windows: argument checks (sizes, padding),
TensorFlow's 'same' padding, channels-first views of channels-last data, and the shape errors said in the
user's terms.

>>> standardize_tuple(3, 2, "kernel_size", "Conv2D")
(3, 3)
>>> same_padding(5, kernel=2, stride=2)  # (before, after): an odd pixel goes after, as in TensorFlow
(0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina.layers.spec import format_shape
from lamina.ops._image_common import same_padding  # the one rule, shared with lamina.ops.image

__all__ = ["check_rank", "check_window_fits", "pad_same", "same_padding", "standardize_padding",
           "standardize_tuple", "to_channels_first", "to_data_format"]

_SPATIAL_NAMES = {1: "steps", 2: "height, width", 3: "dim1, dim2, dim3"}


def standardize_tuple(value: int | Sequence[int], rank: int, arg: str, owner: str) -> tuple[int, ...]:
    """``3`` -> ``(3, 3)`` for rank 2; a sequence must have ``rank`` positive ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        out = (value,) * rank
    else:
        try:
            out = tuple(int(v) for v in value)
        except TypeError:
            out = ()
    if len(out) != rank or any(v <= 0 for v in out):
        raise ValueError(f"{owner}: `{arg}` must be a positive int or a tuple of {rank} positive ints; "
                         f"received {arg}={value!r}.")
    return out


def standardize_padding(padding: str, owner: str, allow_causal: bool = False) -> str:
    allowed = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in allowed:
        raise ValueError(f"{owner}: `padding` must be one of {', '.join(map(repr, allowed))}; "
                         f"received padding={padding!r}.")
    return value


def to_channels_first(x: torch.Tensor, data_format: str) -> torch.Tensor:
    """A channels-first view of the input (no copy)."""
    return x if data_format == "channels_first" else x.movedim(-1, 1)


def to_data_format(y: torch.Tensor, data_format: str) -> torch.Tensor:
    """The inverse of ``to_channels_first``: a view in the layer's data format."""
    return y if data_format == "channels_first" else y.movedim(1, -1)


def pad_same(x: torch.Tensor, kernel: Sequence[int], strides: Sequence[int], dilation: Sequence[int],
             value: float = 0.0) -> tuple[torch.Tensor, tuple[int, ...]]:
    """'same' padding of a channels-first tensor: (input, symmetric padding for the torch op).

    Symmetric padding is left to the op (no copy); asymmetric padding is applied here with ``F.pad``.
    """
    pads = [same_padding(n, k, s, d) for n, k, s, d in zip(x.shape[2:], kernel, strides, dilation, strict=True)]
    if all(a == b for a, b in pads):
        return x, tuple(a for a, _ in pads)
    flat = [p for pair in reversed(pads) for p in pair]  # F.pad wants the last axis first
    return F.pad(x, flat, value=value), (0,) * len(pads)


def check_window_fits(layer: Any, input_shape: tuple, window: Sequence[int], dilation: Sequence[int],
                      data_format: str, what: str = "kernel") -> None:
    """With 'valid' padding, every known spatial size must hold at least one (dilated) window."""
    spatial = input_shape[1:-1] if data_format == "channels_last" else input_shape[2:]
    for n, k, d in zip(spatial, window, dilation, strict=True):
        if n is not None and n < (k - 1) * d + 1:
            raise ValueError(
                f"{type(layer).__name__} layer '{layer.name}' received input of shape "
                f"{format_shape(tuple(input_shape))}, too small for its {what} of size {tuple(window)} with "
                f"padding='valid': the output would be empty. Use padding='same', a smaller {what}, "
                "or larger inputs."
            )


def check_rank(layer: Any, input_shape: tuple, rank: int, data_format: str) -> None:
    if len(input_shape) != rank + 2:
        layout = ("(batch, " + _SPATIAL_NAMES[rank] + ", channels)" if data_format == "channels_last"
                  else "(batch, channels, " + _SPATIAL_NAMES[rank] + ")")
        raise ValueError(
            f"{type(layer).__name__} layer '{layer.name}' expects inputs of rank {rank + 2} {layout}, but "
            f"received input of shape {format_shape(tuple(input_shape))}."
        )
