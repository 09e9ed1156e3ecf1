"""The modern blocks in ``.keras`` files both ways: a lamina model holding them is saved, loaded by Keras 3 (same
predictions), saved again by Keras and loaded back by lamina (same predictions).

Until ``lamina.layers`` exports these classes, neither side finds them by name alone: both loads get
``custom_objects`` (Keras's classes for Keras, lamina's for lamina)."""

import numpy as np
import pytest

pytest.importorskip("h5py")

import lamina  # noqa: E402
from lamina.layers.adaptive_pooling import AdaptiveAveragePooling1D, AdaptiveMaxPooling2D  # noqa: E402
from lamina.layers.einsum_dense import EinsumDense  # noqa: E402
from lamina.layers.group_query_attention import GroupQueryAttention  # noqa: E402
from lamina.layers.reversible_embedding import ReversibleEmbedding  # noqa: E402
from lamina.layers.rms_normalization import RMSNormalization  # noqa: E402
from lamina.layers.wrappers import SpectralNormalization  # noqa: E402

L = lamina.layers
SEQ, IMG = (6, 4), (7, 5, 3)
CUSTOM = {c.__name__: c for c in (AdaptiveAveragePooling1D, AdaptiveMaxPooling2D, EinsumDense,
                                  GroupQueryAttention, ReversibleEmbedding, RMSNormalization,
                                  SpectralNormalization)}

CASES = {
    "einsum_rms": (SEQ, lambda x: RMSNormalization()(EinsumDense("abc,cde->abde", (6, 2, 3), bias_axes="de")(x))),
    "gqa": (SEQ, lambda x: GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=2,
                                                 use_gate=True)(x, x)),
    "spectral": (SEQ, lambda x: SpectralNormalization(L.Dense(3), power_iterations=2)(x)),
    "spectral_conv": (IMG, lambda x: SpectralNormalization(L.Conv2D(4, (2, 3)))(x)),
    "adaptive": (IMG, lambda x: AdaptiveMaxPooling2D((2, 3))(x)),
    "adaptive_1d": (SEQ, lambda x: AdaptiveAveragePooling1D(4)(x)),
}


def _keras_custom(keras):
    return {name: getattr(keras.layers, name) for name in CUSTOM}


@pytest.mark.parametrize("name", sorted(CASES))
def test_blocks_both_ways(keras, tmp_path, name):
    shape, make = CASES[name]
    inp = lamina.Input(shape)
    model = lamina.Model(inp, make(inp))
    model.set_weights([w + 0.1 * np.random.default_rng(i).normal(size=w.shape).astype(w.dtype)
                       for i, w in enumerate(model.get_weights())])
    x = np.random.default_rng(7).normal(size=(2, *shape)).astype("float32")
    model.save(tmp_path / "l.keras")
    restored = keras.saving.load_model(tmp_path / "l.keras", custom_objects=_keras_custom(keras))
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras", custom_objects=CUSTOM)
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)


def test_reversible_embedding_both_ways(keras, tmp_path):
    ids = lamina.Input((5,), dtype="int32")
    embed = ReversibleEmbedding(12, 4, tie_weights=False, logit_soft_cap=3.0)
    model = lamina.Model(ids, embed(L.Dense(4)(embed(ids)), reverse=True))
    model.set_weights([w + 0.1 * np.random.default_rng(i).normal(size=w.shape).astype(w.dtype)
                       for i, w in enumerate(model.get_weights())])
    x = np.random.default_rng(3).integers(0, 12, size=(2, 5))
    model.save(tmp_path / "l.keras")
    restored = keras.saving.load_model(tmp_path / "l.keras", custom_objects=_keras_custom(keras))
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras", custom_objects=CUSTOM)
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)


def test_group_query_attention_lamina_file_round_trip(tmp_path):
    inp = lamina.Input(SEQ)
    model = lamina.Model(inp, GroupQueryAttention(head_dim=2, num_query_heads=4, num_key_value_heads=1,
                                                  use_gate=True)(inp, inp))
    x = np.random.default_rng(7).normal(size=(2, *SEQ)).astype("float32")
    model.save(tmp_path / "l.keras")
    back = lamina.models.load_model(tmp_path / "l.keras", custom_objects=CUSTOM)
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)),
                               atol=1e-6)
