"""A tabular model as Keras's structured-data guides build one: a string column through ``StringLookup`` (in the
data pipeline, on the host), a numeric column through ``Discretization`` + ``CategoryEncoding``, another through
``Normalization``, concatenated into Dense layers. It trains, and saves and loads with its vocabulary and
statistics (``.lamina`` and ``.keras``)."""

from __future__ import annotations

import numpy as np
import pytest

import lamina
from lamina import layers as L


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    city = rng.choice(np.array(["paris", "lyon", "nice", "lille"]), size=(n, 1))
    age = rng.uniform(18, 80, size=(n, 1)).astype("float32")
    income = rng.normal(40_000, 9_000, size=(n, 1)).astype("float32")
    y = ((city[:, 0] == "paris") | (age[:, 0] > 50)).astype("float32")
    return city, age, income, y


@pytest.mark.parametrize("suffix", ["lamina", "keras"])
def test_a_tabular_model_trains_and_round_trips_its_preprocessing(tmp_path, suffix):
    lamina.utils.set_random_seed(0)
    city, age, income, y = data()
    lookup = L.StringLookup(num_oov_indices=1)
    lookup.adapt(city)
    pipeline = lamina.Sequential([lookup])  # in the data pipeline (strings live on the host)
    city_ids = pipeline.predict(city, verbose=0)
    discretize = L.Discretization(num_bins=4)
    discretize.adapt(age)
    normalize = L.Normalization()
    normalize.adapt(income)

    city_in, age_in, income_in = L.Input((1,), dtype="int64"), L.Input((1,)), L.Input((1,))
    features = L.Concatenate()([
        L.CategoryEncoding(num_tokens=lookup.vocabulary_size(), output_mode="one_hot")(city_in),
        L.CategoryEncoding(num_tokens=4, output_mode="one_hot")(discretize(age_in)),
        normalize(income_in)])
    hidden = L.Dense(8, activation="relu")(features)
    model = lamina.Model([city_in, age_in, income_in], L.Dense(1, activation="sigmoid")(hidden))
    model.compile(optimizer=lamina.optimizers.Adam(0.05), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit([city_ids, age, income], y, epochs=15, batch_size=32, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.8

    model.save(tmp_path / f"model.{suffix}")
    pipeline.save(tmp_path / f"lookup.{suffix}")
    loaded = lamina.models.load_model(tmp_path / f"model.{suffix}")
    loaded_lookup = lamina.models.load_model(tmp_path / f"lookup.{suffix}")
    assert loaded_lookup.layers[0].get_vocabulary() == lookup.get_vocabulary()
    new_city, new_age, new_income, _ = data(16, seed=1)
    ids = loaded_lookup.predict(new_city, verbose=0)
    np.testing.assert_array_equal(ids, pipeline.predict(new_city, verbose=0))
    np.testing.assert_allclose(loaded.predict([ids, new_age, new_income], verbose=0),
                               model.predict([ids, new_age, new_income], verbose=0), atol=1e-6)
