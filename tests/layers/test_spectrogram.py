"""MelSpectrogram and STFTSpectrogram against Keras 3 (torch backend)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lamina.layers.spectrogram import MelSpectrogram, STFTSpectrogram, mel_filter_bank

RNG = np.random.default_rng(0)
AUDIO = RNG.normal(size=(2, 4000)).astype("float32")
SIGNALS = RNG.normal(size=(2, 300, 3)).astype("float32")


def _np(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _same_config(ours, theirs):
    want = theirs.get_config()
    got = ours.get_config()
    for key, value in want.items():
        if key not in ("name", "dtype"):
            assert got[key] == value, key


# ------------------------------------------------------------------------------------------- MelSpectrogram
MEL_CASES = [
    {},
    {"fft_length": 512, "sequence_stride": 128, "num_mel_bins": 40, "sampling_rate": 8000},
    {"fft_length": 512, "sequence_length": 300, "window": "hamming", "power_to_db": False, "mag_exp": 1.0},
    {"fft_length": 256, "window": None, "ref_power": 3.0, "min_power": 1e-3, "top_db": 30.0, "max_freq": 5000,
     "min_freq": 100},
    {"fft_length": 400, "sequence_stride": 100, "sampling_rate": 22050, "power_to_db": False},
]


@pytest.mark.parametrize("options", MEL_CASES)
def test_mel_spectrogram_equals_keras(keras, options):
    theirs, ours = keras.layers.MelSpectrogram(**options), MelSpectrogram(**options)
    want, got = _np(theirs(AUDIO)), _np(ours(torch.tensor(AUDIO)))
    assert got.shape == want.shape
    # Keras builds its filter bank in float32; lamina in float64 (the two differ by float32 rounding, ~1e-5)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    _same_config(ours, theirs)


def test_mel_spectrogram_unbatched_shapes_and_top_db(keras):
    layer = MelSpectrogram(num_mel_bins=64, sampling_rate=8000, sequence_stride=256, fft_length=2048)
    assert tuple(layer(torch.rand(16000)).shape) == (64, 63)
    assert layer.compute_output_shape((None, 4000)) == (None, 64, 16)
    loud_and_quiet = AUDIO.copy()
    loud_and_quiet[1] *= 1e-4
    out = _np(MelSpectrogram(fft_length=512, sequence_stride=128)(torch.tensor(loud_and_quiet)))
    # the floor is the batch's maximum minus top_db (as in Keras), not each example's
    np.testing.assert_allclose(out.min(), out.max() - 80.0, rtol=1e-6)
    want = _np(keras.layers.MelSpectrogram(fft_length=512, sequence_stride=128)(loud_and_quiet))
    np.testing.assert_allclose(out, want, atol=1e-3)


def test_mel_filter_bank_equals_keras(keras):
    theirs = keras.layers.MelSpectrogram()
    want = _np(theirs.linear_to_mel_weight_matrix(num_mel_bins=40, num_spectrogram_bins=257, sampling_rate=16000,
                                                  lower_edge_hertz=20.0, upper_edge_hertz=8000.0))
    np.testing.assert_allclose(mel_filter_bank(40, 257, 16000, 20.0, 8000.0).numpy(), want, atol=5e-5)


def test_mel_spectrogram_config_round_trip():
    layer = MelSpectrogram(fft_length=512, num_mel_bins=20, top_db=50.0)
    again = MelSpectrogram.from_config(json.loads(json.dumps(layer.get_config())))
    x = torch.tensor(AUDIO)
    torch.testing.assert_close(again(x), layer(x))
    with pytest.raises(ValueError, match="window"):
        MelSpectrogram(window="triangle")


# ------------------------------------------------------------------------------------------- STFTSpectrogram
STFT_CASES = [
    {},
    {"frame_length": 32, "frame_step": 16, "fft_length": 64},
    {"mode": "magnitude", "frame_length": 40, "fft_length": 64, "frame_step": 11, "padding": "same"},
    {"mode": "psd", "frame_length": 7, "fft_length": 9, "window": None},
    {"mode": "psd", "frame_length": 32, "scaling": "spectrum", "window": "hamming", "periodic": True},
    {"mode": "stft", "frame_length": 32, "expand_dims": True},
    {"mode": "real", "frame_length": 32, "window": "blackman"},
    {"mode": "imag", "frame_length": 32, "window": "bartlett", "data_format": "channels_first"},
    {"mode": "stft", "frame_length": 16, "data_format": "channels_first", "expand_dims": True},
    {"mode": "log", "frame_length": 16, "data_format": "channels_first", "padding": "same", "frame_step": 5},
    {"mode": "magnitude", "frame_length": 16, "scaling": None, "expand_dims": True},
    {"frame_length": 100},
]


def _signals(options):
    return SIGNALS.transpose(0, 2, 1) if options.get("data_format") == "channels_first" else SIGNALS


@pytest.mark.parametrize("options", STFT_CASES)
def test_stft_spectrogram_equals_keras(keras, options):
    theirs, ours = keras.layers.STFTSpectrogram(**options), STFTSpectrogram(**options)
    x = _signals(options)
    want = _np(theirs(x))
    got = _np(ours(torch.tensor(x)))
    assert got.shape == want.shape
    assert ours.compute_output_shape(x.shape) == tuple(want.shape)
    # the initial kernels: Keras computes them in float32, lamina in float64
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    for mine, keras_w in zip(ours.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_allclose(mine, keras_w, atol=1e-5)
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(_np(ours(torch.tensor(x))), want, rtol=1e-5, atol=1e-5 * max(np.abs(want).max(), 1))
    _same_config(ours, theirs)


def test_stft_spectrogram_angle_equals_keras(keras):
    theirs, ours = keras.layers.STFTSpectrogram(mode="angle", frame_length=32), STFTSpectrogram(mode="angle",
                                                                                                frame_length=32)
    want = _np(theirs(SIGNALS))
    ours(torch.tensor(SIGNALS))
    ours.set_weights(theirs.get_weights())
    got = _np(ours(torch.tensor(SIGNALS)))
    gap = np.abs(np.angle(np.exp(1j * (got - want))))  # angles compared on the circle (±pi are one angle)
    assert gap.max() < 1e-4


def test_stft_spectrogram_symbolic_shapes(keras):
    from lamina.layers import Input

    for options, shape in [({"mode": "stft"}, (None, 2)), ({"padding": "same"}, (1000, 2)),
                           ({"expand_dims": True, "data_format": "channels_first"}, (2, 1000))]:
        ours = STFTSpectrogram(**options)(Input(shape))
        theirs = keras.layers.STFTSpectrogram(**options)(keras.Input(shape))
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_stft_spectrogram_trainable_kernels():
    layer = STFTSpectrogram(frame_length=32)
    x = torch.tensor(SIGNALS)
    layer(x).sum().backward()
    assert [w.name for w in layer.trainable_weights] == ["real_kernel", "imag_kernel"]
    assert all(w.grad is not None and torch.isfinite(w.grad).all() for w in layer.trainable_weights)
    frozen = STFTSpectrogram(frame_length=32, trainable=False)
    frozen(x)
    assert not frozen.trainable_weights and len(frozen.non_trainable_weights) == 2
    for mode, names in (("real", ["real_kernel"]), ("imag", ["imag_kernel"])):
        only = STFTSpectrogram(mode=mode, frame_length=32)
        only(x)
        assert [w.name for w in only.weights] == names


def test_stft_spectrogram_zeros_are_floored():
    zeros = torch.zeros(1, 64, 1)
    log = STFTSpectrogram(mode="log", frame_length=8, fft_length=8)(zeros)
    torch.testing.assert_close(log, torch.full_like(log, 0.5 * float(np.log(1e-7))))
    assert float(STFTSpectrogram(mode="psd", frame_length=8)(zeros).detach().abs().max()) == 0.0


def test_stft_spectrogram_config_round_trip():
    layer = STFTSpectrogram(mode="psd", frame_length=64, frame_step=20, window="hamming", padding="same")
    again = STFTSpectrogram.from_config(json.loads(json.dumps(layer.get_config())))
    x = torch.tensor(SIGNALS)
    torch.testing.assert_close(again(x), layer(x))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"mode": "x"}, "mode"), ({"scaling": "x"}, "scaling"), ({"padding": "causal"}, "padding"),
    ({"window": "triangle"}, "window"), ({"frame_length": 64, "fft_length": 32}, "fft_length"),
    ({"frame_step": 0}, "frame_step"), ({"frame_length": 8, "frame_step": 9}, "frame_step")])
def test_stft_spectrogram_refusals(kwargs, match):
    with pytest.raises(ValueError, match=match):
        STFTSpectrogram(**kwargs)


def test_stft_spectrogram_needs_rank_3():
    with pytest.raises(ValueError):
        STFTSpectrogram()(torch.zeros(2, 300))


def test_layer_contract(keras, check_layer):
    check_layer(lambda: STFTSpectrogram(frame_length=32), (2, 200, 2),
                keras_factory=lambda: keras.layers.STFTSpectrogram(frame_length=32), keras=keras, atol=1e-4)
    check_layer(lambda: MelSpectrogram(fft_length=256, num_mel_bins=20), (2, 1000),
                keras_factory=lambda: keras.layers.MelSpectrogram(fft_length=256, num_mel_bins=20), keras=keras,
                atol=1e-3)
