"""Keras 3 files both ways: lamina writes ``.keras`` / ``.weights.h5`` files that Keras 3 itself loads and predicts
the same from, and reads the ones Keras writes; saving hooks behave as in Keras (Keras 3 is the oracle)."""

import json
import os
import warnings
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import lamina  # noqa: E402
from lamina.saving.errors import UnsafeFileError  # noqa: E402
from lamina.saving.keras_export.optimizer import keras_values  # noqa: E402

ATOL = 1e-5


def _rand(*shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def _jiggle(model):
    """Weights away from their initial values (BatchNormalization's variance kept positive)."""
    model.set_weights([np.abs(w) + 0.5 if "variance" in str(i) else w + 0.1 * _rand(*w.shape, seed=i)
                       for i, w in enumerate(model.get_weights())])


def _same(a, b, x):
    np.testing.assert_allclose(np.asarray(a.predict(x, verbose=0)), np.asarray(b.predict(x, verbose=0)),
                               atol=ATOL, rtol=1e-5)


def _h5_tree(source):
    """{dataset path: shape} of a weights file (a path, or the model.weights.h5 inside a .keras zip)."""
    if str(source).endswith(".keras"):
        import io

        source = io.BytesIO(zipfile.ZipFile(source).read("model.weights.h5"))
    out = {}
    with h5py.File(source, "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset) else None)
    return out


def _functional(lib):
    L = lib.layers
    inp = lib.Input((8, 8, 3))
    x = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    x = L.BatchNormalization()(x)
    x = L.Reshape((64, 4))(x)
    x = L.LSTM(6, return_sequences=True)(x)
    x = L.MultiHeadAttention(num_heads=2, key_dim=3)(x, x)
    x = L.GlobalAveragePooling1D()(x)
    return lib.Model(inp, L.Dense(2)(x))


# ---------------------------------------------------------------------------------------------- .keras files
def test_lamina_functional_model_loads_in_keras_with_its_compile_config(keras, tmp_path):
    model = _functional(lamina)
    model.compile(optimizer=lamina.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    model.fit(_rand(8, 8, 8, 3), _rand(8, 2), epochs=1, verbose=0)  # moves BatchNormalization's statistics
    path = tmp_path / "model.keras"
    model.save(path)
    assert not [p for p in os.listdir(tmp_path) if p != "model.keras"]  # the temporary file was renamed
    config = json.loads(zipfile.ZipFile(path).read("config.json"))
    assert config["class_name"] == "Functional" and config["compile_config"]["loss"] == "mse"
    assert {"class_name", "module", "config", "registered_name", "build_config", "compile_config"} <= set(config)
    restored = keras.saving.load_model(path)
    _same(model, restored, _rand(5, 8, 8, 3))
    assert type(restored.optimizer).__name__ == "Adam"
    assert float(restored.optimizer.learning_rate) == pytest.approx(0.01)
    assert _h5_tree(path).keys() - {k for k in _h5_tree(path) if k.startswith("optimizer")} == \
        {k for k in _h5_keras_layout(keras, tmp_path) if not k.startswith("optimizer")}


def _h5_keras_layout(keras, tmp_path):
    keras.utils.clear_session()
    reference = _functional(keras)
    reference.save(tmp_path / "reference.keras")
    return _h5_tree(tmp_path / "reference.keras")


def test_keras_functional_model_loads_in_lamina_compiled(keras, tmp_path):
    model = _functional(keras)
    _jiggle(model)
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mae", metrics=["mse"])
    model.save(tmp_path / "k.keras")
    restored = lamina.models.load_model(tmp_path / "k.keras")  # compile=True, as in Keras
    _same(model, restored, _rand(5, 8, 8, 3))
    assert type(restored.optimizer).__name__ == "SGD"
    assert float(restored.optimizer.learning_rate) == pytest.approx(0.05)
    history = restored.fit(_rand(4, 8, 8, 3), _rand(4, 2), epochs=1, verbose=0)
    assert {"loss", "mse"} <= set(history.history)
    assert not lamina.saving.load_model(tmp_path / "k.keras", compile=False).compiled


def test_sequential_both_ways(keras, tmp_path):
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="tanh"), lamina.layers.Dense(2)])
    _jiggle(model)
    lamina.models.save_model(model, tmp_path / "s.keras")  # keras.models.save_model's name
    restored = keras.saving.load_model(tmp_path / "s.keras")
    assert type(restored).__name__ == "Sequential"
    _same(model, restored, _rand(3, 4))
    unbuilt_input = lamina.Sequential([lamina.layers.Dense(3), lamina.layers.Dense(2)])
    unbuilt_input.build((None, 4))
    unbuilt_input.save(tmp_path / "b.keras")
    _same(unbuilt_input, keras.saving.load_model(tmp_path / "b.keras"), _rand(3, 4))
    restored.save(tmp_path / "back.keras")
    back = lamina.models.load_model(tmp_path / "back.keras")
    assert isinstance(back, lamina.Sequential)
    _same(model, back, _rand(3, 4))


