"""lamina.saving.KerasFileEditor against Keras 3's own: the weights it reads equal h5py's, ``compare`` reports
what Keras's reports, edited files load in Keras and in lamina with the edited values, and hostile or truncated
files are refused as the importer refuses them (Keras 3 is the oracle)."""

import contextlib
import io
import os
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import lamina  # noqa: E402
from lamina.saving import FileFormatError, KerasFileEditor, UnsafeFileError  # noqa: E402


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("Keras runs on another backend here")
    return keras


def _rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _h5(source):
    """{path with 'vars/' taken out: value} of every dataset, read with h5py directly (a path, or a .keras zip)."""
    if str(source).endswith(".keras"):
        source = io.BytesIO(zipfile.ZipFile(source).read("model.weights.h5"))
    out = {}
    with h5py.File(source, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out["/".join(p for p in name.split("/") if p != "vars")] = obj[()]
        f.visititems(visit)
    return out


def _flat(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}/"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _same_weights(a, b):
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(np.asarray(a[key]), np.asarray(b[key]), err_msg=key)
        assert np.asarray(a[key]).dtype == np.asarray(b[key]).dtype, key


def _keras_sequential(keras, units=4):
    return keras.Sequential([keras.Input((3,)), keras.layers.Dense(units, name="d1"),
                             keras.layers.BatchNormalization(), keras.layers.Dense(2, name="d2")])


def _lamina_sequential(units=4):
    return lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(units, name="d1"),
                              lamina.layers.BatchNormalization(), lamina.layers.Dense(2, name="d2")])


@pytest.fixture(scope="module")
def files(keras, tmp_path_factory):
    folder = tmp_path_factory.mktemp("editor")
    x, y = _rand(8, 3), _rand(8, 2, seed=1)
    model = _keras_sequential(keras)
    model.compile("adam", "mse")
    model.fit(x, y, epochs=1, verbose=0)
    model.save(folder / "seq.keras")
    model.save_weights(folder / "seq.weights.h5")
    i = keras.Input((5, 4))
    functional = keras.Model(i, keras.layers.Dense(2)(keras.layers.MultiHeadAttention(2, 3, name="mha")(i, i)))
    functional.save(folder / "mha.keras")
    mine = _lamina_sequential()
    mine.set_weights([w + 0.5 for w in mine.get_weights()])
    mine.save(folder / "lamina.keras")
    mine.save_weights(folder / "lamina.weights.h5")
    return folder


# ---------------------------------------------------------------------------------------------- reading
@pytest.mark.parametrize("name", ["seq.keras", "seq.weights.h5", "mha.keras", "lamina.keras", "lamina.weights.h5"])
def test_weights_dict_equals_what_h5py_reads(files, name):
    editor = KerasFileEditor(files / name)
    _same_weights(_flat(editor.weights_dict), _h5(files / name))


@pytest.mark.parametrize("name", ["seq.keras", "seq.weights.h5"])
def test_weights_dict_and_metadata_equal_keras_editor(keras, files, name):
    theirs, mine = keras.saving.KerasFileEditor(str(files / name)), KerasFileEditor(files / name)
    _same_weights(_flat(mine.weights_dict), _flat(theirs.weights_dict))
    # lamina also records the objects without weights (the model itself) so that saving keeps them
    assert {k: v for k, v in mine.object_metadata.items() if k != "/"} == theirs.object_metadata
    assert mine.metadata == theirs.metadata and mine.config == theirs.config


def test_sublayers_are_read_where_keras_editor_stops(files):
    # Keras's editor does not descend into a layer whose own vars are empty (MultiHeadAttention); lamina does.
    editor = KerasFileEditor(files / "mha.keras")
    assert sorted(editor.weights_dict["layers"]["multi_head_attention"]) == [
        "key_dense", "output_dense", "query_dense", "value_dense"]
    assert editor.object_metadata["/layers/multi_head_attention"] == {"name": "mha"}


def test_summary_prints_structure(files, capsys):
    KerasFileEditor(files / "seq.keras").summary()
    out = capsys.readouterr().out
    assert "Saved with Keras" in out and "Weights structure" in out
    assert "0: shape=(3, 4), dtype=float32" in out and "batch_normalization" in out


