"""Tests of lamina/layers/lookup.py. Keras's StringLookup/IntegerLookup need TensorFlow, which is not installed:
the oracle is what Keras documents (its docstring examples and its own test suite) and the rules of its source
(index layout, adapt's ordering, IDF formula, config keys), checked here one by one."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from lamina.layers.lookup import IntegerLookup, StringLookup

VOCAB = ["a", "b", "c", "d"]
DATA = [["a", "c", "d"], ["d", "z", "b"]]
IVOCAB = [12, 36, 1138, 42]
IDATA = np.array([[12, 1138, 42], [42, 1000, 36]])


# --------------------------------------------------------------------------------------- documented examples
def test_string_lookup_documented_examples():
    out = StringLookup(vocabulary=VOCAB)(DATA)
    assert out.dtype == torch.int64 and out.tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = StringLookup()
    layer.adapt(DATA)
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"]
    assert layer(DATA).tolist() == [[5, 3, 1], [1, 2, 4]]
    assert StringLookup(vocabulary=VOCAB, num_oov_indices=2)([["a", "c", "d"], ["m", "z", "b"]]).tolist() == [
        [2, 4, 5], [0, 1, 3]]
    one_hot = StringLookup(vocabulary=VOCAB, output_mode="one_hot")(["a", "b", "c", "d", "z"])
    assert one_hot.dtype == torch.int64 and one_hot.tolist() == [
        [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]]
    data4 = [["a", "c", "d", "d"], ["d", "z", "b", "z"]]
    assert StringLookup(vocabulary=VOCAB, output_mode="multi_hot")(data4).tolist() == [[0, 1, 0, 1, 1],
                                                                                      [1, 0, 1, 0, 1]]
    assert StringLookup(vocabulary=VOCAB, output_mode="count")(data4).tolist() == [[0, 1, 0, 1, 2],
                                                                                  [2, 0, 1, 0, 1]]
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(VOCAB, idf_weights=[0.25, 0.75, 0.6, 0.4])
    out = layer(data4)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), [[0, 0.25, 0, 0.6, 0.8], [1.0, 0, 0.75, 0, 0.4]], rtol=1e-6)
    layer = StringLookup(output_mode="tf_idf")
    layer.set_vocabulary(["[UNK]", *VOCAB], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data4).numpy(), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6)
    inverted = StringLookup(vocabulary=VOCAB, invert=True)([[1, 3, 4], [4, 0, 2]])
    assert isinstance(inverted, np.ndarray) and inverted.tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]
    pair = StringLookup(vocabulary=VOCAB, invert=True)(StringLookup(vocabulary=VOCAB)(DATA))
    assert pair.tolist() == [["a", "c", "d"], ["d", "[UNK]", "b"]]


def test_integer_lookup_documented_examples():
    assert IntegerLookup(vocabulary=IVOCAB)(IDATA).tolist() == [[1, 3, 4], [4, 0, 2]]
    layer = IntegerLookup()
    layer.adapt(IDATA)
    assert layer.get_vocabulary() == [-1, 42, 1138, 1000, 36, 12]
    assert layer(IDATA).tolist() == [[5, 2, 1], [1, 3, 4]]
    assert IntegerLookup(vocabulary=IVOCAB, num_oov_indices=2)(np.array([[12, 1138, 42], [37, 1000, 36]])).tolist() \
        == [[2, 4, 5], [1, 0, 3]]
    oov = np.array([100, 300, 700, 1100, 1700, 2000])
    assert IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="floormod")(oov).tolist() == [0] * 6
    assert IntegerLookup(vocabulary=[10, 20, 30], num_oov_indices=4, oov_method="farmhash")(oov).tolist() == [
        3, 3, 2, 2, 0, 1]
    assert IntegerLookup(vocabulary=IVOCAB, output_mode="one_hot")(np.array([12, 36, 1138, 42, 7])).tolist() == [
        [0, 1, 0, 0, 0], [0, 0, 1, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1], [1, 0, 0, 0, 0]]
    data4 = np.array([[12, 1138, 42, 42], [42, 7, 36, 7]])
    assert IntegerLookup(vocabulary=IVOCAB, output_mode="count")(data4).tolist() == [[0, 1, 0, 1, 2],
                                                                                    [2, 0, 1, 0, 1]]
    layer = IntegerLookup(output_mode="tf_idf", vocabulary=[-1, *IVOCAB], idf_weights=[0.9, 0.25, 0.75, 0.6, 0.4])
    np.testing.assert_allclose(layer(data4).numpy(), [[0, 0.25, 0, 0.6, 0.8], [1.8, 0, 0.75, 0, 0.4]], rtol=1e-6)
    inverted = IntegerLookup(vocabulary=IVOCAB, invert=True)(np.array([[1, 3, 4], [4, 0, 2]]))
    assert inverted.dtype == torch.int64 and inverted.tolist() == [[12, 1138, 42], [42, -1, 36]]
    forward = IntegerLookup(vocabulary=IVOCAB)
    back = IntegerLookup(vocabulary=forward.get_vocabulary(), invert=True)
    assert back(forward(IDATA)).tolist() == [[12, 1138, 42], [42, -1, 36]]
    assert IntegerLookup(vocabulary=IVOCAB)(torch.tensor([[36, 5]])).tolist() == [[2, 0]]  # a tensor


# --------------------------------------------------------------------------------------- Keras's rules
def test_mask_token_layout_in_int_and_encoded_modes():
    layer = StringLookup(vocabulary=VOCAB, mask_token="")
    assert layer.get_vocabulary() == ["", "[UNK]", *VOCAB] and layer.vocabulary_size() == 6
    assert layer([["a", "", "d", "q"]]).tolist() == [[2, 0, 5, 1]]
    multi = StringLookup(vocabulary=VOCAB, mask_token="", output_mode="multi_hot")
    assert multi.get_vocabulary() == ["[UNK]", *VOCAB]  # no mask index outside "int" mode
    assert multi([["a", "", "d"]]).tolist() == [[0, 1, 0, 0, 1]]  # the mask token is dropped
    assert StringLookup(vocabulary=VOCAB, mask_token="", output_mode="count")([["", "", "a"]]).tolist() == [
        [0, 1, 0, 0, 0]]
    assert StringLookup(vocabulary=VOCAB, mask_token="[M]", invert=True)([[0, 1, 2]]).tolist() == [
        ["[M]", "[UNK]", "a"]]
    assert StringLookup(vocabulary=["", "[UNK]", *VOCAB], mask_token="").get_vocabulary() == ["", "[UNK]", *VOCAB]
    assert IntegerLookup(vocabulary=IVOCAB, mask_token=0)(np.array([0, 12, 5])).tolist() == [0, 2, 1]
    assert StringLookup(vocabulary=VOCAB).get_vocabulary(include_special_tokens=False) == VOCAB


def test_adapt_orders_by_count_then_token_descending_and_max_tokens():
    layer = StringLookup(max_tokens=4)
    layer.adapt(np.array(["b", "a", "c", "a", "b", "x", "[UNK]", "[UNK]", "[UNK]"]))
    assert layer.get_vocabulary() == ["[UNK]", "b", "a", "x"]  # the OOV token itself is never learnt
    ints = IntegerLookup(mask_token=0, num_oov_indices=2)
    ints.adapt(iter([np.array([[5, 5, 0, 0, 0]]), np.array([7, 9, 9])]))  # batches; the mask is not learnt
    assert ints.get_vocabulary() == [0, -1, -1, 9, 5, 7]
    steps = StringLookup()
    steps.adapt(iter([np.array(["a"]), np.array(["b"]), np.array(["c"])]), steps=2)
    assert steps.get_vocabulary() == ["[UNK]", "b", "a"]
    again = StringLookup()
    again.adapt(["x", "y", "y"])  # a Python list is one batch
    again.adapt(["z"])  # adapt starts afresh
    assert again.get_vocabulary() == ["[UNK]", "z"]
    pairs = StringLookup()
    pairs.adapt(iter([(np.array(["q", "r", "r"]), None)]))  # (x, y) batches: x is read
    assert pairs.get_vocabulary() == ["[UNK]", "r", "q"]


def test_adapt_tf_idf_weights_follow_keras_formula():
    docs = np.array([["a", "b", "b"], ["b", "c", "c"], ["c", "c", "d"]])
    layer = StringLookup(output_mode="tf_idf")
    layer.adapt(docs)
    assert layer.get_vocabulary() == ["[UNK]", "c", "b", "d", "a"]
    df = {"c": 2, "b": 2, "d": 1, "a": 1}
    idf = [math.log(1 + 3 / (1 + df[t])) for t in ["c", "b", "d", "a"]]
    expected = np.array([np.mean(np.float32(idf)), *idf], dtype=np.float32)
    np.testing.assert_allclose(layer.idf_weights, expected, rtol=1e-6)
    out = layer([["a", "c", "c", "zz"]])
    np.testing.assert_allclose(out.numpy(), [[expected[0], 2 * expected[1], 0, 0, expected[4]]], rtol=1e-6)
    padded = StringLookup(output_mode="tf_idf", max_tokens=8, pad_to_max_tokens=True)
    padded.adapt(docs)
    assert padded([["a"]]).shape == (1, 8) and padded.idf_weights[5:].tolist() == [0, 0, 0]


def test_num_oov_indices_zero_and_hashed_oov_with_salt():
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["a", "q"])
    assert StringLookup(vocabulary=VOCAB, num_oov_indices=0)(["a", "d"]).tolist() == [0, 3]
    salted = StringLookup(vocabulary=VOCAB, num_oov_indices=3, salt=133)(["A", "B", "C", "D", "E"]).tolist()
    assert salted == [0, 0, 2, 1, 0]  # Hashing(num_bins=3, salt=133)'s documented bins
    with pytest.raises(ValueError, match="oov_method='farmhash'"):
        IntegerLookup(vocabulary=IVOCAB, salt=1)


def test_pad_to_max_tokens_scalars_bytes_and_file_vocabulary(tmp_path):
    out = StringLookup(vocabulary=VOCAB, max_tokens=10, pad_to_max_tokens=True, output_mode="multi_hot")([["a"]])
    assert out.tolist() == [[0, 1, 0, 0, 0, 0, 0, 0, 0, 0]]
    assert StringLookup(vocabulary=VOCAB)("c").tolist() == 3
    assert StringLookup(vocabulary=VOCAB)(np.array([b"c", b"q"])).tolist() == [3, 0]
    path = tmp_path / "vocab.txt"
    path.write_text("a\nb\nc\n", encoding="utf-8")
    assert StringLookup(vocabulary=str(path))(["c", "a"]).tolist() == [3, 1]
    ints = tmp_path / "ints.txt"
    ints.write_text("7\n8\n", encoding="utf-8")
    assert IntegerLookup(vocabulary=str(ints))([8, 9]).tolist() == [2, 0]


def test_argument_and_vocabulary_errors_as_keras():
    with pytest.raises(ValueError, match="greater than 1"):
        StringLookup(max_tokens=1)
    with pytest.raises(ValueError, match="pad_to_max_tokens"):
        StringLookup(pad_to_max_tokens=True)
    with pytest.raises(ValueError, match="repeated"):
        StringLookup(vocabulary=["a", "a"])
    with pytest.raises(ValueError, match="mask_token"):
        StringLookup(vocabulary=["a", ""], mask_token="")
    with pytest.raises(ValueError, match="larger than the maximum"):
        StringLookup(vocabulary=VOCAB, max_tokens=3)
    with pytest.raises(ValueError, match="`'int'` when `invert`"):
        StringLookup(invert=True, output_mode="count")
    with pytest.raises(ValueError, match="idf_weights"):
        StringLookup(output_mode="tf_idf", vocabulary=VOCAB)
    with pytest.raises(ValueError, match="Cannot adapt"):
        StringLookup(vocabulary=VOCAB).adapt(["a"])
    with pytest.raises(RuntimeError, match="must set the layer's vocabulary"):
        StringLookup(output_mode="multi_hot")(["a"])
    with pytest.raises(ValueError, match="not supported in lamina"):
        StringLookup(output_mode="multi_hot", sparse=True)
    with pytest.raises(ValueError, match="int64"):
        IntegerLookup(vocabulary_dtype="int32")
    with pytest.raises(ValueError, match="empty"):
        StringLookup(vocabulary=[])
    layer = StringLookup(output_mode="count")
    layer.adapt(["a", "b"])
    with pytest.raises(RuntimeError, match="vocabulary size cannot be changed"):
        layer.adapt(["a", "b", "c"])


def test_config_carries_the_vocabulary_and_round_trips():
    layer = StringLookup(output_mode="tf_idf", name="sl")
    layer.adapt(np.array([["a", "b"], ["b", "c"]]))
    config = layer.get_config()
    assert config["vocabulary"] == layer.get_vocabulary() and len(config["idf_weights"]) == 4
    assert config["encoding"] == "utf-8" and "vocabulary_dtype" not in config
    again = StringLookup.from_config(config)
    data = [["a", "c", "x", "b"]]
    np.testing.assert_allclose(again(data).numpy(), layer(data).numpy())
    with pytest.raises(RuntimeError, match="cannot be changed"):  # Keras: an encoded size is frozen
        again.adapt(np.array([["q"]]))
    adapted = StringLookup()
    adapted.adapt(["a"])
    fresh = StringLookup.from_config(adapted.get_config())
    fresh.adapt(["x", "y"])  # an adapted layer's copy stays adaptable ("int" mode)
    assert fresh.get_vocabulary() == ["[UNK]", "y", "x"]
    ints = IntegerLookup(vocabulary=IVOCAB, mask_token=0, name="il")
    config = ints.get_config()
    assert config["vocabulary"] == [0, -1, *IVOCAB] and config["vocabulary_dtype"] == "int64"
    assert IntegerLookup.from_config(config)(IDATA).tolist() == ints(IDATA).tolist()
    store = {}
    layer.save_own_variables(store)  # Keras's layout: the IDF weights of "tf_idf" under "idf_weights"
    assert list(store) == ["idf_weights"]


def test_integer_lookup_in_a_functional_model():
    import lamina

    ids = lamina.layers.Input(shape=(3,), dtype="int64")
    encoded = IntegerLookup(vocabulary=IVOCAB, output_mode="multi_hot")(ids)
    assert tuple(encoded.shape) == (None, 5)
    model = lamina.models.Model(ids, encoded)
    assert model(IDATA).tolist() == IntegerLookup(vocabulary=IVOCAB, output_mode="multi_hot")(IDATA).tolist()


def test_load_assets_reads_a_keras_vocabulary_file(tmp_path):
    # Keras writes an adapted layer's vocabulary (special tokens first) to assets/<layer>/vocabulary.txt
    (tmp_path / "vocabulary.txt").write_text("[UNK]\nd\nz\nc\nb\na\n", encoding="utf-8")
    layer = StringLookup()
    layer.load_assets(str(tmp_path))
    assert layer.get_vocabulary() == ["[UNK]", "d", "z", "c", "b", "a"] and layer(DATA).tolist() == [[5, 3, 1],
                                                                                                  [1, 2, 4]]
    tf_idf = StringLookup(output_mode="tf_idf")
    tf_idf.load_own_variables({"idf_weights": np.array([0.5, 1, 1, 1, 1, 1], dtype="float32")})  # Keras's order
    tf_idf.load_assets(str(tmp_path))
    np.testing.assert_allclose(tf_idf([["d", "q"]]).numpy(), [[0.5, 1, 0, 0, 0, 0]])
    (tmp_path / "vocabulary.txt").write_text("-1\n42\n7", encoding="utf-8")
    ints = IntegerLookup()
    ints.load_assets(str(tmp_path))
    assert ints.get_vocabulary() == [-1, 42, 7]
    from lamina.layers.text_vectorization import TextVectorization

    (tmp_path / "vocabulary.txt").write_text("\n[UNK]\nfoo\nbar\n", encoding="utf-8")
    text = TextVectorization()
    text.load_assets(str(tmp_path))
    assert text.get_vocabulary() == ["", "[UNK]", "foo", "bar"] and text(["bar foo x"]).tolist() == [[3, 2, 1]]
