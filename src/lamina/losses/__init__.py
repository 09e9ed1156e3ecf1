"""Losses with Keras 3's names, arguments, defaults and configs, computed as plain PyTorch on the device.

Loss *functions* (``mean_squared_error``) return one value per sample; loss *classes* (``MeanSquaredError``)
weight those by ``sample_weight`` and reduce them. ``get``/``serialize``/``deserialize`` go through lamina's own
registry only.

>>> import torch
>>> loss = get("sparse_categorical_crossentropy")
>>> y_pred = torch.tensor([[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]])
>>> round(float(loss(torch.tensor([1, 2]), y_pred)), 3)
1.177
"""

from lamina.losses.base import (
    FUNCTIONS,
    LOSSES,
    REDUCTIONS,
    Loss,
    LossFunctionWrapper,
    deserialize,
    get,
    reduce_weighted_values,
    serialize,
)
from lamina.losses.crossentropy import (
    BinaryCrossentropy,
    BinaryFocalCrossentropy,
    CategoricalCrossentropy,
    CategoricalFocalCrossentropy,
    SparseCategoricalCrossentropy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    sparse_categorical_crossentropy,
)
from lamina.losses.hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from lamina.losses.probabilistic import (
    CategoricalGeneralizedCrossEntropy,
    KLDivergence,
    Poisson,
    categorical_generalized_cross_entropy,
    kl_divergence,
    poisson,
)
from lamina.losses.regression import (
    CosineSimilarity,
    Huber,
    LogCosh,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    cosine_similarity,
    huber,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
)
from lamina.losses.segmentation import Dice, Tversky, dice, tversky
from lamina.losses.sequence import CTC, ctc
from lamina.losses.similarity import Circle, circle

# Keras's short aliases of the functions
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh
huber_loss = huber

__all__ = [
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CTC", "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy", "CategoricalGeneralizedCrossEntropy", "CategoricalHinge", "Circle",
    "CosineSimilarity", "Dice", "FUNCTIONS", "Hinge", "Huber", "KLD", "KLDivergence", "LOSSES", "LogCosh", "Loss",
    "LossFunctionWrapper", "MAE", "MAPE", "MSE", "MSLE", "MeanAbsoluteError", "MeanAbsolutePercentageError",
    "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson", "REDUCTIONS", "SparseCategoricalCrossentropy",
    "SquaredHinge", "Tversky", "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy",
    "categorical_focal_crossentropy", "categorical_generalized_cross_entropy", "categorical_hinge", "circle",
    "cosine_similarity", "ctc", "deserialize", "dice", "get", "hinge", "huber", "huber_loss", "kl_divergence", "kld",
    "kullback_leibler_divergence", "log_cosh", "logcosh", "mae", "mape", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error", "mse", "msle",
    "poisson", "reduce_weighted_values", "serialize", "sparse_categorical_crossentropy", "squared_hinge",
    "tversky",
]
