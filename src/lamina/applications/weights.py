"""Loading an architecture's weights: ``None``, ``"imagenet"`` (the file Keras publishes, fetched once and
checked against its published hash) or the path of a weights file.

Files are read through lamina's Keras importer (data only, never code): Keras 2's legacy HDF5 weights (what
``keras.applications`` publishes, ``*_weights_tf_dim_ordering_tf_kernels*.h5``, layers matched in order),
Keras 3's ``.weights.h5`` and lamina's ``.weights.safetensors``.

>>> load_application_weights(model, "imagenet", origin=BASE + name, file_name=name,
...                          file_hash="4d473c1dd8becc155b73f8504c6f6626")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from lamina.data.download import get_file

__all__ = ["load_application_weights"]


def load_application_weights(model: Any, weights: Any, *, origin: str | None, file_name: str | None,
                             file_hash: str | None, cache_subdir: str = "models") -> None:
    """Load ``weights`` into the freshly built application ``model``.

    Args:
        model: the built functional model.
        weights: ``None`` (keep the random initialisation), ``"imagenet"`` (download ``origin`` as
            ``file_name`` into ``$LAMINA_HOME/<cache_subdir>`` unless a copy matching ``file_hash`` is cached,
            then load it), or the path of a weights file (``.h5``, ``.weights.h5``, ``.weights.safetensors``).
        origin: the URL Keras publishes the ImageNet weights at (``None`` when the family has none for this
            configuration).
        file_name: the name of the file in the cache.
        file_hash: the published md5 or sha256 hex digest of the file.
        cache_subdir: the cache folder (Keras's ``"models"``).

    Raises:
        ValueError: ``weights`` is none of the above, or ``"imagenet"`` where no weights are published.
        lamina.data.download.DownloadError: the file is neither cached nor reachable (offline).
        lamina.data.download.FileIntegrityError: the download does not match ``file_hash``.
    """
    if weights is None:
        return
    if isinstance(weights, str) and weights == "imagenet":
        if origin is None or file_name is None:
            raise ValueError(f"No ImageNet weights are published for model {model.name!r} in this configuration; "
                             "pass weights=None (random initialisation) or the path of a weights file.")
        path = get_file(file_name, origin, file_hash=file_hash, cache_subdir=cache_subdir)
        model.load_weights(path)
        return
    if isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights):
        model.load_weights(os.fspath(weights))
        return
    raise ValueError("The `weights` argument should be either `None` (random initialization), 'imagenet' "
                     f"(pre-training on ImageNet), or the path to the weights file to be loaded. Received: "
                     f"weights={weights!r}" + (" (no such file)" if isinstance(weights, (str, os.PathLike)) else ""))
