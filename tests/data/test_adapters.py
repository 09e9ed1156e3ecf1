"""lamina.data.adapters: arrays/tensors/structures -> device batches, iterables of batches, validation splits,
class weights and the errors users meet. Oracles: NumPy slicing, closed forms and Keras 3's own helpers."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from lamina.data.adapters import (
    ArrayAdapter,
    DataError,
    IterableAdapter,
    make_adapter,
    unpack_x_y_sample_weight,
)
from lamina.data.split import split_arrays


def data(n=10, features=3):
    x = np.arange(n * features, dtype="float32").reshape(n, features)
    y = np.arange(n, dtype="int64")
    return x, y


# ----------------------------------------------------------------------------------------------- batching
@pytest.mark.parametrize(("n", "batch_size", "sizes"), [(10, 4, [4, 4, 2]), (8, 4, [4, 4]), (3, 32, [3]),
                                                        (7, 1, [1] * 7)])
def test_batch_shapes_and_last_partial_batch(n, batch_size, sizes):
    x, y = data(n)
    adapter = ArrayAdapter(x, y, batch_size=batch_size)
    batches = list(adapter.epoch())
    assert [b[0].shape[0] for b in batches] == sizes
    assert [b[1].shape[0] for b in batches] == sizes
    assert all(tuple(b[0].shape[1:]) == (3,) for b in batches)
    assert adapter.num_batches == len(sizes)
    assert adapter.num_samples == n
    # in order, nothing lost or repeated
    np.testing.assert_array_equal(torch.cat([b[0] for b in batches]).numpy(), x)
    np.testing.assert_array_equal(torch.cat([b[1] for b in batches]).numpy(), y)
    assert all(len(b) == 2 for b in batches)  # no sample weights: (x, y), as Keras packs batches


def test_default_batch_size_is_32():
    x, y = data(70)
    adapter = ArrayAdapter(x, y, batch_size=None)
    assert [b[0].shape[0] for b in adapter.epoch()] == [32, 32, 6]


def test_no_shuffle_batches_are_views_of_the_data():
    x, y = data(10)
    adapter = ArrayAdapter(x, y, batch_size=4, shuffle=False)
    for xb, yb in adapter.epoch():
        assert xb.untyped_storage().data_ptr() == adapter.x.untyped_storage().data_ptr()
        assert yb.untyped_storage().data_ptr() == adapter.y.untyped_storage().data_ptr()
    # float32 C-contiguous NumPy input is not copied at all on the CPU: batches view the user's array
    xb = next(iter(adapter.epoch()))[0]
    assert np.shares_memory(xb.numpy(), x)


def test_shuffle_is_a_permutation_that_differs_across_epochs():
    x, y = data(50, 2)
    adapter = ArrayAdapter(x, y, batch_size=8, shuffle=True)
    orders = []
    for _ in range(3):
        batches = list(adapter.epoch())
        assert [b[0].shape[0] for b in batches] == [8] * 6 + [2]
        xs = torch.cat([b[0] for b in batches]).numpy()
        ys = torch.cat([b[1] for b in batches]).numpy()
        assert sorted(ys.tolist()) == list(range(50))  # a permutation
        np.testing.assert_array_equal(xs, x[ys])  # x and y shuffled together
        orders.append(ys.tolist())
    assert orders[0] != list(range(50))
    assert orders[0] != orders[1] != orders[2]


@pytest.mark.parametrize("n", [20, 22])  # 22: a short last block, which may land anywhere when shuffled
def test_shuffle_batch_permutes_whole_batches_and_keeps_their_inside_order(n):
    # Keras 3 (torch backend) shuffles the order of the batches of the unshuffled data, each kept whole.
    x, y = data(n, 1)
    adapter = ArrayAdapter(x, y, batch_size=5, shuffle="batch")
    blocks = [list(range(s, min(s + 5, n))) for s in range(0, n, 5)]
    orders = []
    for _ in range(4):
        ys = [b[1].tolist() for b in adapter.epoch()]
        assert sorted(v for b in ys for v in b) == list(range(n))
        for batch in ys:
            assert batch in blocks, f"batch {batch} is not one of the unshuffled batches {blocks}"
        orders.append([b[0] for b in ys])
    assert any(order != [b[0] for b in blocks] for order in orders)


def test_steps_per_epoch_continues_where_the_last_epoch_stopped():
    x, y = data(10)
    adapter = ArrayAdapter(x, y, batch_size=4, steps_per_epoch=2)
    first = [b[1].tolist() for b in adapter.epoch()]
    second = [b[1].tolist() for b in adapter.epoch()]
    assert first == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert second == [[8, 9], [0, 1, 2, 3]]  # end of the pass, then a new pass


def test_first_batch_does_not_consume():
    x, y = data(10)
    adapter = ArrayAdapter(x, y, batch_size=4)
    fx, fy, fsw = unpack_x_y_sample_weight(adapter.first_batch())
    assert fx.shape == (4, 3) and fsw is None
    assert [b[0].shape[0] for b in adapter.epoch()] == [4, 4, 2]


def test_structures_of_arrays_batch_together():
    x, y = data(10)
    x2 = np.ones((10, 2, 2), "float32")
    adapter = ArrayAdapter({"a": x, "b": x2}, [y, y * 2], sample_weight=np.ones(10), batch_size=4)
    xb, yb, swb = next(iter(adapter.epoch()))
    assert set(xb) == {"a", "b"}
    assert xb["a"].shape == (4, 3) and xb["b"].shape == (4, 2, 2)
    assert isinstance(yb, list) and yb[1].tolist() == [0, 2, 4, 6]
    assert swb.dtype == torch.float32 and swb.shape == (4,)


def test_torch_tensors_are_accepted():
    x = torch.randn(6, 2)
    adapter = ArrayAdapter(x, torch.arange(6), batch_size=4)
    xb, yb, _ = unpack_x_y_sample_weight(next(iter(adapter.epoch())))
    torch.testing.assert_close(xb, x[:4])
    assert yb.tolist() == [0, 1, 2, 3]


# ----------------------------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize(("dtype", "is_label", "expected"), [
    ("float64", False, torch.float32),
    ("float16", False, torch.float32),
    ("uint8", False, torch.float32),
    ("bool", False, torch.float32),
    ("float32", False, torch.float32),
    ("int32", True, torch.int64),
    ("uint8", True, torch.int64),
    ("int16", True, torch.int64),
    ("int64", True, torch.int64),
    ("float64", True, torch.float32),
])
def test_dtype_conversion(dtype, is_label, expected):
    values = (np.arange(12).reshape(6, 2) % 2).astype(dtype)
    numbers = np.zeros((6, 2), "float32")
    x, y = (numbers, values) if is_label else (values, np.zeros(6, "int64"))
    xb, yb, _ = unpack_x_y_sample_weight(ArrayAdapter(x, y, batch_size=6).first_batch())
    got = yb if is_label else xb
    assert got.dtype == expected
    np.testing.assert_array_equal(got.numpy().astype("float64"), values.astype("float64"))


def test_uint8_images_become_float32_without_rescaling():
    images = np.random.randint(0, 256, size=(5, 28, 28), dtype=np.uint8)
    xb, _, _ = unpack_x_y_sample_weight(ArrayAdapter(images, np.zeros(5, "uint8"), batch_size=5).first_batch())
    assert xb.dtype == torch.float32
    np.testing.assert_array_equal(xb.numpy(), images.astype("float32"))
    assert float(xb.max()) > 1.0


def test_sample_weight_becomes_float32():
    x, y = data(4)
    _, _, sw = ArrayAdapter(x, y, sample_weight=np.array([1, 2, 3, 4]), batch_size=4).first_batch()
    assert sw.dtype == torch.float32 and sw.tolist() == [1.0, 2.0, 3.0, 4.0]


# ----------------------------------------------------------------------------------------------- class_weight
def test_class_weight_becomes_sample_weights():
    x = np.zeros((6, 1), "float32")
    y = np.array([0, 1, 2, 1, 0, 3])
    cw = {0: 0.5, 1: 2.0, 2: 3.0}  # class 3 missing: weight 1, as in Keras
    _, _, sw = ArrayAdapter(x, y, class_weight=cw, batch_size=6).first_batch()
    np.testing.assert_allclose(sw.numpy(), [0.5, 2.0, 3.0, 2.0, 0.5, 1.0])


def test_class_weight_multiplies_sample_weight_and_reads_one_hot_labels():
    x = np.zeros((4, 1), "float32")
    y = np.eye(3, dtype="float32")[[2, 0, 1, 2]]
    _, _, sw = ArrayAdapter(x, y, sample_weight=np.array([1.0, 2.0, 3.0, 4.0]), class_weight={0: 10.0, 2: 0.5},
                            batch_size=4).first_batch()
    np.testing.assert_allclose(sw.numpy(), [0.5, 20.0, 3.0, 2.0])


def test_class_weight_matches_keras(keras):
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    y = np.random.randint(0, 5, size=40)
    cw = {0: 0.1, 1: 2.0, 3: 4.0}
    _, _, sw = ArrayAdapter(np.zeros((40, 2), "float32"), y, class_weight=cw, batch_size=40).first_batch()
    np.testing.assert_allclose(sw.numpy(), class_weight_to_sample_weights(y, cw))
    y_col = y[:, None]  # labels of shape (n, 1)
    _, _, sw = ArrayAdapter(np.zeros((40, 2), "float32"), y_col, class_weight=cw, batch_size=40).first_batch()
    np.testing.assert_allclose(sw.numpy(), class_weight_to_sample_weights(y_col, cw))


def test_class_weight_needs_a_single_target():
    x, y = data(4)
    with pytest.raises(DataError, match="single target"):
        ArrayAdapter(x, [y, y], class_weight={0: 1.0})


# ----------------------------------------------------------------------------------------------- split_arrays
@pytest.mark.parametrize(("n", "fraction"), [(10, 0.2), (10, 0.25), (7, 0.3), (100, 0.1)])
def test_split_arrays_takes_the_last_fraction_like_keras(keras, n, fraction):
    from keras.src.trainers.data_adapters.array_slicing import train_validation_split

    x = torch.arange(n * 2).reshape(n, 2)
    y = torch.arange(n)
    (tx, ty, tsw), (vx, vy, vsw) = split_arrays(x, y, None, fraction)
    (kx, ky), (kvx, kvy) = train_validation_split((x.numpy(), y.numpy()), validation_split=fraction)
    np.testing.assert_array_equal(tx.numpy(), kx)
    np.testing.assert_array_equal(vy.numpy(), kvy)
    assert ty.tolist() == list(range(len(ty))) and vy.tolist() == list(range(len(ty), n))
    assert tsw is None and vsw is None
    assert len(vx) == len(kvx) > 0


def test_split_arrays_with_structures_and_sample_weights():
    x = {"a": torch.arange(10), "b": torch.arange(10) * 10}
    y = [torch.arange(10)]
    sw = torch.linspace(0, 1, 10)
    (tx, ty, tsw), (vx, vy, vsw) = split_arrays(x, y, sw, 0.3)
    assert tx["b"].tolist() == [0, 10, 20, 30, 40, 50, 60] and vx["a"].tolist() == [7, 8, 9]
    assert vy[0].tolist() == [7, 8, 9]
    torch.testing.assert_close(vsw, sw[7:])


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5, 0.99])
def test_split_arrays_rejects_splits_that_leave_a_side_empty(fraction):
    with pytest.raises(DataError, match="validation_split"):
        split_arrays(torch.arange(10), torch.arange(10), None, fraction)


# ----------------------------------------------------------------------------------------------- errors
def test_mismatched_lengths_list_each_array():
    with pytest.raises(DataError) as info:
        ArrayAdapter(np.zeros((10, 2)), np.zeros(9), sample_weight=np.ones(10))
    message = str(info.value)
    assert "x: 10" in message and "y: 9" in message and "sample_weight: 10" in message


def test_object_arrays_are_rejected_with_a_fix():
    ragged = np.array([[1, 2], [3]], dtype=object)
    with pytest.raises(DataError, match="object") as info:
        ArrayAdapter(ragged, np.zeros(2))
    assert "pad" in str(info.value) or "numeric" in str(info.value)
    with pytest.raises(DataError, match="numbers"):  # string targets: no (x strings go to a first layer)
        ArrayAdapter(np.zeros(2), np.array(["a", "b"]))


def test_string_inputs_stay_numpy_batches_for_a_first_layer_that_takes_them():
    x = np.array(["a b", "c", "d e", "f"])
    adapter = ArrayAdapter(x, np.arange(4), batch_size=3, shuffle=True)
    batches = list(adapter.epoch())
    assert [type(b[0]) for b in batches] == [np.ndarray, np.ndarray]
    seen = np.concatenate([b[0] for b in batches])
    labels = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == sorted(x.tolist())
    assert [x.tolist().index(s) for s in seen.tolist()] == labels.tolist()  # rows and labels stay paired
    streamed = ArrayAdapter(x, np.arange(4), batch_size=3, stream=True)
    assert [b[0].tolist() for b in streamed.epoch()] == [["a b", "c", "d e"], ["f"]]
    mixed = np.array(["a", 1], dtype=object)
    with pytest.raises(DataError, match="object"):
        ArrayAdapter(mixed, np.zeros(2))


def test_empty_data_is_rejected():
    with pytest.raises(DataError, match="empty"):
        ArrayAdapter(np.zeros((0, 3)), np.zeros(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values_are_rejected(bad):
    x = np.ones((5, 3), "float32")
    x[3, 1] = bad
    with pytest.raises(DataError, match="NaN or infinite"):
        ArrayAdapter(x, np.zeros(5))
    y = np.ones((5, 1), "float32")
    y[0, 0] = bad
    with pytest.raises(DataError, match="y contains 1 NaN"):
        ArrayAdapter(np.ones((5, 3)), y)


def test_finite_values_whose_sum_overflows_are_accepted():
    x = np.full((4, 2), 3e38, "float32")  # the sum overflows to inf; the values are finite
    ArrayAdapter(x, np.zeros(4))


@pytest.mark.parametrize("scalar", [torch.tensor(1.0), np.float32(1.0), np.array(1.0)], ids=["torch", "np-scalar",
                                                                                              "np-0d"])
def test_scalar_data_is_rejected(scalar):
    with pytest.raises(DataError, match="scalar"):
        ArrayAdapter(scalar, np.zeros(1))


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_bad_batch_size(bad):
    with pytest.raises(DataError, match="batch_size"):
        ArrayAdapter(*data(4), batch_size=bad)


# ----------------------------------------------------------------------------------------------- iterables
def test_dataset_is_batched_by_a_dataloader():
    x, y = torch.randn(10, 3), torch.arange(10)
    adapter = make_adapter(TensorDataset(x, y), batch_size=4)
    assert isinstance(adapter, IterableAdapter)
    assert adapter.num_batches == 3
    batches = list(adapter.epoch())
    assert [b[0].shape[0] for b in batches] == [4, 4, 2]
    torch.testing.assert_close(torch.cat([b[0] for b in batches]), x)
    assert list(adapter.epoch())  # a DataLoader is re-iterable


def test_dataloader_batches_are_unpacked_and_converted():
    x = torch.randn(6, 2, dtype=torch.float64)
    y = torch.arange(6, dtype=torch.int32)
    loader = DataLoader(TensorDataset(x, y, torch.ones(6)), batch_size=4)
    adapter = make_adapter(loader)
    xb, yb, swb = next(iter(adapter.epoch()))
    assert xb.dtype == torch.float32 and yb.dtype == torch.int64 and swb.shape == (4,)
    assert adapter.num_batches == 2


@pytest.mark.parametrize("kind", ["dataloader", "generator"])
def test_batch_size_with_batched_data_is_ignored_as_keras(kind, keras):
    # Keras ignores fit(batch_size=...) when the data yields whole batches; lamina does too, without a warning.
    def source():
        if kind == "dataloader":
            return DataLoader(TensorDataset(torch.ones(6, 2), torch.zeros(6, 1)), batch_size=2)
        return ((np.ones((2, 2), "float32"), np.zeros((2, 1), "float32")) for _ in range(3))

    adapter = make_adapter(source(), batch_size=5)
    assert [tuple(b[0].shape) for b in adapter.epoch()] == [(2, 2)] * 3
    ref = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    ref.compile("sgd", "mse")
    ref.fit(source(), batch_size=5, epochs=1, verbose=0)  # Keras: no error


def test_y_or_class_weight_with_an_iterable_is_an_error():
    loader = DataLoader(TensorDataset(torch.zeros(4, 2), torch.zeros(4)), batch_size=2)
    with pytest.raises(DataError, match="do not pass y"):
        make_adapter(loader, y=np.zeros(4))
    with pytest.raises(DataError, match="class_weight"):
        make_adapter(loader, class_weight={0: 1.0})


def test_generator_first_batch_is_peeked_not_lost():
    def gen():
        for i in range(3):
            yield np.full((2, 1), i, "float32"), np.full(2, i)

    adapter = make_adapter(gen())
    assert adapter.num_batches is None and adapter.one_shot
    fx, fy, _ = unpack_x_y_sample_weight(adapter.first_batch())
    assert fy.tolist() == [0, 0]
    assert [b[1].tolist() for b in adapter.epoch()] == [[0, 0], [1, 1], [2, 2]]


def test_generator_without_steps_runs_one_epoch_then_is_exhausted():
    # The adapter marks the one-shot generator as used up; fit() warns (tested in tests/training).
    def gen():
        for i in range(3):
            yield np.full((2, 1), i, "float32"), np.full(2, i)

    adapter = make_adapter(gen())
    assert len(list(adapter.epoch())) == 3
    assert adapter.exhausted
    assert list(adapter.epoch()) == []


def test_generator_with_steps_per_epoch_continues_across_epochs():
    def gen():
        i = 0
        while True:
            yield np.full((2, 1), i, "float32"), np.full(2, i)
            i += 1

    adapter = make_adapter(gen(), steps_per_epoch=3)
    assert adapter.num_batches == 3
    assert [int(b[1][0]) for b in adapter.epoch()] == [0, 1, 2]
    assert [int(b[1][0]) for b in adapter.epoch()] == [3, 4, 5]


def test_empty_iterable_is_an_error():
    adapter = make_adapter(iter([]))
    with pytest.raises(DataError, match="empty"):
        adapter.first_batch()


def test_make_adapter_choices():
    x, y = data(4)
    assert isinstance(make_adapter(x, y), ArrayAdapter)
    assert isinstance(make_adapter({"a": x}, y), ArrayAdapter)
    assert isinstance(make_adapter([x, x], y), ArrayAdapter)
    nested = make_adapter([[1.0, 2.0], [3.0, 4.0]], np.array([0, 1]))  # a nested list of numbers is one array
    assert isinstance(nested, ArrayAdapter) and nested.first_batch()[0].shape == (2, 2)
    assert isinstance(make_adapter(TensorDataset(torch.zeros(2))), IterableAdapter)
    with pytest.raises(DataError, match="No data"):
        make_adapter(None)


@pytest.mark.parametrize(("batch", "expected"), [
    ("x", ("x", None, None)),
    (("x",), ("x", None, None)),
    (("x", "y"), ("x", "y", None)),
    (["x", "y", "w"], ("x", "y", "w")),
])
def test_unpack_x_y_sample_weight(batch, expected):
    assert tuple(unpack_x_y_sample_weight(batch)) == expected


def test_unpack_rejects_long_tuples():
    with pytest.raises(DataError, match="4 items"):
        unpack_x_y_sample_weight((1, 2, 3, 4))


# ----------------------------------------------------------------------------- streaming (predict, big data)
def test_streaming_keeps_the_data_as_given_and_converts_each_batch():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(10, 4), dtype=np.uint8)
    y = rng.integers(0, 3, size=(10,)).astype(np.int32)
    streamed = ArrayAdapter(x, y, batch_size=4, stream=True)
    resident = ArrayAdapter(x, y, batch_size=4)
    assert streamed.streaming and not resident.streaming
    assert streamed.x.dtype == torch.uint8 and resident.x.dtype == torch.float32  # no float copy of it all
    assert np.shares_memory(streamed.x.numpy(), x)
    for a, b in zip(streamed.epoch(), resident.epoch(), strict=True):
        assert a[0].dtype == b[0].dtype == torch.float32 and a[1].dtype == b[1].dtype == torch.int64
        torch.testing.assert_close(a[0], b[0])
        torch.testing.assert_close(a[1], b[1])


def test_predict_fills_one_preallocated_array():
    import lamina

    model = lamina.Sequential([lamina.layers.Input(shape=(4,)), lamina.layers.Dense(2)])
    x = np.random.default_rng(1).normal(size=(10, 4)).astype("float32")
    out = model.predict(x, batch_size=3, verbose=0)
    assert out.shape == (10, 2) and out.dtype == np.float32
    np.testing.assert_allclose(out, model(torch.from_numpy(x)).detach().numpy(), rtol=1e-6)


def test_predict_passes_nan_through_like_keras_while_fit_refuses_it():
    import lamina

    model = lamina.Sequential([lamina.layers.Input(shape=(2,)), lamina.layers.Dense(1)])
    x = np.array([[1.0, 2.0], [np.nan, 0.0]], dtype="float32")
    out = model.predict(x, verbose=0)  # no whole-array check before a one-pass predict
    assert np.isfinite(out[0]).all() and np.isnan(out[1]).all()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(DataError, match="NaN or infinite"):
        model.fit(x, np.zeros((2, 1), "float32"), verbose=0)


# ----------------------------------------------------------------------------------------------- input edge cases
@pytest.mark.parametrize("where", ["x", "y", "sample_weight"])
def test_a_meta_tensor_is_refused_before_any_work(where):
    arrays = {"x": torch.zeros(8, 3), "y": torch.zeros(8, 1), "sample_weight": torch.ones(8)}
    arrays[where] = torch.empty(arrays[where].shape, device="meta")
    with pytest.raises(DataError, match=rf"{where} is a tensor on PyTorch's 'meta' device.*no values.*to_empty"):
        ArrayAdapter(arrays["x"], arrays["y"], arrays["sample_weight"])
    loader = [(torch.empty(4, 3, device="meta"), torch.zeros(4, 1))]
    with pytest.raises(DataError, match="'meta' device"):
        IterableAdapter(loader).first_batch()


def _keras_sizes(keras, x, y):
    """The sizes Keras 3's fit reports for mismatched arrays: {'x': [...], 'y': [...]}."""
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError) as error:
        model.fit(x, y, verbose=0)
    import re

    return {k: [int(s) for s in v.split(", ")] for k, v in re.findall(r"'(\w+)' sizes: ([\d, ]+)", str(error.value))}


