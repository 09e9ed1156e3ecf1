"""Keras's alias names of layers are the same classes in lamina as in Keras (checked against Keras 3)."""

from __future__ import annotations

import pytest

import lamina

ALIASES = ["Convolution1D", "Convolution2D", "Convolution3D", "Convolution1DTranspose", "Convolution2DTranspose",
           "Convolution3DTranspose", "SeparableConvolution1D", "SeparableConvolution2D", "MaxPool1D", "MaxPool2D",
           "MaxPool3D", "AvgPool1D", "AvgPool2D", "AvgPool3D", "GlobalAvgPool1D", "GlobalAvgPool2D", "GlobalAvgPool3D",
           "GlobalMaxPool1D", "GlobalMaxPool2D", "GlobalMaxPool3D"]


@pytest.mark.parametrize("alias", ALIASES)
def test_alias_is_the_class_keras_aliases(keras, alias):
    theirs, ours = getattr(keras.layers, alias), getattr(lamina.layers, alias)
    assert ours.__name__ == theirs.__name__  # e.g. Convolution2DTranspose is Conv2DTranspose in both
    assert ours is getattr(lamina.layers, theirs.__name__)
