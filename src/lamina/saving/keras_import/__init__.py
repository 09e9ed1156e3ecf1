"""Keras 3 import: ``.keras`` model files and ``.weights.h5`` weights files, read without running their code.

``load_keras_model`` rebuilds the architecture from ``config.json`` with lamina's own classes (resolved through
lamina's registry and ``custom_objects`` only; Keras ``Lambda`` layers, unknown classes and foreign modules are
refused with ``UnsafeFileError``; a registered class is found by its registered name, whatever module the file
names), then loads ``model.weights.h5`` after checking every group and dataset against the built model, calling
the layers' ``load_own_variables`` / ``load_assets`` hooks as Keras does. Legacy ``.h5`` model files go through
``legacy.load_legacy_h5``. Any malformed file raises ``FileFormatError``.

>>> import lamina
>>> model = lamina.saving.load_keras_model("model.keras")  # files saved by Keras  # doctest: +SKIP
>>> lamina.saving.load_keras_weights(model, "model.weights.h5")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import h5py

from lamina.core.serialization import get_registered_object
from lamina.models.model import Model
from lamina.saving.budget import AllocationBudget, MetaArrays, MetaBuild
from lamina.saving.errors import FileFormatError, UnsafeFileError
from lamina.saving.format import DEFAULT_LIMITS, Limits, MiB, count_layers, regular_file
from lamina.saving.keras_export.layout import layout, overrides
from lamina.saving.keras_import.archive import ASSETS as ASSETS_DIR
from lamina.saving.keras_import.archive import CONFIG, METADATA, WEIGHTS, KerasArchive
from lamina.saving.keras_import.compile import compile_from_keras
from lamina.saving.keras_import.config import Builder, apply_build_config
from lamina.saving.keras_import.h5 import Loader, count_datasets, load_h5, load_optimizer_h5
from lamina.saving.keras_import.legacy import load_legacy_h5

__all__ = ["load_keras_model", "load_keras_weights"]


def load_keras_model(filepath: str | os.PathLike, custom_objects: Mapping[str, Any] | None = None,
                     compile: bool = False, limits: Limits = DEFAULT_LIMITS) -> Model:
    """A lamina model with the architecture and weights of the Keras 3 ``.keras`` file at ``filepath``.

    As Keras does when loading, every layer's ``build_from_config`` (when its class overrides it, and for
    subclassed models), ``load_own_variables`` and ``load_assets`` are called, and ``compile=True`` calls the
    model's ``compile_from_config`` when its class overrides it (otherwise ``compile`` with lamina's own
    optimizer, losses and metrics; a class that overrides only ``compile`` is left uncompiled with a warning,
    as Keras does).

    Args:
        filepath: a ``.keras`` file written by Keras 3's ``model.save`` (or lamina's).
        custom_objects: ``{"ClassName": LaminaLayerClass}`` for your own layers (written for lamina), and
            ``{"fn_name": fn}`` for your own activations. Nothing else the file names is ever resolved.
        compile: also compile the model with the file's optimizer, loss and metrics (when lamina has them).
        limits: size limits of the file's members (``lamina.saving.format.Limits``).

    >>> model = load_keras_model("classifier.keras")  # a file saved by Keras  # doctest: +SKIP
    >>> model.predict(x)  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if path.endswith(".weights.h5"):
        raise ValueError(f"{path} is a weights-only file: build the model (the same architecture) and call "
                         "model.load_weights(path) instead of load_model.")
    if path.endswith((".h5", ".hdf5")):
        with _damaged_weights(path):  # h5py's errors on a damaged file, as FileFormatError
            return load_legacy_h5(path, custom_objects=custom_objects, compile=compile, limits=limits)
    with KerasArchive(path, limits) as archive:
        config = archive.json(CONFIG)
        metadata = archive.json(METADATA)
        if metadata is not None and (not isinstance(metadata, Mapping) or
                                     not isinstance(metadata.get("keras_version", ""), str)):
            raise FileFormatError(f"{METADATA} of {path} must be a JSON object with a string keras_version.")
        if not isinstance(config, Mapping) or "class_name" not in config:
            raise FileFormatError(f"{CONFIG} of {path} must be a JSON object describing a model (with class_name).")
        if config["class_name"] == "FeatureSpace":  # keras.utils.FeatureSpace.save: lamina.utils.FeatureSpace reads it
            return get_registered_object("FeatureSpace", kind="layers").load_keras_file(path, custom_objects,
                                                                                        limits=limits)
        count_layers(config, f"{CONFIG} of {path}", limits)
        # building may allocate no more than a few times what the weights file holds (hostile configs)
        budget = 3 * archive.infos[WEIGHTS].file_size + 64 * MiB
        with archive.weights_file() as weights:
            check_on_meta(config, custom_objects, weights, budget, path)
            builder = Builder(custom_objects)
            with AllocationBudget(budget):
                model = builder.layer(config, "the model")
                if not isinstance(model, Model):
                    raise FileFormatError(f"{path} describes a {config['class_name']}, not a model.")
                apply_build_config(model, config.get("build_config"), "the model")
            # Keras's order: build_from_config, compile_from_config, load_own_variables, load_assets
            if compile:
                _compile(model, config.get("compile_config"), builder, path)
            with _damaged_weights(path):
                load_h5(model, weights, builder.names())
                if compile and model.compiled:
                    load_optimizer_h5(model, weights)
        hooked = [g for g in layout(model, "load_assets") if g.hook]
        if hooked:  # assets are copied out only for layers that read them
            with tempfile.TemporaryDirectory(prefix="lamina-assets-") as folder:
                archive.extract_assets(folder)
                load_assets(hooked, folder)
    return model


