"""EfficientNetB0-B7 against Keras 3 (the oracle): layer names, parameter counts and predictions through a Keras
weights file, the embedded Rescaling and Normalization (whose statistics are weights) included."""

import numpy as np
import pytest
from damped import damped, quick
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import efficientnet  # noqa: E402


def test_b0_matches_keras(tmp_path):
    # Keras's kernels drawn quickly (damped.quick); lamina builds twice with its own initializers (weights=<path>)
    assert_matches_keras(quick(keras.applications.EfficientNetB0), efficientnet.EfficientNetB0, (64, 64, 3), tmp_path,
                         classes=5, scale=255.0)


# the larger variants headless at the smallest input (their top is one Dense layer B0 already covers), with damped
# residual branches (damped.py: 20-55 random blocks otherwise amplify float32 rounding past 1e-4)
@pytest.mark.parametrize("variant", ["B1", "B2", "B3", "B4", "B5", "B6", "B7"])
def test_larger_variants_match_keras(variant, tmp_path):
    name = f"EfficientNet{variant}"
    assert_matches_keras(damped(getattr(keras.applications, name), "project_bn"), quick(getattr(efficientnet, name)),
                         (32, 32, 3), tmp_path, include_top=False, pooling="avg", scale=255.0, batch=1,
                         file_format="weights.h5" if variant == "B7" else "h5", rebuild=False)


def test_signature_and_names_as_keras():
    import inspect

    for i in range(8):
        fn = getattr(efficientnet, f"EfficientNetB{i}")
        assert fn.__name__ == f"EfficientNetB{i}"
        ours, theirs = (inspect.signature(f).parameters for f in (fn, getattr(keras.applications, fn.__name__)))
        assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


def test_imagenet_rules():
    with pytest.raises(ValueError, match="classes"):
        efficientnet.EfficientNetB0(classes=10)
    with pytest.raises(ValueError, match="input_shape"):
        efficientnet.EfficientNetB0(input_shape=(64, 64, 3))  # the top's ImageNet weights need 224x224


def test_preprocess_input_is_the_identity():
    x = np.arange(6.0)
    assert efficientnet.preprocess_input(x) is x


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, _, file_hash = assert_same_weights_file(quick(keras.applications.EfficientNetB0),
                                                  quick(efficientnet.EfficientNetB0),
                                                  monkeypatch, input_shape=(32, 32, 3), include_top=False)
    assert (name, file_hash) == ("efficientnetb0_notop.h5", "50bc09e76180e00e4465e1a485ddc09d")