def test_mismatched_lengths_name_each_array_with_its_own_length(keras):
    # a list of 64 samples of 784 values, passed as a list: read as 64 inputs (as in Keras), the error must
    # name the 64 arrays' length (784) and y's (64), not "x: 784, y: 64" as if x had 784 samples
    samples = [np.zeros(784, "float32")] * 64
    with pytest.raises(DataError) as error:
        ArrayAdapter(samples, np.zeros(64))
    message = str(error.value)
    assert "x[0] .. x[63]: 784 each, y: 64" in message and "np.stack(x)" in message
    assert _keras_sizes(keras, samples, np.zeros(64)) == {"x": [784] * 64, "y": [64]}  # the same lengths

    ragged = [np.zeros(784, "float32"), np.zeros(64, "float32")]
    with pytest.raises(DataError, match=r"got x\[0\]: 784, x\[1\]: 64, y: 2\. .*pad_sequences"):
        ArrayAdapter(ragged, np.zeros(2))
    assert _keras_sizes(keras, ragged, np.zeros(2)) == {"x": [784, 64], "y": [2]}

    with pytest.raises(DataError, match=r"got x\['a'\]: 5, x\['b'\]: 6, y: 5, sample_weight: 4\. Check that x"):
        ArrayAdapter({"b": np.zeros((6, 2)), "a": np.zeros((5, 2))}, np.zeros(5), sample_weight=np.ones(4))


