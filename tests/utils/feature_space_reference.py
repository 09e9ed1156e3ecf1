"""Writes ``data/feature_space_keras.json`` (and ``data/feature_space_keras.keras``): what Keras 3's own
``keras.utils.FeatureSpace`` computes on the small tables of ``test_feature_space.py``. Keras's FeatureSpace needs
TensorFlow, which lamina's test environment does not install, so its answers are recorded once:

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu keras==3.15.1
    KERAS_BACKEND=tensorflow /tmp/tfenv/bin/python tests/utils/feature_space_reference.py

Not collected by pytest (its name does not start with ``test_``)."""

from __future__ import annotations

import json
import os

import numpy as np


def table(n: int = 40) -> dict:
    """A small table with every kind of column (the same formulas as the test's)."""
    i = np.arange(n)
    return {
        "f": (0.25 * i - 3.0).astype("float32"),
        "fr": ((i * 7) % 11).astype("float32"),
        "fn": np.sin(i).astype("float32") * 10.0,
        "fd": ((i * 13) % 17).astype("float32") / 4.0,
        "ic": (i * 5) % 7 + 100,
        "sc": np.array(["red", "green", "blue", "green", "red", "red", "teal"])[(i * 3) % 7],
        "sh": np.array([f"k{j}" for j in (i * 11) % 9]),
        "ih": (i * 37) % 23,
        "sc2": np.array(["x", "y", "z", "w", "y", "y"])[i % 6],
    }


def new_rows() -> dict:
    """Rows with values adapt never saw (out-of-vocabulary strings and integers, floats out of range)."""
    return {"f": np.array([1.5, -9.0], "float32"), "fr": np.array([3.0, 0.5], "float32"),
            "fn": np.array([0.0, 25.0], "float32"), "fd": np.array([-1.0, 2.2], "float32"),
            "ic": np.array([103, 999]), "sc": np.array(["blue", "mauve"]), "sh": np.array(["k3", "new"]),
            "ih": np.array([5, 1000]), "sc2": np.array(["z", "q"])}


def features(fs_cls: type, sc2_mode: str = "one_hot") -> dict:
    return {
        "f": "float",
        "fr": fs_cls.float_rescaled(scale=0.5, offset=-1.0),
        "fn": "float_normalized",
        "fd": fs_cls.float_discretized(num_bins=5),
        "ic": "integer_categorical",
        "sc": "string_categorical",
        "sh": fs_cls.string_hashed(num_bins=8),
        "ih": "integer_hashed",
        "sc2": fs_cls.string_categorical(max_tokens=4, num_oov_indices=2, output_mode=sc2_mode),
    }


CROSSES = [("sc", "ic"), ("sh", "ih")]


def main() -> None:
    import keras
    from keras.utils import FeatureSpace

    def arrays(out: dict) -> dict:
        return {k: np.asarray(v).tolist() for k, v in out.items()}

    data = table()
    ref: dict = {"keras_version": keras.__version__}
    concat = FeatureSpace(features(FeatureSpace), crosses=CROSSES, crossing_dim=16, hashing_dim=8,
                          output_mode="concat")
    concat.adapt(data)
    ref["concat_train"] = np.asarray(concat(data)).tolist()
    ref["concat_new"] = np.asarray(concat(new_rows())).tolist()
    one = {k: v[0] for k, v in new_rows().items()}
    ref["concat_one"] = np.asarray(concat(one)).tolist()
    pre = concat.preprocessors
    ref["vocab_ic"] = [int(v) for v in pre["ic"].get_vocabulary()]
    ref["vocab_sc"] = pre["sc"].get_vocabulary()
    ref["vocab_sc2"] = pre["sc2"].get_vocabulary()
    ref["bins_fd"] = [float(b) for b in pre["fd"].bin_boundaries]
    ref["mean_fn"] = np.asarray(pre["fn"].mean).reshape(-1).tolist()
    ref["variance_fn"] = np.asarray(pre["fn"].variance).reshape(-1).tolist()
    ref["concat_shape"] = list(concat.get_encoded_features().shape)
    ref["input_dtypes"] = {k: str(v.dtype) for k, v in concat.get_inputs().items()}

    cross_int = [FeatureSpace.cross(("sc", "ic"), crossing_dim=16, output_mode="int"),
                 FeatureSpace.cross(("sh", "ih"), crossing_dim=16)]
    as_dict = FeatureSpace(features(FeatureSpace, "int"), crosses=cross_int, hashing_dim=8, output_mode="dict")
    as_dict.adapt(data)
    out = as_dict(data)
    ref["dict_train"] = arrays(out)
    ref["dict_dtypes"] = {k: str(np.asarray(v).dtype) for k, v in out.items()}
    ref["dict_new"] = arrays(as_dict(new_rows()))
    ref["dict_one"] = arrays(as_dict(one))
    ref["dict_shapes"] = {k: list(v.shape) for k, v in as_dict.get_encoded_features().items()}

    big = {"x": (np.arange(300) * 7919 % 1000).astype("float32") / 10.0}  # adapted in batches of 32
    space = FeatureSpace({"x": FeatureSpace.float_discretized(num_bins=6)})
    space.adapt(big)
    ref["bins_big"] = [float(b) for b in space.preprocessors["x"].bin_boundaries]

    text = {"text": ["1st string", "2nd string", "3rd string"]}  # Keras's docstring example
    tf_idf = FeatureSpace({"text": FeatureSpace.feature(preprocessor=keras.layers.TextVectorization(
        output_mode="tf_idf"), dtype="string", output_mode="float")}, output_mode="concat")
    tf_idf.adapt(text)
    ref["tf_idf"] = np.asarray(tf_idf(text)).tolist()

    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    concat.save(os.path.join(here, "feature_space_keras.keras"))
    with open(os.path.join(here, "feature_space_keras.json"), "w") as f:
        json.dump(ref, f)


if __name__ == "__main__":
    main()
