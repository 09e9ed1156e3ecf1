"""Layers: the building blocks of models."""

from lamina.core import serialization as _serialization
from lamina.layers import op_layer as _op_layer  # installs lamina.ops's symbolic hook (OpLayer nodes)
from lamina.layers.activation import ELU, LeakyReLU, PReLU, ReLU, Softmax
from lamina.layers.adaptive_pooling import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from lamina.layers.attention import AdditiveAttention, Attention, MultiHeadAttention
from lamina.layers.augmentation_policies import AugMix, MaxNumBoundingBoxes, Pipeline, RandAugment
from lamina.layers.category_encoding import CategoryEncoding
from lamina.layers.color_augmentation import (
    AutoContrast,
    ContrastLimitedAdaptiveHistogramEqualization,
    Equalization,
    RandomColorDegeneration,
    RandomColorJitter,
    RandomGrayscale,
    RandomHue,
    RandomInvert,
    RandomPosterization,
    RandomSaturation,
    RandomSharpness,
    Solarization,
)
from lamina.layers.conv import (
    Conv1D,
    Conv1DTranspose,
    Conv2D,
    Conv2DTranspose,
    Conv3D,
    Conv3DTranspose,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from lamina.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from lamina.layers.core import Activation, Dense, Dropout, Identity, Input, InputLayer, Lambda, TorchModuleWrapper
from lamina.layers.discretization import Discretization
from lamina.layers.einsum_dense import EinsumDense
from lamina.layers.embedding import Embedding, Masking
from lamina.layers.geometric_augmentation import (
    RandomElasticTransform,
    RandomErasing,
    RandomGaussianBlur,
    RandomPerspective,
    RandomShear,
)
from lamina.layers.group_query_attention import GroupedQueryAttention, GroupQueryAttention
from lamina.layers.hashing import HashedCrossing, Hashing
from lamina.layers.layer import InputSpec, Layer
from lamina.layers.lookup import IntegerLookup, StringLookup
from lamina.layers.merge import (
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from lamina.layers.mixing_augmentation import CutMix, MixUp
from lamina.layers.normalization import (
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    UnitNormalization,
)
from lamina.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from lamina.layers.preprocessing import (
    CenterCrop,
    Normalization,
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomFlip,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
    Rescaling,
    Resizing,
)
from lamina.layers.recurrent import GRU, LSTM, Bidirectional, SimpleRNN, TimeDistributed
from lamina.layers.regularization import (
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from lamina.layers.reshaping import (
    Cropping1D,
    Cropping2D,
    Cropping3D,
    Flatten,
    Permute,
    RepeatVector,
    Reshape,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from lamina.layers.reversible_embedding import ReversibleEmbedding
from lamina.layers.rms_normalization import RMSNormalization
from lamina.layers.rnn import RNN
from lamina.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lamina.layers.spectrogram import MelSpectrogram, STFTSpectrogram
from lamina.layers.text_vectorization import TextVectorization
from lamina.layers.wrappers import SpectralNormalization, Wrapper

# Keras's short aliases
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D

# Every layer class (of this package and its modules) resolves by name in configs, through the one registry.
_serialization.register_package("layers", globals())


def serialize(layer: Layer) -> dict:
    """A layer's config as Keras writes it (``module``, ``class_name``, ``config``, ``registered_name``, and
    ``build_config`` once built); ``deserialize`` makes a new layer from it."""
    config = _serialization.serialize_layer(layer)
    build_config = layer.get_build_config() if isinstance(layer, Layer) else None
    if build_config:
        config["build_config"] = build_config
    return config


def deserialize(config: dict, custom_objects: dict | None = None) -> Layer:
    """A new layer (new weights) from ``serialize``'s output; class names resolve only through lamina's registry,
    ``register_serializable`` and ``custom_objects``."""
    with _serialization.custom_object_scope(custom_objects):
        layer = _serialization.deserialize_layer(config)
    if isinstance(config, dict) and config.get("build_config") and not layer.built:
        layer.build_from_config(config["build_config"])
    return layer