def _subclassed(lib, package):
    @lib.saving.register_keras_serializable(package=package)
    class Block(lib.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.parts = [lib.layers.Dense(units), lib.layers.Dense(units)]
            self.norm = lib.layers.LayerNormalization()

        def build(self, input_shape):
            self.scale = self.add_weight(shape=(self.units,), initializer="ones", name="scale")
            self.shift = self.add_weight(shape=(), initializer="zeros", trainable=False, name="shift")

        def call(self, x):
            return self.norm(self.parts[1](self.parts[0](x))) * self.scale + self.shift

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    @lib.saving.register_keras_serializable(package=package)
    class Tower(lib.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.block = Block(units)
            self.head = lib.layers.Dense(1)

        def call(self, x):
            return self.head(self.block(x))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    return Tower


def test_subclassed_registered_model_both_ways(keras, tmp_path):
    lamina_tower, keras_tower = _subclassed(lamina, "export_test"), _subclassed(keras, "export_test")
    x = _rand(2, 4)
    model = lamina_tower(units=3)
    model(x)
    _jiggle(model)
    model.save(tmp_path / "t.keras")
    config = json.loads(zipfile.ZipFile(tmp_path / "t.keras").read("config.json"))
    assert config["registered_name"] == "export_test>Tower" and config["build_config"] == {"input_shape": [2, 4]}
    restored = keras.saving.load_model(tmp_path / "t.keras")
    assert type(restored) is keras_tower
    _same(model, restored, x)
    restored.block.shift.assign(0.25)
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras")
    assert type(back) is lamina_tower and float(back.block.shift) == 0.25
    _same(restored, back, x)
    keras_model = keras_tower(units=3)
    keras_model(x)
    keras_model.save(tmp_path / "keras_only.keras")
    assert _h5_tree(tmp_path / "keras_only.keras") == _h5_tree(tmp_path / "t.keras")


# ---------------------------------------------------------------------------------------------- weights files
def test_weights_h5_both_ways(keras, tmp_path):
    model = _functional(lamina)
    _jiggle(model)
    model.save_weights(tmp_path / "l.weights.h5")
    twin = _functional(keras)
    twin.load_weights(tmp_path / "l.weights.h5")
    x = _rand(3, 8, 8, 3)
    _same(model, twin, x)
    _jiggle(twin)
    twin.save_weights(tmp_path / "k.weights.h5")
    model.load_weights(tmp_path / "k.weights.h5")
    _same(model, twin, x)
    assert _h5_tree(tmp_path / "l.weights.h5") == _h5_tree(tmp_path / "k.weights.h5")
    with pytest.raises(ValueError, match="weights-only file.*load_weights"):
        lamina.models.load_model(tmp_path / "k.weights.h5")


def test_saving_refuses_what_keras_cannot_read(tmp_path):
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)])
    with pytest.raises(ValueError, match=r"must end with '\.lamina'.*'\.keras'"):
        model.save(tmp_path / "m.pt")
    with pytest.raises(ValueError, match="signed or encrypted"):
        model.save(tmp_path / "m.keras", encryption_key=b"k" * 32)
    model.save(tmp_path / "m.keras")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(tmp_path / "m.keras", overwrite=False)
    inp = lamina.Input((3,))
    with pytest.raises(lamina.saving.SavingError, match="op node"):
        lamina.Model(inp, lamina.ops.cumsum(inp, axis=1)).save(tmp_path / "op.keras")
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]


