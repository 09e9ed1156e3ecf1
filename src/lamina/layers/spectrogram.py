"""Audio preprocessing layers: ``MelSpectrogram`` and ``STFTSpectrogram``, as in Keras 3.

``MelSpectrogram`` turns raw audio ``(batch, samples)`` (or ``(samples,)``) into ``(batch, num_mel_bins, frames)``
(a centred STFT, a power of its magnitude, a triangular mel filter bank, optionally decibels).
``STFTSpectrogram`` computes the STFT with two convolution kernels (the windowed cosine and sine bases), which
are weights (``real_kernel``, ``imag_kernel``; trainable unless ``trainable=False``), on ``(batch, samples,
channels)`` inputs.

>>> import torch
>>> tuple(MelSpectrogram(num_mel_bins=16, fft_length=256, sequence_stride=64)(torch.zeros(2, 1000)).shape)
(2, 16, 16)
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn.functional as F

from lamina.core import config
from lamina.layers.layer import Layer
from lamina.layers.spatial import pad_same
from lamina.layers.spec import InputSpec
from lamina.ops.math import stft

__all__ = ["MelSpectrogram", "STFTSpectrogram", "mel_filter_bank"]


def _hertz_to_mel(freq: torch.Tensor) -> torch.Tensor:
    """The HTK mel scale: ``1127 * ln(1 + f / 700)``."""
    return 1127.0 * torch.log1p(freq / 700.0)


def mel_filter_bank(num_mel_bins: int, num_spectrogram_bins: int, sampling_rate: float, lower_edge_hertz: float,
                    upper_edge_hertz: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Triangular filters ``(num_spectrogram_bins, num_mel_bins)`` mapping a linear spectrum to the mel scale.

    The filters' edges are evenly spaced in mels between ``lower_edge_hertz`` and ``upper_edge_hertz``; the DC bin
    gets no weight (TensorFlow's ``linear_to_mel_weight_matrix`` convention, which Keras follows).

    >>> tuple(mel_filter_bank(8, 129, 16000, 20.0, 8000.0).shape)
    (129, 8)
    """
    work = torch.float64
    bins = torch.linspace(0.0, sampling_rate / 2.0, num_spectrogram_bins, dtype=work)[1:]
    spec_mel = _hertz_to_mel(bins).unsqueeze(1)  # (bins - 1, 1)
    edges = torch.linspace(float(_hertz_to_mel(torch.tensor(float(lower_edge_hertz), dtype=work))),
                           float(_hertz_to_mel(torch.tensor(float(upper_edge_hertz), dtype=work))),
                           num_mel_bins + 2, dtype=work)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (spec_mel - lower) / (center - lower)
    falling = (upper - spec_mel) / (upper - center)
    weights = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return F.pad(weights, (0, 0, 1, 0)).to(dtype)  # the DC row: zeros


