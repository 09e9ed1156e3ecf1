"""``model.summary()`` against Keras 3's: the same rows (name and type, output shape, parameter count, connections,
trainable flag) and the same totals (counts and sizes in memory) for Sequential, functional, nested, subclassed and
unbuilt models, before and after training; then the layout options, ``print_fn`` and the errors."""

import io
import re
import sys
import warnings

import numpy as np
import pytest
import torch

import lamina
from lamina import layers
from lamina.models import summary as summary_module

# Keras's own NumPy-2 deprecation noise (its tensors' __array__), not lamina's.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")


# ----------------------------------------------------------------------------- capture and parse
def lamina_lines(model, **kwargs):
    lines = []
    model.summary(print_fn=lines.append, **kwargs)
    return lines


def keras_lines(model, **kwargs):
    chunks = []
    model.summary(print_fn=lambda text, **_: chunks.append(text), **kwargs)
    return "\n".join(chunks).splitlines()


def parse(lines):
    """The title, the header cells, the rows (each a list of cells, wrapped lines joined) and the totals
    ``{label: (count, size)}`` of a printed summary."""
    title = lines[0]
    headers, rows, totals, current = [], [], {}, None
    for line in lines[1:]:
        if line.startswith("┃"):
            headers = [c.strip() for c in line.strip("┃").split("┃")]
        elif line.startswith("│"):
            cells = [c.strip() for c in line.strip("│").split("│")]
            if current is None:
                current = cells
                rows.append(current)
            else:
                for i, cell in enumerate(cells):
                    current[i] = f"{current[i]} {cell}".strip()
        elif line.startswith(("├", "└")):
            current = None
        elif match := re.match(r"^ ([\w\- ]+) params: ([\d,]+) \((.+)\)$", line):
            totals[match.group(1)] = (int(match.group(2).replace(",", "")), match.group(3))
    return title, headers, rows, totals


def row_values(row):
    """(name (type), shape, params as an int or 'unbuilt', *other cells), whitespace normalized."""
    name, shape, params, *rest = (" ".join(cell.split()) for cell in row)
    count = "unbuilt" if "unbuilt" in params else int(params.replace(",", ""))
    return (name, shape, count, *rest)


HEADERS = ("Layer (type)", "Output Shape", "Param #", "Connected to", "Trainable")


def full_header(header):
    """The column a header names, also when a narrow column cut it short ('Trai…')."""
    return next(name for name in HEADERS if name.startswith(header.rstrip("…")))


def assert_same_summary(ours, theirs, compare_shapes=True):
    title, headers, rows, totals = parse(ours)
    k_title, k_headers, k_rows, k_totals = parse(theirs)
    assert title == k_title
    assert [full_header(h) for h in headers] == [full_header(h) for h in k_headers]
    ours_rows = [row_values(r) for r in rows]
    theirs_rows = [row_values(r) for r in k_rows]
    if not compare_shapes:
        ours_rows = [(r[0], *r[2:]) for r in ours_rows]
        theirs_rows = [(r[0], *r[2:]) for r in theirs_rows]
    assert ours_rows == theirs_rows
    assert totals == k_totals
    return rows, totals