# ---------------------------------------------------------------------------------------------- compare
def _keras_compare(keras, path, model):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        result = keras.saving.KerasFileEditor(str(path)).compare(model)
    return result, " ".join(buffer.getvalue().split())


def _lamina_compare(path, model, capsys):
    result = KerasFileEditor(path).compare(model)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith(("...", "    In"))]
    return result, lines


@pytest.mark.parametrize("units,compiled", [(4, False), (5, False), (4, True)])
def test_compare_reports_what_keras_reports(keras, files, capsys, units, compiled):
    theirs_model = _keras_sequential(keras, units)
    mine_model = _lamina_sequential(units)
    if compiled:  # a trained model's optimizer variables are compared too
        for model in (theirs_model, mine_model):
            model.compile("adam", "mse")
            model.fit(_rand(4, 3), _rand(4, 2), epochs=1, verbose=0)
    theirs, text = _keras_compare(keras, files / "seq.keras", theirs_model)
    mine, lines = _lamina_compare(files / "seq.keras", mine_model, capsys)
    # uncompiled: the file's optimizer is missing from the model; compiled and trained: everything matches
    assert mine["status"] == theirs["status"] == ("success" if compiled else "error")
    assert (mine["error_count"] == 1) == (units == 4 and not compiled)
    for line in lines:  # every mismatch lamina reports, Keras reports too
        assert " ".join(line.split()) in text, line
    if units == 5:
        assert "...Weight shape mismatch for /layers/dense/0" in lines
        assert "    In reference model: shape=(3, 5)" in lines


def test_compare_counts_on_a_matching_file(keras, files, capsys):
    theirs_model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    theirs_model.save_weights(files / "one.weights.h5")
    theirs, _ = _keras_compare(keras, files / "one.weights.h5", theirs_model)
    mine, lines = _lamina_compare(files / "one.weights.h5", lamina.Sequential([lamina.Input((3,)),
                                                                               lamina.layers.Dense(2)]), capsys)
    assert mine == theirs == {"status": "success", "error_count": 0, "match_count": 2}
    # Keras doubles match_count per nesting level (6 for two Dense layers); lamina counts each weight once
    mine = KerasFileEditor(files / "lamina.weights.h5").compare(_lamina_sequential())
    assert mine == {"status": "success", "error_count": 0, "match_count": 8}


# ---------------------------------------------------------------------------------------------- editing
def test_replace_a_layer_then_keras_and_lamina_load_the_edited_values(keras, files, tmp_path):
    kernel, bias = _rand(4, 2, seed=5), _rand(2, seed=6)
    editor = KerasFileEditor(files / "seq.keras")
    editor.delete_object("layers/dense_1")
    editor.add_object("layers/dense_1", {"0": kernel, "1": bias})
    editor.save(tmp_path / "e.weights.h5")
    editor.save(tmp_path / "e.keras")
    target = _keras_sequential(keras)
    target.load_weights(tmp_path / "e.weights.h5")
    np.testing.assert_array_equal(target.get_layer("d2").get_weights()[0], kernel)
    loaded = keras.saving.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(loaded.get_layer("d2").get_weights()[1], bias)
    np.testing.assert_array_equal(loaded.get_layer("d1").get_weights()[0], _h5(files / "seq.keras")["layers/dense/0"])
    mine = _lamina_sequential()
    mine.load_weights(tmp_path / "e.weights.h5")
    np.testing.assert_array_equal(mine.get_layer("d2").get_weights()[0], kernel)
    mine = lamina.saving.load_model(tmp_path / "e.keras")
    np.testing.assert_array_equal(mine.get_layer("d2").get_weights()[1], bias)
    _same_weights(_flat(KerasFileEditor(tmp_path / "e.keras").weights_dict), _h5(tmp_path / "e.keras"))


