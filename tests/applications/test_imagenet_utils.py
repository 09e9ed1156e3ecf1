"""imagenet_utils against Keras 3: preprocessing (modes, layouts, NumPy / tensors / symbolic), decoding (the
class index fetched as data), input shapes, padding and the argument checks the architectures share."""

import hashlib
import json

import numpy as np
import pytest
import torch

import lamina
from lamina.applications import imagenet_utils


@pytest.mark.parametrize("mode", ["caffe", "tf", "torch"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_preprocess_input_as_keras(keras, mode, data_format):
    shape = (2, 5, 4, 3) if data_format == "channels_last" else (2, 3, 5, 4)
    x = np.random.default_rng(0).uniform(0, 255, shape).astype("float32")
    ku = keras.applications.imagenet_utils
    expected = ku.preprocess_input(x.copy(), data_format=data_format, mode=mode)
    kw = dict(data_format=data_format, mode=mode)
    np.testing.assert_allclose(imagenet_utils.preprocess_input(x.copy(), **kw), expected, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(imagenet_utils.preprocess_input(x[0].copy(), **kw),
                               ku.preprocess_input(x[0].copy(), **kw), rtol=1e-6, atol=1e-5)
    tensor = torch.from_numpy(x.copy())
    np.testing.assert_allclose(imagenet_utils.preprocess_input(tensor, **kw).numpy(), expected, rtol=1e-6, atol=1e-5)
    assert torch.equal(tensor, torch.from_numpy(x))  # a tensor is not written over
    inputs = lamina.Input(shape[1:])
    model = lamina.Model(inputs, imagenet_utils.preprocess_input(inputs, **kw))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-6, atol=1e-5)


def test_preprocess_input_integers_and_in_place():
    pixels = np.full((1, 1, 1, 3), 255, dtype="uint8")
    out = imagenet_utils.preprocess_input(pixels, mode="tf")
    assert out.dtype == np.float32 and np.all(out == 1.0) and pixels[0, 0, 0, 0] == 255
    x = np.full((1, 1, 1, 3), 255.0)
    imagenet_utils.preprocess_input(x, mode="tf")
    assert np.all(x == 1.0)  # a float array is written over, as in Keras


def test_preprocess_input_errors():
    with pytest.raises(ValueError, match="mode=.*bgr"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), mode="bgr")
    with pytest.raises(ValueError, match="data_format=.*NHWC"):
        imagenet_utils.preprocess_input(np.zeros((1, 2, 2, 3)), data_format="NHWC")


def test_decode_predictions_reads_the_index_as_data(monkeypatch, tmp_path):
    index = {str(i): [f"n{i:08d}", f"class_{i}"] for i in range(1000)}
    source = tmp_path / "index.json"
    source.write_text(json.dumps(index))
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", source.as_uri())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(source.read_bytes()).hexdigest())
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", None)
    preds = np.random.default_rng(0).random((2, 1000)).astype("float32")
    decoded = imagenet_utils.decode_predictions(torch.from_numpy(preds), top=3)
    for row, result in zip(preds, decoded, strict=True):
        best = np.argsort(-row)[:3]
        assert [r[0] for r in result] == [f"n{i:08d}" for i in best]
        assert [r[1] for r in result] == [f"class_{i}" for i in best]
        np.testing.assert_allclose([r[2] for r in result], row[best])
    assert (tmp_path / "home" / "models" / "imagenet_class_index.json").is_file()
    with pytest.raises(ValueError, match=r"\(samples, 1000\).*\(2, 10\)"):
        imagenet_utils.decode_predictions(np.zeros((2, 10)))


def test_decode_predictions_refuses_a_wrong_index(monkeypatch, tmp_path):
    source = tmp_path / "index.json"
    source.write_text(json.dumps({"0": ["a", "b"]}))
    monkeypatch.setenv("LAMINA_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_PATH", source.as_uri())
    monkeypatch.setattr(imagenet_utils, "CLASS_INDEX_HASH", hashlib.md5(source.read_bytes()).hexdigest())
    monkeypatch.setattr(imagenet_utils, "_CLASS_INDEX", None)
    with pytest.raises(ValueError, match="1000 classes"):
        imagenet_utils.decode_predictions(np.zeros((1, 1000)))


SHAPE_CASES = [
    (None, 224, 32, "channels_last", True, None), (None, 224, 32, "channels_last", False, None),
    (None, 224, 32, "channels_first", False, None), ((64, 64, 3), 224, 32, "channels_last", False, "imagenet"),
    ((64, 48, 1), 224, 32, "channels_last", True, None), ((3, 80, 96), 299, 71, "channels_first", False, None),
    ((224, 224, 3), 224, 32, "channels_last", True, "imagenet"), (None, 299, 75, "channels_last", True, "imagenet"),
    ((None, None, 3), 224, 32, "channels_last", False, "imagenet"),
]
ERROR_CASES = [
    ((64, 64, 3), 224, 32, "channels_last", True, "imagenet"), ((16, 64, 3), 224, 32, "channels_last", False, None),
    ((64, 64, 1), 224, 32, "channels_last", False, "imagenet"), ((64, 64), 224, 32, "channels_last", False, None),
    ((None, None, 3), 224, 32, "channels_last", True, None), ((3, 20, 80), 299, 71, "channels_first", False, None),
]


def test_obtain_input_shape_as_keras(keras):
    from keras.src.applications import imagenet_utils as ku  # Keras's internal helper, the reference
    for case in SHAPE_CASES:
        assert imagenet_utils.obtain_input_shape(*case) == tuple(ku.obtain_input_shape(*case)), case
    for case in ERROR_CASES:
        with pytest.raises(ValueError) as expected:
            ku.obtain_input_shape(*case)
        with pytest.raises(ValueError) as got:
            imagenet_utils.obtain_input_shape(*case)
        assert str(got.value).split(";")[0].split(".")[0] == str(expected.value).split(";")[0].split(".")[0], case
    with pytest.warns(UserWarning, match="1 or 3 input channels"):
        imagenet_utils.obtain_input_shape((64, 64, 5), 224, 32, "channels_last", False)


def test_correct_pad_as_keras(keras):
    from keras.src.applications import imagenet_utils as ku
    for shape, kernel in [((224, 224, 3), 3), ((225, 113, 3), 3), ((None, None, 3), 5), ((96, 97, 8), (3, 5))]:
        expected = ku.correct_pad(keras.Input(shape), kernel)
        assert imagenet_utils.correct_pad(lamina.Input(shape), kernel) == tuple(map(tuple, expected))


def test_activation_and_weights_checks(tmp_path):
    imagenet_utils.validate_activation("relu", None)
    imagenet_utils.validate_activation(None, "imagenet")
    imagenet_utils.validate_activation("softmax", "imagenet")
    with pytest.raises(ValueError, match="Only `None` and `softmax`"):
        imagenet_utils.validate_activation("sigmoid", "imagenet")
    imagenet_utils.check_weights_argument(None, True, 7)
    path = tmp_path / "w.h5"
    path.write_bytes(b"")
    imagenet_utils.check_weights_argument(str(path), True, 7)
    with pytest.raises(ValueError, match="weights=imagenet21k"):
        imagenet_utils.check_weights_argument("imagenet21k", True, 1000)
    with pytest.raises(ValueError, match="classes=7"):
        imagenet_utils.check_weights_argument("imagenet", True, 7)
