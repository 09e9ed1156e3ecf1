"""image/text/audio_dataset_from_directory against Keras 3.

Keras's dataset functions need TensorFlow to build their ``tf.data`` pipelines, which this environment lacks, but
the part that decides which files, in which order, with which labels and split (``index_directory`` and
``get_training_or_validation_split``) runs without it: those are compared directly. Image resizing is compared
with ``keras.ops.image.resize`` (torch backend); batch shapes, dtypes and label encodings follow Keras's
documentation.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

import lamina
from lamina.data.audio_dataset import read_wav
from lamina.data.directory_index import index_directory
from lamina.utils import audio_dataset_from_directory, image_dataset_from_directory, text_dataset_from_directory

PIL = pytest.importorskip("PIL.Image")
IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _image(path: str, height: int, width: int, seed: int, mode: str = "RGB") -> None:
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
    PIL.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(path)


@pytest.fixture
def image_dir(tmp_path):
    """Three classes (one with a nested folder), mixed formats and sizes, files that are not images."""
    layout = {"cats": ["b.png", "a.png", "deep/z.png", "c.jpg"], "dogs": ["1.png", "2.bmp", "10.png"],
              "fish": ["x.PNG", "notes.txt"]}
    seed = 0
    for folder, names in layout.items():
        for name in names:
            path = tmp_path / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if name.endswith(".txt"):
                path.write_text("not an image")
            else:
                _image(str(path), 12 + seed, 20 - seed, seed)
            seed += 1
    _image(str(tmp_path / "top.png"), 9, 9, 99)  # outside the class folders: only labels=None reads it
    return tmp_path


def _keras_index(keras, directory, labels, formats, **kwargs):
    from keras.src.utils import dataset_utils

    return dataset_utils.index_directory(str(directory), labels, formats, **kwargs)


@pytest.mark.parametrize("labels", ["inferred", None])
@pytest.mark.parametrize(("shuffle", "seed"), [(False, None), (True, 7), (True, 123)])
@pytest.mark.parametrize("class_names", [None, ["fish", "cats", "dogs"]])
def test_file_order_labels_and_class_names_match_keras(keras, image_dir, capsys, labels, shuffle, seed, class_names):
    if class_names is not None and labels is None:
        pytest.skip("class_names needs labels='inferred'")
    k_paths, k_labels, k_names = _keras_index(keras, image_dir, labels, IMAGE_FORMATS, class_names=class_names,
                                              shuffle=shuffle, seed=seed)
    keras_out = capsys.readouterr().out
    ours = index_directory(str(image_dir), labels, IMAGE_FORMATS, class_names=class_names, shuffle=shuffle, seed=seed)
    assert capsys.readouterr().out == keras_out  # "Found 9 files belonging to 3 classes."
    assert ours.paths == k_paths
    assert ours.class_names == k_names
    if k_labels is None:
        assert ours.labels is None
    else:
        np.testing.assert_array_equal(ours.labels, k_labels)
        assert ours.labels.dtype == np.int32


def test_labels_as_an_array(image_dir):
    n = len(index_directory(str(image_dir), None, IMAGE_FORMATS, shuffle=False, verbose=False).paths)
    ds = image_dataset_from_directory(image_dir, labels=np.arange(n) % 3, label_mode="categorical", image_size=(4, 4),
                                      shuffle=False, verbose=False)
    assert n == 9 and ds.class_names == ["0", "1", "2"]
    np.testing.assert_array_equal(ds[0][1], np.eye(3, dtype="float32")[np.arange(9) % 3])


def test_explicit_label_list_matches_keras(keras, image_dir, capsys):
    n = len(_keras_index(keras, image_dir, None, IMAGE_FORMATS, shuffle=False)[0])
    given = [i % 2 for i in range(n)]
    # (Keras shuffles the list it is given in place: it gets a copy)
    k_paths, k_labels, k_names = _keras_index(keras, image_dir, list(given), IMAGE_FORMATS, shuffle=True, seed=5)
    ours = index_directory(str(image_dir), given, IMAGE_FORMATS, shuffle=True, seed=5, verbose=False)
    assert ours.paths == k_paths and ours.class_names == k_names
    np.testing.assert_array_equal(ours.labels, k_labels)


@pytest.mark.parametrize("subset", ["training", "validation"])
@pytest.mark.parametrize("split", [0.2, 0.5, 0.34])
def test_validation_split_matches_keras(keras, image_dir, capsys, subset, split):
    from keras.src.utils import dataset_utils

    k_paths, k_labels, _ = _keras_index(keras, image_dir, "inferred", IMAGE_FORMATS, shuffle=True, seed=9)
    k_paths, k_labels = dataset_utils.get_training_or_validation_split(k_paths, k_labels, split, subset)
    capsys.readouterr()
    ds = image_dataset_from_directory(image_dir, image_size=(8, 8), seed=9, validation_split=split, subset=subset,
                                      verbose=False)
    assert ds.file_paths == list(k_paths)
    np.testing.assert_array_equal(ds.labels, k_labels)


def test_subset_both_is_training_then_validation(image_dir, capsys):
    train, val = image_dataset_from_directory(image_dir, image_size=(8, 8), seed=1, validation_split=0.25,
                                              subset="both")
    out = capsys.readouterr().out.splitlines()
    assert out == ["Found 8 files belonging to 3 classes.", "Using 6 files for training.",
                   "Using 2 files for validation."]
    everything = index_directory(str(image_dir), "inferred", IMAGE_FORMATS, shuffle=True, seed=1, verbose=False)
    assert train.file_paths + val.file_paths == everything.paths
    assert train.shuffle and not val.shuffle  # as Keras: the validation part of "both" is not reshuffled


def test_a_split_too_small_for_one_validation_file_keeps_every_file_for_training(image_dir):
    # Keras 3.15 slices samples[:-0] here and trains on nothing; lamina keeps all files for training.
    ds = image_dataset_from_directory(image_dir, image_size=(4, 4), shuffle=False, validation_split=0.1,
                                      subset="training", verbose=False)
    assert len(ds.file_paths) == 8


@pytest.mark.parametrize(("label_mode", "shape", "dtype"), [
    ("int", (3,), np.int32), ("categorical", (3, 3), np.float32), (None, None, None)])
def test_image_batches_shapes_dtypes_and_labels(image_dir, label_mode, shape, dtype):
    ds = image_dataset_from_directory(image_dir, label_mode=label_mode, image_size=(10, 6), batch_size=3,
                                      shuffle=False, verbose=False)
    assert len(ds) == 3  # 8 images in the class folders
    batch = ds[0]
    images = batch if label_mode is None else batch[0]
    assert images.shape == (3, 10, 6, 3) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 255
    if label_mode is not None:
        labels = batch[1]
        assert labels.shape == shape and labels.dtype == dtype
        expected = np.asarray([0, 0, 0])
        np.testing.assert_array_equal(labels if label_mode == "int" else labels.argmax(-1), expected)
    last = ds[2]
    assert (last if label_mode is None else last[0]).shape[0] == 2
    assert ds.class_names == ["cats", "dogs", "fish"]


def test_binary_labels_and_their_class_count(tmp_path):
    for folder in ("no", "yes"):
        (tmp_path / folder).mkdir()
        _image(str(tmp_path / folder / "a.png"), 5, 5, 1)
    images, labels = image_dataset_from_directory(tmp_path, label_mode="binary", image_size=(5, 5), shuffle=False,
                                                  verbose=False)[0]
    assert labels.shape == (2, 1) and labels.dtype == np.float32
    np.testing.assert_array_equal(labels[:, 0], [0.0, 1.0])
    (tmp_path / "maybe").mkdir()
    _image(str(tmp_path / "maybe" / "b.png"), 5, 5, 2)
    with pytest.raises(ValueError, match="exactly 2 class_names"):
        image_dataset_from_directory(tmp_path, label_mode="binary", verbose=False)


@pytest.mark.parametrize(("color_mode", "channels"), [("rgb", 3), ("rgba", 4), ("grayscale", 1)])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_color_modes_and_data_format(image_dir, color_mode, channels, data_format):
    ds = image_dataset_from_directory(image_dir, color_mode=color_mode, image_size=(7, 5), batch_size=2,
                                      shuffle=False, data_format=data_format, verbose=False)
    images, _ = ds[0]
    assert images.shape == ((2, 7, 5, channels) if data_format == "channels_last" else (2, channels, 7, 5))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("aspect", [{}, {"crop_to_aspect_ratio": True}, {"pad_to_aspect_ratio": True}],
                         ids=["stretch", "crop", "pad"])
def test_pixels_match_keras_resize(keras, tmp_path, interpolation, aspect):
    (tmp_path / "c").mkdir()
    _image(str(tmp_path / "c" / "a.png"), 12, 20, 5)  # pads/crops evenly (Keras's torch backend drops odd pads)
    size = (10, 10) if aspect else (7, 9)
    images, _ = image_dataset_from_directory(tmp_path, image_size=size, shuffle=False, interpolation=interpolation,
                                             verbose=False, **aspect)[0]
    decoded = np.asarray(PIL.open(tmp_path / "c" / "a.png").convert("RGB"), dtype="float32")
    expected = np.asarray(keras.ops.image.resize(decoded, size, interpolation=interpolation,
                                                 data_format="channels_last", **aspect))
    np.testing.assert_allclose(images[0], expected, atol=1e-3)


def test_reshuffles_on_every_pass_only_when_asked(image_dir):
    ds = image_dataset_from_directory(image_dir, image_size=(4, 4), batch_size=8, seed=2, verbose=False)
    first = ds[0][0].copy()
    ds.on_epoch_end()
    second = ds[0][0]
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first.reshape(8, -1), axis=0), np.sort(second.reshape(8, -1), axis=0))
    fixed = image_dataset_from_directory(image_dir, image_size=(4, 4), batch_size=8, shuffle=False, verbose=False)
    before = fixed[0][0].copy()
    fixed.on_epoch_end()
    np.testing.assert_array_equal(before, fixed[0][0])


def test_fit_evaluate_predict_take_the_dataset(image_dir):
    ds = image_dataset_from_directory(image_dir, image_size=(8, 8), batch_size=4, seed=0, verbose=False)
    model = lamina.Sequential([lamina.Input((8, 8, 3)), lamina.layers.Rescaling(1 / 255), lamina.layers.Flatten(),
                               lamina.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert np.isfinite(model.evaluate(ds, verbose=0)[0])
    unlabeled = image_dataset_from_directory(image_dir, labels=None, image_size=(8, 8), shuffle=False, verbose=False)
    assert model.predict(unlabeled, verbose=0).shape == (9, 3)  # the image outside the class folders too


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(validation_split=0.2, subset="training"), "must provide a `seed`"),
    (dict(validation_split=0.2), "If `subset` is set"),
    (dict(subset="both", validation_split=0.2, seed=1, label_mode="sparse"), "`label_mode` argument"),
    (dict(color_mode="cmyk"), "`color_mode` must be one of"),
    (dict(class_names=["a", "b"]), "did not match the names of the subdirectories"),
    (dict(labels="folders"), "`labels` argument should be"),
    (dict(labels=None, class_names=["cats"]), "only pass `class_names`"),
    (dict(crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), "Only one of"),
    (dict(interpolation="lanczos5"), "Unsupported interpolation"),
    (dict(labels=[0, 1]), "lengths of `labels`"),
])
def test_errors_say_what_is_wrong(image_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        image_dataset_from_directory(image_dir, verbose=False, **kwargs)


def test_no_images_found(tmp_path):
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="No images found"):
        image_dataset_from_directory(tmp_path, verbose=False)


# ------------------------------------------------------------------------------------------------------ text
@pytest.fixture
def text_dir(tmp_path):
    texts = {"neg/b.txt": "bad film", "neg/a.txt": "dull and long", "pos/c.txt": "héllo wörld",
             "pos/sub/d.txt": "great", "pos/e.md": "ignored"}
    for name, text in texts.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def test_text_order_matches_keras_and_texts_are_strings(keras, text_dir, capsys):
    k_paths, k_labels, k_names = _keras_index(keras, text_dir, "inferred", (".txt",), shuffle=True, seed=4)
    capsys.readouterr()
    ds = text_dataset_from_directory(text_dir, batch_size=3, seed=4, verbose=False)
    assert ds.file_paths == k_paths and ds.class_names == k_names
    texts, labels = ds[0]
    assert texts.dtype == object and texts.shape == (3,) and labels.dtype == np.int32
    np.testing.assert_array_equal(labels, k_labels[:3])
    assert texts.tolist() == [Path(p).read_text(encoding="utf-8") for p in k_paths[:3]]


def test_text_max_length_counts_bytes(text_dir):
    ds = text_dataset_from_directory(text_dir, labels=None, max_length=5, shuffle=False, verbose=False)
    texts = ds[0]
    # "héllo wörld": 'é' is two bytes in UTF-8, so 5 bytes are "héll"
    assert texts.tolist() == ["dull ", "bad f", "héll", "great"]


def test_text_categorical_and_split(text_dir):
    train, val = text_dataset_from_directory(text_dir, label_mode="categorical", validation_split=0.5,
                                             subset="both", seed=3, verbose=False)
    assert len(train.file_paths) == 2 and len(val.file_paths) == 2
    assert train[0][1].shape == (2, 2) and train[0][1].dtype == np.float32


# ------------------------------------------------------------------------------------------------------ audio
def _wav(path, samples: np.ndarray, rate: int = 8000, width: int = 2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(samples.shape[1])
        w.setsampwidth(width)
        w.setframerate(rate)
        dtype = {1: "u1", 2: "<i2", 4: "<i4"}[width]
        w.writeframes(samples.astype(dtype).tobytes())


@pytest.fixture
def audio_dir(tmp_path):
    rng = np.random.default_rng(0)
    _wav(tmp_path / "down" / "a.wav", rng.integers(-32768, 32767, (5, 1)))
    _wav(tmp_path / "down" / "b.wav", rng.integers(-32768, 32767, (9, 1)))
    _wav(tmp_path / "up" / "c.wav", rng.integers(-32768, 32767, (3, 1)))
    return tmp_path


def test_audio_order_matches_keras_and_values_are_scaled_pcm(keras, audio_dir, capsys):
    k_paths, k_labels, _ = _keras_index(keras, audio_dir, "inferred", (".wav",), shuffle=True, seed=8)
    capsys.readouterr()
    ds = audio_dataset_from_directory(audio_dir, seed=8, verbose=False)
    assert ds.file_paths == k_paths
    audio, labels = ds[0]
    np.testing.assert_array_equal(labels, k_labels)
    assert audio.shape == (3, 9, 1) and audio.dtype == np.float32  # padded to the longest clip
    for row, path in zip(audio, k_paths, strict=True):
        with wave.open(path) as w:
            ints = np.frombuffer(w.readframes(w.getnframes()), "<i2")
        np.testing.assert_array_equal(row[:len(ints), 0], ints / 32768.0)
        assert not row[len(ints):].any()


def test_audio_output_sequence_length_cuts_and_pads(audio_dir):
    audio, _ = audio_dataset_from_directory(audio_dir, output_sequence_length=4, shuffle=False, verbose=False)[0]
    assert audio.shape == (3, 4, 1)
    assert not audio[2, 3:].any()  # c.wav has 3 samples


def test_wav_widths_and_channels(tmp_path):
    _wav(tmp_path / "u8.wav", np.array([[0, 255], [128, 64]]), width=1)
    audio, rate = read_wav(str(tmp_path / "u8.wav"))
    assert rate == 8000 and audio.shape == (2, 2)
    np.testing.assert_allclose(audio, (np.array([[0, 255], [128, 64]]) - 128) / 128)
    _wav(tmp_path / "i32.wav", np.array([[2**30], [-(2**31)]]), width=4)
    np.testing.assert_allclose(read_wav(str(tmp_path / "i32.wav"))[0][:, 0], [0.5, -1.0])


def test_audio_resampling_and_ragged(audio_dir):
    ds = audio_dataset_from_directory(audio_dir, sampling_rate=16000, shuffle=False, verbose=False)
    assert ds[0][0].shape == (3, 18, 1)  # 9 samples at 8 kHz are 18 at 16 kHz
    with pytest.raises(ValueError, match="ragged"):
        audio_dataset_from_directory(audio_dir, ragged=True)
