"""EfficientNetV2 B0-B3, S, M, L against Keras 3 (the oracle): layer names, parameter counts and predictions
through a Keras weights file, both embedded preprocessings (B: Rescaling + Normalization, S/M/L: Rescaling)."""

import inspect

import numpy as np
import pytest
from damped import damped, quick
from oracle import assert_matches_keras

keras = pytest.importorskip("keras")

from lamina.applications import efficientnet_v2  # noqa: E402


def test_b0_matches_keras(tmp_path):
    # Keras's kernels drawn quickly (damped.quick); lamina builds twice with its own initializers (weights=<path>)
    assert_matches_keras(quick(keras.applications.EfficientNetV2B0), efficientnet_v2.EfficientNetV2B0, (64, 64, 3),
                         tmp_path, classes=5, scale=255.0)


# the larger variants headless at the smallest input (their top is one Dense layer B0 already covers), with damped
# residual branches (damped.py: 40-80 random blocks otherwise amplify float32 rounding past 1e-4)
@pytest.mark.parametrize("variant", ["B1", "B2", "B3", "S", "M", "L"])
def test_larger_variants_match_keras(variant, tmp_path):
    assert_matches_keras(damped(getattr(keras.applications, f"EfficientNetV2{variant}"), "project_bn"),
                         quick(getattr(efficientnet_v2, f"EfficientNetV2{variant}")), (32, 32, 3), tmp_path,
                         include_top=False, pooling="max" if variant == "S" else "avg", scale=255.0, batch=1,
                         file_format="weights.h5" if variant == "L" else "h5", rebuild=False)


def test_without_preprocessing(tmp_path):
    assert_matches_keras(quick(keras.applications.EfficientNetV2B0), quick(efficientnet_v2.EfficientNetV2B0),
                         (None, None, 3), tmp_path, include_top=False, include_preprocessing=False, batch=1,
                         rebuild=False)


def test_signatures_and_names_as_keras():
    for variant in ("B0", "B1", "B2", "B3", "S", "M", "L"):
        fn = getattr(efficientnet_v2, f"EfficientNetV2{variant}")
        assert fn.__name__ == f"EfficientNetV2{variant}"
        ours, theirs = (inspect.signature(f).parameters for f in (fn, getattr(keras.applications, fn.__name__)))
        assert [(p.name, p.default) for p in ours.values()] == [(p.name, p.default) for p in theirs.values()]


def test_imagenet_rules():
    with pytest.raises(ValueError, match="classes"):
        efficientnet_v2.EfficientNetV2S(classes=10)


def test_preprocess_input_is_the_identity():
    x = np.arange(6.0)
    assert efficientnet_v2.preprocess_input(x) is x


def test_imagenet_file_as_keras(monkeypatch):
    from imagenet_files import assert_same_weights_file

    name, _, file_hash = assert_same_weights_file(quick(keras.applications.EfficientNetV2B0),
                                                  quick(efficientnet_v2.EfficientNetV2B0), monkeypatch,
                                                  input_shape=(32, 32, 3), include_top=False)
    assert (name, file_hash) == ("efficientnetv2-b0_notop.h5", "893217f2bb855e2983157299931e43ff")
