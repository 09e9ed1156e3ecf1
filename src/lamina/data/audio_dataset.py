"""``audio_dataset_from_directory``: batches of WAV audio (and labels) read from class folders, as Keras's.

Keras returns a ``tf.data.Dataset``; lamina returns an ``AudioDirectoryDataset``: a ``PyDataset`` of NumPy
batches ``(batch, samples, channels)`` in float32, read with the standard library's ``wave`` module.

>>> import os, tempfile, wave, numpy as np
>>> root = tempfile.mkdtemp()
>>> for name, n in [("no/a.wav", 3), ("yes/b.wav", 5)]:
...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
...     with wave.open(os.path.join(root, name), "wb") as w:
...         w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
...         w.writeframes(np.full(n, 16384, "<i2").tobytes())
>>> audio, labels = audio_dataset_from_directory(root, batch_size=2, shuffle=False)[0]
Found 2 files belonging to 2 classes.
>>> audio.shape, audio[0, :, 0].tolist(), labels.tolist()
((2, 5, 1), [0.5, 0.5, 0.5, 0.0, 0.0], [0, 1])
"""

from __future__ import annotations

import wave
from typing import Any

import numpy as np

from lamina.data.directory_index import IndexedSplit, encode_labels, indexed_splits
from lamina.data.sample_batches import FileBatches

AUDIO_FORMATS = (".wav",)


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """``(audio, sampling_rate)``: a PCM WAV file as float32 ``(samples, channels)`` in ``[-1, 1)``, as
    ``tf.audio.decode_wav`` gives it (16-bit samples divided by 32768; 8-, 24- and 32-bit scaled alike)."""
    with wave.open(path, "rb") as f:
        channels, width, rate = f.getnchannels(), f.getsampwidth(), f.getframerate()
        raw = f.readframes(f.getnframes())
    if width == 1:  # unsigned 8-bit
        values = (np.frombuffer(raw, dtype="uint8").astype("float32") - 128.0) / 128.0
    elif width == 2:
        values = np.frombuffer(raw, dtype="<i2").astype("float32") / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, dtype="uint8").reshape(-1, 3).astype("int32")
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        values = (np.where(ints >= 1 << 23, ints - (1 << 24), ints) / float(1 << 23)).astype("float32")
    elif width == 4:
        values = (np.frombuffer(raw, dtype="<i4") / float(1 << 31)).astype("float32")
    else:
        raise ValueError(f"Cannot read {path}: {8 * width}-bit samples; lamina reads 8/16/24/32-bit PCM WAV files.")
    return values.reshape(-1, channels), rate


def resample(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``audio`` (``(samples, channels)``) at ``target_rate`` by linear interpolation between samples."""
    if rate == target_rate or len(audio) == 0:
        return audio
    n = max(int(round(len(audio) * target_rate / rate)), 1)
    times = np.arange(n) * (rate / target_rate)
    src = np.arange(len(audio))
    return np.stack([np.interp(times, src, audio[:, c]) for c in range(audio.shape[1])], axis=1).astype("float32")


class AudioDirectoryDataset(FileBatches):
    """The WAV files of ``file_paths`` as float32 batches ``(batch, samples, channels)`` with their labels
    (``(audio, labels)``; audio alone without labels). Clips are cut to ``output_sequence_length`` and padded
    with zeros at the end to it, or, when it is None, to the longest clip of the batch."""

    def __init__(self, split: IndexedSplit, batch_size: int | None, sampling_rate: int | None,
                 output_sequence_length: int | None):
        index = split.index
        labels = None if index.labels is None else encode_labels(index.labels, split.label_mode,
                                                                 len(index.class_names or []))
        super().__init__(index.paths, labels, index.class_names, batch_size, shuffle=split.shuffle,
                         seed=split.seed)
        self.sampling_rate = sampling_rate
        self.output_sequence_length = output_sequence_length

    def read(self, path: str) -> np.ndarray:
        audio, rate = read_wav(path)
        if self.sampling_rate is not None:
            audio = resample(audio, rate, int(self.sampling_rate))
        length = self.output_sequence_length
        if length is not None:
            audio = audio[:length]
            if len(audio) < length:
                audio = np.concatenate([audio, np.zeros((length - len(audio), audio.shape[1]), "float32")])
        return audio

    def collate(self, samples: list[Any]) -> Any:
        if isinstance(samples[0], np.ndarray) and samples[0].ndim == 2:
            longest = max(len(s) for s in samples)
            channels = {s.shape[1] for s in samples}
            if len(channels) > 1:
                raise ValueError(f"Audio files of one batch have different channel counts {sorted(channels)}: "
                                 "convert them to one channel count.")
            batch = np.zeros((len(samples), longest, channels.pop()), dtype="float32")
            for row, s in zip(batch, samples, strict=True):
                row[:len(s)] = s
            return batch
        return super().collate(samples)


def audio_dataset_from_directory(
    directory: str,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list[str] | None = None,
    batch_size: int | None = 32,
    sampling_rate: int | None = None,
    output_sequence_length: int | None = None,
    ragged: bool = False,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    verbose: bool = True,
) -> AudioDirectoryDataset | list[AudioDirectoryDataset]:
    """Batches of the ``.wav`` files in ``directory``, as ``keras.utils.audio_dataset_from_directory``.

    Files, classes, labels, shuffle and split follow ``image_dataset_from_directory`` (and Keras).

    Args:
        sampling_rate: resample every clip to this rate (linear interpolation; Keras needs tensorflow-io and
            resamples with a band-limited filter), or None to keep each file's rate.
        output_sequence_length: cut longer clips to this many samples and pad shorter ones with zeros; None pads
            each batch to its longest clip.
        ragged: Keras's ragged batches have no NumPy form: only ``False`` is supported.

    Returns:
        An ``AudioDirectoryDataset`` (a ``PyDataset`` of ``(audio, labels)`` NumPy batches, audio float32
        ``(batch, samples, channels)``) with ``class_names`` and ``file_paths``; a list of two for
        ``subset="both"``.
    """
    if ragged:
        raise ValueError("ragged=True is not supported: lamina's batches are NumPy arrays. Pass "
                         "output_sequence_length to cut clips to one length, or leave it None to pad each batch.")
    for name, value in (("sampling_rate", sampling_rate), ("output_sequence_length", output_sequence_length)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"`{name}` must be a positive integer or None; received {value!r}.")
    splits = indexed_splits(directory, labels, label_mode, class_names, AUDIO_FORMATS, "audio files", shuffle,
                            seed, validation_split, subset, follow_links, verbose)
    datasets = [AudioDirectoryDataset(s, batch_size, sampling_rate, output_sequence_length) for s in splits]
    return datasets if subset == "both" else datasets[0]
