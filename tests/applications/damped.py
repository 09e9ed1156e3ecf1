"""Cheaper, well-conditioned oracle builds for the deepest and largest models of helper B's families.

Damping: with Keras's random kernels and the oracle's random BatchNormalization statistics, 50-80 residual blocks
amplify float32 rounding (1e-7) into differences of 1e-3 of the output between any two implementations (measured
layer by layer: the difference grows smoothly with depth, none appears at one layer). Damping each residual branch
(its last BatchNormalization's gamma drawn in [0.1, 0.3] instead of around 1) keeps the network near the identity,
so the comparison sees the layers and weights, not the amplified rounding. ``randomize_keras_weights`` leaves these
gammas as they are (it only replaces constant weights).

Quick initialisation: Keras's truncated-normal/uniform ``VarianceScaling`` draws take about 3/4 of building a
100M-parameter model (44 s of 55 s for EfficientNetV2L on the loaded 2-core machine), lamina's about half. The
oracle compares predictions after moving Keras's weights into lamina, so only their scale matters: ``quick`` draws
Keras's kernels with ``torch.randn`` at the scale Keras's own ``compute_fans`` gives, and lamina's random weights
(overwritten by the loaded file) the same way.
"""

from __future__ import annotations

import contextlib
import functools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch


@contextlib.contextmanager
def quick_init() -> Iterator[None]:
    """Within the block, Keras's ``VarianceScaling`` family and lamina's random initializers draw plain normals
    (same mean and scale) with ``torch``."""
    import keras
    from keras.src.initializers import random_initializers as keras_init

    from lamina import initializers

    def keras_draw(self: Any, shape: tuple, dtype: Any = None) -> Any:
        fan_in, fan_out = keras_init.compute_fans(shape)
        fans = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        return keras.ops.cast(torch.randn(tuple(shape)) * math.sqrt(self.scale / max(1.0, fans)), dtype)

    def lamina_draw(self: Any, kind: str, shape: tuple, dtype: Any, a: float, b: float) -> torch.Tensor:
        if kind == "uniform":
            return torch.empty(tuple(shape)).uniform_(a, b)
        return torch.empty(tuple(shape)).normal_(a, b)

    saved = keras_init.VarianceScaling.__call__, initializers.RandomInitializer._draw
    keras_init.VarianceScaling.__call__, initializers.RandomInitializer._draw = keras_draw, lamina_draw
    try:
        yield
    finally:
        keras_init.VarianceScaling.__call__, initializers.RandomInitializer._draw = saved


def quick(fn: Callable) -> Callable:
    """``fn`` (a Keras or lamina architecture) built under :func:`quick_init`."""

    @functools.wraps(fn)
    def build(**kwargs: Any) -> Any:
        with quick_init():
            return fn(**kwargs)

    return build


def damped(keras_fn: Callable, branch_end: str, seed: int = 7) -> Callable:
    """``keras_fn`` built under :func:`quick_init`, its model with the gamma of every BatchNormalization named
    ``*<branch_end>`` drawn in ``[0.1, 0.3]``."""

    def build(**kwargs: Any) -> Any:
        model = quick(keras_fn)(**kwargs)
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.name.endswith(branch_end) and hasattr(layer, "gamma") and layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.1, 0.3, tuple(layer.gamma.shape)).astype("float32"))
        return model

    return build
