"""The data-only pickle reader: the same values as :mod:`pickle` for data, a refusal for anything else."""

from __future__ import annotations

import pickle
import pickletools

import numpy as np
import pytest

from lamina.data.safe_pickle import UnsafePickleError, loads


def objects(*items: list[int]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


VALUES = {
    "dict": {b"data": np.arange(12, dtype=np.uint8).reshape(3, 4), b"labels": [1, 2, 3], "name": "é", "f": 1.5},
    "scalars": [None, True, False, 0, -1, 255, 65535, 2**31 - 1, -(2**31), 2**70, -(2**70), 1e-300],
    "containers": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], {}, {"a": [1, {"b": (2,)}]}),
    "bytes": [b"", b"x" * 300, "ü" * 300],
    "uint8": np.arange(256, dtype=np.uint8),
    "float32 2-d": np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4),
    "fortran": np.asfortranarray(np.arange(6, dtype=np.int64).reshape(2, 3)),
    "bool": np.array([True, False]),
    "empty": np.zeros((0, 3)),
    "object of lists": objects([1, 2], [3], []),
    "numpy scalars": [np.float32(3.5), np.int64(-7), np.uint8(200)],
    "shared": (lambda s: [s, s])([1, 2]),
}


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", sorted(VALUES))
def test_same_values_as_pickle(name, protocol):
    data = pickle.dumps(VALUES[name], protocol=protocol)
    assert_same(loads(data), pickle.loads(data))


def assert_same(got, expected):
    assert type(got) is type(expected) or (isinstance(got, np.generic) and isinstance(expected, np.generic))
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        for key in expected:
            assert_same(got[key], expected[key])
    elif isinstance(expected, (list, tuple)):
        assert len(got) == len(expected)
        for g, e in zip(got, expected, strict=True):
            assert_same(g, e)
    elif isinstance(expected, np.ndarray):
        assert got.shape == expected.shape and got.dtype.kind == expected.dtype.kind
        assert got.dtype.itemsize == expected.dtype.itemsize
        if expected.dtype == object:
            assert [list(x) for x in got] == [list(x) for x in expected]
        else:
            np.testing.assert_array_equal(got, expected)
            assert got.flags.writeable
    else:
        assert got == expected


def test_python2_strings_come_back_as_bytes():
    # cPickle, protocol 2: {'data': 'ab', 'labels': [1]} with str written as SHORT_BINSTRING.
    raw = b"\x80\x02}q\x01(U\x04dataq\x02U\x02abU\x06labelsq\x03]q\x04K\x01au."
    assert loads(raw) == pickle.loads(raw, encoding="bytes") == {b"data": b"ab", b"labels": [1]}


def test_nothing_named_is_ever_called(tmp_path):
    marker = tmp_path / "ran"
    raw = pickle.dumps(_Runs(str(marker)), protocol=2)
    with pytest.raises(UnsafePickleError, match="only NumPy array reconstruction"):
        loads(raw)
    assert not marker.exists()


class _Runs:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


HOSTILE = {
    "os.system by GLOBAL": b"\x80\x02cos\nsystem\nU\x02idR.",
    "builtins.eval by STACK_GLOBAL": b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.",
    "numpy.load": b"\x80\x02cnumpy\nload\nU\x01x\x85R.",
    "INST opcode": b"(S'id'\nios\nsystem\n.",
    "OBJ opcode": b"\x80\x02(cos\nsystem\nU\x02ido.",
    "NEWOBJ opcode": b"\x80\x02cnumpy\nndarray\n)\x81.",
    "PERSID opcode": b"P1\n.",
    "EXT1 opcode": b"\x80\x02\x82\x01.",
    "reconstruct a subclass": (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R."
    ),
    "BUILD on a dict": b"\x80\x02}}b.",
    "bare name": b"\x80\x02cnumpy\nndarray\n.",
    "encode to another codec": b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00rot13\x86R.",
    "truncated": pickle.dumps(list(range(100)), protocol=2)[:-10],
    "memo read before write": b"\x80\x02h\x05.",
    "unbalanced stack": b"\x80\x02K\x01K\x02.",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_refused(name):
    with pytest.raises(UnsafePickleError):
        loads(HOSTILE[name])


def test_structured_dtypes_are_refused():
    data = pickle.dumps(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), protocol=2)
    with pytest.raises(UnsafePickleError, match="structured dtype"):
        loads(data)


def test_array_size_must_match_its_bytes():
    data = pickle.dumps(np.zeros(4, dtype=np.uint8), protocol=2)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(data)]
    assert ("SHORT_BINUNICODE", "\x00" * 4) in ops or ("BINUNICODE", "\x00" * 4) in ops
    bad = data.replace(b"K\x04\x85", b"K\x05\x85", 1)  # the shape (4,) becomes (5,)
    with pytest.raises(UnsafePickleError, match="needs 5 bytes, got 4"):
        loads(bad)