def test_a_class_weight_class_that_never_occurs_warns_once():
    x, y = np.zeros((6, 1), "float32"), np.array([0, 1, 2, 1, 0, 2])
    with pytest.warns(UserWarning, match=r"class_weight names class\(es\) \[-1, 7\] that never occur in y "
                                         r"\(its classes: \[0, 1, 2\]\)") as record:
        _, _, sw = ArrayAdapter(x, y, class_weight={0: 0.5, 7: 3.0, -1: 9.0}, batch_size=6).first_batch()
    assert len([w for w in record if "class_weight" in str(w.message)]) == 1
    np.testing.assert_allclose(sw.numpy(), [0.5, 1.0, 1.0, 1.0, 0.5, 1.0])  # -1 is no class: not the last one
    one_hot = np.eye(4, dtype="float32")[[0, 1, 1, 0, 0, 1]]  # columns 2 and 3 never set
    with pytest.warns(UserWarning, match=r"\[3\] that never occur"):
        ArrayAdapter(x, one_hot, class_weight={1: 2.0, 3: 5.0})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ArrayAdapter(x, y, class_weight={0: 0.5, 1: 2.0, 2: 3.0})  # every class occurs: silent
        ArrayAdapter(x, y, class_weight={7: 3.0}, one_batch=True)  # one batch (train_on_batch): no news


