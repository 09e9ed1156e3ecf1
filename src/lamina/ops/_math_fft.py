"""The FFT family of ``lamina.ops.math``: complex values as Keras has them, a ``(real, imag)`` tuple of floats.

float16 and bfloat16 are transformed in float32 and returned in their own dtype (Keras's torch backend
raises for them, as torch's CPU FFT does).

>>> real, imag = fft(([1.0, 2.0], [0.0, 1.0]))
>>> real.tolist(), imag.tolist()
([3.0, -1.0], [1.0, -1.0])
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lamina.ops import dtypes
from lamina.ops.dispatch import op, tensor, to_float

_HALF = (torch.float16, torch.bfloat16)


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _HALF else dtype


def _complex_input(x: Any) -> tuple[torch.Tensor, torch.dtype]:
    """The complex tensor of a ``(real, imag)`` pair, and the float dtype the results come back in."""
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        raise ValueError(f"Input `x` should be a tuple of two tensors - real and imaginary. Received: x={x!r:.200}")
    real = tensor(x[0])
    imag = tensor(x[1], device=real.device).to(real.device)
    if real.shape != imag.shape:
        raise ValueError("Both the real and imaginary parts should have the same shape. Received: "
                         f"x[0].shape = {tuple(real.shape)}, x[1].shape = {tuple(imag.shape)}")
    if not real.dtype.is_floating_point or not imag.dtype.is_floating_point:
        raise ValueError(f"At least one tensor in input `x` is not of type float. Received dtypes {real.dtype} "
                         f"and {imag.dtype}.")
    out = dtypes.to_torch(dtypes.promote(real.dtype, imag.dtype))
    work = _compute_dtype(out)
    return torch.complex(real.to(work), imag.to(work)), out


def _pair(z: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    return z.real.to(dtype), z.imag.to(dtype)


@op
def fft(x: tuple[Any, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The discrete Fourier transform along the last axis of ``(real, imag)``; returns ``(real, imag)``."""
    z, dtype = _complex_input(x)
    return _pair(torch.fft.fft(z, dim=-1), dtype)


