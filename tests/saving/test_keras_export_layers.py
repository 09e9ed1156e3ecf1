"""Layer by layer: a lamina functional model holding each built-in layer family is saved as ``.keras``, loaded by
Keras 3 (same predictions), saved again by Keras and loaded back by lamina (same predictions)."""

import numpy as np
import pytest

pytest.importorskip("h5py")

import lamina  # noqa: E402

L = lamina.layers
IMG, SEQ, VEC, VOL = (8, 8, 3), (6, 4), (5,), (4, 4, 4, 2)

CASES = {
    "rescaling": (IMG, lambda x: L.Rescaling(1 / 255.0, offset=0.5)(x)),
    "resizing": (IMG, lambda x: L.Resizing(4, 4)(x)),
    "center_crop": (IMG, lambda x: L.CenterCrop(4, 4)(x)),
    "random_augmentations": (IMG, lambda x: L.RandomBrightness(0.1)(L.RandomContrast(0.1)(L.RandomTranslation(
        0.1, 0.1)(L.RandomZoom(0.1)(L.RandomRotation(0.1)(L.RandomFlip()(x))))))),
    "activations": (VEC, lambda x: L.ELU(0.5)(L.ReLU(negative_slope=0.1, threshold=0.2)(L.Softmax()(
        L.Activation("swish")(x))))),
    "regularization": (VEC, lambda x: L.GaussianDropout(0.1)(L.AlphaDropout(0.1)(L.ActivityRegularization(0.01)(x)))),
    "masking": (SEQ, lambda x: L.Masking(0.0)(x)),
    "spatial_dropout": (VOL, lambda x: L.SpatialDropout2D(0.1)(L.Reshape((16, 4, 2))(L.SpatialDropout1D(0.1)(
        L.Reshape((64, 2))(L.SpatialDropout3D(0.1)(x)))))),
    "upsampling_padding_cropping": (IMG, lambda x: L.Cropping2D(1)(L.ZeroPadding2D(((1, 0), (2, 1)))(
        L.UpSampling2D(interpolation="bilinear")(x)))),
    "volumes": (VOL, lambda x: L.GlobalAveragePooling3D()(L.AveragePooling3D(2)(L.Cropping3D(1)(L.ZeroPadding3D()(
        L.UpSampling3D()(L.Conv3DTranspose(2, 2)(L.Conv3D(2, 2)(x)))))))),
    "merges": (VEC, lambda x: L.Concatenate()([L.Average()([x, x]), L.Maximum()([x, x]), L.Minimum()([x, x]),
                                              L.Subtract()([x, x]), L.Dot(axes=1, normalize=True)([x, x]),
                                              L.Identity()(x)])),
    "pooling": (IMG, lambda x: L.GlobalMaxPooling2D(keepdims=True)(L.MaxPooling2D(2)(x))),
    "conv1d_family": (SEQ, lambda x: L.SeparableConv1D(3, 2, depth_multiplier=2)(L.DepthwiseConv1D(
        2, depth_multiplier=2)(L.Conv1DTranspose(3, 2, strides=2)(L.MaxPooling1D(2)(x))))),
    "attention": (SEQ, lambda x: L.Concatenate()([L.Attention(use_scale=True, score_mode="concat")([x, x]),
                                                 L.AdditiveAttention()([x, x])])),
    "normalization": (SEQ, lambda x: L.BatchNormalization(center=False, scale=False)(L.LayerNormalization(
        rms_scaling=True)(L.GroupNormalization(2, axis=-1)(x)))),
    "recurrent": (SEQ, lambda x: L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="sum")(
        L.GRU(3, reset_after=False, return_sequences=True)(L.LSTM(3, go_backwards=True, return_state=True,
                                                                   return_sequences=True)(x)[0]))),
    "attention_heads": (SEQ, lambda x: L.MultiHeadAttention(2, 3, value_dim=2, output_shape=5, use_bias=False)(x, x)),
    "dense_and_conv": (IMG, lambda x: L.Dense(3, use_bias=False, activation="softplus", kernel_regularizer=(
        lamina.regularizers.L1L2(0.1, 0.2)))(L.PReLU(alpha_initializer="ones")(L.Conv2D(
            2, 3, strides=2, padding="same", use_bias=False)(x)))),
    "reshaping": (SEQ, lambda x: L.RepeatVector(2)(L.Flatten()(L.Permute((2, 1))(x)))),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_layer_family_both_ways(keras, tmp_path, name):
    shape, make = CASES[name]
    inp = lamina.Input(shape)
    model = lamina.Model(inp, make(inp))
    model.set_weights([w + 0.1 * np.random.default_rng(i).normal(size=w.shape).astype(w.dtype)
                       for i, w in enumerate(model.get_weights())])
    x = np.random.default_rng(7).normal(size=(2, *shape)).astype("float32")
    model.save(tmp_path / "l.keras")
    restored = keras.saving.load_model(tmp_path / "l.keras")
    want = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(np.asarray(restored.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras")
    np.testing.assert_allclose(np.asarray(back.predict(x, verbose=0)), want, atol=1e-5, rtol=1e-5)
