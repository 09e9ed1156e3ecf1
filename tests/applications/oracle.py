"""The Keras 3 oracle for ``lamina.applications``: the same architecture built by both, Keras's random weights
moved through a Keras weights file, equal predictions.

``assert_matches_keras(keras.applications.ResNet50, lamina.applications.ResNet50, (64, 64, 3), tmp_path,
include_top=False)`` builds both with ``weights=None``, checks the layer names (in order), output shapes and
parameter counts, randomises Keras's weights (BatchNormalization statistics and biases too, so that a swapped
or mis-transposed weight shows), writes them to a Keras weights file (legacy ``.h5`` as ``keras.applications``
publishes them, or Keras 3 ``.weights.h5``), builds lamina's model again with ``weights=<that file>`` and
compares predictions on random images.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lamina.applications.weights import load_application_weights


def randomize_keras_weights(model: Any, seed: int = 0) -> None:
    """Give every constant weight of ``model`` (zeros, ones: biases, BatchNormalization's gamma, beta and
    statistics) random values of a harmless scale; random kernels are kept as Keras initialised them."""
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        value = np.asarray(variable.numpy())
        if value.size == 0 or not np.all(value == value.flat[0]):
            continue
        if value.flat[0] == 1.0:  # gamma, moving_variance: positive, around 1
            new = rng.uniform(0.5, 1.5, value.shape)
        else:  # biases, beta, moving_mean
            new = rng.normal(0.0, 0.1, value.shape)
        variable.assign(new.astype(value.dtype))


def write_keras_weights(model: Any, path: Path) -> Path:
    """``model``'s weights as a Keras weights file: ``*.weights.h5`` (Keras 3) or any other ``.h5`` (the legacy
    layout of the published ImageNet files: ``layer_names``, ``weight_names``, layers in order)."""
    path = Path(path)
    if path.name.endswith(".weights.h5"):
        model.save_weights(str(path))
        return path
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)
    return path


def assert_matches_keras(keras_fn: Callable, lamina_fn: Callable, input_shape: tuple, tmp_path: Path, *,
                         file_format: str = "h5", batch: int = 2, seed: int = 0, atol: float = 1e-4,
                         rtol: float = 1e-4, scale: float = 1.0, rebuild: bool = True,
                         **kwargs: Any) -> tuple[Any, Any]:
    """Build ``keras_fn(**kwargs)`` and ``lamina_fn(**kwargs)`` (``weights=None``, ``input_shape``), check equal
    layer names (in order), output shapes and parameter counts, move Keras's randomised weights into lamina
    through a ``file_format`` (``"h5"`` legacy or ``"weights.h5"``) file given as ``weights=<path>``, and compare
    predictions on random images (values ``scale * U[0, 1)``) within ``atol + rtol * |keras|``.
    ``rebuild=False`` loads the file into the model already built (through the same ``load_application_weights``
    that ``weights=<path>`` calls) instead of building it again: for the largest models.

    Returns the two models (Keras's, lamina's with the loaded weights)."""
    import keras

    import lamina

    kwargs = {"input_shape": input_shape, **kwargs}
    keras.backend.clear_session()  # automatic layer names (conv2d, conv2d_1, ...) count from zero in both
    k_model = keras_fn(weights=None, **kwargs)
    lamina.clear_session()
    l_plain = lamina_fn(weights=None, **kwargs)
    k_names = [layer.name for layer in k_model.layers]
    # Keras's `layers` leaves out plain operations (`x + 3.0`, `inputs + y`); lamina records them as OpLayers
    l_names = [layer.name for layer in l_plain.layers if type(layer).__name__ != "OpLayer"]
    assert l_names == k_names, _first_difference(k_names, l_names)
    assert l_plain.name == k_model.name
    assert tuple(l_plain.output_shape) == tuple(k_model.output_shape)
    assert l_plain.count_params() == k_model.count_params()
    assert sum(int(np.prod(w.shape)) for w in l_plain.trainable_weights) == \
        sum(int(np.prod(w.shape)) for w in k_model.trainable_weights)

    randomize_keras_weights(k_model, seed)
    path = write_keras_weights(k_model, Path(tmp_path) / f"{k_model.name}_random.{file_format}")
    if rebuild:
        lamina.clear_session()
        l_model = lamina_fn(weights=str(path), **kwargs)
    else:  # the same loading road (load_application_weights -> model.load_weights), one build fewer
        load_application_weights(l_plain, str(path), origin=None, file_name=None, file_hash=None)
        l_model = l_plain

    rng = np.random.default_rng(seed + 1)
    shape = tuple(d if d is not None else 48 for d in input_shape)
    x = (scale * rng.random((batch, *shape))).astype("float32")
    with torch.no_grad():  # direct calls in inference mode (predict's loop adds nothing here but time)
        expected = keras.ops.convert_to_numpy(k_model(x, training=False))
        got = l_model(torch.from_numpy(x), training=False).detach().cpu().numpy()
    assert got.shape == expected.shape
    # relative to the output's scale where it is large (deep random networks reach |y| ~ 100: float32 rounding
    # differences of 1e-5 relative then exceed a fixed 1e-4)
    np.testing.assert_allclose(got, expected, atol=atol * max(1.0, float(np.abs(expected).max())), rtol=rtol)
    return k_model, l_model


def _first_difference(expected: list[str], got: list[str]) -> str:
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return f"layer {i}: Keras {a!r}, lamina {b!r} (Keras has {len(expected)} layers, lamina {len(got)})"
    extra = (expected if len(expected) > len(got) else got)[min(len(expected), len(got)):]
    return f"Keras has {len(expected)} layers, lamina {len(got)}; the longer one goes on with {extra[:5]}"
