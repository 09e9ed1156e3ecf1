"""load_img, img_to_array, array_to_img and save_img against keras.utils (which runs on Pillow here)."""

from __future__ import annotations

import io

import numpy as np
import pytest

from lamina.data.images import array_to_img, img_to_array, load_img, save_img

PIL = pytest.importorskip("PIL.Image")


@pytest.fixture
def photo(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (13, 21, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    PIL.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize("color_mode", ["rgb", "rgba", "grayscale"])
@pytest.mark.parametrize("target_size", [None, (13, 21), (8, 8), (20, 7)])
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"])
@pytest.mark.parametrize("keep_aspect_ratio", [False, True])
def test_load_img_matches_keras(keras, photo, color_mode, target_size, interpolation, keep_aspect_ratio):
    theirs = keras.utils.load_img(photo, color_mode=color_mode, target_size=target_size,
                                  interpolation=interpolation, keep_aspect_ratio=keep_aspect_ratio)
    ours = load_img(photo, color_mode=color_mode, target_size=target_size, interpolation=interpolation,
                    keep_aspect_ratio=keep_aspect_ratio)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_load_img_from_a_file_object(photo):
    img = load_img(io.BytesIO(photo.read_bytes()), color_mode="grayscale")
    assert img.mode == "L" and img.size == (21, 13)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "I"])
@pytest.mark.parametrize("dtype", [None, "uint8", "float64"])
def test_img_to_array_matches_keras(keras, photo, data_format, mode, dtype):
    img = PIL.open(photo).convert(mode)
    theirs = keras.utils.img_to_array(img, data_format=data_format, dtype=dtype)
    ours = img_to_array(img, data_format=data_format, dtype=dtype)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


ARRAYS = {
    "rgb": np.random.default_rng(1).uniform(-3, 5, (6, 7, 3)),
    "rgba": np.random.default_rng(2).uniform(0, 1, (6, 7, 4)),
    "gray": np.random.default_rng(3).uniform(0, 200, (6, 7, 1)),
    "gray-wide": np.random.default_rng(4).uniform(0, 3000, (6, 7, 1)),
    "constant": np.full((4, 4, 3), 7.0),
}


@pytest.mark.parametrize("name", list(ARRAYS))
@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_array_to_img_matches_keras(keras, name, scale, data_format):
    x = ARRAYS[name]
    if data_format == "channels_first":
        x = x.transpose(2, 0, 1)
    theirs = keras.utils.array_to_img(x, data_format=data_format, scale=scale)
    ours = array_to_img(x, data_format=data_format, scale=scale)
    assert ours.mode == theirs.mode and ours.size == theirs.size
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


@pytest.mark.parametrize(("name", "ext"), [("rgb", "png"), ("rgba", "png"), ("gray", "bmp"), ("rgb", "jpg")])
def test_save_img_matches_keras(keras, tmp_path, name, ext):
    keras.utils.save_img(tmp_path / f"k.{ext}", ARRAYS[name])
    save_img(tmp_path / f"l.{ext}", ARRAYS[name])
    theirs, ours = PIL.open(tmp_path / f"k.{ext}"), PIL.open(tmp_path / f"l.{ext}")
    assert ours.format == theirs.format and ours.mode == theirs.mode
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))


def test_save_img_rgba_as_jpeg_warns_and_drops_alpha(tmp_path):
    with pytest.warns(UserWarning, match="JPG format does not support RGBA"):
        save_img(tmp_path / "a.jpg", ARRAYS["rgba"])
    assert PIL.open(tmp_path / "a.jpg").mode == "RGB"
    save_img(tmp_path / "noext", ARRAYS["rgb"], file_format="png")
    assert PIL.open(tmp_path / "noext").format == "PNG"


def test_errors_say_what_is_wrong(photo):
    with pytest.raises(ValueError, match="color_mode"):
        load_img(photo, color_mode="cmyk")
    with pytest.raises(ValueError, match="Invalid interpolation"):
        load_img(photo, target_size=(4, 4), interpolation="area")
    with pytest.raises(ValueError, match="rank 3"):
        array_to_img(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="Unsupported channel number: 2"):
        array_to_img(np.zeros((4, 4, 2)))
    with pytest.raises(ValueError, match="data_format"):
        img_to_array(PIL.open(photo), data_format="NHWC")
