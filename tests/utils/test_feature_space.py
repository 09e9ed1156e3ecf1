"""Tests of lamina/utils/feature_space.py and feature_space_file.py.

Keras's own ``FeatureSpace`` needs TensorFlow, which is not installed here: its answers on the tables of
``feature_space_reference.py`` (outputs of every feature type, vocabularies, bins, statistics, dtypes, shapes)
were recorded once with Keras 3.15.1 + TensorFlow into ``data/feature_space_keras.json``, and the ``.keras`` file
that Keras's ``FeatureSpace.save`` wrote is ``data/feature_space_keras.keras``. (Keras also loaded a file lamina's
``FeatureSpace.save`` wrote and gave the same outputs; that check needs TensorFlow, so it is not repeated here.)
The guide "Structured data classification with FeatureSpace" runs end to end on a generated table.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import lamina
from lamina import layers as L
from lamina.utils import FeatureSpace

HERE = Path(__file__).parent
_spec = importlib.util.spec_from_file_location("feature_space_reference", HERE / "feature_space_reference.py")
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)
KERAS = json.loads((HERE / "data" / "feature_space_keras.json").read_text())
KERAS_FILE = HERE / "data" / "feature_space_keras.keras"
TORCH_DTYPES = {"float32": torch.float32, "int64": torch.int64}


def concat_space() -> FeatureSpace:
    fs = FeatureSpace(reference.features(FeatureSpace), crosses=reference.CROSSES, crossing_dim=16, hashing_dim=8,
                      output_mode="concat")
    fs.adapt(reference.table())
    return fs


def dict_space() -> FeatureSpace:
    crosses = [FeatureSpace.cross(("sc", "ic"), crossing_dim=16, output_mode="int"),
               FeatureSpace.cross(("sh", "ih"), crossing_dim=16)]
    fs = FeatureSpace(reference.features(FeatureSpace, "int"), crosses=crosses, hashing_dim=8, output_mode="dict")
    fs.adapt(reference.table())
    return fs


def one_row() -> dict:
    return {k: v[0] for k, v in reference.new_rows().items()}


# ------------------------------------------------------------------------------------------ parity with Keras
def test_concat_output_of_every_feature_type_equals_keras():
    fs = concat_space()
    out = fs(reference.table())
    assert out.dtype == torch.float32 and tuple(out.shape) == (40, 73)
    np.testing.assert_allclose(out.numpy(), KERAS["concat_train"], atol=1e-6)
    np.testing.assert_allclose(fs(reference.new_rows()).numpy(), KERAS["concat_new"], atol=1e-6)  # OOV values
    single = fs(one_row())  # one sample of scalars: no batch axis, as Keras
    assert tuple(single.shape) == (73,)
    np.testing.assert_allclose(single.numpy(), KERAS["concat_one"], atol=1e-6)
    assert list(fs.get_encoded_features().shape) == KERAS["concat_shape"]
    inputs = fs.get_inputs()
    assert {k: str(v.dtype).replace("torch.", "") for k, v in inputs.items()} == KERAS["input_dtypes"]
    assert all(v.shape == (None, 1) for v in inputs.values())


def test_what_adapt_learns_equals_keras():
    pre = concat_space().preprocessors
    assert pre["ic"].get_vocabulary() == KERAS["vocab_ic"]
    assert pre["sc"].get_vocabulary() == KERAS["vocab_sc"]
    assert pre["sc2"].get_vocabulary() == KERAS["vocab_sc2"]
    np.testing.assert_allclose(pre["fd"].bin_boundaries, KERAS["bins_fd"], rtol=1e-6)
    np.testing.assert_allclose(pre["fn"].mean.reshape(-1).numpy(), KERAS["mean_fn"], rtol=1e-6)
    np.testing.assert_allclose(pre["fn"].variance.reshape(-1).numpy(), KERAS["variance_fn"], rtol=1e-5)
    # Keras adapts a dict in batches of 32: the quantile summary of 300 values merges 10 of them
    big = {"x": (np.arange(300) * 7919 % 1000).astype("float32") / 10.0}
    fs = FeatureSpace({"x": FeatureSpace.float_discretized(num_bins=6)})
    fs.adapt(big)
    np.testing.assert_allclose(fs.preprocessors["x"].bin_boundaries, KERAS["bins_big"], rtol=1e-6)


def test_dict_output_equals_keras_values_dtypes_and_shapes():
    fs = dict_space()
    out = fs(reference.table())
    assert set(out) == set(KERAS["dict_train"])
    for name, value in out.items():
        assert value.dtype == TORCH_DTYPES[KERAS["dict_dtypes"][name]], name
        np.testing.assert_allclose(value.numpy(), KERAS["dict_train"][name], atol=1e-6, err_msg=name)
    for name, value in fs(reference.new_rows()).items():
        np.testing.assert_allclose(value.numpy(), KERAS["dict_new"][name], atol=1e-6, err_msg=name)
    for name, value in fs(one_row()).items():
        np.testing.assert_allclose(value.numpy(), KERAS["dict_one"][name], atol=1e-6, err_msg=name)
    assert {k: list(v.shape) for k, v in fs.get_encoded_features().items()} == KERAS["dict_shapes"]
    assert [c for c in fs.crossers] == ["sc_X_ic", "sh_X_ih"]


def test_a_feature_with_its_own_layer_as_keras_docstring():
    data = {"text": ["1st string", "2nd string", "3rd string"]}
    fs = FeatureSpace({"text": FeatureSpace.feature(preprocessor=L.TextVectorization(output_mode="tf_idf"),
                                                    dtype="string", output_mode="float")}, output_mode="concat")
    fs.adapt(data)
    np.testing.assert_allclose(fs(data).numpy(), KERAS["tf_idf"], rtol=1e-6)


# ------------------------------------------------------------------------------------------ adapt
def test_adapt_on_batches_generators_and_labelled_batches_learns_what_a_dict_teaches():
    table = reference.table()
    batches = [{k: v[i:i + 32] for k, v in table.items()} for i in range(0, 40, 32)]  # Keras's batches
    expected = concat_space()(reference.new_rows())
    loader = torch.utils.data.DataLoader([{k: v[i] for k, v in table.items()} for i in range(40)], batch_size=32)
    for data in (batches, iter(batches), ((b, np.zeros(len(b["f"]))) for b in batches), loader):
        fs = FeatureSpace(reference.features(FeatureSpace), crosses=reference.CROSSES, crossing_dim=16,
                          hashing_dim=8)
        fs.adapt(data)  # a one-shot generator works (the data is read once), a DataLoader's collated dicts too
        torch.testing.assert_close(fs(reference.new_rows()), expected)


def test_features_without_anything_to_learn_need_no_adapt():
    fs = FeatureSpace({"x": "float", "h": "string_hashed", "r": FeatureSpace.float_rescaled(scale=2.0)},
                      hashing_dim=4)
    out = fs({"x": [1.0, 2.0], "h": ["a", "b"], "r": [1.0, 3.0]})
    expected_h = L.Hashing(num_bins=4, output_mode="one_hot")(np.array(["a", "b"]))
    torch.testing.assert_close(out, torch.cat([expected_h.float(), torch.tensor([[2.0], [6.0]]),
                                               torch.tensor([[1.0], [2.0]])], dim=1))


@pytest.mark.parametrize("make, call, match", [
    (lambda: FeatureSpace({}), None, "cannot be None or empty"),
    (lambda: FeatureSpace({"a": "float_squared"}), None, "Invalid feature type"),
    (lambda: FeatureSpace({"a": "float"}, output_mode="list"), None, "Expected one of {'dict', 'concat'}"),
    (lambda: FeatureSpace({"a": "integer_categorical"}, crosses=[("a", "b")]), None, "unknown features"),
    (lambda: FeatureSpace.cross(("a", "b"), 8, output_mode="multi_hot"), None, "Expected one of {'int'"),
    (lambda: FeatureSpace({"a": "string_categorical"}), {"a": ["x"]}, r"call `\.adapt\(dataset\)`"),
    (lambda: FeatureSpace({"a": "float"}), [1.0], "only be called with a dict"),
    (lambda: FeatureSpace({"a": "float", "b": "float"}), {"a": [1.0]}, r"missing \['b'\]"),
    (lambda: FeatureSpace({"a": FeatureSpace.string_hashed(4, output_mode="int")}), {"a": ["x"]},
     "Cannot concatenate features because feature 'a' has not been encoded"),
    (lambda: FeatureSpace({"a": FeatureSpace.feature("float32", L.Rescaling(2.0), "one_hot")}), {"a": [1.0]},
     "isn't a standard feature"),
])
def test_errors_say_what_is_wrong_as_keras(make, call, match):
    with pytest.raises(ValueError, match=match):
        fs = make()
        fs(call)


def test_adapt_refuses_what_it_cannot_read():
    fs = FeatureSpace({"a": "string_categorical"})
    with pytest.raises(ValueError, match="dict of arrays/lists"):
        fs.adapt(np.array(["x", "y"]))
    with pytest.raises(ValueError, match=r"missing \['a'\]"):
        fs.adapt({"b": ["x"]})


# ------------------------------------------------------------------------------------------ config and files
def test_config_round_trip_keeps_types_vocabularies_and_refuses_unadapted_statistics():
    fs = concat_space()
    config = json.loads(json.dumps(fs.get_config()))  # plain JSON
    assert sorted(config) == ["crosses", "crossing_dim", "features", "hashing_dim", "name",
                              "num_discretization_bins", "output_mode"]
    again = FeatureSpace.from_config(config)
    assert json.loads(json.dumps(again.get_config())) == config
    assert {k: type(v).__name__ for k, v in again.preprocessors.items()} == {
        k: type(v).__name__ for k, v in fs.preprocessors.items()}
    assert again.preprocessors["sc"].get_vocabulary() == KERAS["vocab_sc"]
    with pytest.raises(ValueError, match="adapt"):  # the normalization statistics are weights, not config
        again(reference.new_rows())
    lookups = FeatureSpace({"sc": "string_categorical", "ic": "integer_categorical"}, crosses=[("sc", "ic")])
    lookups.adapt(reference.table())
    restored = FeatureSpace.from_config(lookups.get_config())  # everything it learnt is in its config
    torch.testing.assert_close(restored(reference.new_rows()), lookups(reference.new_rows()))


def test_keras_file_saved_by_keras_loads_with_what_keras_learnt():
    fs = lamina.saving.load_model(KERAS_FILE)
    assert isinstance(fs, FeatureSpace)
    np.testing.assert_allclose(fs(reference.table()).numpy(), KERAS["concat_train"], atol=1e-6)
    np.testing.assert_allclose(fs(reference.new_rows()).numpy(), KERAS["concat_new"], atol=1e-6)


def test_save_writes_keras_layout_and_loads_back(tmp_path):
    import zipfile

    fs = concat_space()
    path = tmp_path / "featurespace.keras"
    fs.save(path)
    with zipfile.ZipFile(path) as z:
        assert {"config.json", "metadata.json", "model.weights.h5"} <= set(z.namelist())
        config = json.loads(z.read("config.json"))
    keras_config = json.loads(zipfile.ZipFile(KERAS_FILE).read("config.json"))
    assert config["class_name"] == keras_config["class_name"] == "FeatureSpace"
    assert sorted(config["config"]) == sorted(keras_config["config"])
    assert config["build_config"] == keras_config["build_config"]
    loaded = lamina.saving.load_model(path)
    np.testing.assert_allclose(loaded(reference.new_rows()).numpy(), KERAS["concat_new"], atol=1e-6)
    with pytest.raises(ValueError, match="must end with '.keras'"):
        fs.save(tmp_path / "featurespace.lamina")


# ------------------------------------------------------------------------------------------ the guide end to end
def heart_table(n: int, seed: int) -> tuple[dict, np.ndarray]:
    """A generated table shaped like the guide's heart disease data (no download): the target follows a noisy
    logistic rule of a few columns, so a model can learn it (about 58% of the rows are positive)."""
    rng = np.random.default_rng(seed)
    x = {
        "sex": rng.integers(0, 2, n), "cp": rng.integers(0, 5, n), "fbs": rng.integers(0, 2, n),
        "restecg": rng.integers(0, 3, n), "exang": rng.integers(0, 2, n), "ca": rng.integers(0, 4, n),
        "thal": rng.choice(np.array(["fixed", "normal", "reversible"]), n),
        "age": rng.uniform(29, 77, n).astype("float32"), "trestbps": rng.normal(131, 17, n).astype("float32"),
        "chol": rng.normal(246, 51, n).astype("float32"), "thalach": rng.normal(150, 23, n).astype("float32"),
        "oldpeak": rng.exponential(1.0, n).astype("float32"), "slope": rng.integers(0, 3, n).astype("float32"),
    }
    logit = (2.0 * (x["thal"] == "reversible") - 1.5 * (x["thal"] == "normal") + 1.2 * (x["cp"] == 0)
             + 0.8 * x["ca"] + 0.06 * (x["age"] - 53) - 0.04 * (x["thalach"] - 150) + 0.8 * x["oldpeak"] - 1.6)
    y = (logit + rng.logistic(0, 0.3, n) > 0).astype("float32")
    return x, y


def test_the_guide_trains_a_classifier_on_encoded_features_and_serves_raw_dicts(tmp_path):
    lamina.utils.set_random_seed(0)
    x_train, y_train = heart_table(400, seed=1)
    x_val, y_val = heart_table(200, seed=2)
    fs = FeatureSpace(
        features={
            "sex": "integer_categorical", "cp": "integer_categorical", "fbs": "integer_categorical",
            "restecg": "integer_categorical", "exang": "integer_categorical", "ca": "integer_categorical",
            "thal": "string_categorical", "age": "float_discretized", "trestbps": "float_normalized",
            "chol": "float_normalized", "thalach": "float_normalized", "oldpeak": "float_normalized",
            "slope": "float_normalized",
        },
        crosses=[FeatureSpace.cross(feature_names=("sex", "age"), crossing_dim=64),
                 FeatureSpace.cross(feature_names=("thal", "ca"), crossing_dim=16)],
        output_mode="concat",
    )
    fs.adapt(x_train)
    encoded_train, encoded_val = fs(x_train), fs(x_val)  # the guide maps its datasets through the space

    encoded_features = fs.get_encoded_features()
    hidden = L.Dropout(0.5)(L.Dense(32, activation="relu")(encoded_features))
    predictions = L.Dense(1, activation="sigmoid")(hidden)
    training_model = lamina.Model(inputs=encoded_features, outputs=predictions)
    training_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    training_model.fit(encoded_train, y_train, epochs=20, batch_size=64, verbose=0)
    _, accuracy = training_model.evaluate(encoded_val, y_val, verbose=0)
    majority = max(y_val.mean(), 1 - y_val.mean())  # 0.58: what always answering the common class scores
    assert accuracy > 0.78 and accuracy > majority + 0.15

    inference_model = lamina.Model(inputs=fs.get_inputs(), outputs=predictions)
    sample = {"age": 60.0, "sex": 1, "cp": 1, "trestbps": 145.0, "chol": 233.0, "fbs": 1, "restecg": 2,
              "thalach": 150.0, "exang": 0, "oldpeak": 2.3, "slope": 3.0, "ca": 0, "thal": "fixed"}
    input_dict = {name: np.array([value]) for name, value in sample.items()}  # the guide's batch of one
    probability = inference_model.predict(input_dict, verbose=0)
    np.testing.assert_allclose(probability, training_model.predict(fs(input_dict), verbose=0), atol=1e-6)
    raw = inference_model.predict(x_val, verbose=0)  # raw strings and numbers in, one probability out
    np.testing.assert_allclose(raw, training_model.predict(encoded_val, verbose=0), atol=1e-6)

    inference_model.save(tmp_path / "inference.lamina")  # the space travels inside the model file
    loaded = lamina.saving.load_model(tmp_path / "inference.lamina")
    np.testing.assert_allclose(loaded.predict(x_val, verbose=0), raw, atol=1e-6)