def quiet_keras(fn):
    """Build a Keras model without its advice to prefer Input over input_shape=."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return fn()


# ----------------------------------------------------------------------------- the architectures, twice
def mnist_mlp(lib):
    flatten = lib.layers.Flatten(input_shape=(28, 28, 1), name="flatten")
    return lib.Sequential([flatten, lib.layers.Dense(32, activation="relu", name="hidden"),
                           lib.layers.Dense(10, activation="softmax", name="probs")], name="mlp")


def two_towers(lib):
    """Two inputs through one shared Dense, concatenated, two heads."""
    left, right = lib.Input(shape=(8,), name="left"), lib.Input(shape=(8,), name="right")
    shared = lib.layers.Dense(4, name="shared")
    merged = lib.layers.Concatenate(name="merge")([shared(left), shared(right)])
    out_a = lib.layers.Dense(1, name="head_a")(merged)
    out_b = lib.layers.Dense(3, activation="softmax", name="head_b")(lib.layers.Dropout(0.5, name="drop")(merged))
    return lib.Model([left, right], [out_a, out_b], name="towers")


def nested(lib):
    inner = lib.Sequential([lib.layers.Dense(5, name="inner_1"), lib.layers.Dense(6, name="inner_2")],
                           name="inner")
    x = lib.Input(shape=(4,), name="x")
    x2 = lib.Input(shape=(3,), name="x2")
    block = lib.Model(x2, lib.layers.Dense(2, name="block_dense")(x2), name="block")
    hidden = inner(x)
    out = lib.layers.Add(name="add")([lib.layers.Dense(2, name="proj")(hidden),
                                      block(lib.layers.Dense(3, name="to3")(hidden))])
    return lib.Model(x, out, name="outer")


def unbuilt(lib):
    return lib.Sequential([lib.layers.Dense(8, name="first"), lib.layers.Dense(2, name="second")], name="lazy")


def chain(lib):
    x = lib.Input(shape=(6,), name="x")
    h = lib.layers.Dense(4, name="a")(x)
    return lib.Model(x, lib.layers.Activation("relu", name="act")(lib.layers.Dense(3, name="b")(h)), name="chain")


def branches(lib):
    """One input that branches: the graph is not a chain, so Keras adds 'Connected to'."""
    x = lib.Input(shape=(6,), name="x")
    return lib.Model(x, lib.layers.Add(name="add")([lib.layers.Dense(3, name="p")(x),
                                                    lib.layers.Dense(3, name="q")(x)]), name="branches")


def shared_on_two_shapes(lib):
    a, b = lib.Input(shape=(3, 5), name="a"), lib.Input(shape=(7, 5), name="b")
    dense = lib.layers.Dense(2, name="dense")
    return lib.Model([a, b], [dense(a), dense(b)], name="two_shapes")


def reshaping(lib):
    x = lib.Input(shape=(12,), name="x")
    h = lib.layers.Reshape((3, 4), name="reshape")(x)
    h = lib.layers.Dense(5, name="dense")(h)
    return lib.Model(x, lib.layers.Flatten(name="flat")(h), name="reshaping")


def every_family(lib):
    """One functional model with a layer of every family of the layer library: preprocessing, convolution,
    pooling, normalization, regularization, activation layers, reshaping, sequences (with masks), attention,
    merges."""
    L = lib.layers
    image = lib.Input(shape=(28, 28, 1), name="image")
    x = L.Rescaling(1 / 255, name="rescale")(image)
    x = L.RandomFlip("horizontal", seed=1, name="flip")(x)
    x = L.ZeroPadding2D(2, name="pad")(x)
    x = L.Conv2D(8, 3, strides=2, name="conv")(x)
    x = L.BatchNormalization(name="bn")(x)
    x = L.ReLU(name="relu")(x)
    x = L.SeparableConv2D(8, 3, padding="same", name="sep")(x)
    x = L.DepthwiseConv2D(3, padding="same", name="depthwise")(x)
    x = L.SpatialDropout2D(0.1, name="spatial_drop")(x)
    x = L.MaxPooling2D(2, name="max_pool")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="deconv")(x)
    x = L.Cropping2D(1, name="crop")(x)
    x = L.UpSampling2D(2, name="upsample")(x)
    x = L.GroupNormalization(groups=2, name="group_norm")(x)
    x = L.AveragePooling2D(2, name="avg_pool")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    image_features = L.LeakyReLU(name="leaky")(L.Dense(16, name="image_dense")(x))

    tokens = lib.Input(shape=(12,), name="tokens")
    t = L.Embedding(50, 8, mask_zero=True, name="embed")(tokens)
    t = L.Bidirectional(L.LSTM(8, return_sequences=True, name="lstm"), name="bilstm")(t)
    t = L.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(t, t)
    t = L.LayerNormalization(name="ln")(t)
    t = L.Attention(name="attention")([t, t])
    t = L.TimeDistributed(L.Dense(6, name="td_dense"), name="time_dist")(t)
    token_features = L.GlobalAveragePooling1D(name="masked_mean")(t)

    series = lib.Input(shape=(10, 3), name="series")
    s = L.Conv1D(6, 3, padding="causal", name="causal_conv")(series)
    s = L.AveragePooling1D(2, name="avg_pool_1d")(s)
    s = L.SimpleRNN(6, return_sequences=True, name="rnn")(s)
    s = L.GRU(4, name="gru")(s)
    s = L.RepeatVector(3, name="repeat")(s)
    s = L.Permute((2, 1), name="permute")(s)
    s = L.Reshape((12,), name="reshape")(s)
    series_features = L.ELU(name="elu")(s)

    h = L.Concatenate(name="concat")([image_features, token_features, series_features])
    h = L.Dense(32, name="dense")(h)
    h = L.PReLU(name="prelu")(h)
    h = L.UnitNormalization(name="unit_norm")(h)
    h = L.GaussianNoise(0.1, seed=1, name="noise")(h)
    h = L.Dropout(0.2, name="dropout")(h)
    h = L.ActivityRegularization(l2=1e-4, name="act_reg")(h)
    h = L.Add(name="add")([h, L.Dense(32, name="skip")(token_features)])
    outputs = L.Softmax(name="probs")(L.Dense(10, name="logits")(h))
    return lib.Model([image, tokens, series], outputs, name="every_family")


ARCHITECTURES = [mnist_mlp, two_towers, nested, unbuilt, chain, branches, shared_on_two_shapes, reshaping]


@pytest.mark.parametrize("build", ARCHITECTURES, ids=lambda f: f.__name__)
def test_rows_and_totals_match_keras(keras, build):
    ours = lamina_lines(build(lamina))
    theirs = keras_lines(quiet_keras(lambda: build(keras)))
    assert_same_summary(ours, theirs)


def test_every_family_shapes_and_counts_match_keras(keras):
    """Each layer's output shape and parameter count, and the totals, as Keras reports them. Keras's graph also
    holds the operations its torch backend traces for masks (NotEqual, ConvertToTensor): not layers, skipped."""
    def by_layer(lines):
        _, _, rows, totals = parse(lines)
        values = [row_values(r) for r in rows]
        return {v[0].split()[0]: v[1:3] for v in values if not v[0].split()[0].startswith(
            ("not_equal", "convert_to_tensor"))}, totals

    ours, our_totals = by_layer(lamina_lines(every_family(lamina)))
    theirs, their_totals = by_layer(keras_lines(quiet_keras(lambda: every_family(keras))))
    assert ours == theirs
    assert our_totals == their_totals
    assert len(ours) == 47  # 3 inputs and 44 layers


def test_every_family_trains_one_epoch():
    model = every_family(lamina)
    n = 64
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, 50, size=(n, 12))
    tokens[:, 9:] = 0  # padding, masked from the LSTM to the pooled mean
    x = [rng.integers(0, 256, size=(n, 28, 28, 1)).astype("float32"), tokens,
         rng.normal(size=(n, 10, 3)).astype("float32")]
    y = rng.integers(0, 10, size=(n,))
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)]
    assert sum(changed) >= len(model.trainable_weights) - 2  # every trainable weight moved (BN stats count too)
    probs = model.predict(x, verbose=0)
    assert probs.shape == (n, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    # The padding is masked all the way from the Embedding to the pooled mean: the padding id's embedding row
    # cannot change a prediction, while a real token's row does.
    embed = model.get_layer("embed")
    table = embed.get_weights()[0]
    for row, should_change in ((0, False), (int(tokens[0, 0]), True)):
        edited = table.copy()
        edited[row] += 5.0
        embed.set_weights([edited])
        changed = np.abs(model.predict(x, verbose=0) - probs).max() > 1e-4
        embed.set_weights([table])
        assert changed == should_change, row
    assert model.losses  # the activity regularizer's penalty joins the loss


def test_mnist_mlp_numbers():
    _, headers, rows, totals = parse(lamina_lines(mnist_mlp(lamina)))
    assert headers == ["Layer (type)", "Output Shape", "Param #"]  # Sequential: no InputLayer row, no connections
    assert [row_values(r) for r in rows] == [("flatten (Flatten)", "(None, 784)", 0),
                                             ("hidden (Dense)", "(None, 32)", 25120),
                                             ("probs (Dense)", "(None, 10)", 330)]
    assert totals == {"Total": (25450, "99.41 KB"), "Trainable": (25450, "99.41 KB"),
                      "Non-trainable": (0, "0.00 B")}


def test_functional_shows_inputs_and_connections():
    _, headers, rows, _ = parse(lamina_lines(two_towers(lamina)))
    assert headers == ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    by_name = {row_values(r)[0]: row_values(r) for r in rows}
    assert by_name["left (InputLayer)"] == ("left (InputLayer)", "(None, 8)", 0, "-")
    assert by_name["shared (Dense)"][3] == "left[0][0], right[0][0]"
    assert by_name["merge (Concatenate)"][3] == "shared[0][0], shared[1][0]"


def test_chain_functional_has_no_connections_column():
    _, headers, rows, _ = parse(lamina_lines(chain(lamina)))
    assert headers == ["Layer (type)", "Output Shape", "Param #"]
    assert row_values(rows[0]) == ("x (InputLayer)", "(None, 6)", 0)


def test_unbuilt_model_prints_question_marks_and_zero_totals():
    model = unbuilt(lamina)
    _, _, rows, totals = parse(lamina_lines(model))
    assert [row_values(r) for r in rows] == [("first (Dense)", "?", "unbuilt"), ("second (Dense)", "?", "unbuilt")]
    assert all(value == (0, "0.00 B") for value in totals.values())
    model(torch.ones(2, 7))
    _, _, rows, totals = parse(lamina_lines(model))
    assert [row_values(r) for r in rows] == [("first (Dense)", "(None, 8)", 64), ("second (Dense)", "(None, 2)", 18)]
    assert totals["Total"] == (82, "328.00 B")


def test_nested_model_type_names():
    _, _, rows, _ = parse(lamina_lines(nested(lamina)))
    names = [row_values(r)[0] for r in rows]
    assert "inner (Sequential)" in names and "block (Functional)" in names


# ----------------------------------------------------------------------------- options, against Keras
def test_expand_nested_matches_keras(keras):
    ours = lamina_lines(nested(lamina), expand_nested=True)
    theirs = keras_lines(nested(keras), expand_nested=True)
    rows, _ = assert_same_summary(ours, theirs)
    names = [" ".join(r[0].split()) for r in rows]
    assert names.index("└ inner_1 (Dense)") == names.index("inner (Sequential)") + 1
    assert "└ x2 (InputLayer)" in names


def test_show_trainable_matches_keras(keras):
    def frozen(lib):
        model = quiet_keras(lambda: mnist_mlp(lib))
        model.get_layer("hidden").trainable = False
        return model

    rows, totals = assert_same_summary(lamina_lines(frozen(lamina), show_trainable=True),
                                       keras_lines(frozen(keras), show_trainable=True))
    assert [r[-1] for r in rows] == ["-", "N", "Y"]
    assert totals["Non-trainable"] == (25120, "98.12 KB")


def test_show_trainable_with_connections_and_nesting(keras):
    def frozen(lib):
        model = nested(lib)
        model.get_layer("inner").trainable = False
        return model

    rows, _ = assert_same_summary(lamina_lines(frozen(lamina), show_trainable=True, expand_nested=True),
                                  keras_lines(frozen(keras), show_trainable=True, expand_nested=True))
    assert {" ".join(r[0].split()): r[-1] for r in rows}["inner (Sequential)"] == "N"


@pytest.mark.parametrize("layer_range", [("hidden", "probs"), ("flatten", "hidden"), ("h.*", "p")])
def test_layer_range_matches_keras(keras, layer_range):
    ours = lamina_lines(mnist_mlp(lamina), layer_range=layer_range)
    theirs = keras_lines(quiet_keras(lambda: mnist_mlp(keras)), layer_range=layer_range)
    assert_same_summary(ours, theirs)


def test_layer_range_on_functional_with_expand(keras):
    kwargs = {"layer_range": ("inner", "proj"), "expand_nested": True}
    rows, _ = assert_same_summary(lamina_lines(nested(lamina), **kwargs), keras_lines(nested(keras), **kwargs))
    assert " ".join(rows[0][0].split()) == "inner (Sequential)"


BAD_RANGES = [("nope", "probs"), ("probs", "flatten"), ("hidden[", "probs"), ("hidden",), "hidden", (1, 2)]


@pytest.mark.parametrize("layer_range", BAD_RANGES)
def test_bad_layer_range_is_a_clear_error(layer_range):
    with pytest.raises(ValueError, match="layer_range"):
        mnist_mlp(lamina).summary(layer_range=layer_range, print_fn=lambda line: None)


def test_multi_output_layers_and_non_trainable_float64_weights(keras):
    def build(lib):
        class Split(lib.layers.Layer):
            def call(self, x):
                return [x, x[:, :2]]

        class Offsets(lib.layers.Layer):
            def build(self, input_shape):
                self.offset = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                              dtype="float64", name="offset")

            def call(self, x):
                return {"same": x, "head": x[:, :3]}

        x = lib.Input(shape=(4,), name="x")
        parts = Split(name="split")(x)
        named = Offsets(name="offsets")(x)
        out = lib.layers.Add(name="add")([parts[0], named["same"]])
        return lib.Model(x, [out, parts[1], lib.layers.Dense(2, name="dense")(named["head"])], name="multi")

    rows, totals = assert_same_summary(lamina_lines(build(lamina)), keras_lines(build(keras)))
    assert " ".join(rows[1][1].split()) == "[(None, 4), (None, 2)]"
    assert totals["Non-trainable"] == (4, "32.00 B")


def test_subclassed_model_before_and_after_its_first_call(keras):
    def build(lib):
        class Net(lib.Model):
            def __init__(self):
                super().__init__(name="net")
                self.hidden = lib.layers.Dense(3, name="hidden")
                self.out = lib.layers.Dense(2, name="out")

            def call(self, x):
                return self.out(self.hidden(x))

        return Net()

    ours, theirs = build(lamina), build(keras)
    assert_same_summary(lamina_lines(ours), keras_lines(theirs))
    ours(torch.ones(5, 4))
    theirs(np.ones((5, 4), "float32"))
    # Keras shows the shape the layer was built for, batch size included; lamina the shape recorded on the first
    # call with the batch unknown, as everywhere else in a summary.
    assert_same_summary(lamina_lines(ours), keras_lines(theirs), compare_shapes=False)
    _, _, rows, _ = parse(lamina_lines(ours))
    assert [row_values(r)[1] for r in rows] == ["(None, 3)", "(None, 2)"]


def test_plain_torch_module_in_a_subclassed_model():
    class Net(lamina.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = layers.Dense(3, name="dense")
            self.proj = torch.nn.Linear(3, 2)

        def call(self, x):
            return self.proj(self.dense(x))

    model = Net()
    model(torch.ones(2, 4))
    _, _, rows, totals = parse(lamina_lines(model, show_trainable=True))
    assert [row_values(r) for r in rows] == [("dense (Dense)", "(None, 3)", 15, "Y"), ("proj (Linear)", "?", 8, "Y")]
    assert totals["Total"] == (23, "92.00 B")


# ----------------------------------------------------------------------------- after training: optimizer params
@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd", "sgd_momentum"])
def test_optimizer_params_after_training_match_keras(keras, optimizer):
    x = np.random.rand(16, 28, 28, 1).astype("float32")
    y = np.random.randint(0, 10, size=(16,))
    results = []
    for lib in (lamina, keras):
        model = quiet_keras(lambda lib=lib: mnist_mlp(lib))
        model.get_layer("hidden").trainable = False  # frozen weights get no optimizer slots
        opt = lib.optimizers.SGD(momentum=0.9) if optimizer == "sgd_momentum" else optimizer
        model.compile(optimizer=opt, loss="sparse_categorical_crossentropy")
        before = parse(lamina_lines(model) if lib is lamina else keras_lines(model))[3]
        assert "Optimizer" not in before  # compiled, but the optimizer is built on the first batch
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        results.append(lamina_lines(model) if lib is lamina else keras_lines(model))
    _, totals = assert_same_summary(*results)
    assert totals["Total"][0] == totals["Trainable"][0] + totals["Non-trainable"][0] + totals["Optimizer"][0]


def test_optimizer_params_example():
    model = mnist_mlp(lamina)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((4, 28, 28, 1), "float32"), np.zeros(4, "int64"), verbose=0)
    totals = parse(lamina_lines(model))[3]
    assert totals["Optimizer"] == (50902, "198.84 KB")  # two slots per weight, step counter, learning rate
    assert totals["Total"] == (76352, "298.25 KB")


# ----------------------------------------------------------------------------- output and layout
def test_print_fn_receives_each_line_without_newlines():
    calls = []
    mnist_mlp(lamina).summary(print_fn=lambda line: calls.append(line))
    assert calls[0] == 'Model: "mlp"'
    assert all("\n" not in line for line in calls)
    assert calls[-1].startswith(" Non-trainable params:")


def test_print_fn_with_keras_style_line_break_argument():
    calls = []

    def print_fn(message, line_break=True):
        calls.append((message, line_break))

    mnist_mlp(lamina).summary(print_fn=print_fn)
    assert len(calls) > 5 and all(flag for _, flag in calls)


def test_default_prints_the_same_lines_to_stdout(capsys):
    model = two_towers(lamina)
    lines = lamina_lines(model)
    model.summary()
    assert capsys.readouterr().out.splitlines() == lines


def test_no_ansi_escapes():
    assert not any("\x1b" in line for line in lamina_lines(two_towers(lamina), show_trainable=True))


@pytest.mark.parametrize("line_length", [60, 76, 120])
@pytest.mark.parametrize("build", [mnist_mlp, two_towers], ids=lambda f: getattr(f, "__name__", f))
def test_line_length_sets_the_table_width(build, line_length):
    lines = lamina_lines(build(lamina), line_length=line_length, show_trainable=True)
    table = [line for line in lines if line[:1] in "┏┃┡│├└"]
    assert {len(line) for line in table} == {line_length}


def test_positions_set_the_column_boundaries():
    lines = lamina_lines(mnist_mlp(lamina), line_length=80, positions=[0.5, 0.75, 1.0])
    assert [i for i, ch in enumerate(lines[1]) if ch in "┏┳┓"] == [0, 40, 60, 79]
    absolute = lamina_lines(mnist_mlp(lamina), positions=[30, 50, 70])
    assert [i for i, ch in enumerate(absolute[1]) if ch in "┏┳┓"] == [0, 30, 50, 69]


def test_bad_positions_are_clear_errors():
    with pytest.raises(ValueError, match="positions"):
        mnist_mlp(lamina).summary(positions=[0.5, 1.0], print_fn=lambda line: None)
    with pytest.raises(ValueError, match="line_length"):
        mnist_mlp(lamina).summary(line_length=10, print_fn=lambda line: None)


def test_long_cells_wrap_instead_of_overflowing():
    inputs = [lamina.Input(shape=(2,), name=f"input_number_{i}") for i in range(4)]
    model = lamina.Model(inputs, layers.Concatenate(name="a_rather_long_layer_name_indeed")(inputs), name="wide")
    lines = lamina_lines(model, line_length=60)
    assert {len(line) for line in lines if line[:1] in "┏┃┡│├└"} == {60}
    rows = parse(lines)[2]  # words wider than the column are cut, so compare without the spaces
    assert rows[-1][3].replace(" ", "") == ",".join(f"input_number_{i}[0][0]" for i in range(4))


def test_ascii_table_when_stdout_cannot_draw_boxes(monkeypatch):
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    monkeypatch.setattr(sys, "stdout", stream)
    mnist_mlp(lamina).summary()
    stream.flush()
    text = raw.getvalue().decode("ascii")
    assert "| hidden (Dense)" in text and "25,120" in text


def test_readable_sizes():
    assert summary_module._readable_size(0) == "0.00 B"
    assert summary_module._readable_size(1023) == "1023.00 B"
    assert summary_module._readable_size(1024) == "1.00 KB"
    assert summary_module._readable_size(1024**2) == "1.00 MB"
    assert summary_module._readable_size(3 * 1024**3) == "3.00 GB"


def test_weight_sizes_follow_their_dtype(keras):
    ours = lamina.Sequential([lamina.Input(shape=(1024,)), layers.Dense(256, use_bias=False, name="d",
                                                                        dtype="float16")], name="half")
    theirs = keras.Sequential([keras.Input(shape=(1024,)), keras.layers.Dense(256, use_bias=False, name="d",
                                                                             dtype="float16")], name="half")
    _, totals = assert_same_summary(lamina_lines(ours), keras_lines(theirs))
    assert totals["Total"] == (262144, "512.00 KB")