@op
def fft2(x: tuple[Any, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D discrete Fourier transform over the last two axes of ``(real, imag)``."""
    z, dtype = _complex_input(x)
    return _pair(torch.fft.fft2(z, dim=(-2, -1)), dtype)


@op
def ifft2(x: tuple[Any, Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """The inverse 2-D discrete Fourier transform over the last two axes of ``(real, imag)``."""
    z, dtype = _complex_input(x)
    return _pair(torch.fft.ifft2(z, dim=(-2, -1)), dtype)


@op
def rfft(x: Any, fft_length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The FFT of a real signal along its last axis: the ``fft_length // 2 + 1`` non-negative frequencies
    (the input is cropped or zero-padded to ``fft_length``); integers give ``floatx()``."""
    x = to_float(x)
    dtype = x.dtype
    z = torch.fft.rfft(x.to(_compute_dtype(dtype)), n=None if fft_length is None else int(fft_length), dim=-1)
    return _pair(z, dtype)


@op
def irfft(x: tuple[Any, Any], fft_length: int | None = None) -> torch.Tensor:
    """The inverse of ``rfft``: a real signal of ``fft_length`` (default ``2 * (n - 1)``) samples."""
    z, dtype = _complex_input(x)
    return torch.fft.irfft(z, n=None if fft_length is None else int(fft_length), dim=-1).to(dtype)


def _window(window: Any, sequence_length: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor | None:
    if window is None:
        return None
    if isinstance(window, str):
        if window == "hann":
            return torch.hann_window(sequence_length, periodic=True, dtype=dtype, device=device)
        if window == "hamming":
            return torch.hamming_window(sequence_length, periodic=True, dtype=dtype, device=device)
        raise ValueError(f'If a string is passed to `window`, it must be one of "hann", "hamming". '
                         f"Received: window={window!r}")
    win = tensor(window, device=device).to(device=device, dtype=dtype)
    if win.ndim != 1 or win.shape[0] != sequence_length:
        raise ValueError(f"The shape of `window` must be equal to [sequence_length]. Received: window shape="
                         f"{tuple(win.shape)}")
    return win


@op
def stft(x: Any, sequence_length: int, sequence_stride: int, fft_length: int, window: Any = "hann",
         center: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """The short-time Fourier transform along the last axis: ``(real, imag)`` of shape
    (..., num_sequences, fft_length // 2 + 1). ``center`` reflect-pads the signal by ``fft_length // 2``;
    a window shorter than ``fft_length`` sits in the middle of each frame (torch.stft's convention, as in
    Keras's torch backend)."""
    x = tensor(x)
    if not x.dtype.is_floating_point:
        raise TypeError(f"Invalid input type. Expected a float dtype. Received: input type={x.dtype}")
    sequence_length, sequence_stride, fft_length = int(sequence_length), int(sequence_stride), int(fft_length)
    if fft_length < sequence_length:
        raise ValueError(f"`fft_length` must equal or larger than `sequence_length`. Received: "
                         f"sequence_length={sequence_length}, fft_length={fft_length}")
    dtype = x.dtype
    work = _compute_dtype(dtype)
    win = _window(window, sequence_length, work, x.device)
    if win is None:
        win = torch.ones(sequence_length, dtype=work, device=x.device)
    batch = x.shape[:-1]
    flat = x.reshape(-1, x.shape[-1]).to(work)
    z = torch.stft(flat, n_fft=fft_length, hop_length=sequence_stride, win_length=sequence_length, window=win,
                   center=bool(center), return_complex=True)
    z = z.transpose(-2, -1).reshape(*batch, z.shape[-1], z.shape[-2])
    return _pair(z, dtype)


def _overlap_add(frames: torch.Tensor, stride: int) -> torch.Tensor:
    """Sum frames (B, N, L) placed ``stride`` apart into signals (B, L + stride * (N - 1))."""
    batch, count, length = frames.shape
    total = length + stride * (count - 1)
    out = F.fold(frames.transpose(1, 2), output_size=(1, total), kernel_size=(1, length), stride=(1, stride))
    return out.reshape(batch, total)


@op
def istft(x: tuple[Any, Any], sequence_length: int, sequence_stride: int, fft_length: int,
          length: int | None = None, window: Any = "hann", center: bool = True) -> torch.Tensor:
    """The inverse of ``stft``: a real signal from ``(real, imag)`` frames (..., num_sequences, bins).

    With ``sequence_length == fft_length``, ``center`` and a window this is torch.istft (the window envelope
    divided out sample by sample); otherwise, as in Keras, frames are weighted by the window over its
    steady-state overlap sum (no window: plain overlap-add). Where that sum is 0 the weight is 0 (Keras: NaN);
    ``length`` zero-pads a short result."""
    if isinstance(sequence_stride, bool) or not isinstance(sequence_stride, int) or sequence_stride <= 0:
        raise ValueError(f"`sequence_stride` must be a positive integer. Received: sequence_stride={sequence_stride}")
    z, dtype = _complex_input(x)
    sequence_length, fft_length = int(sequence_length), int(fft_length)
    work = z.real.dtype
    win = _window(window, sequence_length, work, z.device)
    batch, count = z.shape[:-2], z.shape[-2]
    flat = z.reshape(-1, count, z.shape[-1])
    total = fft_length + sequence_stride * (count - 1)
    start = fft_length // 2 if center else 0
    natural = total - 2 * start if center else total
    size = natural if length is None else int(length)
    if z.device.type == "meta":
        return torch.empty((*batch, size), dtype=dtype, device=z.device)
    if sequence_length == fft_length and center and win is not None:
        signal = torch.istft(flat.transpose(1, 2), n_fft=fft_length, hop_length=sequence_stride,
                             win_length=sequence_length, window=win, center=True, length=length)
        return signal.reshape(*batch, signal.shape[-1]).to(dtype)
    frames = torch.fft.irfft(flat, n=fft_length, dim=-1)
    if win is not None:
        left = (fft_length - sequence_length) // 2
        padded = F.pad(win, (left, fft_length - sequence_length - left))
        # The steady-state sum of squared windows overlapping each sample: per position modulo the stride.
        slots = math.ceil(fft_length / sequence_stride) * sequence_stride
        per_phase = F.pad(padded * padded, (0, slots - fft_length)).reshape(-1, sequence_stride).sum(0)
        denom = per_phase.repeat(slots // sequence_stride)[:fft_length]
        weight = torch.where(denom > 0, padded / torch.where(denom > 0, denom, torch.ones_like(denom)),
                             torch.zeros_like(denom))
        frames = frames * weight
    signal = _overlap_add(frames, sequence_stride)[:, start:start + size]
    if signal.shape[-1] < size:
        signal = F.pad(signal, (0, size - signal.shape[-1]))
    return signal.reshape(*batch, size).to(dtype)