def test_steps_per_epoch_beyond_one_pass_gives_one_whole_pass_per_epoch_as_keras():
    # Keras 3 (its EpochIterator): with steps_per_epoch=5 over 3 batches, each epoch gets the 3 batches of a new
    # pass and warns that the input ran out of data (tests/training checks the warning and Keras's step count)
    x, y = data(10)
    for shuffle in (False, True):
        adapter = ArrayAdapter(x, y, batch_size=4, steps_per_epoch=5, shuffle=shuffle)
        assert adapter.num_batches == 5  # Keras's params["steps"]
        for _ in range(2):
            epoch = [b[1].tolist() for b in adapter.epoch()]
            assert len(epoch) == 3 and sorted(sum(epoch, [])) == list(range(10))
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    adapter = make_adapter(loader, steps_per_epoch=5)
    for _ in range(2):
        assert [b[1].tolist() for b in adapter.epoch()] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_steps_per_epoch_within_a_pass_still_continues_the_pass_across_epochs():
    x, y = data(10)
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    adapter = make_adapter(loader, steps_per_epoch=2)
    assert [b[1].tolist() for b in adapter.epoch()] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert [b[1].tolist() for b in adapter.epoch()] == [[8, 9], [0, 1, 2, 3]]  # end of the pass, then a new one
    assert [b[1].tolist() for b in adapter.epoch()] == [[4, 5, 6, 7], [8, 9]]
