"""Tests of lamina/layers/hashing.py and fingerprint.py. Keras's Hashing/HashedCrossing need TensorFlow, which is
not installed: the oracle is the output Keras documents (its docstrings and its own test suite's expected values),
plus the published test vector of SipHash and, where installed, Google's FarmHash bindings (pyfarmhash)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lamina.layers.fingerprint import fingerprint64, fingerprint_cat64, siphash24
from lamina.layers.hashing import HashedCrossing, Hashing

LETTERS = [["A"], ["B"], ["C"], ["D"], ["E"]]
WIRE = [["omar"], ["stringer"], ["marlo"], ["wire"], ["skywalker"]]


def _ints(t: torch.Tensor) -> list:
    return t.reshape(-1).tolist()


# --------------------------------------------------------------------------------------- the hash functions
def test_siphash_paper_vector():
    assert hex(siphash24(bytes(range(16)), bytes(range(15)))) == "0xa129ca6149be45e5"
    assert siphash24(bytes(range(16)), b"") == 0x726FDB47DD0E0E31  # the reference implementation's vector 0


def test_fingerprint64_against_google_farmhash_every_length_path():
    farmhash = pytest.importorskip("farmhash")
    rng = random.Random(0)
    for n in [*range(0, 130), 255, 256, 257, 1000, 4097]:  # the 0-16, 17-32, 33-64 and >64 byte paths
        data = bytes(rng.randrange(256) for _ in range(n))
        assert fingerprint64(data) == farmhash.fingerprint64(data), n


def test_fingerprint64_known_values():
    assert fingerprint64(b"") == 0x9AE16A3B2F90404F
    assert [fingerprint64(c.encode()) % 3 for c in "ABCDE"] == [1, 0, 1, 1, 2]  # Keras's Hashing example


def test_fingerprint_cat64_is_tensorflows_chaining():
    # Keras's HashedCrossing example: cross_hashed starts from 0xDECAFCAFFE and chains the features.
    h = fingerprint_cat64(fingerprint_cat64(0xDECAFCAFFE, fingerprint64(b"A")), 101)
    assert h % 5 == 1


# --------------------------------------------------------------------------------------- Hashing
@pytest.mark.parametrize("kwargs, inputs, expected", [
    ({"num_bins": 3}, LETTERS, [1, 0, 1, 1, 2]),
    ({"num_bins": 3, "mask_value": ""}, [["A"], ["B"], [""], ["C"], ["D"]], [1, 1, 0, 2, 2]),
    ({"num_bins": 3, "salt": [133, 137]}, LETTERS, [1, 2, 1, 0, 2]),
    ({"num_bins": 3, "salt": 133}, LETTERS, [0, 0, 2, 1, 0]),
    ({"num_bins": 1}, LETTERS, [0, 0, 0, 0, 0]),
    ({"num_bins": 2}, WIRE, [0, 0, 1, 0, 0]),
    ({"num_bins": 3, "mask_value": ""}, WIRE, [1, 1, 2, 1, 1]),
    ({"num_bins": 3, "mask_value": "omar"}, WIRE, [0, 1, 2, 1, 1]),
    ({"num_bins": 3}, [[0], [1], [2], [3], [4]], [1, 0, 1, 0, 2]),  # integers hash as their decimal strings
    ({"num_bins": 2, "salt": [133, 137]}, WIRE, [0, 1, 0, 1, 0]),
    ({"num_bins": 2, "salt": [211, 137]}, WIRE, [1, 0, 1, 0, 1]),
    ({"num_bins": 3, "salt": [133, 137]}, [[0], [1], [2], [3], [4]], [1, 1, 2, 0, 1]),
])
def test_hashing_matches_keras_documented_outputs(kwargs, inputs, expected):
    for data in (inputs, np.array(inputs)):  # lists and NumPy arrays
        out = Hashing(**kwargs)(data)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.int64 and tuple(out.shape) == (5, 1)
        assert _ints(out) == expected


def test_hashing_tensors_bytes_floats_and_1d():
    assert _ints(Hashing(num_bins=3)(torch.tensor([[0], [1], [2], [3], [4]]))) == [1, 0, 1, 0, 2]
    assert _ints(Hashing(num_bins=3)(np.array([b"A", b"B"]))) == [1, 0]
    assert _ints(Hashing(num_bins=3)(np.array([0.0, 1.7, 2.2]))) == [1, 0, 1]  # floats truncated first
    assert _ints(Hashing(num_bins=2)(np.array(["omar", "stringer", "marlo", "wire", "skywalker"]))) == [0, 0, 1, 0, 0]
    assert Hashing(num_bins=3)("A").tolist() == 1


def test_hashing_encoded_modes_as_keras_tests():
    one_hot = Hashing(num_bins=3, output_mode="one_hot")(np.array([0, 1, 2, 3, 4]))
    assert one_hot.dtype == torch.float32
    assert one_hot.tolist() == [[0, 1, 0], [1, 0, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert Hashing(num_bins=3, output_mode="multi_hot")(np.array([[0, 1, 2, 3, 4]])).tolist() == [[1, 1, 1]]
    assert Hashing(num_bins=3, output_mode="count")(np.array([[0, 1, 2, 3, 4]])).tolist() == [[2, 2, 1]]
    assert Hashing(num_bins=3, output_mode="count")(np.array([0, 1, 2, 3, 4])).tolist() == [2, 2, 1]
    assert Hashing(num_bins=3, output_mode="one_hot", dtype="float64")(np.array([[1]])).dtype == torch.float64
    assert Hashing(num_bins=3, dtype="int32")(np.array([1])).dtype == torch.int32
    layer = Hashing(num_bins=5, output_mode="multi_hot")
    assert layer.compute_output_shape((None, 3)) == (None, 5)
    assert Hashing(num_bins=5).compute_output_shape((None, 3)) == (None, 3)


def test_hashing_argument_errors_as_keras():
    with pytest.raises(ValueError, match="cannot be `None`"):
        Hashing(num_bins=None)
    with pytest.raises(ValueError, match="cannot be `None`"):
        Hashing(num_bins=-1)
    for salt in ("string", [1], [133, 137, 177]):
        with pytest.raises(ValueError, match="can only be a tuple of size 2 integers"):
            Hashing(num_bins=2, salt=salt)
    with pytest.raises(ValueError, match="dtype"):
        Hashing(num_bins=2, dtype="float32")
    with pytest.raises(ValueError, match="not supported in lamina"):
        Hashing(num_bins=2, output_mode="one_hot", sparse=True)


def test_hashing_config_round_trip():
    layer = Hashing(num_bins=3, salt=133, mask_value="", name="hashing")
    config = layer.get_config()
    assert {k: config[k] for k in ("num_bins", "salt", "mask_value", "output_mode", "sparse")} == {
        "num_bins": 3, "salt": [133, 133], "mask_value": "", "output_mode": "int", "sparse": False}
    again = Hashing.from_config(config)
    assert again.name == "hashing" and _ints(again(LETTERS)) == _ints(layer(LETTERS))


# --------------------------------------------------------------------------------------- HashedCrossing
FEAT1 = np.array(["A", "B", "A", "B", "A"])
FEAT2 = np.array([101, 101, 101, 102, 102])


def test_hashed_crossing_documented_examples():
    out = HashedCrossing(num_bins=5)((FEAT1, FEAT2))
    assert out.dtype == torch.int64 and out.tolist() == [1, 4, 1, 1, 3]
    assert HashedCrossing(num_bins=5)([FEAT1.tolist(), FEAT2.tolist()]).tolist() == [1, 4, 1, 1, 3]
    one_hot = HashedCrossing(num_bins=5, output_mode="one_hot")((FEAT1, FEAT2))
    assert one_hot.dtype == torch.float32
    assert one_hot.tolist() == [[0, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0],
                                [0, 0, 0, 1, 0]]
    scalar = HashedCrossing(num_bins=10)(("A", 101))
    assert scalar.shape == () and int(scalar) == 1
    column = HashedCrossing(num_bins=5)((FEAT1[:, None], torch.from_numpy(FEAT2[:, None])))
    assert column.shape == (5, 1) and _ints(column) == [1, 4, 1, 1, 3]


def test_hashed_crossing_shapes_dtypes_and_errors_as_keras():
    assert HashedCrossing(num_bins=3)((np.array([1, 2]), np.array([4, 5]))).shape == (2,)
    assert HashedCrossing(num_bins=4, output_mode="one_hot")((np.array([1, 2]), np.array([4, 5]))).shape == (2, 4)
    assert HashedCrossing(num_bins=2, dtype="int32")((np.array([1]), np.array([1]))).dtype == torch.int32
    assert HashedCrossing(num_bins=2, output_mode="one_hot", dtype="float64")(
        (np.array([1]), np.array([1]))).dtype == torch.float64
    with pytest.raises(ValueError, match="should be called on a list"):
        HashedCrossing(num_bins=10)(np.array(1))
    with pytest.raises(ValueError, match="at least two inputs"):
        HashedCrossing(num_bins=10)([np.array(1)])
    with pytest.raises(ValueError, match="inputs should have shape"):
        HashedCrossing(num_bins=10)((np.array([[[1]]]), np.array([[[1]]])))
    with pytest.raises(ValueError, match="integer or string dtype"):
        HashedCrossing(num_bins=10)((np.array([1.0]), np.array([1.0])))
    with pytest.raises(ValueError, match="not supported in lamina"):
        HashedCrossing(num_bins=10, output_mode="one_hot", sparse=True)
    config = HashedCrossing(num_bins=4, output_mode="one_hot", name="x").get_config()
    assert config == {"num_bins": 4, "output_mode": "one_hot", "sparse": False, "name": "x", "dtype": "float32"}


def test_in_functional_models_on_integer_inputs():
    import lamina

    a, b = lamina.layers.Input(shape=(1,), dtype="int64"), lamina.layers.Input(shape=(1,), dtype="int64")
    crossed = HashedCrossing(num_bins=5, output_mode="one_hot")((a, b))
    assert tuple(crossed.shape) == (None, 5)
    xa, xb = np.array([[1], [2]]), np.array([[4], [5]])
    model = lamina.models.Model([a, b], crossed)
    expected = HashedCrossing(num_bins=5, output_mode="one_hot")((xa, xb))
    assert model([xa, xb]).tolist() == expected.tolist()
    ids = lamina.layers.Input(shape=(3,), dtype="int64")
    hashed = lamina.models.Model(ids, Hashing(num_bins=3)(ids))
    assert hashed(np.array([[0, 1, 3]])).tolist() == [[1, 0, 0]]
