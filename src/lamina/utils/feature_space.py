"""``FeatureSpace``: Keras's one-stop preprocessing of structured (tabular) data, on lamina's preprocessing layers.

Declare each column's type (``"float_normalized"``, ``"string_categorical"``, ``FeatureSpace.integer_hashed(64)``,
...), ``adapt`` on the data (a dict of arrays or lists, or an iterable of dict batches), then call the feature
space on a dict of raw values: it returns one float32 matrix (``output_mode="concat"``) or a dict of encoded
features (``"dict"``). Strings live on the host (PyTorch has no string tensors): a ``FeatureSpace`` runs its
preprocessing there and hands tensors on, like lamina's other string layers (``lamina.layers.host_inputs``).
Map your data through it before ``fit``, or build the inference model of Keras's guide from ``get_inputs()`` and
``get_encoded_features()``: that model takes the raw dict (strings included) and saves in ``.lamina`` files
(``FeatureSpace.save`` writes the space alone to a ``.keras`` file, as Keras).

>>> fs = FeatureSpace({"x": "float_normalized", "c": "string_categorical"})
>>> fs.adapt({"x": [0.0, 2.0, 4.0], "c": ["a", "b", "a"]})
>>> fs({"x": [2.0], "c": ["b"]})
tensor([[0., 0., 1., 0.]])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch

from lamina.core import config as lamina_config
from lamina.core import serialization
from lamina.layers.category_encoding import CategoryEncoding
from lamina.layers.core import Input
from lamina.layers.discretization import Discretization
from lamina.layers.hashing import HashedCrossing, Hashing
from lamina.layers.host_inputs import HostLayer, to_host_array
from lamina.layers.layer import Layer
from lamina.layers.lookup import IndexLookup, IntegerLookup, StringLookup
from lamina.layers.preprocessing import Normalization, Rescaling
from lamina.layers.symbolic import SymbolicTensor, is_symbolic
from lamina.layers.text_vectorization import TextVectorization

_FEATURE_MODES = ("int", "one_hot", "float")
_CROSS_MODES = ("int", "one_hot")
_ADAPT_BATCH = 32  # Keras batches a dict of arrays by 32 before adapting (Discretization's summary depends on it)


class Cross:
    """A feature cross: the named (categorical) features hashed together into ``crossing_dim`` bins, as Keras's
    ``FeatureSpace.cross``. Its name is the feature names joined by ``"_X_"``."""

    def __init__(self, feature_names: Iterable[str], crossing_dim: int, output_mode: str = "one_hot"):
        if output_mode not in _CROSS_MODES:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of {'int', 'one_hot'}. "
                             f"Received: output_mode={output_mode}")
        self.feature_names = tuple(feature_names)
        self.crossing_dim = crossing_dim
        self.output_mode = output_mode

    @property
    def name(self) -> str:
        return "_X_".join(self.feature_names)

    def get_config(self) -> dict:
        return {"feature_names": list(self.feature_names), "crossing_dim": self.crossing_dim,
                "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Cross:
        return cls(**config)


class Feature:
    """One input feature: its input ``dtype`` (``"float32"``, ``"int32"`` or ``"string"``), the layer that
    preprocesses it, and how its output is encoded (``"int"``, ``"one_hot"`` or ``"float"``), as Keras's
    ``FeatureSpace.feature``."""

    def __init__(self, dtype: str, preprocessor: Any, output_mode: str):
        if output_mode not in _FEATURE_MODES:
            raise ValueError("Invalid value for argument `output_mode`. Expected one of {'int', 'one_hot', "
                             f"'float'}}. Received: output_mode={output_mode}")
        self.dtype = dtype
        if isinstance(preprocessor, Mapping):
            preprocessor = _layer_from_config(preprocessor)
        self.preprocessor = preprocessor
        self.output_mode = output_mode

    def get_config(self) -> dict:
        preprocessor = serialization.serialize_layer(self.preprocessor)
        shape = getattr(self.preprocessor, "_feature_space_input_shape", None)
        if shape is not None:  # as Keras: layers with weights say what shape to build them for
            preprocessor["build_config"] = {"input_shape": list(shape)}
        return {"dtype": self.dtype, "preprocessor": preprocessor, "output_mode": self.output_mode}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Feature:
        return cls(**config)


def _layer_from_config(config: Mapping[str, Any]) -> Any:
    layer = serialization.deserialize_layer(dict(config))
    build = config.get("build_config")
    shape = build.get("input_shape") if isinstance(build, Mapping) else None
    if shape is not None:
        layer._feature_space_input_shape = tuple(shape)
        if isinstance(layer, Normalization) and not layer.built:  # its statistics are weights: make them
            layer._build_device = torch.device("cpu")
            layer.build(tuple(shape))
    return layer


class TFDIdentity(Layer):
    """The preprocessor of ``FeatureSpace.float`` features: the values as float32 (Keras's class name)."""

    def call(self, inputs: Any) -> torch.Tensor:
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        return x.to(torch.float32)


def _auto_name(prefix: str) -> str:
    return lamina_config.unique_name(prefix)


class FeatureSpace(HostLayer):
    """Preprocess and encode structured data, as Keras's ``keras.utils.FeatureSpace``.

    Args:
        features: ``{name: type}``, each type a string (``"float"``, ``"float_rescaled"``, ``"float_normalized"``,
            ``"float_discretized"``, ``"integer_categorical"``, ``"string_categorical"``, ``"integer_hashed"``,
            ``"string_hashed"``: the defaults below) or a ``FeatureSpace.<type>(...)`` / ``FeatureSpace.feature``.
        output_mode: ``"concat"`` (one float32 matrix, features in sorted name order, then the crosses) or
            ``"dict"`` (``{name: encoded feature}``).
        crosses: feature crosses, as tuples of feature names (hashed into ``crossing_dim`` bins) or
            ``FeatureSpace.cross(...)``. Crosses hash the preprocessed (indexed) values, as Keras.
        crossing_dim, hashing_dim, num_discretization_bins: the defaults of the string types (32 each).

    The preprocessing layers are ``feature_space.preprocessors[name]`` and ``feature_space.crossers[name]``.
    ``adapt(data)`` takes a dict of arrays/lists (one row per element), or an iterable of dict batches (``(x, y)``
    batches give ``x``). Call the adapted space on a dict of raw values: a column of shape ``(batch,)`` or
    ``(batch, 1)``, or a scalar per feature (one sample: the batch axis is dropped from the output).

    >>> fs = FeatureSpace({"n": "integer_categorical"}, output_mode="dict")
    >>> fs.adapt({"n": [3, 3, 7]})
    >>> fs({"n": [7, 5]})["n"]
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """

    takes_tensors = False

    # -------------------------------------------------------------------------------- feature types
    @classmethod
    def cross(cls, feature_names: Iterable[str], crossing_dim: int, output_mode: str = "one_hot") -> Cross:
        """A cross of ``feature_names`` hashed into ``crossing_dim`` bins."""
        return Cross(feature_names, crossing_dim, output_mode=output_mode)

    @classmethod
    def feature(cls, dtype: str, preprocessor: Any, output_mode: str) -> Feature:
        """A feature preprocessed by your own layer (e.g. ``TextVectorization(output_mode="tf_idf")``)."""
        return Feature(dtype, preprocessor, output_mode)

    @classmethod
    def float(cls, name: str | None = None) -> Feature:
        """Plain float values."""
        name = name or _auto_name("float")
        return Feature("float32", TFDIdentity(name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_rescaled(cls, scale: float = 1.0, offset: float = 0.0, name: str | None = None) -> Feature:
        """Float values times ``scale`` plus ``offset`` (a ``Rescaling`` layer)."""
        name = name or _auto_name("float_rescaled")
        return Feature("float32", Rescaling(scale=scale, offset=offset, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_normalized(cls, name: str | None = None) -> Feature:
        """Float values standardized with the data's mean and variance (a ``Normalization`` layer)."""
        name = name or _auto_name("float_normalized")
        return Feature("float32", Normalization(axis=-1, name=f"{name}_preprocessor"), "float")

    @classmethod
    def float_discretized(cls, num_bins: int, bin_boundaries: Any = None, output_mode: str = "one_hot",
                          name: str | None = None) -> Feature:
        """Float values bucketed into ``num_bins`` quantile bins (a ``Discretization`` layer)."""
        name = name or _auto_name("float_discretized")
        layer = Discretization(num_bins=num_bins, bin_boundaries=bin_boundaries, name=f"{name}_preprocessor")
        return Feature("float32", layer, output_mode)

    @classmethod
    def integer_categorical(cls, max_tokens: int | None = None, num_oov_indices: int = 1,
                            output_mode: str = "one_hot", name: str | None = None) -> Feature:
        """Integer categories indexed by a vocabulary learnt by ``adapt`` (an ``IntegerLookup`` layer)."""
        name = name or _auto_name("integer_categorical")
        layer = IntegerLookup(name=f"{name}_preprocessor", max_tokens=max_tokens, num_oov_indices=num_oov_indices)
        return Feature("int32", layer, output_mode)

    @classmethod
    def string_categorical(cls, max_tokens: int | None = None, num_oov_indices: int = 1,
                           output_mode: str = "one_hot", name: str | None = None) -> Feature:
        """String categories indexed by a vocabulary learnt by ``adapt`` (a ``StringLookup`` layer)."""
        name = name or _auto_name("string_categorical")
        layer = StringLookup(name=f"{name}_preprocessor", max_tokens=max_tokens, num_oov_indices=num_oov_indices)
        return Feature("string", layer, output_mode)

    @classmethod
    def string_hashed(cls, num_bins: int, output_mode: str = "one_hot", name: str | None = None) -> Feature:
        """Strings hashed into ``num_bins`` bins (a ``Hashing`` layer)."""
        name = name or _auto_name("string_hashed")
        return Feature("string", Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    @classmethod
    def integer_hashed(cls, num_bins: int, output_mode: str = "one_hot", name: str | None = None) -> Feature:
        """Integers hashed into ``num_bins`` bins (a ``Hashing`` layer)."""
        name = name or _auto_name("integer_hashed")
        return Feature("int32", Hashing(name=f"{name}_preprocessor", num_bins=num_bins), output_mode)

    # -------------------------------------------------------------------------------- construction
    def __init__(self, features: Mapping[str, Any], output_mode: str = "concat", crosses: Any = None,
                 crossing_dim: int = 32, hashing_dim: int = 32, num_discretization_bins: int = 32,
                 name: str | None = None, **kwargs: Any):
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        if not features:
            raise ValueError("The `features` argument cannot be None or empty.")
        if output_mode not in ("dict", "concat"):
            raise ValueError("Invalid value for argument `output_mode`. Expected one of {'dict', 'concat'}. "
                             f"Received: output_mode={output_mode}")
        self.crossing_dim = crossing_dim
        self.hashing_dim = hashing_dim
        self.num_discretization_bins = num_discretization_bins
        self.output_mode = output_mode
        feats = {name: self._standardize_feature(name, value) for name, value in features.items()}
        cross_list = []
        for cross in crosses or ():
            if isinstance(cross, Mapping):
                cross = serialization.deserialize(dict(cross), kind="layers")
            if not isinstance(cross, Cross):
                if not crossing_dim:
                    raise ValueError("When specifying `crosses`, the argument `crossing_dim` (dimensionality of the "
                                     "crossing space) should be specified as well.")
                unknown = [key for key in cross if key not in feats]
                if unknown:
                    raise ValueError("All features referenced in the `crosses` argument should be present in the "
                                     f"`features` dict. Received unknown features: {unknown} in cross {cross}")
                cross = Cross(cross, crossing_dim=crossing_dim)
            cross_list.append(cross)
        # Plain dicts (names may hold any character); the layers are tracked by ``_sublayers`` below.
        self.__dict__["features"] = feats
        self.__dict__["crosses"] = cross_list
        self.__dict__["crosses_by_name"] = {c.name: c for c in cross_list}
        self.__dict__["preprocessors"] = {name: f.preprocessor for name, f in feats.items()}
        self.__dict__["crossers"] = {c.name: HashedCrossing(c.crossing_dim, name=c.name) for c in cross_list}
        self.__dict__["one_hot_encoders"] = {}
        self._sublayers = torch.nn.ModuleDict(
            {f"preprocessor_{i}": layer for i, layer in enumerate(self.preprocessors.values())})
        self.__dict__["inputs"] = None
        self.__dict__["encoded_features"] = None
        self._is_adapted = False
        self._sublayers_built = False

    def _standardize_feature(self, name: str, feature: Any) -> Feature:
        if isinstance(feature, Feature):
            return feature
        if isinstance(feature, Mapping):
            return serialization.deserialize(dict(feature), kind="layers")
        makers = {
            "float": lambda: self.float(name=name),
            "float_normalized": lambda: self.float_normalized(name=name),
            "float_rescaled": lambda: self.float_rescaled(name=name),
            "float_discretized": lambda: self.float_discretized(name=name, num_bins=self.num_discretization_bins),
            "integer_categorical": lambda: self.integer_categorical(name=name),
            "string_categorical": lambda: self.string_categorical(name=name),
            "integer_hashed": lambda: self.integer_hashed(self.hashing_dim, name=name),
            "string_hashed": lambda: self.string_hashed(self.hashing_dim, name=name),
        }
        if not isinstance(feature, str) or feature not in makers:
            raise ValueError(f"Invalid feature type for feature {name!r}: {feature!r}. Expected one of "
                             f"{sorted(makers)}, or a FeatureSpace.<type>(...) / FeatureSpace.feature(...).")
        return makers[feature]()

    # -------------------------------------------------------------------------------- adapt
    def _adaptable(self) -> list[str]:
        names = []
        for name, layer in self.preprocessors.items():
            if isinstance(layer, Normalization) and layer.input_mean is not None:
                continue
            if isinstance(layer, TextVectorization) and layer._lookup_layer._has_input_vocabulary:
                continue
            if isinstance(layer, IndexLookup) and layer._has_input_vocabulary:
                continue
            if isinstance(layer, Discretization) and layer.num_bins is None:
                continue
            if hasattr(layer, "adapt"):
                names.append(name)
        return names

    def adapt(self, dataset: Any) -> None:
        """Adapt every preprocessing layer that learns from data (vocabularies, quantiles, mean and variance).

        ``dataset``: a dict of arrays or lists (one row per element, as Keras's ``from_tensor_slices``), or an
        iterable of dict batches (a list of dicts, a generator, a ``DataLoader``); ``(features, labels)``
        batches give their features. It is read once.
        """
        names = self._adaptable()
        columns: dict[str, list] = {name: [] for name in names}
        if isinstance(dataset, Mapping):
            self._check_keys(dataset, names, "adapt")
            for name in names:
                arr = _column(dataset[name])
                columns[name] = [arr[i:i + _ADAPT_BATCH] for i in range(0, len(arr), _ADAPT_BATCH)]
        elif isinstance(dataset, Iterable) and not isinstance(dataset, (str, bytes, np.ndarray, torch.Tensor)):
            for batch in dataset:
                if isinstance(batch, (tuple, list)) and batch and isinstance(batch[0], Mapping):
                    batch = batch[0]
                if not isinstance(batch, Mapping):
                    raise ValueError("`adapt()` takes a dict of arrays/lists, or an iterable of dict batches "
                                     f"(features, or (features, labels)). Received a batch of type {type(batch)}.")
                self._check_keys(batch, names, "adapt")
                for name in names:
                    columns[name].append(_column(batch[name]))
        else:
            raise ValueError("`adapt()` can only be called on a dict of arrays/lists or an iterable of dict "
                             f"batches. Received instead: {dataset!r:.200} (of type {type(dataset)})")
        for name in names:
            layer = self.preprocessors[name]
            batches = columns[name]
            if isinstance(layer, (Normalization, Discretization)):
                batches = [np.asarray(b, dtype=np.float32) for b in batches]
            layer.adapt(iter(batches))
            layer._feature_space_input_shape = None if isinstance(layer, IndexLookup) else (None, *batches[0].shape[1:])
        self._is_adapted = True
        self._finish_build()

    def _check_keys(self, data: Mapping, names: Iterable[str], what: str) -> None:
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"FeatureSpace.{what}() needs a value for every feature; missing {missing}. "
                             f"Received keys {sorted(map(str, data))}.")

    # -------------------------------------------------------------------------------- building
    def _looks_adapted(self, layer: Any, symbolic: bool) -> bool:
        if isinstance(layer, IndexLookup):
            return bool(layer._tokens)
        if isinstance(layer, TextVectorization):
            return bool(layer._lookup_layer._tokens)
        if isinstance(layer, Discretization):
            return layer.bin_boundaries is not None
        if isinstance(layer, Normalization):
            # restored from a config: built for its shape; its statistics are in its weights (count > 0 once read)
            return layer._adapted or (layer.built and (symbolic or int(layer.count) > 0))
        return False

    def _check_if_adapted(self, symbolic: bool = False) -> None:
        """Refuse an unadapted space. One restored from a config counts as adapted when its layers hold what
        ``adapt`` learnt (for a symbolic call, shapes suffice: a model being rebuilt reads its weights later)."""
        if self._is_adapted:
            return
        if all(self._looks_adapted(self.preprocessors[n], symbolic) for n in self._adaptable()):
            self._is_adapted = not symbolic  # nothing to learn, or restored with what was learnt
            return
        raise ValueError("You need to call `.adapt(dataset)` on the FeatureSpace before you can start using it.")

    def _check_if_built(self, symbolic: bool = False) -> None:
        self._check_if_adapted(symbolic)
        if not self._sublayers_built:
            self._finish_build()

    def _cardinality(self, name: str, spec: Any) -> int:
        layer = self.preprocessors.get(name) or self.crossers.get(name)
        if isinstance(layer, IndexLookup):
            return layer.vocabulary_size()
        if isinstance(layer, CategoryEncoding):
            return layer.num_tokens
        if isinstance(layer, Discretization):
            return layer.num_bins if layer.num_bins is not None else len(layer.bin_boundaries) + 1
        if isinstance(layer, (HashedCrossing, Hashing)):
            return layer.num_bins
        raise ValueError(f"Feature '{name}' has `output_mode='one_hot'`. However it isn't a standard feature and the "
                         "dimensionality of its output space is not known, thus it cannot be one-hot encoded. Try "
                         "using `output_mode='int'`.")

    def _specs(self) -> list[tuple[str, Any]]:
        return [(n, self.features[n]) for n in sorted(self.features)] + \
            [(n, self.crosses_by_name[n]) for n in sorted(self.crosses_by_name)]

    def _finish_build(self) -> None:
        """The one-hot encoders (their sizes are known once adapted), the symbolic inputs and outputs."""
        for layer in self.preprocessors.values():  # as Keras's build configs: built on the (batch, 1) inputs
            if not isinstance(layer, IndexLookup) and getattr(layer, "_feature_space_input_shape", None) is None:
                layer._feature_space_input_shape = (None, 1)
        encoders = {}
        for name, spec in self._specs():
            if spec.output_mode == "one_hot":
                encoders[name] = CategoryEncoding(num_tokens=self._cardinality(name, spec), output_mode="multi_hot")
        self.__dict__["one_hot_encoders"] = encoders
        self.built = True
        self._sublayers_built = True
        self.__dict__["inputs"] = None
        self.__dict__["encoded_features"] = None

    def build(self, input_shape: Any = None) -> None:
        """Mark the space adapted (a restored one: what ``adapt`` learnt came with its config and weights)."""
        self._is_adapted = True
        self._finish_build()

    def get_inputs(self) -> dict[str, SymbolicTensor]:
        """``{name: Input(shape=(1,), dtype=feature dtype)}``: the inputs of a functional model on raw data."""
        self._check_if_built()
        if self.inputs is None:
            self.__dict__["inputs"] = {name: Input(shape=(1,), dtype=f.dtype, name=name)
                                       for name, f in self.features.items()}
        return self.inputs

    def get_encoded_features(self) -> Any:
        """The encoded features of ``get_inputs()`` (symbolic): the input of your model's first layer."""
        inputs = self.get_inputs()
        if self.encoded_features is None:
            self.__dict__["encoded_features"] = self(inputs)
        return self.encoded_features

    # -------------------------------------------------------------------------------- calling
    def __call__(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"A FeatureSpace can only be called with a dict. Received: data={data!r:.200} (of "
                             f"type {type(data)})")
        symbolic = is_symbolic(data)
        self._check_if_built(symbolic)
        if symbolic:
            return Layer.__call__(self, data)
        return self._to_output_device(self.call(data))

    def call(self, data: Mapping[str, Any]) -> Any:
        self._check_keys(data, self.features, "__call__")
        rebatched = False
        columns = {}
        for name in self.features:
            arr = to_host_array(data[name])
            if arr.ndim == 0:
                arr, rebatched = arr.reshape(1, 1), True
            elif arr.ndim == 1:
                arr = arr[:, None]
            columns[name] = arr
        preprocessed = {name: self._preprocess(name, arr) for name, arr in columns.items()}
        crossed = {c.name: self.crossers[c.name]([preprocessed[n] for n in c.feature_names]) for c in self.crosses}
        merged = self._merge(preprocessed, crossed)
        if rebatched:
            if self.output_mode == "concat":
                return merged.squeeze(0)
            return {k: v.squeeze(0) if v.ndim == 2 and v.shape[0] == 1 else v for k, v in merged.items()}
        return merged

    def _preprocess(self, name: str, arr: np.ndarray) -> Any:
        feature = self.features[name]
        layer = self.preprocessors[name]
        if feature.dtype != "string" and arr.dtype.kind in "biuf":
            value = torch.from_numpy(np.ascontiguousarray(arr))
            if feature.dtype.startswith("float"):
                value = value.to(torch.float32)
            elif feature.dtype.startswith("int") and value.is_floating_point():
                value = value.to(torch.int64)
            weights = next(iter([*layer.parameters(), *layer.buffers()]), None)
            if weights is not None and not weights.is_meta:
                value = value.to(weights.device)  # (a model moved to a GPU moved the layer's statistics there)
        else:
            value = arr
        return layer(value)

    def _merge(self, preprocessed: dict, crossed: dict) -> Any:
        outputs = {}
        device = self.__dict__.get("_output_device")  # where .to() sent the space (None: never moved)
        for name, _ in self._specs():
            x = preprocessed[name] if name in preprocessed else crossed[name]
            if device is not None and isinstance(x, torch.Tensor):
                x = x.to(device)
            encoder = self.one_hot_encoders.get(name)
            if encoder is not None:
                if not isinstance(x, torch.Tensor) or x.is_floating_point():
                    dtype = x.dtype if isinstance(x, torch.Tensor) else "string"
                    raise ValueError(f"Feature '{name}' has `output_mode='one_hot'`. Thus its preprocessor should "
                                     f"return an integer dtype. Instead it returns a {dtype} dtype.")
                x = encoder(x)
            outputs[name] = x
        if self.output_mode == "dict":
            return outputs
        for name, x in outputs.items():
            if not isinstance(x, torch.Tensor) or not x.is_floating_point():
                dtype = str(x.dtype).replace("torch.", "") if isinstance(x, torch.Tensor) else "string"
                raise ValueError(f"Cannot concatenate features because feature '{name}' has not been encoded (it "
                                 f"has dtype {dtype}). Consider using `output_mode='dict'`.")
        return torch.cat([x.to(torch.float32) for x in outputs.values()], dim=-1)

    def compute_output_spec(self, data: Mapping[str, Any], *args: Any, **kwargs: Any) -> Any:
        """The encoded features of a batch of ``(batch, 1)`` inputs, as symbolic tensors."""
        batch = next(iter(data.values())).shape[0]
        outputs = {}
        for name, _ in self._specs():
            if name in self.one_hot_encoders:
                outputs[name] = SymbolicTensor((batch, self.one_hot_encoders[name].num_tokens), torch.float32)
            else:
                outputs[name] = self._plain_spec(name, batch)
        if self.output_mode == "dict":
            return outputs
        width = sum(t.shape[-1] for t in outputs.values())
        return SymbolicTensor((batch, width), torch.float32)

    def _plain_spec(self, name: str, batch: Any) -> SymbolicTensor:
        """The shape and dtype of a feature that is not one-hot encoded: from a run on one sample."""
        if name in self.crosses_by_name:
            return SymbolicTensor((batch, 1), torch.int64)
        feature = self.features[name]
        sample = np.array([[""]], dtype=object) if feature.dtype == "string" else np.zeros(
            (1, 1), dtype=np.float32 if feature.dtype.startswith("float") else np.int64)
        out = self._preprocess(name, sample)
        return SymbolicTensor((batch, *tuple(out.shape[1:])), out.dtype)

    # -------------------------------------------------------------------------------- saving
    def get_config(self) -> dict:
        return {"name": self.name,
                "features": {name: serialization.serialize(f) for name, f in self.features.items()},
                "output_mode": self.output_mode,
                "crosses": [serialization.serialize(c) for c in self.crosses],
                "crossing_dim": self.crossing_dim, "hashing_dim": self.hashing_dim,
                "num_discretization_bins": self.num_discretization_bins}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> FeatureSpace:
        return cls(**config)

    def get_build_config(self) -> dict:
        out = {}
        for name, f in self.features.items():
            shape = getattr(f.preprocessor, "_feature_space_input_shape", None)
            out[name] = {"input_shape": list(shape)} if shape is not None else {}
        return out

    def build_from_config(self, config: Mapping[str, Any]) -> None:
        for name, entry in config.items():
            layer = self.preprocessors[name]
            shape = entry.get("input_shape") if isinstance(entry, Mapping) else None
            if shape is not None:
                layer._feature_space_input_shape = tuple(shape)
                if isinstance(layer, Normalization) and not layer.built:
                    layer._build_device = torch.device("cpu")
                    layer.build(tuple(shape))
        self.build()

    def save(self, filepath: Any) -> None:
        """Save the feature space (its configuration and everything ``adapt`` learnt) to a ``.keras`` file;
        ``lamina.saving.load_model`` (or ``keras.models.load_model``) reads it back.

        >>> feature_space.save("featurespace.keras")  # doctest: +SKIP
        >>> reloaded = lamina.saving.load_model("featurespace.keras")  # doctest: +SKIP
        """
        from lamina.utils import feature_space_file  # h5py, an optional dependency, is needed for .keras files

        feature_space_file.save_feature_space(self, filepath)

    @classmethod
    def load_keras_file(cls, filepath: Any, custom_objects: Mapping[str, Any] | None = None, **kwargs: Any
                        ) -> FeatureSpace:
        """The feature space saved at ``filepath`` (``.keras``, by lamina or Keras); ``lamina.saving.load_model``
        calls this for a file that holds a ``FeatureSpace``."""
        from lamina.utils import feature_space_file

        return feature_space_file.load_feature_space(filepath, custom_objects, **kwargs)


def _column(values: Any) -> np.ndarray:
    """One feature's values as rows of shape ``(n, 1)`` (or ``(n, k)`` for a 2-D column)."""
    arr = to_host_array(values)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr[:, None] if arr.ndim == 1 else arr


for _cls in (FeatureSpace, Feature, Cross, TFDIdentity):
    serialization.register_builtin("layers", _cls.__name__, _cls)
