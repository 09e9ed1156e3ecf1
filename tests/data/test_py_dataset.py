"""``lamina.utils.PyDataset`` (and its alias ``Sequence``) against Keras's: the constructor's settings, the
batches fit/evaluate/predict take from it, on_epoch_begin/on_epoch_end after every pass, shuffling of the batch
order, batch_size ignored, workers reading batches on threads, endless datasets with steps_per_epoch."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lamina
from lamina.data.adapters import DataError, make_adapter
from lamina.data.py_dataset import EpochBatches


def make_class(base, n=5, batch=2, kind="xy", endless=False):
    class Data(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.calls, self.begins, self.ends, self.threads = [], 0, 0, set()

        def __getitem__(self, i):
            if endless and i >= n:
                raise IndexError(i)
            self.calls.append(i)
            self.threads.add(threading.get_ident())
            x = np.full((batch, 3), float(i), "float32")
            y = np.full((batch, 1), float(i % 2), "float32")
            return {"x": x, "xy": (x, y), "xyw": (x, y, np.ones(batch, "float32"))}[kind]

        def on_epoch_begin(self):
            self.begins += 1

        def on_epoch_end(self):
            self.ends += 1

    if not endless:
        Data.__len__ = lambda self: n
    else:
        Data.num_batches = property(lambda self: None)
    return Data


def model_for(lib):
    m = lib.Sequential([lib.Input((3,)), lib.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def test_names_and_alias(keras):
    assert lamina.utils.PyDataset.__name__ == keras.utils.PyDataset.__name__
    assert (lamina.utils.Sequence is lamina.utils.PyDataset) == (keras.utils.Sequence is keras.utils.PyDataset)


@pytest.mark.parametrize("kwargs", [{}, {"workers": 3}, {"workers": 2, "use_multiprocessing": True,
                                                          "max_queue_size": 4}])
def test_constructor_settings_match_keras(kwargs, keras):
    ours, ref = make_class(lamina.utils.PyDataset)(**kwargs), make_class(keras.utils.PyDataset)(**kwargs)
    for name in ("workers", "use_multiprocessing", "max_queue_size", "num_batches"):
        assert getattr(ours, name) == getattr(ref, name), name


def test_num_batches_without_len_is_an_error_as_in_keras(keras):
    class Ours(lamina.utils.PyDataset):
        def __getitem__(self, i):
            return np.zeros((1, 3))

    class Ref(keras.utils.PyDataset):
        def __getitem__(self, i):
            return np.zeros((1, 3))

    with pytest.raises(NotImplementedError):
        _ = Ref().num_batches
    with pytest.raises(NotImplementedError, match="num_batches"):
        _ = Ours().num_batches


@pytest.mark.parametrize("kind", ["xy", "xyw"])
@pytest.mark.parametrize("workers", [1, 3])
def test_fit_takes_every_batch_each_epoch_and_calls_the_epoch_hooks(kind, workers, keras):
    epochs = 2
    ours = make_class(lamina.utils.PyDataset, kind=kind)(workers=workers)
    ref = make_class(keras.utils.PyDataset, kind=kind)(workers=workers)
    history = model_for(lamina).fit(ours, epochs=epochs, verbose=0)
    ref_history = model_for(keras).fit(ref, epochs=epochs, verbose=0)
    assert len(history.history["loss"]) == len(ref_history.history["loss"]) == epochs
    # every batch once per epoch (Keras also reads one batch ahead to look at it: compare the sets)
    assert sorted(set(ours.calls)) == sorted(set(ref.calls)) == list(range(5))
    assert len(ours.calls) >= 5 * epochs
    assert ours.ends >= epochs and ref.ends >= epochs
    assert ours.begins >= epochs and ref.begins >= epochs


def test_fit_shuffles_the_batch_order_and_shuffle_false_keeps_it(keras):
    lamina.utils.set_random_seed(0)
    ours = make_class(lamina.utils.PyDataset, n=8)()
    model_for(lamina).fit(ours, epochs=3, verbose=0)
    assert any(ours.calls[i:i + 8] != list(range(8)) for i in range(0, len(ours.calls) - 7, 8))
    ordered = make_class(lamina.utils.PyDataset, n=8)()
    model_for(lamina).fit(ordered, epochs=2, shuffle=False, verbose=0)
    ref = make_class(keras.utils.PyDataset, n=8)()
    model_for(keras).fit(ref, epochs=2, shuffle=False, verbose=0)
    assert ordered.calls[-8:] == ref.calls[-8:] == list(range(8))


@pytest.mark.parametrize("workers", [1, 2])
def test_evaluate_and_predict_match_keras(workers, keras):
    ours = make_class(lamina.utils.PyDataset, kind="xy")(workers=workers)
    ref = make_class(keras.utils.PyDataset, kind="xy")(workers=workers)
    m, k = model_for(lamina), model_for(keras)
    k.set_weights(m.get_weights())
    np.testing.assert_allclose(m.evaluate(ours, verbose=0), k.evaluate(ref, verbose=0), rtol=1e-5)
    xs = make_class(lamina.utils.PyDataset, kind="x")(workers=workers)
    kxs = make_class(keras.utils.PyDataset, kind="x")(workers=workers)
    np.testing.assert_allclose(m.predict(xs, verbose=0), k.predict(kxs, verbose=0), rtol=1e-5)
    assert xs.ends >= 1 and kxs.ends >= 1


def test_batch_size_is_ignored_as_in_keras(keras):
    ours = make_class(lamina.utils.PyDataset)()
    ref = make_class(keras.utils.PyDataset)()
    model_for(keras).fit(ref, batch_size=7, verbose=0)
    m = model_for(lamina)
    m.fit(ours, batch_size=7, verbose=0)
    assert int(m.optimizer.iterations) == 5


def test_y_with_a_pydataset_is_an_error():
    with pytest.raises(DataError, match="do not pass y"):
        make_adapter(make_class(lamina.utils.PyDataset)(), y=np.zeros(10))


def test_steps_per_epoch_with_an_endless_dataset():
    data = make_class(lamina.utils.PyDataset, n=100, endless=True)()
    m = model_for(lamina)
    m.fit(data, steps_per_epoch=3, epochs=2, verbose=0)
    assert int(m.optimizer.iterations) == 6
    assert data.calls[:6] == list(range(6))


def test_workers_read_on_threads_in_order():
    data = make_class(lamina.utils.PyDataset, n=12)(workers=4, max_queue_size=3)
    batches = list(EpochBatches(data))
    assert [int(x[0, 0]) for x, _ in batches] == list(range(12))
    assert threading.get_ident() not in data.threads
    assert data.begins == data.ends == 1


def test_an_error_in_getitem_reaches_the_caller():
    class Broken(lamina.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            raise KeyError("bad batch")

    for workers in (1, 2):
        with pytest.raises(KeyError, match="bad batch"):
            model_for(lamina).fit(Broken(workers=workers), verbose=0)
