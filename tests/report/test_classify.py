"""Classifier analysis against scikit-learn and torch: the confusion matrix, per-class precision/recall/F1,
softmax/sigmoid of logits, the order of confident mistakes; the PNG encoder against Pillow's decoder."""

import base64
import io

import numpy as np
import pytest
import torch

from lamina.report.classify import (
    NotAClassifier,
    classify,
    image_data_uri,
    image_kind,
    png_bytes,
    probabilities,
    to_uint8,
)


def _random_case(n=300, classes=5, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    logits = rng.normal(size=(n, classes)) + 2.0 * np.eye(classes)[y]
    logits[:, 3] -= 10  # class 3 is never predicted: its precision is undefined
    return y, logits


def test_confusion_matrix_and_per_class_scores_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    y, logits = _random_case()
    result = classify(y, logits)
    predicted = logits.argmax(axis=1)
    np.testing.assert_array_equal(result.confusion, metrics.confusion_matrix(y, predicted, labels=range(5)))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(y, predicted, labels=range(5),
                                                                             zero_division=np.nan)
    np.testing.assert_allclose(result.precision, precision, equal_nan=True)
    np.testing.assert_allclose(result.recall, recall, equal_nan=True)
    np.testing.assert_allclose(result.f1[[0, 1, 2, 4]], f1[[0, 1, 2, 4]])
    assert np.isnan(result.precision[3]) and np.isnan(result.f1[3])
    np.testing.assert_array_equal(result.support, support)
    assert result.accuracy == pytest.approx(metrics.accuracy_score(y, predicted))


def test_logits_go_through_softmax_and_probabilities_are_kept():
    _, logits = _random_case()
    np.testing.assert_allclose(probabilities(logits), torch.softmax(torch.tensor(logits), dim=1).numpy(), rtol=1e-12)
    p = torch.softmax(torch.tensor(logits), dim=1).numpy()
    np.testing.assert_array_equal(probabilities(p), p)
    # One sigmoid unit: a binary classifier, as probabilities or as logits.
    z = np.array([[-2.0], [0.5], [3.0]])
    expected = torch.sigmoid(torch.tensor(z[:, 0])).numpy()
    np.testing.assert_allclose(probabilities(z)[:, 1], expected)
    np.testing.assert_allclose(probabilities(expected)[:, 1], expected)
    result = classify(np.array([1, 1, 0]), z)
    assert result.predicted.tolist() == [0, 1, 1] and result.wrong.tolist() == [2, 0]


def test_most_confident_mistakes_come_first():
    y, logits = _random_case(seed=1)
    result = classify(y, logits)
    p = torch.softmax(torch.tensor(logits), dim=1).numpy()
    brute = sorted((i for i in range(len(y)) if p[i].argmax() != y[i]), key=lambda i: -p[i].max())
    assert result.wrong.tolist() == brute
    np.testing.assert_allclose(result.confidence[result.wrong], p[brute].max(axis=1))


def test_one_hot_labels_and_labels_of_shape_n_by_1():
    y, logits = _random_case(n=40)
    reference = classify(y, logits)
    for labels in (np.eye(5)[y], y.reshape(-1, 1), y.astype(np.float32)):
        np.testing.assert_array_equal(classify(labels, logits).confusion, reference.confusion)


@pytest.mark.parametrize(("y", "y_pred", "words"), [
    (np.array([0.5, 1.2]), np.zeros((2, 3)), "non-integer"),
    (np.array([0, 7]), np.zeros((2, 3)), "from 0 to 7"),
    (np.array(["a", "b"]), np.zeros((2, 3)), "dtype"),
    (np.array([0, 1]), np.zeros((2, 3, 4)), "(samples, classes)"),
])
def test_what_is_not_a_classifier_says_why(y, y_pred, words):
    with pytest.raises(NotAClassifier, match=words.replace("(", r"\(").replace(")", r"\)")):
        classify(y, y_pred)


def test_samples_must_match():
    with pytest.raises(ValueError, match="y has 3 samples but the predictions have 2"):
        classify(np.array([0, 1, 1]), np.zeros((2, 3)))


@pytest.mark.parametrize("shape", [(7, 5), (7, 5, 1), (7, 5, 3), (7, 5, 4)])
def test_png_decodes_to_the_same_pixels(shape):
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    image = Image.open(io.BytesIO(png_bytes(pixels)))
    image.load()  # decodes every chunk, checking CRCs
    np.testing.assert_array_equal(np.asarray(image), pixels.reshape(shape[:2]) if len(shape) == 2 or shape[2] == 1
                                  else pixels)
    uri = image_data_uri(pixels)
    assert uri.startswith("data:image/png;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == png_bytes(pixels)


def test_pixel_ranges_and_image_shapes():
    np.testing.assert_array_equal(to_uint8(np.array([0.0, 0.5, 1.0])), [0, 128, 255])  # [0, 1] floats
    np.testing.assert_array_equal(to_uint8(np.array([0, 17, 255])), [0, 17, 255])  # already bytes
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 3.0])), [0, 64, 255])  # stretched
    assert image_kind(np.zeros((2, 28, 28))) == "gray"
    assert image_kind(np.zeros((2, 28, 28, 1))) == "gray"
    assert image_kind(np.zeros((2, 32, 32, 3))) == "color"
    assert image_kind(np.zeros((2, 10))) is None
    assert image_kind(np.zeros((2, 32, 32, 8))) is None
    assert image_kind(np.zeros((2, 2, 2))) is None