@contextlib.contextmanager
def _damaged_weights(path: str) -> Iterator[None]:
    """h5py's errors on a damaged HDF5 file (a KeyError for an unreadable object header, an OSError for data
    that runs off the end of a buffer, ...) as lamina's ``FileFormatError``, wherever they are met."""
    try:
        yield
    except (FileFormatError, UnsafeFileError):
        raise
    except (KeyError, OSError, RuntimeError, TypeError, ValueError, IndexError, AttributeError) as error:
        raise FileFormatError(f"The HDF5 data of {path} is damaged or malformed: {type(error).__name__}: "
                              f"{error}.") from None


class _UserCode(Exception):
    """Raised by the meta build on meeting a class or function that is not lamina's own (a user's code runs
    once, in the real build)."""


def _own(obj: Any) -> Any:
    module = getattr(obj if isinstance(obj, type) or callable(obj) and not hasattr(obj, "get_config")
                     else type(obj), "__module__", "") or ""
    if isinstance(obj, (str, int, float, bool, type(None), list, dict, tuple)) or module.split(".")[0] == "lamina":
        return obj
    raise _UserCode(module)


class _LaminaOnlyBuilder(Builder):
    """The ``Builder`` for the meta-device pre-check: it refuses to construct anything but lamina's own classes."""

    def _layer_class(self, class_name: str, registered: Any, where: str) -> type:
        return _own(super()._layer_class(class_name, registered, where))

    def value(self, value: Any, where: str) -> Any:
        return _own(super().value(value, where))