# ---------------------------------------------------------------------------------------------- callbacks
@pytest.mark.parametrize("filepath,weights_only", [("best.keras", False), ("ckpt.weights.h5", True),
                                                   ("model_{epoch:02d}.keras", False), ("best_model.h5", False)])
def test_model_checkpoint_writes_keras_files(keras, tmp_path, filepath, weights_only):
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    ckpt = lamina.callbacks.ModelCheckpoint(str(tmp_path / filepath), save_weights_only=weights_only)
    backup = lamina.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    model.fit(_rand(16, 4), _rand(16, 1), epochs=2, verbose=0, callbacks=[ckpt, backup])
    written = sorted(p for p in os.listdir(tmp_path) if p != "backup")
    assert written == (["model_01.keras", "model_02.keras"] if "{epoch" in filepath else [filepath])
    assert os.listdir(tmp_path / "backup")  # BackupAndRestore ran beside it
    path = tmp_path / written[-1]
    if weights_only:
        twin = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        twin.load_weights(path)
    else:  # (Keras's legacy .h5 loader cannot compile string losses, even from its own files)
        twin = keras.saving.load_model(path, compile=not filepath.endswith(".h5"))
    _same(model, twin, _rand(3, 4))  # the last file holds the final weights
    again = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    if weights_only:
        again.load_weights(path)
    else:
        again = lamina.models.load_model(path)
    _same(model, again, _rand(3, 4))