def test_rename_and_add_adapt_weights_to_a_new_architecture(keras, files, tmp_path):
    # the file's model had Dense(4), Dense(2); the new one has Dense(4), Dense(4), Dense(2)
    old = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    old.save_weights(tmp_path / "old.weights.h5")
    editor = KerasFileEditor(tmp_path / "old.weights.h5")
    editor.rename_object("dense_1", "dense_2")
    editor.add_object("layers/dense_1", {"0": np.eye(4, dtype="float32"), "1": np.zeros(4, "float32")})
    editor.save(tmp_path / "new.weights.h5")
    new = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(4), keras.layers.Dense(2)])
    new.load_weights(tmp_path / "new.weights.h5")
    x = _rand(5, 3)
    np.testing.assert_allclose(new.predict(x, verbose=0), old.predict(x, verbose=0), atol=1e-5)
    mine = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(4), lamina.layers.Dense(4),
                              lamina.layers.Dense(2)])
    mine.load_weights(tmp_path / "new.weights.h5")
    np.testing.assert_allclose(np.asarray(mine.predict(x, verbose=0)), old.predict(x, verbose=0), atol=1e-5)


def test_delete_and_add_weights(keras, files, tmp_path):
    editor = KerasFileEditor(files / "lamina.keras")
    bias = _rand(4, seed=9)
    editor.delete_weight("layers/dense", "1")
    assert sorted(editor.weights_dict["layers"]["dense"]) == ["0"]
    editor.add_weights("dense", {"1": bias})
    editor.save(tmp_path / "w.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "w.keras").get_layer("d1").get_weights()[1],
                                  bias)
    np.testing.assert_array_equal(lamina.saving.load_model(tmp_path / "w.keras").get_layer("d1").get_weights()[1],
                                  bias)


def test_edit_errors(files):
    editor = KerasFileEditor(files / "seq.keras")
    with pytest.raises(ValueError, match="does not appear"):
        editor.delete_object("nope")
    with pytest.raises(ValueError, match="leaf name"):
        editor.rename_object("dense", "layers/x")
    with pytest.raises(ValueError, match="already exists"):
        editor.rename_object("dense", "dense_1")
    with pytest.raises(ValueError, match="already exists"):
        editor.add_object("layers/dense", {"0": np.ones(2)})
    with pytest.raises(ValueError, match="not found"):
        editor.delete_weight("dense", "7")
    with pytest.raises(ValueError, match="already has"):
        editor.add_weights("dense", {"0": np.ones(2)})
    with pytest.raises(ValueError, match="numeric"):
        editor.add_weights("dense", {"9": np.array(["a"])})
    with pytest.raises(ValueError, match="extension"):
        editor.save(files / "x.h5")
    with pytest.raises(ValueError, match="extension"):
        KerasFileEditor(files / "seq.weights.h5").save(files / "x.keras")  # no config to write
    with pytest.raises(ValueError, match="extension"):
        editor.resave_weights(files / "x.keras")
    editor.add_object("layers/extra/inner", {"0": [1.0, 2.0]})
    editor.add_object("layers/other/inner", {"0": [1.0]})
    with pytest.raises(ValueError, match="more than once"):
        editor.delete_object("inner")
    editor.delete_object("layers/other/inner")
    editor.delete_object("inner")
    assert not os.path.exists(files / "x.h5") and not os.path.exists(files / "x.keras")


def test_save_is_atomic(files, tmp_path, monkeypatch):
    target = tmp_path / "t.weights.h5"
    target.write_bytes(b"previous")
    editor = KerasFileEditor(files / "seq.weights.h5")
    from lamina.saving import file_editor

    def broken(weights, metadata, f):
        f.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(file_editor, "_write", broken)
    with pytest.raises(RuntimeError):
        editor.save(target)
    with pytest.raises(RuntimeError):
        KerasFileEditor(files / "seq.keras").save(tmp_path / "t.keras")
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["t.weights.h5"]


def _attrs(path):
    out = {}
    with h5py.File(io.BytesIO(zipfile.ZipFile(path).read("model.weights.h5"))) as f:
        f.visititems(lambda name, obj: out.__setitem__(name, dict(obj.attrs)) if name.endswith("vars") else None)
    return out


