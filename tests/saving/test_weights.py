"""lamina.saving.weights: safetensors weights files, atomic writes, and errors that list what does not match."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import lamina
from lamina.core.files import atomic_write_bytes
from lamina.saving.weights import load_weights, save_weights


def mlp(hidden=4, out=2, seed=0, extra=False):
    torch.manual_seed(seed)
    layers = [lamina.layers.Dense(hidden, activation="relu", input_shape=(3,), name="hidden"),
              lamina.layers.Dense(out, name="head")]
    if extra:
        layers.append(lamina.layers.Dense(1, name="extra"))
    return lamina.Sequential(layers)


X = torch.tensor(np.random.default_rng(0).normal(size=(5, 3)).astype("float32"))


def predict(model):
    with torch.no_grad():
        return model(X).detach().clone()


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "model.weights.safetensors")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def files_in(folder):
    return sorted(os.listdir(folder))


# ---------------------------------------------------------------------------------------------- round trip
def test_round_trip_gives_identical_predictions(path):
    a, b = mlp(seed=0), mlp(seed=1)
    assert not torch.equal(predict(a), predict(b))
    a.save_weights(path)
    b.load_weights(path)
    assert torch.equal(predict(a), predict(b))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_file_is_plain_safetensors_with_state_dict_keys(path):
    model = mlp()
    save_weights(model, path)
    loaded = load_file(path)
    own = model.state_dict()
    assert set(loaded) == set(own)
    for key in own:
        assert torch.equal(loaded[key], own[key].cpu())


def test_functional_functions_and_pathlib(tmp_path):
    a, b = mlp(seed=0), mlp(seed=1)
    p = tmp_path / "sub" / "w.weights.safetensors"  # a missing folder is created
    save_weights(a, p)
    load_weights(b, p)
    assert torch.equal(predict(a), predict(b))


def test_load_copies_in_place_so_references_stay_valid(path):
    a, b = mlp(seed=0), mlp(seed=1)
    a.save_weights(path)
    before = {k: v for k, v in b.named_parameters()}
    optimizer = torch.optim.SGD(b.parameters(), lr=0.1)
    b.load_weights(path)
    after = dict(b.named_parameters())
    assert all(after[k] is before[k] for k in before)
    assert optimizer.param_groups[0]["params"][0] is before[next(iter(before))]


# ---------------------------------------------------------------------------------------------- file names
@pytest.mark.parametrize("name", ["m.h5", "m.safetensors", "m.keras", "m.weights.safetensors.bak"])
def test_wrong_suffix_is_refused(tmp_path, name):
    with pytest.raises(ValueError, match=r"\.weights\.safetensors"):
        mlp().save_weights(str(tmp_path / name))
    assert files_in(tmp_path) == []


def test_overwrite_false_refuses_an_existing_file(path):
    a, b = mlp(seed=0), mlp(seed=1)
    a.save_weights(path)
    original = read(path)
    with pytest.raises(FileExistsError, match="overwrite"):
        b.save_weights(path, overwrite=False)
    assert read(path) == original
    b.save_weights(path)  # overwrite=True (the default) replaces it
    assert read(path) != original


def test_overwrite_false_writes_a_new_file(path):
    mlp().save_weights(path, overwrite=False)
    assert os.path.exists(path)


def test_unbuilt_model_cannot_be_saved(path):
    model = lamina.Sequential([lamina.layers.Dense(2)])
    with pytest.raises(ValueError, match="no weights"):
        model.save_weights(path)
    assert not os.path.exists(path)


# ---------------------------------------------------------------------------------------------- mismatches
def test_missing_keys_are_listed(path):
    mlp().save_weights(path)
    bigger = mlp(extra=True)
    with pytest.raises(ValueError) as info:
        bigger.load_weights(path)
    msg = str(info.value)
    assert "missing in the file" in msg and "extra.kernel" in msg and "extra.bias" in msg
    assert "skip_mismatch=True" in msg


def test_unexpected_keys_are_listed(path):
    mlp(extra=True).save_weights(path)
    with pytest.raises(ValueError) as info:
        mlp().load_weights(path)
    msg = str(info.value)
    assert "not in the model" in msg and "extra.kernel" in msg and "extra.bias" in msg


def test_mismatched_shapes_are_listed(path):
    mlp(hidden=4).save_weights(path)
    other = mlp(hidden=5)
    with pytest.raises(ValueError) as info:
        other.load_weights(path)
    msg = str(info.value)
    assert "hidden.kernel" in msg and "hidden.bias" in msg and "head.kernel" in msg
    assert "head.bias" not in msg  # (2,) fits
    shape_model, shape_file = tuple(other.state_dict()["hidden.bias"].shape), (4,)
    assert f"model {shape_model} vs file {shape_file}" in msg


def test_a_failed_load_changes_nothing(path):
    mlp(hidden=4, seed=0).save_weights(path)
    other = mlp(hidden=5, seed=1)
    before = predict(other)
    with pytest.raises(ValueError):
        other.load_weights(path)
    assert torch.equal(predict(other), before)


def test_skip_mismatch_loads_what_fits(path):
    source = mlp(hidden=4, seed=0, extra=True)
    source.save_weights(path)
    target = mlp(hidden=5, seed=1)
    kept = {k: v.clone() for k, v in target.state_dict().items()}
    target.load_weights(path, skip_mismatch=True)
    new, file = target.state_dict(), load_file(path)
    assert torch.equal(new["head.bias"], file["head.bias"])  # fits: loaded
    for key in ("hidden.kernel", "hidden.bias", "head.kernel"):  # shapes differ: left alone
        assert torch.equal(new[key], kept[key])


# ---------------------------------------------------------------------------------------------- atomic writes
def test_failed_rename_keeps_the_old_file_and_leaves_no_temp_file(path, tmp_path, monkeypatch):
    mlp(seed=0).save_weights(path)
    original = read(path)

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        mlp(seed=1).save_weights(path)
    assert read(path) == original
    assert files_in(tmp_path) == ["model.weights.safetensors"]


def test_failed_write_leaves_no_file_at_all(path, tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError("fsync failed")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="fsync failed"):
        mlp().save_weights(path)
    assert files_in(tmp_path) == []


def test_interrupt_during_write_cleans_up(tmp_path):
    target = str(tmp_path / "x.bin")

    atomic_write_bytes(target, b"old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, 12345)  # not bytes: the write itself fails
    assert read(target) == b"old"
    assert files_in(tmp_path) == ["x.bin"]


# ---------------------------------------------------------------------------------------------- bad files
@pytest.mark.parametrize("content", [b"", b"not a safetensors file at all", b"\xff" * 64], ids=["empty", "text",
                                                                                              "bytes"])
def test_corrupt_file_raises_value_error(path, content):
    with open(path, "wb") as f:
        f.write(content)
    with pytest.raises(ValueError, match="cannot read"):
        mlp().load_weights(path)


def test_truncated_file_raises_value_error(path):
    mlp().save_weights(path)
    data = read(path)
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="cannot read"):
        mlp().load_weights(path)


# ---------------------------------------------------------------------------------------------- tied weights
class SharedLayer(lamina.Model):
    """The same Dense layer (so the same Parameters) reachable under two attribute names."""

    def __init__(self):
        super().__init__()
        self.first = lamina.layers.Dense(3)
        self.second = self.first

    def call(self, x):
        return self.second(self.first(x))


class TiedKernel(lamina.Model):
    """Two layers sharing one kernel Parameter."""

    def __init__(self):
        super().__init__()
        self.a = lamina.layers.Dense(3)
        self.b = lamina.layers.Dense(3)

    def call(self, x):
        return self.b(self.a(x))


def _built(cls, seed):
    torch.manual_seed(seed)
    model = cls()
    model(X)
    if cls is TiedKernel:
        model.b.kernel = model.a.kernel
        assert model.b.kernel is model.a.kernel
    return model


@pytest.mark.parametrize("cls", [SharedLayer, TiedKernel])
def test_tied_weights_save_without_error(path, cls):
    _built(cls, 0).save_weights(path)
    assert os.path.exists(path)


@pytest.mark.parametrize("cls", [SharedLayer, TiedKernel])
def test_tied_weights_round_trip(path, cls):
    a, b = _built(cls, 0), _built(cls, 1)
    assert not torch.equal(predict(a), predict(b))
    a.save_weights(path)
    b.load_weights(path)
    assert torch.equal(predict(a), predict(b))
    if cls is TiedKernel:
        assert b.b.kernel is b.a.kernel  # still tied after loading


def test_a_hostile_weights_header_is_refused_before_any_tensor_is_made(tmp_path):
    import json as json_module
    import struct

    from lamina.saving import FileFormatError, UnsafeFileError

    model = lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(2)])

    def write(header, payload=b"\0" * 8):
        blob = json_module.dumps(header).encode()
        path = tmp_path / "w.weights.safetensors"
        path.write_bytes(struct.pack("<Q", len(blob)) + blob + payload)
        return str(path)

    huge = write({"0.kernel": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 8]}})
    with pytest.raises(UnsafeFileError, match="invalid shape|claims shape"):
        model.load_weights(huge)
    overlap = write({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                     "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})
    with pytest.raises(UnsafeFileError, match="overlaps"):
        model.load_weights(overlap)
    pickled = tmp_path / "p.weights.safetensors"
    pickled.write_bytes(b"\x80\x04\x95" + b"\0" * 40)  # a pickle's opening bytes
    with pytest.raises((FileFormatError, UnsafeFileError), match="cannot read"):
        model.load_weights(str(pickled))


# ---------------------------------------------------------------------------------------------- one dtype rule
def float64_model():
    torch.manual_seed(3)
    return lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(2, dtype="float64", name="d")])


def float32_model():
    return lamina.Sequential([lamina.layers.Input(shape=(3,)), lamina.layers.Dense(2, name="d")])


def test_load_weights_casts_another_precision_as_keras_does_and_says_so(tmp_path, keras):
    source = float64_model()
    source.save_weights(str(tmp_path / "w.weights.safetensors"))
    target = float32_model()
    with pytest.warns(UserWarning, match=r"cast 2 weight\(s\) to the model's dtype, as Keras's load_weights does.*"
                                         r"d\.kernel \(file torch\.float64, model torch\.float32\)"):
        target.load_weights(str(tmp_path / "w.weights.safetensors"))
    # the oracle: Keras loads the same float64 weights into a float32 model by casting them
    k64 = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="float64")])
    k64.set_weights(source.get_weights())
    k64.save_weights(str(tmp_path / "k.weights.h5"))
    k32 = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    k32.load_weights(str(tmp_path / "k.weights.h5"))
    for ours, theirs in zip(target.get_weights(), k32.get_weights(), strict=True):
        assert ours.dtype == theirs.dtype == np.float32
        np.testing.assert_array_equal(ours, theirs)
    # lamina's Keras importer follows the same rule (cast, with the warning) on Keras's own file
    again = float32_model()
    with pytest.warns(UserWarning, match=r"Keras weights: cast 2 weight\(s\)"):
        again.load_weights(str(tmp_path / "k.weights.h5"))
    for ours, theirs in zip(again.get_weights(), k32.get_weights(), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_load_model_follows_the_same_dtype_rule_as_load_weights(tmp_path):
    import io
    import json
    import zipfile

    from safetensors.torch import load, save

    from lamina.saving import crypto

    model = float32_model()
    model.save(str(tmp_path / "m.lamina"))
    with zipfile.ZipFile(tmp_path / "m.lamina") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    tensors = {k: v.double() + 1e-9 for k, v in load(members["model.safetensors"]).items()}

    def with_weights(blob, name):
        meta = json.loads(members["metadata.json"])
        meta["members"]["model.safetensors"] = {"sha256": crypto.sha256(blob), "size": len(blob)}
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            for n, data in {**members, "model.safetensors": blob,
                            "metadata.json": json.dumps(meta).encode()}.items():
                zf.writestr(n, data)
        (tmp_path / name).write_bytes(buffer.getvalue())
        return str(tmp_path / name)

    retyped = with_weights(save(tensors, metadata={"aliases": "{}"}), "f64.lamina")
    with pytest.warns(UserWarning, match=r"load_model \(model.safetensors\): cast 2 weight\(s\).*as Keras"):
        loaded = lamina.models.load_model(retyped)
    save_file_path = str(tmp_path / "f64.weights.safetensors")
    atomic_write_bytes(save_file_path, save(tensors))
    direct = float32_model()
    with pytest.warns(UserWarning, match=r"load_weights\('f64.weights.safetensors'\): cast 2 weight\(s\)"):
        direct.load_weights(save_file_path)
    for a, b in zip(loaded.get_weights(), direct.get_weights(), strict=True):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)  # one rule: the same values by either road

    # a change of kind (integer values into floating weights) is refused by both roads
    ints = {k: torch.ones(v.shape, dtype=torch.int32) for k, v in tensors.items()}
    with pytest.raises(lamina.saving.FileFormatError, match="does not match"):
        lamina.models.load_model(with_weights(save(ints, metadata={"aliases": "{}"}), "int.lamina"))
    atomic_write_bytes(save_file_path, save(ints))
    with pytest.raises(lamina.saving.FileFormatError, match="another kind.*model torch.float32 vs file torch.int32"):
        float32_model().load_weights(save_file_path)