# ---------------------------------------------------------------------------------------------- saving hooks
def _hooked(lib, package):
    @lib.saving.register_keras_serializable(package=package)
    class Offset(lib.layers.Layer):
        """A weight saved normally, Python state saved by save_own_variables, a vocabulary by save_assets."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.total = 0.0
            self.vocab = "a b c"

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w + self.total

        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["total"] = np.array(self.total, "float32")

        def load_own_variables(self, store):
            self.total = float(np.asarray(store["total"]))
            super().load_own_variables({"0": store["0"]})

        def save_assets(self, dir_path):
            with open(os.path.join(dir_path, "vocab.txt"), "w") as f:
                f.write(self.vocab)

        def load_assets(self, dir_path):
            with open(os.path.join(dir_path, "vocab.txt")) as f:
                self.vocab = f.read()

    def model():
        inp = lib.Input((3,))
        return lib.Model(inp, Offset(name="offset")(lib.layers.Dense(3)(inp)))

    return model


def test_saving_hooks_round_trip_and_agree_with_keras(keras, tmp_path):
    lamina_model = _hooked(lamina, "hooks_test")
    _hooked(keras, "hooks_test")  # the same code, registered in Keras under the same name
    x = _rand(4, 3)
    model = lamina_model()
    _jiggle(model)
    offset = model.get_layer("offset")
    offset.total, offset.vocab = 1.5, "x y z"
    model.save(tmp_path / "l.keras")
    names = zipfile.ZipFile(tmp_path / "l.keras").namelist()
    assert "assets/layers/offset/vocab.txt" in names
    again = lamina.models.load_model(tmp_path / "l.keras")
    assert again.get_layer("offset").total == 1.5 and again.get_layer("offset").vocab == "x y z"
    _same(model, again, x)
    in_keras = keras.saving.load_model(tmp_path / "l.keras")
    assert in_keras.get_layer("offset").total == 1.5 and in_keras.get_layer("offset").vocab == "x y z"
    _same(model, in_keras, x)
    in_keras.get_layer("offset").total, in_keras.get_layer("offset").vocab = -2.0, "from keras"
    in_keras.save(tmp_path / "k.keras")
    assert sorted(zipfile.ZipFile(tmp_path / "k.keras").namelist()) == sorted(names)
    assert _h5_tree(tmp_path / "k.keras").keys() - {"optimizer"} == _h5_tree(tmp_path / "l.keras").keys()
    back = lamina.models.load_model(tmp_path / "k.keras")
    assert back.get_layer("offset").total == -2.0 and back.get_layer("offset").vocab == "from keras"
    _same(in_keras, back, x)


def test_compile_config_hooks_as_keras(keras, tmp_path):
    seen = []

    @lamina.saving.register_keras_serializable(package="compile_hooks")
    class OwnConfig(lamina.Model):
        def get_compile_config(self):
            return {"loss": "mae", "note": "mine"}

        def compile_from_config(self, config):
            seen.append(config)
            self.compile(optimizer="sgd", loss=config["loss"])

    @lamina.saving.register_keras_serializable(package="compile_hooks")
    class OwnCompile(lamina.Model):
        def compile(self, *args, **kwargs):
            seen.append("compile called")
            super().compile(*args, **kwargs)

    for cls in (OwnConfig, OwnCompile):
        inp = lamina.Input((3,))
        model = cls(inp, lamina.layers.Dense(1)(inp))
        model.compile(optimizer="adam", loss="mse")
        model.save(tmp_path / f"{cls.__name__}.keras")
    seen.clear()
    restored = lamina.models.load_model(tmp_path / "OwnConfig.keras")
    assert seen == [{"loss": "mae", "note": "mine"}] and restored.compiled
    seen.clear()
    with pytest.warns(UserWarning, match="compile\\(\\) was not called"):
        restored = lamina.models.load_model(tmp_path / "OwnCompile.keras")
    assert seen == [] and not restored.compiled  # as Keras: a custom compile() is not called on load


def test_build_config_hook_is_called_on_load(tmp_path):
    calls = []

    @lamina.saving.register_keras_serializable(package="build_hooks")
    class Sized(lamina.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

        def get_build_config(self):
            return {"width": int(self.w.shape[0])}

        def build_from_config(self, config):
            calls.append(config)
            self.build((None, config["width"]))
            self.built = True

    inp = lamina.Input((5,))
    lamina.Model(inp, Sized()(inp)).save(tmp_path / "b.keras")
    entry = json.loads(zipfile.ZipFile(tmp_path / "b.keras").read("config.json"))["config"]["layers"][1]
    assert entry["build_config"] == {"width": 5}
    lamina.models.load_model(tmp_path / "b.keras")
    assert calls == [{"width": 5}]


# ---------------------------------------------------------------------------------------------- hostile assets
@pytest.mark.parametrize("member", ["assets/../escape.txt", "assets/a/../../x", "/abs/assets/x", "assets//x",
                                    "other/file.txt"])
def test_asset_members_outside_assets_are_refused(tmp_path, member):
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(1)])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {name: z.read(name) for name in z.namelist()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about odd names
        with zipfile.ZipFile(tmp_path / "evil.keras", "w") as z:
            for name, data in {**members, member: b"x"}.items():
                z.writestr(name, data)
    with pytest.raises(UnsafeFileError, match="unexpected member"):
        lamina.models.load_model(tmp_path / "evil.keras")
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "x").exists()


# ---------------------------------------------------------------------------------------------- optimizer state
def test_optimizer_state_travels_both_ways(keras, tmp_path):
    model = _functional(lamina)
    model.compile(optimizer="adam", loss="mse")
    model.fit(_rand(8, 8, 8, 3), _rand(8, 2), epochs=2, batch_size=4, verbose=0)
    model.save(tmp_path / "l.keras")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Keras warns when it skips an optimizer state that does not fit
        restored = keras.saving.load_model(tmp_path / "l.keras")
    want = keras_values(model)  # the optimizer's variables, slots in Keras's layout (conv kernels differ)
    assert [w.shape for w in want] != [w.shape for w in model.optimizer.get_weights()]
    got = [np.asarray(v) for v in restored.optimizer.variables]
    assert len(got) == len(want) == 2 + 2 * len(model.trainable_weights) and int(got[0]) == 4
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(g, w, atol=1e-7)
    restored.fit(_rand(8, 8, 8, 3), _rand(8, 2), epochs=1, batch_size=4, verbose=0)
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras")
    assert back.optimizer.iterations == 6
    for w, g in zip([np.asarray(v) for v in restored.optimizer.variables], keras_values(back), strict=True):
        np.testing.assert_allclose(g, w, atol=1e-7)


def test_training_resumes_from_a_keras_file_as_in_keras(keras, tmp_path):
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Dense(4, activation="tanh")(inp)))
    model.compile(optimizer="adam", loss="mse")
    model.fit(_rand(8, 5), _rand(8, 2, seed=2), batch_size=4, epochs=2, verbose=0, shuffle=False)
    model.save(tmp_path / "o.keras")
    resumed = lamina.models.load_model(tmp_path / "o.keras")
    fresh = lamina.models.load_model(tmp_path / "o.keras", compile=False)
    fresh.compile(optimizer="adam", loss="mse")
    x, y = _rand(8, 5, seed=3), _rand(8, 2, seed=4)
    for m in (model, resumed, fresh):
        m.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for want, got in zip(model.get_weights(), resumed.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # the optimizer state is what makes them agree: a fresh Adam takes other steps
    assert max(np.abs(a - b).max() for a, b in zip(model.get_weights(), fresh.get_weights(), strict=True)) > 1e-4


def test_masks_and_op_nodes_both_ways(keras, tmp_path):
    ids = np.array([[1, 2, 3, 0, 0, 0], [4, 5, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    inp = keras.Input((6,), dtype="int32")
    x = keras.layers.Embedding(10, 4, mask_zero=True)(inp)
    model = keras.Model(inp, keras.layers.LSTM(2)(keras.layers.GRU(3, return_sequences=True)(x)))
    model.save(tmp_path / "k.keras")  # Keras writes the mask as a NotEqual op node
    classes = [e["class_name"] for e in json.loads(zipfile.ZipFile(tmp_path / "k.keras").read("config.json"))
               ["config"]["layers"]]
    assert "NotEqual" in classes
    mine = lamina.models.load_model(tmp_path / "k.keras")
    _same(model, mine, ids)
    mine.save(tmp_path / "l.keras")
    _same(model, keras.saving.load_model(tmp_path / "l.keras"), ids)
    # lamina's own op calls in a functional model
    x = lamina.Input((5,))
    y = lamina.layers.Dense(3)(x)
    out = lamina.ops.maximum(lamina.ops.multiply(y, 2.0), lamina.ops.relu(y))
    ops_model = lamina.Model(x, out)
    ops_model.save(tmp_path / "ops.keras")
    _same(ops_model, keras.saving.load_model(tmp_path / "ops.keras"), _rand(4, 5))


def test_nested_models_both_ways(keras, tmp_path):
    inner = lamina.Sequential([lamina.layers.Dense(4, activation="relu"), lamina.layers.Dense(3)], name="inner")
    head_in = lamina.Input((3,))
    head = lamina.Model(head_in, lamina.layers.Dense(2)(head_in), name="head")
    inp = lamina.Input((5,))
    model = lamina.Model(inp, head(inner(inp)))
    _jiggle(model)
    model.save(tmp_path / "l.keras")
    restored = keras.saving.load_model(tmp_path / "l.keras")
    x = _rand(3, 5)
    _same(model, restored, x)
    restored.save(tmp_path / "k.keras")  # Keras numbers the nested functional model's call as node 1
    config = json.loads(zipfile.ZipFile(tmp_path / "k.keras").read("config.json"))["config"]
    assert config["output_layers"] == ["head", 1, 0]
    assert json.loads(zipfile.ZipFile(tmp_path / "l.keras").read("config.json"))["config"]["output_layers"] == \
        ["head", 1, 0]
    _same(model, lamina.models.load_model(tmp_path / "k.keras"), x)


def test_config_demanding_huge_weights_is_refused_before_allocating(tmp_path):
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)])
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        members = {name: z.read(name) for name in z.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["config"]["units"] = 2_000_000_000  # 16 TB of kernel
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "huge.keras", "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(UnsafeFileError, match="far more weight memory"):
        lamina.models.load_model(tmp_path / "huge.keras")


def _guide_layer(lib, package, fixed):
    """The custom-variable layer of Keras's guide "customizing_saving_and_serialization" (``fixed``: its
    ``load_own_variables`` reads only the Dense weights, which is what ``save_own_variables`` stored as 0, 1)."""

    @lib.saving.register_keras_serializable(package=package)
    class LayerWithCustomVariable(lib.layers.Dense):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.my_variable = lib.Variable(np.arange(units, dtype="float32") + 0.5, name="my_variable",
                                            dtype="float32")

        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["variables"] = self.my_variable.numpy()

        def load_own_variables(self, store):
            self.my_variable.assign(store["variables"])
            weights = [self.kernel, self.bias] if fixed else self.weights
            for i, v in enumerate(weights):
                v.assign(store[f"{i}"])

        def call(self, inputs):
            return super().call(inputs) + self.my_variable

    return LayerWithCustomVariable


@pytest.mark.parametrize("fixed", [False, True])
def test_keras_guide_custom_variable_layer_behaves_as_in_keras(keras, tmp_path, fixed):
    outcomes = {}
    for lib in (keras, lamina):
        layer_class = _guide_layer(lib, f"guide_{fixed}", fixed)
        model = lib.Sequential([lib.Input((10,)), layer_class(2)])
        model.compile(optimizer="adam", loss="mean_squared_error")
        model.fit(_rand(8, 10), _rand(8, 2), verbose=0)
        model.layers[0].my_variable.assign(np.array([3.0, -1.0], "float32"))
        path = tmp_path / f"{lib.__name__}.keras"
        model.save(path)
        try:
            restored = lib.models.load_model(path)
        except ValueError as error:  # as written in the guide, self.weights also lists my_variable: "2" is missing
            outcomes[lib.__name__] = ("error", "must match" in str(error) or "2" in str(error))
            continue
        _same(model, restored, _rand(3, 10))
        outcomes[lib.__name__] = ("loaded", list(restored.layers[0].my_variable.numpy()))
    assert outcomes["lamina"] == outcomes["keras"]
    assert outcomes["keras"][0] == ("loaded" if fixed else "error")


def test_weights_h5_skip_mismatch_as_keras(keras, tmp_path):
    source = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    _jiggle(source)
    source.save_weights(tmp_path / "w.weights.h5")
    outcomes = {}
    for lib in (keras, lamina):
        target = lib.Sequential([lib.Input((4,)), lib.layers.Dense(3), lib.layers.Dense(5)])
        before = [np.array(w) for w in target.get_weights()]
        with pytest.raises(ValueError):
            target.load_weights(tmp_path / "w.weights.h5")
        with pytest.warns(UserWarning):
            target.load_weights(tmp_path / "w.weights.h5", skip_mismatch=True)
        after = target.get_weights()
        outcomes[lib.__name__] = [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]
        np.testing.assert_array_equal(after[0], source.get_weights()[0])
    assert outcomes["lamina"] == outcomes["keras"] == [True, True, False, False]


def test_registered_functions_both_ways(keras, tmp_path):
    functions = {}
    for lib in (keras, lamina):
        @lib.saving.register_keras_serializable(package="export_fn")
        def scaled_tanh(x, lib=lib):
            return lib.ops.tanh(x) * 2.0

        @lib.saving.register_keras_serializable(package="export_fn")
        def half_mae(y_true, y_pred, lib=lib):
            return lib.ops.mean(lib.ops.abs(y_true - y_pred), axis=-1) / 2.0

        functions[lib.__name__] = (scaled_tanh, half_mae)
    activation, loss = functions["lamina"]
    inp = lamina.Input((4,))
    model = lamina.Model(inp, lamina.layers.Dense(2, activation=activation)(inp))
    model.compile(optimizer="sgd", loss=loss)
    model.save(tmp_path / "l.keras")
    restored = keras.saving.load_model(tmp_path / "l.keras")
    x = _rand(3, 4)
    _same(model, restored, x)
    assert restored.loss is functions["keras"][1] and restored.layers[1].activation is functions["keras"][0]
    restored.save(tmp_path / "k.keras")
    back = lamina.models.load_model(tmp_path / "k.keras")
    _same(model, back, x)
    assert back.loss is loss


def test_a_failing_save_leaves_the_previous_file(tmp_path):
    class Broken(lamina.layers.Layer):
        fail = False

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

        def save_own_variables(self, store):
            if Broken.fail:
                raise RuntimeError("disk full")
            super().save_own_variables(store)

    inp = lamina.Input((3,))
    model = lamina.Model(inp, Broken()(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    Broken.fail = True
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.keras"]