class MelSpectrogram(Layer):
    """Raw audio to Mel spectrograms: ``(samples,)`` -> ``(num_mel_bins, frames)``, ``(batch, samples)`` ->
    ``(batch, num_mel_bins, frames)`` with ``frames = 1 + samples // sequence_stride``.

    Args:
        fft_length: size of the FFT.
        sequence_stride: samples between successive frames.
        sequence_length: the window's length (default ``fft_length``; a shorter window sits in the frame's middle).
        window: ``'hann'``, ``'hamming'`` or ``None`` (no window).
        sampling_rate: the audio's sampling rate in Hz.
        num_mel_bins: the number of mel bands.
        min_freq, max_freq: the mel filter bank's range in Hz (``max_freq`` default: ``sampling_rate / 2``).
        power_to_db: convert the mel power to decibels ``10 * log10(max(S, min_power) / max(ref_power,
            min_power))``, floored at the batch's maximum minus ``top_db`` (``None``: no floor).
        mag_exp: the power of the STFT's magnitude (2: power spectrum, 1: magnitude).

    >>> import torch
    >>> layer = MelSpectrogram(num_mel_bins=64, sampling_rate=8000, sequence_stride=256, fft_length=2048)
    >>> tuple(layer(torch.rand(16000)).shape)
    (64, 63)
    """

    def __init__(self, fft_length: int = 2048, sequence_stride: int = 512, sequence_length: int | None = None,
                 window: str | None = "hann", sampling_rate: int = 16000, num_mel_bins: int = 128,
                 min_freq: float = 20.0, max_freq: float | None = None, power_to_db: bool = True,
                 top_db: float | None = 80.0, mag_exp: float = 2.0, min_power: float = 1e-10,
                 ref_power: float = 1.0, **kwargs: Any):
        super().__init__(**kwargs)
        if window not in ("hann", "hamming", None):
            raise ValueError(f"MelSpectrogram: `window` must be 'hann', 'hamming' or None; received {window!r}.")
        self.fft_length = fft_length
        self.sequence_stride = sequence_stride
        self.sequence_length = sequence_length or fft_length
        if self.sequence_length > fft_length:
            raise ValueError(f"MelSpectrogram: `sequence_length` ({self.sequence_length}) must not exceed "
                             f"`fft_length` ({fft_length}).")
        self.window = window
        self.sampling_rate = sampling_rate
        self.num_mel_bins = num_mel_bins
        self.min_freq = min_freq
        self.max_freq = max_freq if max_freq is not None else sampling_rate // 2
        self.power_to_db = power_to_db
        self.top_db = top_db
        self.mag_exp = mag_exp
        self.min_power = min_power
        self.ref_power = ref_power
        self.supports_masking = False

    def _frames(self, samples: int | None) -> int | None:
        return None if samples is None else 1 + samples // self.sequence_stride

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(inputs)
        dtype = x.dtype if x.dtype.is_floating_point else torch.float32
        x = x.to(dtype)
        real, imag = stft(x, self.sequence_length, self.sequence_stride, self.fft_length, window=self.window,
                          center=True)  # (..., frames, fft_length // 2 + 1)
        spectrum = torch.sqrt(real * real + imag * imag)
        if self.mag_exp != 1:
            spectrum = spectrum ** self.mag_exp
        bank = mel_filter_bank(self.num_mel_bins, self.fft_length // 2 + 1, self.sampling_rate, self.min_freq,
                               self.max_freq, dtype=spectrum.dtype).to(spectrum.device)
        mel = spectrum @ bank  # (..., frames, num_mel_bins)
        if self.power_to_db:
            mel = self._to_db(mel)
        return mel.transpose(-1, -2)  # (..., num_mel_bins, frames)

    def _to_db(self, power: torch.Tensor) -> torch.Tensor:
        floor = torch.tensor(self.min_power, dtype=power.dtype, device=power.device)
        ten_over_ln10 = 10.0 / math.log(10.0)
        db = ten_over_ln10 * torch.log(torch.maximum(power, floor))
        db = db - 10.0 * math.log10(max(self.ref_power, self.min_power))
        if self.top_db is not None:
            db = torch.maximum(db, db.max() - self.top_db)
        return db

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        return (*shape[:-1], self.num_mel_bins, self._frames(shape[-1]))

    def get_config(self) -> dict:
        return {**super().get_config(), "fft_length": self.fft_length, "sequence_stride": self.sequence_stride,
                "sequence_length": self.sequence_length, "window": self.window,
                "sampling_rate": self.sampling_rate, "num_mel_bins": self.num_mel_bins, "min_freq": self.min_freq,
                "max_freq": self.max_freq, "power_to_db": self.power_to_db, "top_db": self.top_db,
                "mag_exp": self.mag_exp, "min_power": self.min_power, "ref_power": self.ref_power}


_MODES = ("log", "magnitude", "psd", "real", "imag", "angle", "stft")
_WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window, "blackman": torch.blackman_window,
            "bartlett": torch.bartlett_window}
_EPSILON = 1e-7  # the floor of the power under 'log' and 'magnitude' (Keras's epsilon)