def check_on_meta(config: Mapping, custom_objects: Mapping[str, Any] | None, weights: str, budget: int,
                  path: str) -> None:
    """Before the model is built for real: build it on PyTorch's ``meta`` device (shapes only, no memory), then
    refuse it (``UnsafeFileError``) when its weights add up to more than ``budget`` bytes, and check every
    weight's shape against the weights file as loading will (``FileFormatError``). So a config that declares
    ``Dense(units=20_000_000)`` or a huge ``MultiHeadAttention`` next to tiny weights is refused having allocated
    nothing. A config that cannot be built on the meta device is left to the real build, which runs under the
    same allocation budget."""
    if custom_objects:  # the user's own classes and functions run once, in the real build, as in Keras
        return
    builder = _LaminaOnlyBuilder()
    try:
        with MetaBuild(), AllocationBudget(budget):
            model = builder.layer(config, "the model")
            if isinstance(model, Model):
                apply_build_config(model, config.get("build_config"), "the model")
    except UnsafeFileError:  # over the budget, or a class lamina refuses: the real build would refuse it too
        raise
    except Exception:  # noqa: BLE001  (a layer that needs real values to build: the real build checks it)
        return
    if not isinstance(model, Model):
        return
    declared = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    if declared > budget:
        raise UnsafeFileError(f"{path} declares {declared} bytes of weights, far more than its weights file holds "
                              f"(at most {budget} bytes allowed): refusing to build it.")
    try:
        f = h5py.File(weights, "r")
    except (OSError, ValueError) as error:
        raise FileFormatError(f"The Keras weights are not a readable HDF5 file: {error}.") from None
    with f:
        loader = Loader(builder.names())
        try:
            with MetaArrays():  # layers with their own save_own_variables tell their shapes without data
                loader.match(model, f)
            total = count_datasets(f)
        except (FileFormatError, UnsafeFileError):
            raise
        except Exception:  # noqa: BLE001  (a layer that needs values to export them, or a malformed file: the
            return  # real load checks it again on real tensors and reports it)
    if total != loader.used:
        raise FileFormatError(f"The Keras weights file holds {total} weight arrays, but the model its config "
                              f"describes has {loader.used}: the file was saved from a different architecture.")


def _compile(model: Model, config: Any, builder: Builder, path: str) -> None:
    """Compile as Keras's ``load_model`` does: the class's own ``compile_from_config`` if it has one, else
    ``compile`` with the file's optimizer, losses and metrics (a class that overrides only ``compile`` is left
    uncompiled, with a warning)."""
    if not isinstance(config, Mapping) or not config:
        return
    if overrides(model, "compile_from_config", Model):
        model.compile_from_config(dict(config))
    elif overrides(model, "compile", Model):
        warnings.warn(f"compile() was not called while loading {path}: the class {type(model).__name__} "
                      "overrides compile(). Override get_compile_config() and compile_from_config(config) too "
                      "(as in Keras), or call compile() yourself after loading.", UserWarning, stacklevel=3)
    else:
        compile_from_keras(model, config, builder)


def load_assets(groups: list, folder: str) -> None:
    """Call ``load_assets(dir)`` of each layer whose group is given, with its folder under ``assets/``."""
    for group in groups:
        target = os.path.join(folder, ASSETS_DIR, *[p for p in group.path.split("/") if p])
        os.makedirs(target, exist_ok=True)
        group.layer.load_assets(target)


def load_keras_weights(model: Model, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Load a Keras 3 weights-only file (``model.save_weights("x.weights.h5")``) into a lamina model of the same
    architecture (layers of the same classes, in the same order); ``skip_mismatch`` skips, with a warning, the
    layers whose weights do not fit (as Keras's ``load_weights(..., skip_mismatch=True)``).

    >>> model = lamina.Sequential([lamina.layers.Dense(2, input_shape=(3,))])  # doctest: +SKIP
    >>> load_keras_weights(model, "x.weights.h5")  # a file saved by Keras  # doctest: +SKIP
    """
    path = os.fspath(filepath)
    if not regular_file(path):  # a FIFO or device is refused, not read forever
        raise FileNotFoundError(f"No Keras weights file at {path!r}.")
    if not getattr(model, "built", False) or not model.weights:
        raise ValueError(f"load_keras_weights: model {model.name!r} has no weights yet. Build it first (call it on "
                         "data, give its first layer input_shape=, or call model.build(input_shape)).")
    with _damaged_weights(path):
        load_h5(model, path, skip_mismatch=skip_mismatch)