def test_keeps_assets_config_and_empty_objects(keras, files, tmp_path):
    with zipfile.ZipFile(files / "mha.keras") as src, zipfile.ZipFile(tmp_path / "a.keras", "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("assets/layers/dense/vocab.txt", b"a\nb\n")
    editor = KerasFileEditor(tmp_path / "a.keras")
    editor.save(tmp_path / "m.keras")
    # every object's vars group (empty ones too: the input layer, the attention's softmax) and its name
    assert _attrs(tmp_path / "m.keras") == _attrs(files / "mha.keras")
    assert "layers/multi_head_attention/_softmax/vars" in _attrs(tmp_path / "m.keras")
    assert zipfile.ZipFile(tmp_path / "m.keras").read("assets/layers/dense/vocab.txt") == b"a\nb\n"
    assert KerasFileEditor(tmp_path / "m.keras").config == editor.config
    _same_weights(_h5(tmp_path / "m.keras"), _h5(files / "mha.keras"))
    x = _rand(2, 5, 4)
    np.testing.assert_allclose(keras.saving.load_model(tmp_path / "m.keras").predict(x, verbose=0),
                               keras.saving.load_model(files / "mha.keras").predict(x, verbose=0), atol=1e-6)


# ---------------------------------------------------------------------------------------------- hostile files
def test_truncated_and_foreign_files_are_refused(files, tmp_path):
    data = (files / "seq.keras").read_bytes()
    (tmp_path / "cut.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        KerasFileEditor(tmp_path / "cut.keras")
    h5 = (files / "seq.weights.h5").read_bytes()
    (tmp_path / "cut.weights.h5").write_bytes(h5[: len(h5) // 2])
    with pytest.raises(FileFormatError):
        KerasFileEditor(tmp_path / "cut.weights.h5")
    (tmp_path / "text.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(FileFormatError):
        KerasFileEditor(tmp_path / "text.weights.h5")
    with pytest.raises(FileNotFoundError):
        KerasFileEditor(tmp_path / "missing.weights.h5")
    with pytest.raises(ValueError, match="extension"):
        KerasFileEditor(tmp_path / "model.pkl")


def test_unexpected_zip_member_is_refused(files, tmp_path):
    with zipfile.ZipFile(files / "seq.keras") as src, zipfile.ZipFile(tmp_path / "evil.keras", "w") as dst:
        for name in src.namelist():
            dst.writestr(name, src.read(name))
        dst.writestr("../evil.py", "import os")
    with pytest.raises(UnsafeFileError):
        KerasFileEditor(tmp_path / "evil.keras")


def _weights_file(path, build):
    with h5py.File(path, "w") as f:
        build(f)
    return path


def test_links_and_bombs_are_refused(tmp_path):
    other = _weights_file(tmp_path / "other.h5", lambda f: f.create_dataset("x", data=np.ones(3)))
    cases = {
        "external": lambda f: f.require_group("layers/d/vars").__setitem__("0", h5py.ExternalLink(str(other), "x")),
        "soft": lambda f: (f.create_dataset("layers/d/vars/0", data=np.ones(2)),
                           f.require_group("layers/e/vars").__setitem__("0", h5py.SoftLink("/layers/d/vars/0"))),
        "bomb": lambda f: f.create_dataset("layers/d/vars/0", shape=(1 << 16, 1 << 14), dtype="float32",
                                           chunks=(64, 64), compression="gzip"),
        "deep": lambda f: f.require_group("/".join(["g"] * 80)),
    }
    for name, build in cases.items():
        with pytest.raises(UnsafeFileError):
            KerasFileEditor(_weights_file(tmp_path / f"{name}.weights.h5", build))
    strings = _weights_file(tmp_path / "s.weights.h5",
                            lambda f: f.create_dataset("layers/d/vars/0", data=np.array([b"import os"])))
    with pytest.raises(FileFormatError):
        KerasFileEditor(strings)
    loose = _weights_file(tmp_path / "l.weights.h5", lambda f: f.create_dataset("layers/d/0", data=np.ones(2)))
    with pytest.raises(FileFormatError):
        KerasFileEditor(loose)
