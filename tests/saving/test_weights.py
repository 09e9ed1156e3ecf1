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
