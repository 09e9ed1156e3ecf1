"""Well-conditioned random networks for the oracle's deepest models.

With Keras's random kernels and the oracle's random BatchNormalization statistics, 50-80 residual blocks amplify
float32 rounding (1e-7) into differences of 1e-3 of the output between any two implementations (measured layer by
layer: the difference grows smoothly with depth, none appears at one layer). Damping each residual branch (its last
BatchNormalization's gamma drawn in [0.1, 0.3] instead of around 1) keeps the network near the identity, so the
comparison sees the layers and weights, not the amplified rounding. ``randomize_keras_weights`` leaves these gammas
as they are (it only replaces constant weights).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def damped(keras_fn: Callable, branch_end: str, seed: int = 7) -> Callable:
    """``keras_fn`` whose model has the gamma of every BatchNormalization named ``*<branch_end>`` drawn in
    ``[0.1, 0.3]``."""

    def build(**kwargs: Any) -> Any:
        model = keras_fn(**kwargs)
        rng = np.random.default_rng(seed)
        for layer in model.layers:
            if layer.name.endswith(branch_end) and hasattr(layer, "gamma") and layer.gamma is not None:
                layer.gamma.assign(rng.uniform(0.1, 0.3, tuple(layer.gamma.shape)).astype("float32"))
        return model

    return build
