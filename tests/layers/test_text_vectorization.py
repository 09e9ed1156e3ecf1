"""Tests of lamina/layers/text_vectorization.py. Keras's TextVectorization needs TensorFlow, which is not
installed: the oracle is Keras's own test suite (its expected outputs, copied as data) and its documented rules
(standardize, split, ngrams, padding, config keys). Also: a model that starts with TextVectorization trains on
string arrays, and saving (.lamina, .keras) keeps the vocabulary."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina
from lamina.layers.hashing import Hashing
from lamina.layers.lookup import StringLookup
from lamina.layers.text_vectorization import TextVectorization

TEXTS = np.array(["the cat sat", "a dog ran far", "cats and dogs", "the end", "a cat", "dogs ran"])
LABELS = np.array([0, 1, 0, 1, 0, 1])


# --------------------------------------------------------------------------------------- Keras's test suite
def test_adapt_fixed_and_set_vocabulary_with_output_sequence_length():
    layer = TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    layer.adapt(["foo bar", "bar baz", "baz bada boom"])
    out = layer([["foo qux bar"], ["qux baz"]])
    assert out.dtype == torch.int64 and out.tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    assert "foo" in layer.get_vocabulary()
    fixed = TextVectorization(max_tokens=5000, output_sequence_length=4, vocabulary=["baz", "bar", "foo"])
    assert fixed([["foo qux bar"], ["qux baz"]]).tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    later = TextVectorization(max_tokens=5000, output_sequence_length=4)
    later.set_vocabulary(["baz", "bar", "foo"])
    assert later([["foo qux bar"], ["qux baz"]]).tolist() == [[4, 1, 3, 0], [1, 2, 0, 0]]
    assert fixed([["a b c d e f"]]).shape == (1, 4)  # truncated
    assert TextVectorization(vocabulary=["x"])(["x", "x x x"]).tolist() == [[2, 0, 0], [2, 2, 2]]  # batch-padded


def test_adapt_with_generators_and_steps():
    def text_gen():
        yield ["hello world", "foo bar"]
        yield ["baz qux", "hello foo"]

    layer = TextVectorization()
    layer.adapt(text_gen())
    assert layer.get_vocabulary() == ["", "[UNK]", "hello", "foo", "world", "qux", "baz", "bar"]

    def endless():
        while True:
            yield np.array(["hello world", "foo bar"])

    layer = TextVectorization()
    layer.adapt(endless(), steps=3)
    assert "hello" in layer.get_vocabulary()


@pytest.mark.parametrize("kwargs, inputs, expected", [
    ({"output_mode": "multi_hot", "vocabulary": ["foo", "bar", "baz"]}, [["foo bar"], ["baz foo foo"]],
     [[0, 1, 1, 0], [0, 1, 0, 1]]),
    ({"output_mode": "count", "vocabulary": ["foo", "bar", "baz"]}, ["foo bar", "baz foo foo"],
     [[0, 1, 1, 0], [0, 2, 0, 1]]),
    ({"vocabulary": ["hello", "world", "this", "is", "nice", "test"]},
     ["Hello, World!. This is just a nice test!"], [[2, 3, 4, 5, 1, 1, 6, 7]]),
    ({"standardize": "lower", "vocabulary": ["hello,", "hello", "world", "this", "is", "nice", "test"]},
     ["Hello, World!. This is just a nice test!"], [[2, 1, 5, 6, 1, 1, 7, 1]]),
    ({"split": "character", "vocabulary": list("abcde")}, ["abcf"], [[2, 3, 4, 1]]),
    ({"split": lambda t: np.char.split(t, "|"), "vocabulary": ["foo", "bar", "foobar"]}, ["foo|bar"], [[4]]),
    ({"standardize": "strip_punctuation", "vocabulary": ["Hello", "World", "Test"]}, ["Hello, World! Test."],
     [[2, 3, 4]]),
    ({"standardize": None, "vocabulary": ["Hello", "world"]}, ["Hello hello"], [[2, 1]]),
    ({"standardize": lambda t: np.char.replace(t, "-", " "), "vocabulary": ["foo", "bar"]}, ["foo-bar"],
     [[2, 3]]),
    ({"split": None, "vocabulary": ["foo", "bar", "baz"]}, [["foo"], ["bar"], ["unknown"]], [[2], [3], [1]]),
])
def test_keras_suite_outputs(kwargs, inputs, expected):
    out = TextVectorization(**kwargs)(inputs)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.int64 and out.tolist() == expected
    assert TextVectorization(**kwargs)(np.array(inputs)).tolist() == expected


def test_tf_idf_output_and_ascii_only_standardization():
    layer = TextVectorization(output_mode="tf_idf", vocabulary=["foo", "bar", "baz"], idf_weights=[0.3, 0.5, 0.2])
    out = layer(["foo bar", "baz foo foo"])
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [[0.0, 0.3, 0.5, 0.0], [0.0, 0.6, 0.0, 0.2]], rtol=1e-6)
    # TensorFlow's lower() (what Keras uses) lowers ASCII letters only, and its split() splits on ASCII whitespace
    assert TextVectorization(vocabulary=["é", "Éa"])(["É Éa\u00a0x"]).tolist() == [[1, 1]]
    assert TextVectorization(vocabulary=["b"])([b"A\tb\n"]).tolist() == [[1, 2]]  # bytes are decoded


def test_python_standardize_callable_receives_numpy_unicode():
    seen = []

    def np_standardize(text):
        seen.append((type(text), text.dtype.kind))
        return np.char.replace(np.char.lower(text), ",", "")

    layer = TextVectorization(standardize=np_standardize)
    layer.adapt(["Hello, world."])
    assert seen and all(s == (np.ndarray, "U") for s in seen)
    assert "hello" in layer.get_vocabulary() and "world." in layer.get_vocabulary()
    assert layer(["Hello, world."]).tolist() == [[3, 2]]


def test_ngrams_max_tokens_pad_to_max_tokens_and_vocabulary():
    layer = TextVectorization(ngrams=2)
    layer.adapt(["foo bar baz"])
    assert layer.get_vocabulary() == ["", "[UNK]", "foo bar", "foo", "baz", "bar baz", "bar"]
    assert layer(["foo bar"]).tolist() == [[3, 6, 2]]  # unigrams, then bigrams
    layer = TextVectorization(ngrams=(1, 3))
    layer.adapt(["foo bar baz"])
    assert "foo bar baz" in layer.get_vocabulary() and "foo bar" not in layer.get_vocabulary()
    layer = TextVectorization(max_tokens=5)
    layer.adapt(["a b c d e f g h i j"])
    assert layer.get_vocabulary() == ["", "[UNK]", "j", "i", "h"] and layer.vocabulary_size() == 5
    padded = TextVectorization(output_mode="multi_hot", vocabulary=["foo", "bar"], max_tokens=8,
                               pad_to_max_tokens=True)
    assert padded(["foo bar"]).shape == (1, 8)
    assert TextVectorization(output_mode="multi_hot", vocabulary=["foo"]).get_vocabulary() == ["[UNK]", "foo"]


def test_adapt_tf_idf_documents_are_rows():
    layer = TextVectorization(output_mode="tf_idf")
    layer.adapt(["a b b", "b c", "c c c d"])
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "d", "a"]
    idf = np.log(1 + 3 / (1 + np.array([2, 2, 1, 1])))
    np.testing.assert_allclose(layer._lookup_layer.idf_weights, [np.float32(idf).mean(), *idf], rtol=1e-6)


def test_errors_as_keras():
    with pytest.raises(ValueError, match="standardize"):
        TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="split"):
        TextVectorization(split="comma")
    with pytest.raises(ValueError, match="ngrams"):
        TextVectorization(ngrams="2")
    with pytest.raises(ValueError, match="must not be set"):
        TextVectorization(output_mode="count", output_sequence_length=3)
    with pytest.raises(ValueError, match="ragged"):
        TextVectorization(ragged=True)
    with pytest.raises(ValueError, match="not supported in lamina"):
        TextVectorization(output_mode="count", sparse=True)
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        TextVectorization()(np.array([["a", "b"]]))


def test_config_round_trip_with_adapted_vocabulary():
    layer = TextVectorization(ngrams=(1, 2), output_sequence_length=6, name="tv")
    layer.adapt(TEXTS)
    config = layer.get_config()
    keras_keys = {"max_tokens", "standardize", "split", "ngrams", "output_mode", "output_sequence_length",
                  "pad_to_max_tokens", "sparse", "ragged", "vocabulary", "idf_weights", "encoding",
                  "vocabulary_size", "name", "trainable", "dtype"}
    assert keras_keys <= set(config)
    assert config["vocabulary"] == layer.get_vocabulary() and config["vocabulary_size"] == layer.vocabulary_size()
    again = TextVectorization.from_config(config)
    assert again(TEXTS).tolist() == layer(TEXTS).tolist()
    tf_idf = TextVectorization(output_mode="tf_idf")
    tf_idf.adapt(TEXTS)
    copy = TextVectorization.from_config(tf_idf.get_config())
    np.testing.assert_allclose(copy(TEXTS).numpy(), tf_idf(TEXTS).numpy())


# --------------------------------------------------------------------------------------- in a model
def _model(first):
    return lamina.models.Sequential([first, lamina.layers.Embedding(40, 4), lamina.layers.GlobalAveragePooling1D(),
                                     lamina.layers.Dense(1, activation="sigmoid")])


def test_a_model_starting_with_text_vectorization_fits_on_string_arrays_and_saves(tmp_path):
    lamina.utils.set_random_seed(0)
    vectorize = TextVectorization(output_sequence_length=5)
    vectorize.adapt(TEXTS)
    model = _model(vectorize)
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(TEXTS, LABELS, epochs=2, batch_size=4, shuffle=True, verbose=0,
                        validation_data=(TEXTS, LABELS))
    assert len(history.history["loss"]) == 2 and "val_loss" in history.history
    predicted = np.asarray(model.predict(TEXTS, batch_size=4, verbose=0))
    assert predicted.shape == (6, 1)
    assert np.isfinite(model.evaluate(TEXTS, LABELS, verbose=0))
    for name in ("model.lamina", "model.keras"):
        model.save(tmp_path / name)
        loaded = lamina.saving.load_model(tmp_path / name, custom_objects={"TextVectorization": TextVectorization})
        assert loaded.layers[0].get_vocabulary() == vectorize.get_vocabulary()
        np.testing.assert_allclose(np.asarray(loaded.predict(TEXTS, verbose=0)), predicted, rtol=1e-6)


def test_models_starting_with_string_lookup_or_hashing_fit_on_strings():
    words = np.array([["cat"], ["dog"], ["cat"], ["bird"]])
    lookup = StringLookup()
    lookup.adapt(words)
    for first in (lookup, Hashing(num_bins=8)):
        model = _model(first)
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        model.fit(words, np.array([0, 1, 0, 1]), epochs=1, batch_size=2, verbose=0)
        assert np.asarray(model.predict(words, verbose=0)).shape == (4, 1)


def test_a_plain_layer_still_refuses_strings():
    with pytest.raises(TypeError, match="numeric arrays"):
        lamina.layers.Dense(2)(np.array([["a"]]))


def test_string_layers_put_their_tensors_where_the_model_was_moved():
    # a model moved to a GPU moves its string layers' outputs with it; "meta" stands in for the GPU here
    for layer in (TextVectorization(vocabulary=["a"]), StringLookup(vocabulary=["a"]), Hashing(num_bins=3)):
        assert layer(np.array([["a"]])).device.type == "cpu"
        layer.to(torch.device("meta"))
        assert layer(np.array([["a"]])).device.type == "meta"
        layer.to("cpu")
        assert layer(np.array([["a"]])).device.type == "cpu"


def test_fit_with_validation_split_on_strings():
    texts = np.array(["good fun film", "bad boring film", "great fun", "awful bad", "fun good great", "boring awful"]
                     * 4)
    labels = np.array([1, 0, 1, 0, 1, 0] * 4, dtype="float32")
    vectorize = lamina.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(texts)
    model = lamina.Sequential([vectorize, lamina.layers.Embedding(20, 4), lamina.layers.GlobalAveragePooling1D(),
                               lamina.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(texts, labels, validation_split=0.25, epochs=2, batch_size=6, verbose=0)
    assert len(history.history["val_loss"]) == 2 and np.isfinite(history.history["val_loss"]).all()
