"""The cell API (``RNN``, ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``, ``StackedRNNCells``) against Keras 3 (torch
backend) on the same weights, and against lamina's fused sequence layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lamina

RNG = np.random.default_rng(11)
X = RNG.normal(size=(3, 6, 4)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], dtype=bool)
CELLS = ["SimpleRNNCell", "LSTMCell", "GRUCell"]


def to_numpy(lib, value):
    return [to_numpy(lib, v) for v in value] if isinstance(value, (list, tuple)) else np.asarray(
        lib.ops.convert_to_numpy(value))


def assert_close(ours, theirs, atol=1e-5):
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            assert_close(a, b, atol)
        return
    np.testing.assert_allclose(ours, theirs, atol=atol)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize(("options", "masked"), [({}, False), ({"return_sequences": True, "return_state": True}, False),
                                                 ({"go_backwards": True, "return_state": True}, False),
                                                 ({"return_sequences": True}, True),
                                                 ({"return_sequences": True, "zero_output_for_mask": True}, True)])
def test_rnn_of_a_cell_equals_keras(keras, cell, options, masked):
    theirs = keras.layers.RNN(getattr(keras.layers, cell)(5), **options)
    ours = lamina.layers.RNN(getattr(lamina.layers, cell)(5), **options)
    theirs(X), ours(X)
    ours.set_weights(theirs.get_weights())
    kwargs = {"mask": MASK} if masked else {}
    assert_close(to_numpy(lamina, ours(X, **kwargs)), to_numpy(keras, theirs(X, **kwargs)))
    assert [w.name for w in ours.weights] == [w.name for w in theirs.weights]


@pytest.mark.parametrize(("layer", "cell"), [("SimpleRNN", "SimpleRNNCell"), ("LSTM", "LSTMCell"), ("GRU", "GRUCell")])
def test_the_fused_layers_equal_rnn_of_their_cell(layer, cell):
    torch.manual_seed(0)
    fused = getattr(lamina.layers, layer)(5, return_sequences=True, return_state=True)
    stepped = lamina.layers.RNN(getattr(lamina.layers, cell)(5), return_sequences=True, return_state=True)
    x = torch.as_tensor(X)
    fused(x), stepped(x)
    stepped.set_weights(fused.get_weights())
    for a, b in zip(fused(x), stepped(x), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_one_cell_step_and_sizes_equal_keras(keras, cell):
    theirs, ours = getattr(keras.layers, cell)(3), getattr(lamina.layers, cell)(3)
    assert ours.state_size == theirs.state_size and ours.output_size == theirs.output_size
    n = len(theirs.state_size) if isinstance(theirs.state_size, list) else 1
    states = [RNG.normal(size=(2, 3)).astype("float32") for _ in range(n)]
    step = X[:2, 0]
    theirs(step, states), ours(step, states)
    ours.set_weights(theirs.get_weights())
    out_k, st_k = theirs(step, states)
    out_l, st_l = ours(step, states)
    assert_close(to_numpy(lamina, out_l), to_numpy(keras, out_k))
    assert_close(to_numpy(lamina, list(st_l)), to_numpy(keras, list(st_k)))
    assert set(ours.get_config()) == set(theirs.get_config())


def test_a_list_of_cells_is_stacked_as_keras(keras):
    theirs = keras.layers.RNN([keras.layers.LSTMCell(4), keras.layers.GRUCell(3)], return_state=True)
    ours = lamina.layers.RNN([lamina.layers.LSTMCell(4), lamina.layers.GRUCell(3)], return_state=True)
    theirs(X), ours(X)
    ours.set_weights(theirs.get_weights())
    k, l_ = theirs(X), ours(X)
    assert len(l_) == len(k) == 3
    assert_close(to_numpy(lamina, l_[0]), to_numpy(keras, k[0]))
    assert_close(to_numpy(lamina, l_[1]), to_numpy(keras, k[1]))  # the LSTM's [h, c]
    assert_close(to_numpy(lamina, l_[2]), to_numpy(keras, k[2]))
    assert ours.cell.state_size == theirs.cell.state_size


def minimal_cell(lib):
    """The custom cell of Keras's RNN guide, written with ops."""

    class MinimalRNNCell(lib.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="uniform",
                                                    name="recurrent_kernel")

        def call(self, inputs, states):
            prev_output = states[0]
            h = lib.ops.matmul(inputs, self.kernel)
            output = h + lib.ops.matmul(prev_output, self.recurrent_kernel)
            return output, [output]

    return MinimalRNNCell