class STFTSpectrogram(Layer):
    """The short-time Fourier transform of ``(batch, samples, channels)`` signals, computed as two strided 1-D
    convolutions whose kernels (``real_kernel``, ``imag_kernel``, Keras's shape ``(frame_length, 1, bins)``,
    ``bins = fft_length // 2 + 1``) are the windowed cosine and (negative) sine bases; they are weights, trainable
    unless the layer is made with ``trainable=False``.

    Args:
        mode: ``'log'`` (log-magnitude), ``'magnitude'``, ``'psd'`` (one-sided power: the bins between the DC and
            the Nyquist bins doubled), ``'real'``, ``'imag'``, ``'angle'`` or ``'stft'`` (real then imaginary parts
            along the frequency axis).
        frame_length: samples per frame (the kernels' length).
        frame_step: samples between frames (default ``frame_length // 2``).
        fft_length: the FFT size (default: the smallest power of two not below ``frame_length``).
        window: ``'hann'``, ``'hamming'``, ``'blackman'``, ``'bartlett'`` or ``None``; ``periodic`` picks the
            periodic form over the symmetric one.
        scaling: with a window, ``'density'`` divides the kernels by ``sqrt(sum(window ** 2))``, ``'spectrum'`` by
            ``sum(window)``; ``None`` leaves them.
        padding: ``'valid'`` (frames ``(samples - frame_length) // frame_step + 1``) or ``'same'`` (``ceil(samples
            / frame_step)``, the signal padded as a 'same' convolution pads it).
        expand_dims: keep channels on their own axis: ``(batch, frames, bins, channels)`` (channels-first:
            ``(batch, channels, frames, bins)``) instead of ``(batch, frames, channels * bins)`` (channels-first:
            ``(batch, channels * bins, frames)``).
        data_format: ``'channels_last'`` (``(batch, samples, channels)`` inputs) or ``'channels_first'``.

    >>> import torch
    >>> layer = STFTSpectrogram(mode="log", frame_length=256, frame_step=128, fft_length=512)
    >>> tuple(layer(torch.rand(3, 16000, 1)).shape)
    (3, 124, 257)
    """

    def __init__(self, mode: str = "log", frame_length: int = 256, frame_step: int | None = None,
                 fft_length: int | None = None, window: str | None = "hann", periodic: bool = False,
                 scaling: str | None = "density", padding: str = "valid", expand_dims: bool = False,
                 data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"STFTSpectrogram: `mode` must be one of {', '.join(_MODES)}; received mode={mode!r}.")
        if scaling not in (None, "density", "spectrum"):
            raise ValueError(f"STFTSpectrogram: `scaling` must be None, 'density' or 'spectrum'; received "
                             f"scaling={scaling!r}.")
        if padding not in ("valid", "same"):
            raise ValueError(f"STFTSpectrogram: `padding` must be 'valid' or 'same'; received padding={padding!r}.")
        if window is not None and window not in _WINDOWS:
            raise ValueError(f"STFTSpectrogram: `window` must be None or one of {', '.join(_WINDOWS)}; received "
                             f"window={window!r}.")
        step = frame_length // 2 if frame_step is None else frame_step
        if not isinstance(step, int) or isinstance(step, bool) or not 0 < step <= frame_length:
            raise ValueError(f"STFTSpectrogram: `frame_step` must be a positive int not greater than "
                             f"`frame_length`; received frame_step={frame_step!r}, frame_length={frame_length}.")
        fft = 1 << max(int(frame_length) - 1, 0).bit_length() if fft_length is None else fft_length
        if fft < frame_length:
            raise ValueError(f"STFTSpectrogram: `fft_length` must not be less than `frame_length`; received "
                             f"fft_length={fft_length}, frame_length={frame_length}.")
        if fft & (fft - 1):
            warnings.warn(f"STFTSpectrogram: `fft_length` is best a power of two; received fft_length={fft}.",
                          stacklevel=2)
        self.mode = mode
        self.frame_length = frame_length
        self.frame_step = frame_step
        self.fft_length = fft_length
        self.window = window
        self.periodic = periodic
        self.scaling = scaling
        self.padding = padding
        self.expand_dims = expand_dims
        self.data_format = config.standardize_data_format(data_format, "STFTSpectrogram")
        self._step = step
        self._fft = fft
        self._bins = fft // 2 + 1
        self.input_spec = InputSpec(ndim=3)

    # ------------------------------------------------------------------------------------------- kernels
    def _window(self) -> torch.Tensor:
        if self.window is None:
            return torch.ones(self.frame_length, dtype=torch.float64)
        return _WINDOWS[self.window](self.frame_length, periodic=self.periodic, dtype=torch.float64)

    def _basis(self, part: str) -> torch.Tensor:
        """The initial ``real`` or ``imag`` kernel, in Keras's layout ``(frame_length, 1, bins)``."""
        period = 2 * (self._bins - 1)  # fft_length rounded down to even, as Keras's kernels are
        n = torch.arange(self.frame_length, dtype=torch.float64).unsqueeze(1)
        k = torch.arange(self._bins, dtype=torch.float64).unsqueeze(0)
        phase = 2.0 * math.pi * n * k / max(period, 1)
        basis = torch.cos(phase) if part == "real" else -torch.sin(phase)
        window = self._window()
        scale = 1.0
        if self.window is not None and self.scaling == "density":
            scale = 1.0 / float(torch.sqrt((window * window).sum()))
        elif self.window is not None and self.scaling == "spectrum":
            scale = 1.0 / float(window.sum())
        return (basis * window.unsqueeze(1) * scale).unsqueeze(1)

    def build(self, input_shape: Any) -> None:
        def init(part: str) -> Any:
            return lambda shape, dtype=None: self._basis(part).to(dtype or torch.float32)

        shape = (self.frame_length, 1, self._bins)
        self.real_kernel = self.imag_kernel = None
        if self.mode != "imag":
            self.real_kernel = self.add_weight(shape=shape, initializer=init("real"), name="real_kernel")
        if self.mode != "real":
            self.imag_kernel = self.add_weight(shape=shape, initializer=init("imag"), name="imag_kernel")
        self.built = True

    # ------------------------------------------------------------------------------------------- call
    def _frames(self, samples: int | None) -> int | None:
        if samples is None:
            return None
        if self.padding == "same":
            return -(-samples // self._step)
        return (samples - self.frame_length) // self._step + 1

    def _project(self, signal: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
        """``(rows, 1, samples)`` -> ``(rows, bins, frames)`` with a Keras-layout kernel."""
        weight = kernel.permute(2, 1, 0)  # (bins, 1, frame_length)
        return F.conv1d(signal, weight, stride=self._step)

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = torch.as_tensor(inputs)
        if not x.dtype.is_floating_point:
            x = x.to(torch.float32)
        if self.data_format == "channels_last":
            x = x.transpose(1, 2)  # (batch, channels, samples)
        batch, channels, samples = x.shape
        signal = x.reshape(batch * channels, 1, samples)
        if self.padding == "same":
            signal, _ = pad_same(signal, (self.frame_length,), (self._step,), (1,))
        real = None if self.real_kernel is None else self._project(signal, self.real_kernel)
        imag = None if self.imag_kernel is None else self._project(signal, self.imag_kernel)
        features = self._combine(real, imag)  # (batch * channels, features, frames)
        features = features.reshape(batch, channels, *features.shape[1:])
        if self.data_format == "channels_last":
            if self.expand_dims:
                return features.permute(0, 3, 2, 1)  # (batch, frames, features, channels)
            return features.permute(0, 3, 1, 2).reshape(batch, features.shape[3], -1)
        if self.expand_dims:
            return features.transpose(2, 3)  # (batch, channels, frames, features)
        return features.reshape(batch, -1, features.shape[3])  # (batch, channels * features, frames)

    def _combine(self, real: torch.Tensor | None, imag: torch.Tensor | None) -> torch.Tensor:
        if self.mode == "real":
            return real
        if self.mode == "imag":
            return imag
        if self.mode == "stft":
            return torch.cat([real, imag], dim=1)
        if self.mode == "angle":
            return torch.atan2(imag, real)
        power = real * real + imag * imag
        if self.mode == "psd":
            inner = torch.ones(self._bins, dtype=power.dtype, device=power.device)
            inner[1:-1] = 2.0  # the one-sided spectrum: every bin but DC and Nyquist stands for two
            return power * inner.unsqueeze(1)
        power = torch.clamp(power, min=_EPSILON)
        if self.mode == "magnitude":
            return torch.sqrt(power)
        return 0.5 * torch.log(power)  # 'log': the log-magnitude

    def compute_output_shape(self, input_shape: Any) -> tuple:
        shape = tuple(input_shape)
        batch = shape[0]
        channels, samples = (shape[2], shape[1]) if self.data_format == "channels_last" else (shape[1], shape[2])
        frames = self._frames(samples)
        features = self._bins * (2 if self.mode == "stft" else 1)
        if self.data_format == "channels_last":
            if self.expand_dims:
                return (batch, frames, features, channels)
            return (batch, frames, None if channels is None else channels * features)
        if self.expand_dims:
            return (batch, channels, frames, features)
        return (batch, None if channels is None else channels * features, frames)

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode, "frame_length": self.frame_length,
                "frame_step": self.frame_step, "fft_length": self.fft_length, "window": self.window,
                "periodic": self.periodic, "scaling": self.scaling, "padding": self.padding,
                "data_format": self.data_format, "expand_dims": self.expand_dims}