def test_a_user_s_own_cell_runs_and_trains_as_in_keras(keras):
    y = RNG.normal(size=(3, 4)).astype("float32")
    results, weights = [], None
    for lib in (keras, lamina):
        inputs = lib.Input((None, 4))
        rnn = lib.layers.RNN(minimal_cell(lib)(4))
        model = lib.Model(inputs, rnn(inputs))
        if weights is None:
            weights = model.get_weights()
        model.set_weights(weights)
        model.compile(optimizer=lib.optimizers.SGD(0.05), loss="mse")
        model.fit(X, y, batch_size=3, epochs=2, shuffle=False, verbose=0)
        results.append((model.predict(X, verbose=0), model.get_weights()))
    np.testing.assert_allclose(results[1][0], results[0][0], atol=1e-5)
    for a, b in zip(results[1][1], results[0][1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_config_round_trip_and_errors(keras):
    layer = lamina.layers.RNN(lamina.layers.LSTMCell(4, dropout=0.1), return_sequences=True, go_backwards=True)
    config = layer.get_config()
    assert set(config) == set(keras.layers.RNN(keras.layers.LSTMCell(4)).get_config())
    again = lamina.layers.RNN.from_config(config)
    assert isinstance(again.cell, lamina.layers.LSTMCell) and again.cell.dropout == 0.1 and again.go_backwards
    stacked = lamina.layers.RNN([lamina.layers.GRUCell(2), lamina.layers.SimpleRNNCell(3)])
    rebuilt = lamina.layers.deserialize(lamina.layers.serialize(stacked))
    assert [type(c).__name__ for c in rebuilt.cell.cells] == ["GRUCell", "SimpleRNNCell"]
    with pytest.raises(ValueError, match="state_size"):
        lamina.layers.RNN(lamina.layers.Dense(3))
    with pytest.raises(ValueError, match="stateful"):
        lamina.layers.RNN(lamina.layers.GRUCell(2), stateful=True)
    with pytest.raises(ValueError, match="units"):
        lamina.layers.LSTMCell(0)


def test_dropout_masks_are_one_per_sequence_and_only_in_training():
    torch.manual_seed(0)
    layer = lamina.layers.RNN(lamina.layers.GRUCell(4, dropout=0.5, recurrent_dropout=0.5), return_sequences=True)
    x = torch.as_tensor(X)
    infer_a, infer_b = layer(x), layer(x)
    torch.testing.assert_close(infer_a, infer_b)  # no dropout outside training
    trained = layer(x, training=True)
    assert not torch.allclose(trained, infer_a)
    cell = layer.cell
    assert cell._masks["input"] is not None and cell._masks["input"].shape == (3, 4)


def test_rnn_of_stacked_cells_travels_through_keras_files_both_ways(keras, tmp_path):
    x = RNG.normal(size=(2, 5, 3)).astype("float32")
    for writer, reader in ((lamina, keras), (keras, lamina)):
        inputs = writer.Input((5, 3))
        model = writer.Model(inputs, writer.layers.RNN([writer.layers.LSTMCell(4), writer.layers.GRUCell(2)])(inputs))
        path = str(tmp_path / f"{writer.__name__}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path) if reader is keras else lamina.models.load_model(path)
        np.testing.assert_allclose(np.asarray(loaded.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)),
                                   atol=1e-6)
