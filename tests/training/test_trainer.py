"""The training loops (fit/evaluate/predict and the *_on_batch methods) with every kind of input, against
plain-PyTorch training loops, closed forms and Keras 3 (torch backend)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

import lamina
from lamina import layers
from lamina.callbacks import Callback, History
from lamina.optimizers import SGD, Adam, AdamW, RMSprop

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras.*")

N, D_IN, D_HID, D_OUT = 10, 4, 6, 3


# ----------------------------------------------------------------------------------------------- helpers
def init_weights(seed=0, d_in=D_IN, d_hid=D_HID, d_out=D_OUT):
    rng = np.random.default_rng(seed)
    shapes = [(d_in, d_hid), (d_hid,), (d_hid, d_out), (d_out,)]  # Keras layout: kernel (in, out)
    return [rng.normal(scale=0.5, size=s).astype("float32") for s in shapes]


def mlp(weights=None, activation=None, first=()):
    """Input -> [first layers] -> Dense(tanh) -> Dense(activation), with the given (Keras-layout) weights."""
    model = lamina.Sequential([layers.Input((D_IN,)), *first, layers.Dense(D_HID, activation="tanh"),
                               layers.Dense(D_OUT, activation=activation)])
    model.set_weights(weights if weights is not None else init_weights())
    return model


def regression_data(n=N, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D_IN)).astype("float32"), rng.normal(size=(n, D_OUT)).astype("float32")


def class_data(n=N, seed=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, D_IN)).astype("float32"), rng.integers(0, D_OUT, size=n)


def torch_forward(params, x):
    w1, b1, w2, b2 = params
    return torch.tanh(x @ w1 + b1) @ w2 + b2


def torch_sgd_epochs(weights, x, y, loss_fn, lr, batch_size, epochs=1, sample_weight=None):
    """The plain-PyTorch loop lamina's fit should equal: same batches, same order, SGD without momentum.
    Returns the final weights and, per epoch, the list of (batch loss, batch size)."""
    params = [torch.tensor(w, requires_grad=True) for w in weights]
    opt = torch.optim.SGD(params, lr=lr)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    sw = None if sample_weight is None else torch.as_tensor(sample_weight, dtype=torch.float32)
    history = []
    for _ in range(epochs):
        batches = []
        for s in range(0, len(x), batch_size):
            xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            loss = loss_fn(torch_forward(params, xb), yb, None if sw is None else sw[s:s + batch_size])
            opt.zero_grad()
            loss.backward()
            opt.step()
            batches.append((loss.item(), len(xb)))
        history.append(batches)
    return [p.detach().numpy() for p in params], history


def mse(out, y, sw=None):
    per_sample = ((out - y) ** 2).mean(-1)
    return per_sample.mean() if sw is None else (per_sample * sw).sum() / len(per_sample)


def sparse_ce_logits(out, y, sw=None):
    per_sample = F.cross_entropy(out, y.long(), reduction="none")
    return per_sample.mean() if sw is None else (per_sample * sw).sum() / len(per_sample)


def weighted_mean(batches):
    return sum(loss * size for loss, size in batches) / sum(size for _, size in batches)


def assert_weights_equal(got, expected, atol=1e-5, rtol=0.0):
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, atol=atol, rtol=rtol)


class Recorder(layers.Layer):
    """Passes x through; records x[:, 0] (sample ids) of every training-mode call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seen: list = []

    def call(self, x, training=None):
        if training:
            self.seen.append(x[:, 0].detach().round().long().tolist())
        return x


def ids_data(n=N):
    x = np.random.default_rng(3).normal(size=(n, D_IN)).astype("float32")
    x[:, 0] = np.arange(n)
    return x, np.zeros((n, D_OUT), "float32")


# ----------------------------------------------------------------------------------------------- oracle: plain torch
@pytest.mark.parametrize(("loss", "torch_loss", "data"), [
    ("mse", mse, regression_data),
    (lamina.losses.SparseCategoricalCrossentropy(from_logits=True), sparse_ce_logits, class_data),
], ids=["mse", "sparse_ce_logits"])
def test_one_epoch_of_sgd_equals_a_plain_pytorch_loop(loss, torch_loss, data):
    x, y = data()
    w0 = init_weights()
    model = mlp(w0)
    model.compile(optimizer=SGD(learning_rate=0.1), loss=loss)
    history = model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    expected, ref = torch_sgd_epochs(w0, x, y, torch_loss, lr=0.1, batch_size=4)
    assert_weights_equal(model.get_weights(), expected, atol=1e-5)
    assert not np.allclose(model.get_weights()[0], w0[0])
    # the epoch loss is the mean of the batch losses weighted by batch size (4, 4, 2), not their plain mean
    assert history.history["loss"][0] == pytest.approx(weighted_mean(ref[0]), abs=1e-5)
    assert weighted_mean(ref[0]) != pytest.approx(np.mean([b for b, _ in ref[0]]), abs=1e-4)


def test_several_epochs_without_shuffle_equal_the_plain_pytorch_loop():
    x, y = regression_data()
    w0 = init_weights()
    model = mlp(w0)
    model.compile(optimizer=SGD(learning_rate=0.05), loss="mse")
    history = model.fit(x, y, batch_size=3, epochs=3, shuffle=False, verbose=0)
    expected, ref = torch_sgd_epochs(w0, x, y, mse, lr=0.05, batch_size=3, epochs=3)
    assert_weights_equal(model.get_weights(), expected)
    np.testing.assert_allclose(history.history["loss"], [weighted_mean(e) for e in ref], atol=1e-5)
    assert model.optimizer.iterations == 3 * 4


# ----------------------------------------------------------------------------------------------- input kinds
def _fit_weights(make_input, epochs=1, **fit_kwargs):
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(*make_input(x, y), epochs=epochs, verbose=0, **fit_kwargs)
    return model.get_weights(), history.history["loss"]


def _gen(x, y, bs=4):
    for s in range(0, len(x), bs):
        yield x[s:s + bs], y[s:s + bs]


INPUT_KINDS = {
    "torch": (lambda x, y: (torch.tensor(x), torch.tensor(y)), {"batch_size": 4, "shuffle": False}),
    "dataset": (lambda x, y: (TensorDataset(torch.tensor(x), torch.tensor(y)),), {"batch_size": 4, "shuffle": False}),
    "dataloader": (lambda x, y: (DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4),), {}),
    "generator": (lambda x, y: (_gen(x, y),), {}),
    "float64": (lambda x, y: (x.astype("float64"), y.astype("float64")), {"batch_size": 4, "shuffle": False}),
}


@pytest.mark.parametrize("kind", list(INPUT_KINDS))
def test_every_input_kind_trains_like_numpy_arrays(kind):
    expected, expected_loss = _fit_weights(lambda x, y: (x, y), batch_size=4, shuffle=False)
    make, kwargs = INPUT_KINDS[kind]
    got, loss = _fit_weights(make, **kwargs)
    assert_weights_equal(got, expected, atol=1e-6)
    assert loss == pytest.approx(expected_loss, abs=1e-6)


@pytest.mark.parametrize("kind", ["torch", "dataset", "dataloader", "generator"])
def test_evaluate_and_predict_take_every_input_kind(kind):
    x, y = regression_data(11)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    expected_logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    expected_pred = model.predict(x, batch_size=4, verbose=0)
    xt, yt = torch.tensor(x), torch.tensor(y)
    make_xy = {"torch": lambda: ((xt, yt), {"batch_size": 4}),
               "dataset": lambda: ((TensorDataset(xt, yt),), {"batch_size": 4}),
               "dataloader": lambda: ((DataLoader(TensorDataset(xt, yt), batch_size=4),), {}),
               "generator": lambda: ((_gen(x, y),), {})}[kind]
    make_x = {"torch": lambda: ((xt,), {"batch_size": 4}),
              "dataset": lambda: ((TensorDataset(xt),), {"batch_size": 4}),
              "dataloader": lambda: ((DataLoader(TensorDataset(xt), batch_size=4),), {}),
              "generator": lambda: ((iter([x[s:s + 4] for s in range(0, 11, 4)]),), {})}[kind]
    args, kwargs = make_xy()
    logs = model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
    assert logs == pytest.approx(expected_logs, rel=1e-6)
    args, kwargs = make_x()
    np.testing.assert_allclose(model.predict(*args, verbose=0, **kwargs), expected_pred, atol=1e-6)


def test_dataloader_is_reiterated_every_epoch():
    x, y = regression_data()
    loader = DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)), batch_size=4)
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(loader, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.optimizer.iterations == 9
    expected, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=4, epochs=3)
    assert_weights_equal(model.get_weights(), expected)


def test_generator_with_steps_per_epoch_runs_every_epoch_and_continues_the_stream():
    x, y = regression_data(40)
    taken = []

    def forever():
        i = 0
        while True:
            s = (i % 10) * 4
            taken.append(i)
            yield x[s:s + 4], y[s:s + 4]
            i += 1

    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(forever(), steps_per_epoch=2, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.optimizer.iterations == 6
    assert taken[:6] == list(range(6))  # the peeked first batch was trained on, not dropped
    expected, _ = torch_sgd_epochs(init_weights(), x[:24], y[:24], mse, lr=0.1, batch_size=4)
    assert_weights_equal(model.get_weights(), expected)


def test_generator_without_steps_trains_one_epoch_then_warns_and_stops():
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    with pytest.warns(UserWarning, match="ran out of data"):
        history = model.fit(_gen(x, y), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1
    assert history.epoch == [0]
    assert model.optimizer.iterations == 3
    expected, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=4)
    assert_weights_equal(model.get_weights(), expected)


def test_generator_for_one_epoch_does_not_warn():
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = model.fit(_gen(x, y), epochs=1, verbose=0)
    assert history.epoch == [0] and model.optimizer.iterations == 3


def test_generator_of_sample_weighted_batches():
    x, y = regression_data()
    sw = np.linspace(0.0, 2.0, N).astype("float32")

    def gen():
        for s in range(0, N, 5):
            yield x[s:s + 5], y[s:s + 5], sw[s:s + 5]

    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    model.fit(gen(), verbose=0)
    expected, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=5, sample_weight=sw)
    assert_weights_equal(model.get_weights(), expected)


# ----------------------------------------------------------------------------------------------- multi-input/output
def two_in_two_out(seed=0):
    a = lamina.Input(shape=(3,), name="a")
    b = lamina.Input(shape=(2,), name="b")
    h = layers.Dense(5, activation="tanh", name="shared")(layers.Concatenate()([a, b]))
    cls = layers.Dense(4, activation="softmax", name="cls")(h)
    reg = layers.Dense(1, name="reg")(h)
    model = lamina.Model([a, b], [cls, reg])
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.get_weights()])
    return model


def multi_data(n=12):
    rng = np.random.default_rng(4)
    xa, xb = rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")
    return xa, xb, rng.integers(0, 4, size=n), rng.normal(size=(n, 1)).astype("float32")


def _compile_multi(model, **kwargs):
    model.compile(optimizer=SGD(learning_rate=0.1),
                  loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"},
                  loss_weights={"cls": 1.0, "reg": 0.5}, metrics={"cls": ["accuracy"], "reg": ["mae"]}, **kwargs)


@pytest.mark.parametrize("style", ["lists", "dicts", "tuples"])
def test_multi_input_multi_output_structures_train_the_same(style):
    xa, xb, yc, yr = multi_data()
    reference = two_in_two_out()
    _compile_multi(reference)
    ref_hist = reference.fit([xa, xb], [yc, yr], batch_size=5, shuffle=False, epochs=2, verbose=0)
    model = two_in_two_out()
    _compile_multi(model)
    x, y = {"lists": ([xa, xb], [yc, yr]), "dicts": ({"a": xa, "b": xb}, {"cls": yc, "reg": yr}),
            "tuples": ((torch.tensor(xa), torch.tensor(xb)), (torch.tensor(yc), torch.tensor(yr)))}[style]
    hist = model.fit(x, y, batch_size=5, shuffle=False, epochs=2, verbose=0)
    assert_weights_equal(model.get_weights(), reference.get_weights(), atol=1e-6)
    assert list(hist.history) == list(ref_hist.history)
    for key, values in ref_hist.history.items():
        assert hist.history[key] == pytest.approx(values, rel=1e-6), key


def test_multi_output_logs_and_evaluate_against_a_hand_computation():
    xa, xb, yc, yr = multi_data()
    model = two_in_two_out()
    _compile_multi(model)
    history = model.fit([xa, xb], [yc, yr], batch_size=5, epochs=2, verbose=0)
    assert list(history.history) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    for i in range(2):  # the total is the loss-weighted sum of the per-output losses, epoch by epoch
        h = history.history
        assert h["loss"][i] == pytest.approx(h["cls_loss"][i] + 0.5 * h["reg_loss"][i], rel=1e-5)

    logs = model.evaluate({"a": xa, "b": xb}, {"cls": yc, "reg": yr}, batch_size=5, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae"]
    probs, reg = model.predict([xa, xb], verbose=0)
    ce = -np.log(np.clip(probs[np.arange(len(yc)), yc], 1e-7, 1 - 1e-7)).mean()
    expected = {"cls_loss": ce, "reg_loss": ((reg - yr) ** 2).mean(), "cls_accuracy": (probs.argmax(-1) == yc).mean(),
                "reg_mae": np.abs(reg - yr).mean()}
    expected["loss"] = expected["cls_loss"] + 0.5 * expected["reg_loss"]
    for key, value in expected.items():
        assert logs[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    as_list = model.evaluate([xa, xb], [yc, yr], batch_size=5, verbose=0)
    assert as_list == pytest.approx(list(logs.values()))
    assert model.metrics_names == ["loss", "compile_metrics", "cls_loss", "reg_loss"]  # as Keras 3 names them


def test_predict_output_order_and_shapes_for_multi_output():
    xa, xb, _, _ = multi_data(11)
    model = two_in_two_out()
    out = model.predict([xa, xb], batch_size=4, verbose=0)
    assert isinstance(out, list) and [o.shape for o in out] == [(11, 4), (11, 1)]
    assert all(isinstance(o, np.ndarray) for o in out)
    with torch.no_grad():
        direct = model([torch.tensor(xa), torch.tensor(xb)])
    for o, d in zip(out, direct, strict=True):
        np.testing.assert_allclose(o, d.numpy(), atol=1e-6)
    for o, d in zip(model.predict_on_batch([xa, xb]), direct, strict=True):
        np.testing.assert_allclose(o, d.numpy(), atol=1e-6)


def test_predict_keeps_dict_outputs():
    a = lamina.Input(shape=(3,), name="a")
    model = lamina.Model(a, {"wide": layers.Dense(4)(a), "narrow": layers.Dense(1)(a)})
    x = np.random.default_rng(0).normal(size=(7, 3)).astype("float32")
    out = model.predict(x, batch_size=3, verbose=0)
    assert set(out) == {"wide", "narrow"}
    assert out["wide"].shape == (7, 4) and out["narrow"].shape == (7, 1)
    with torch.no_grad():
        direct = model(torch.tensor(x))
    np.testing.assert_allclose(out["narrow"], direct["narrow"].numpy(), atol=1e-6)


def test_predict_concatenates_batches_in_order():
    x, _ = regression_data(11)
    model = mlp()
    with torch.no_grad():
        direct = model(torch.tensor(x)).numpy()
    for kind in (x, torch.tensor(x), DataLoader(TensorDataset(torch.tensor(x)), batch_size=3)):
        out = model.predict(kind, batch_size=3 if not isinstance(kind, DataLoader) else None, verbose=0)
        np.testing.assert_allclose(out, direct, atol=1e-6)


@pytest.mark.parametrize("staged,flush_bytes", [(False, 0), (True, 1), (True, 200), (True, 1 << 30)])
def test_predict_outputs_collector_gathers_batches_into_one_host_array(staged, flush_bytes, monkeypatch):
    # staged: the path of accelerator batches (a staging buffer of flush_bytes; rows of 6 + 16 bytes: one
    # batch, 9 rows, everything), run here on CPU tensors
    from lamina.training.trainer import _Outputs

    monkeypatch.setattr(_Outputs, "staged_on", staticmethod(lambda t: staged))
    rng = np.random.default_rng(0)
    batches = [(torch.tensor(rng.normal(size=(n, 3)), dtype=torch.bfloat16), torch.arange(n * 2).reshape(n, 2))
               for n in (4, 4, 4, 2)]
    outputs = _Outputs(14, flush_bytes=flush_bytes)
    for a, b in batches:
        outputs.add({"a": a, "b": b})
    out = outputs.result()
    assert out["a"].dtype == np.float32 and out["b"].dtype == np.int64  # bfloat16 comes back as float32
    np.testing.assert_array_equal(out["a"], torch.cat([a for a, _ in batches]).float().numpy())
    np.testing.assert_array_equal(out["b"], torch.cat([b for _, b in batches]).numpy())
    unknown = _Outputs(None)  # rows unknown (a generator): concatenated at the end
    for a, _ in batches:
        unknown.add(a)
    np.testing.assert_array_equal(unknown.result(), out["a"])


def test_custom_test_and_predict_steps_run_without_gradients():
    seen = []

    class Probe(lamina.Sequential):
        def test_step(self, data):
            seen.append(("test", torch.is_grad_enabled()))
            return super().test_step(data)

        def predict_step(self, data):
            seen.append(("predict", torch.is_grad_enabled()))
            return super().predict_step(data)

    x, y = regression_data()
    model = Probe([layers.Input((D_IN,)), layers.Dense(D_OUT)])
    model.compile(optimizer="sgd", loss="mse")
    model.evaluate(x, y, batch_size=5, verbose=0)
    model.predict(x, batch_size=5, verbose=0)
    assert seen == [("test", False)] * 2 + [("predict", False)] * 2
    assert torch.is_grad_enabled()  # and restored afterwards


# ----------------------------------------------------------------------------------------------- validation
def test_validation_split_takes_the_last_fraction_before_shuffling():
    x, y = ids_data(10)
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, validation_split=0.3, batch_size=4, epochs=2, shuffle=True, verbose=0)
    trained = sorted({i for batch in recorder.seen for i in batch})
    assert trained == list(range(7))  # the last 30% is never trained on
    # val_loss is the loss of the final weights on exactly the last 3 samples
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x[7:], y[7:], verbose=0), rel=1e-6)
    assert history.history["val_loss"][-1] != pytest.approx(model.evaluate(x[:3], y[:3], verbose=0), rel=1e-3)


def test_validation_split_equals_training_on_the_first_part():
    x, y = regression_data(10)
    split = mlp()
    split.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    split.fit(x, y, validation_split=0.2, batch_size=4, shuffle=False, verbose=0)
    expected, _ = torch_sgd_epochs(init_weights(), x[:8], y[:8], mse, lr=0.1, batch_size=4)
    assert_weights_equal(split.get_weights(), expected)


@pytest.mark.parametrize("with_weights", [False, True])
def test_validation_data_tuples(with_weights):
    x, y = regression_data(10)
    vx, vy = regression_data(7, seed=9)
    vsw = np.linspace(0.1, 3.0, 7).astype("float32")
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    val = (vx, vy, vsw) if with_weights else (vx, vy)
    history = model.fit(x, y, validation_data=val, batch_size=4, epochs=2, verbose=0)
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert len(history.history["val_loss"]) == 2
    pred = model.predict(vx, verbose=0)
    per_sample = ((pred - vy) ** 2).mean(-1)
    expected = (per_sample * vsw).sum() / 7 if with_weights else per_sample.mean()
    assert history.history["val_loss"][-1] == pytest.approx(expected, rel=1e-5)
    assert history.history["val_mae"][-1] == pytest.approx(np.abs(pred - vy).mean(), rel=1e-5)  # unweighted
    # training is unaffected by validation
    expected_w, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=4, epochs=2)
    plain = mlp()
    plain.compile(optimizer=SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    plain.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert_weights_equal(plain.get_weights(), expected_w)


def test_validation_data_wins_over_validation_split():
    x, y = regression_data(10)
    vx, vy = regression_data(4, seed=5)
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, validation_data=(vx, vy), validation_split=0.5, batch_size=4, shuffle=False,
                        verbose=0)
    expected, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=4)
    assert_weights_equal(model.get_weights(), expected)  # all 10 samples trained on
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(vx, vy, verbose=0), rel=1e-6)


class LogKeys(Callback):
    def __init__(self):
        super().__init__()
        self.keys = {}

    def on_epoch_end(self, epoch, logs=None):
        self.keys[epoch] = sorted(logs)


def test_validation_freq():
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    rec = LogKeys()
    history = model.fit(x, y, validation_data=(x, y), validation_freq=2, epochs=5, verbose=0, callbacks=[rec])
    assert [e for e, keys in rec.keys.items() if "val_loss" in keys] == [1, 3]
    assert len(history.history["val_loss"]) == 2 and len(history.history["loss"]) == 5


# ----------------------------------------------------------------------------------------------- shuffle
def test_shuffle_false_keeps_order_every_epoch():
    x, y = ids_data(10)
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    assert recorder.seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2


def test_shuffle_true_permutes_differently_each_epoch():
    x, y = ids_data(20)
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=5, epochs=3, verbose=0)  # shuffle=True is the default
    epochs = [sum(recorder.seen[i:i + 4], []) for i in range(0, 12, 4)]
    for order in epochs:
        assert sorted(order) == list(range(20))
    assert epochs[0] != list(range(20)) and epochs[0] != epochs[1] != epochs[2]


def test_shuffle_batch_shuffles_whole_batches():
    x, y = ids_data(20)
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=5, epochs=3, shuffle="batch", verbose=0)
    blocks = [list(range(s, s + 5)) for s in range(0, 20, 5)]
    assert all(sorted(batch) in blocks for batch in recorder.seen)
    assert sorted(map(sorted, recorder.seen)) == sorted(blocks * 3)


# ----------------------------------------------------------------------------------------------- weights
def test_class_weight_step_equals_sample_weight_step_and_the_hand_computed_step():
    x, y = class_data(8)
    cw = {0: 0.2, 1: 3.0, 2: 1.5}
    sw = np.array([cw[int(c)] for c in y], "float32")
    w0 = init_weights()
    runs = {}
    for name, kwargs in (("class", {"class_weight": cw}), ("sample", {"sample_weight": sw})):
        model = mlp(w0)
        model.compile(optimizer=SGD(learning_rate=0.5), loss=lamina.losses.SparseCategoricalCrossentropy(
            from_logits=True))
        runs[name] = (model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, **kwargs), model)
    expected, ref = torch_sgd_epochs(w0, x, y, sparse_ce_logits, lr=0.5, batch_size=8, sample_weight=sw)
    unweighted, _ = torch_sgd_epochs(w0, x, y, sparse_ce_logits, lr=0.5, batch_size=8)
    for history, model in runs.values():
        assert_weights_equal(model.get_weights(), expected)
        assert history.history["loss"][0] == pytest.approx(ref[0][0][0], rel=1e-5)
    assert not np.allclose(expected[0], unweighted[0], atol=1e-4)  # the weights matter


def test_train_on_batch_with_class_weight():
    x, y = class_data(8)
    cw = {0: 0.2, 1: 3.0, 2: 1.5}
    sw = np.array([cw[int(c)] for c in y], "float32")
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.5), loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.train_on_batch(x, y, class_weight=cw)
    expected, ref = torch_sgd_epochs(init_weights(), x, y, sparse_ce_logits, lr=0.5, batch_size=8, sample_weight=sw)
    assert loss == pytest.approx(ref[0][0][0], rel=1e-5)
    assert_weights_equal(model.get_weights(), expected)


def test_evaluate_with_sample_weight_equals_the_weighted_formula():
    x, y = regression_data(11)
    sw = np.random.default_rng(0).uniform(0, 2, size=11).astype("float32")
    model = mlp()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"], weighted_metrics=["mae"])
    logs = model.evaluate(x, y, sample_weight=sw, batch_size=4, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    err = ((pred - y) ** 2).mean(-1)
    assert logs["loss"] == pytest.approx((err * sw).sum() / 11, rel=1e-5)
    assert logs["mae"] == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    weighted_key = [k for k in logs if k not in ("loss", "mae")]
    assert weighted_key == ["weighted_mae"]
    assert logs["weighted_mae"] == pytest.approx((np.abs(pred - y).mean(-1) * sw).sum() / sw.sum(), rel=1e-5)


# ----------------------------------------------------------------------------------------------- epochs and steps
class EpochRecorder(Callback):
    def __init__(self):
        super().__init__()
        self.begun = []

    def on_epoch_begin(self, epoch, logs=None):
        self.begun.append(epoch)


def test_initial_epoch():
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    rec = EpochRecorder()
    history = model.fit(x, y, epochs=4, initial_epoch=2, batch_size=4, verbose=0, callbacks=[rec])
    assert rec.begun == [2, 3]
    assert history.epoch == [2, 3]
    assert len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 3


@pytest.mark.parametrize(("epochs", "initial_epoch"), [(2, 2), (2, 5), (0, 0), (2, -1)])
def test_bad_epochs_are_rejected(epochs, initial_epoch):
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    w = model.get_weights()
    with pytest.raises(ValueError, match="initial_epoch"):
        model.fit(*regression_data(), epochs=epochs, initial_epoch=initial_epoch, verbose=0)
    assert_weights_equal(model.get_weights(), w, atol=0)


def test_steps_per_epoch_with_arrays_continues_across_epochs():
    x, y = ids_data(10)
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, batch_size=4, steps_per_epoch=2, epochs=3, shuffle=False, verbose=0)
    assert len(history.history["loss"]) == 3
    assert model.optimizer.iterations == 6
    assert recorder.seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9], [0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_history_contents():
    x, y = class_data(12)
    model = mlp(activation="softmax")
    model.compile(optimizer=SGD(learning_rate=0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, validation_data=(x, y), epochs=3, batch_size=4, verbose=0)
    assert isinstance(history, History) and model.history is history
    assert history.epoch == [0, 1, 2]
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    for values in history.history.values():
        assert len(values) == 3 and all(type(v) is float for v in values)
    assert all(0.0 <= a <= 1.0 for a in history.history["accuracy"])
    # the last val_loss is the loss of the final weights on the validation data
    assert history.history["val_loss"][-1] == pytest.approx(model.evaluate(x, y, verbose=0)[0], rel=1e-6)
    assert history.history["loss"][0] > history.history["loss"][-1]


class StopAt(Callback):
    def __init__(self, batch=None, epoch=None):
        super().__init__()
        self.batch, self.epoch = batch, epoch

    def on_train_batch_end(self, batch, logs=None):
        if batch == self.batch:
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.stop_training = True


def test_stop_training_from_a_callback():
    x, y = regression_data(20)
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[StopAt(epoch=1)])
    assert history.epoch == [0, 1] and model.optimizer.iterations == 10
    # set during a batch: that epoch ends after the batch (as in Keras 3) and training stops
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[StopAt(batch=1)])
    assert model.optimizer.iterations == 2 and history.epoch == [0]
    # a new fit starts again
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert model.optimizer.iterations == 7


def test_run_eagerly_is_accepted_and_trains_the_same():
    x, y = regression_data()
    runs = []
    for eager in (False, True):
        model = mlp()
        model.compile(optimizer=SGD(learning_rate=0.1), loss="mse", run_eagerly=eager)
        model.fit(x, y, batch_size=4, shuffle=False, epochs=2, verbose=0)
        runs.append(model.get_weights())
    assert_weights_equal(runs[0], runs[1], atol=0)


# ----------------------------------------------------------------------------------------------- evaluate / predict
def test_evaluate_equals_the_formula_over_all_samples_including_the_partial_batch():
    x, y = regression_data(11)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "mae"]
    pred = model.predict(x, verbose=0)
    assert logs["loss"] == pytest.approx(((pred - y) ** 2).mean(), rel=1e-5)
    assert logs["mae"] == pytest.approx(np.abs(pred - y).mean(), rel=1e-5)
    assert model.evaluate(x, y, batch_size=4, verbose=0) == pytest.approx([logs["loss"], logs["mae"]])
    only_loss = mlp()
    only_loss.compile(optimizer="sgd", loss="mse")
    value = only_loss.evaluate(x, y, verbose=0)
    assert isinstance(value, float) and value == pytest.approx(logs["loss"], rel=1e-6)


def test_evaluate_does_not_change_weights_or_accumulate_across_calls():
    x, y = regression_data()
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    w = model.get_weights()
    first = model.evaluate(x, y, verbose=0)
    second = model.evaluate(x, y, verbose=0)
    assert first == second
    assert_weights_equal(model.get_weights(), w, atol=0)
    assert model.evaluate(x[:3], y[:3], verbose=0) == pytest.approx(
        float((((model.predict(x[:3], verbose=0) - y[:3]) ** 2)).mean()), rel=1e-5)


def test_on_batch_methods():
    x, y = regression_data(6)
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse", metrics=["mae"])
    pred0 = model.predict_on_batch(x)
    with torch.no_grad():
        np.testing.assert_allclose(pred0, model(torch.tensor(x)).numpy(), atol=1e-6)
    before = model.test_on_batch(x, y, return_dict=True)
    assert before == pytest.approx({"loss": ((pred0 - y) ** 2).mean(), "mae": np.abs(pred0 - y).mean()}, rel=1e-5)
    loss, mae = model.train_on_batch(x, y)  # the logs of the batch before the update, as in Keras
    assert loss == pytest.approx(before["loss"], rel=1e-6) and mae == pytest.approx(before["mae"], rel=1e-6)
    expected, _ = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=6)
    assert_weights_equal(model.get_weights(), expected)
    after = model.test_on_batch(x, y, return_dict=True)
    assert after["loss"] < before["loss"]
    # and it does not accumulate across calls
    assert model.test_on_batch(x, y, return_dict=True) == after


# ----------------------------------------------------------------------------------------------- custom train_step
class CustomStep(lamina.Model):
    """Keras's 'customizing what happens in fit()' pattern (torch backend), on lamina."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.mae_tracker = lamina.metrics.MeanAbsoluteError(name="mae")
        self.steps_run = 0
        self.data_lengths = []

    def train_step(self, data):
        self.data_lengths.append(len(data))
        x, y = data[0], data[1]
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        trainable = list(self.trainable_weights)
        self.optimizer.apply([v.grad for v in trainable], trainable)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss.detach())
            else:
                metric.update_state(y, y_pred.detach())
        self.steps_run += 1
        return {m.name: m.result() for m in self.metrics}


def custom_step_model():
    inputs = lamina.Input((D_IN,))
    h = layers.Dense(D_HID, activation="tanh")(inputs)
    model = CustomStep(inputs, layers.Dense(D_OUT)(h))
    model.set_weights(init_weights())
    return model


def test_custom_train_step_keeps_callbacks_and_history_working():
    x, y = regression_data(12)
    model = custom_step_model()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    rec = EpochRecorder()
    history = model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[rec])
    assert model.steps_run == 6 and rec.begun == [0, 1]
    assert list(history.history) == ["loss", "mae"]
    expected, ref = torch_sgd_epochs(init_weights(), x, y, mse, lr=0.1, batch_size=4, epochs=2)
    assert_weights_equal(model.get_weights(), expected)
    # metrics are reset each epoch: the second epoch's loss is the mean of its own batch losses
    assert history.history["loss"] == pytest.approx([np.mean([b for b, _ in e]) for e in ref], rel=1e-5)


def test_train_step_receives_x_y_pairs_as_in_keras():
    # Keras packs batches as (x, y) when there are no sample weights, so `x, y = data` works in a custom step.
    x, y = regression_data(8)
    model = custom_step_model()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.fit(x, y, sample_weight=np.ones(8), batch_size=4, epochs=1, verbose=0)
    assert model.data_lengths == [2, 2, 3, 3]


class TwoOptimizerStep(lamina.Model):
    """A GAN-shaped custom step: two sub-models, two optimizers, own metrics, x-only data."""

    def __init__(self):
        super().__init__()
        self.gen = lamina.Sequential([layers.Input((2,)), layers.Dense(3)])
        self.disc = lamina.Sequential([layers.Input((3,)), layers.Dense(1)])
        self.d_loss = lamina.metrics.Mean(name="d_loss")
        self.g_loss = lamina.metrics.Mean(name="g_loss")
        self.noise = torch.Generator().manual_seed(5)

    def compile(self, d_optimizer, g_optimizer):
        super().compile()
        self.d_optimizer, self.g_optimizer = d_optimizer, g_optimizer

    def train_step(self, data):
        real, _, _ = lamina.utils.unpack_x_y_sample_weight(data)
        noise = torch.randn(real.shape[0], 2, generator=self.noise)
        d = F.softplus(-self.disc(real)).mean() + F.softplus(self.disc(self.gen(noise).detach())).mean()
        self.disc.zero_grad()
        d.backward()
        self.d_optimizer.apply([w.grad for w in self.disc.trainable_weights], self.disc.trainable_weights)
        g = F.softplus(-self.disc(self.gen(torch.randn(real.shape[0], 2, generator=self.noise)))).mean()
        self.gen.zero_grad()
        g.backward()
        self.g_optimizer.apply([w.grad for w in self.gen.trainable_weights], self.gen.trainable_weights)
        self.d_loss.update_state(d.detach())
        self.g_loss.update_state(g.detach())
        return {"d_loss": self.d_loss.result(), "g_loss": self.g_loss.result()}


def test_a_two_optimizer_custom_step_equals_the_same_loop_in_plain_pytorch(capsys):
    real = np.random.default_rng(0).normal(size=(12, 3)).astype("float32")
    model = TwoOptimizerStep()
    gen = torch.nn.Linear(2, 3)
    disc = torch.nn.Linear(3, 1)
    with torch.no_grad():  # the same initial weights (Keras kernels are (in, out))
        for ours, theirs in ((model.gen.layers[0], gen), (model.disc.layers[0], disc)):
            theirs.weight.copy_(ours.kernel.t())
            theirs.bias.copy_(ours.bias)
    model.compile(d_optimizer=SGD(0.1), g_optimizer=SGD(0.05))
    rec = EpochRecorder()
    history = model.fit(real, batch_size=4, epochs=2, shuffle=False, verbose=1, callbacks=[rec])

    noise = torch.Generator().manual_seed(5)
    d_opt, g_opt = torch.optim.SGD(disc.parameters(), 0.1), torch.optim.SGD(gen.parameters(), 0.05)
    expected = {"d_loss": [], "g_loss": []}
    for _ in range(2):
        d_losses, g_losses = [], []
        for s in range(0, 12, 4):
            xb = torch.from_numpy(real[s:s + 4])
            d = F.softplus(-disc(xb)).mean() + F.softplus(disc(gen(torch.randn(4, 2, generator=noise)).detach())).mean()
            d_opt.zero_grad()
            d.backward()
            d_opt.step()
            g = F.softplus(-disc(gen(torch.randn(4, 2, generator=noise)))).mean()
            g_opt.zero_grad()
            g.backward()
            g_opt.step()
            d_losses.append(d.item())
            g_losses.append(g.item())
        expected["d_loss"].append(np.mean(d_losses))
        expected["g_loss"].append(np.mean(g_losses))

    torch.testing.assert_close(model.gen.layers[0].kernel.detach(), gen.weight.detach().t())
    torch.testing.assert_close(model.disc.layers[0].kernel.detach(), disc.weight.detach().t())
    assert model.d_optimizer.iterations == model.g_optimizer.iterations == 6
    for key in ("d_loss", "g_loss"):  # metrics reset each epoch, History has each epoch's means
        assert history.history[key] == pytest.approx(expected[key], rel=1e-5)
    assert rec.begun == [0, 1]
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "d_loss:" in out and "g_loss:" in out


@pytest.mark.parametrize("which", ["kernel_l2", "kernel_l2_by_name", "bias_l1", "activity_l2"])
def test_compute_loss_adds_regularization_penalties_like_keras(keras, which):
    from lamina import regularizers

    def make(lib, regs):
        kwargs = {"kernel_l2": {"kernel_regularizer": regs.L2(0.1)}, "kernel_l2_by_name": {"kernel_regularizer": "l2"},
                  "bias_l1": {"bias_regularizer": regs.L1(0.2)}, "activity_l2": {"activity_regularizer": regs.L2(0.05)},
                  }[which]
        return lib.Sequential([lib.Input((D_IN,)), lib.layers.Dense(D_OUT, **kwargs)])

    ours, theirs = make(lamina, regularizers), make(keras, keras.regularizers)
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=w.shape).astype("float32") for w in ours.get_weights()]
    ours.set_weights(weights)
    theirs.set_weights(weights)
    ours.compile(optimizer="sgd", loss="mse")
    theirs.compile(optimizer="sgd", loss="mse")
    x, y = (torch.tensor(a) for a in regression_data(5))
    with torch.no_grad():
        pred = ours(x)
        got = float(ours.compute_loss(x=x, y=y, y_pred=pred))
    expected = float(keras.ops.convert_to_numpy(theirs.compute_loss(x=x, y=y, y_pred=theirs(x))))
    plain = float(((pred - y) ** 2).mean())
    assert expected != pytest.approx(plain, rel=1e-3)  # the penalty is there
    assert got == pytest.approx(expected, rel=1e-5)


def test_metrics_and_reset_metrics():
    x, y = class_data(12)
    model = mlp(activation="softmax")
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    # Keras 3: the loss tracker, then the compiled metrics' container
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    assert [m.name for m in model.metrics[1].metrics] == ["accuracy"]
    results = model.get_metrics_result()
    assert results["loss"] > 0 and set(results) == {"loss", "accuracy"}
    model.reset_metrics()
    assert float(model.metrics[0].result()) == 0.0 and float(model.metrics[1].result()["accuracy"]) == 0.0


# ----------------------------------------------------------------------------------------------- optimizers
@pytest.mark.parametrize(("name", "cls"), [("sgd", SGD), ("adam", Adam), ("adamw", AdamW), ("rmsprop", RMSprop),
                                           ("Adam", Adam), ("RMSprop", RMSprop)])
def test_optimizer_by_name(name, cls):
    model = mlp()
    model.compile(optimizer=name, loss="mse")
    assert type(model.optimizer) is cls
    w = model.get_weights()
    model.fit(*regression_data(), epochs=1, verbose=0)
    assert model.optimizer.iterations == 1
    assert not np.allclose(model.get_weights()[0], w[0])


def test_optimizer_object_is_used_as_given():
    opt = Adam(learning_rate=0.01)
    model = mlp()
    model.compile(optimizer=opt, loss="mse")
    assert model.optimizer is opt
    model.fit(*regression_data(), epochs=1, batch_size=4, verbose=0)
    assert opt.iterations == 3
    assert {id(p) for g in opt.torch_optimizer.param_groups for p in g["params"]} == {
        id(w) for w in model.trainable_weights}


class LrRecorder(Callback):
    def __init__(self):
        super().__init__()
        self.lrs, self.group_lrs = [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs.append(self.model.optimizer.learning_rate)
        self.group_lrs.append(self.model.optimizer.torch_optimizer.param_groups[0]["lr"])


def test_learning_rate_schedule_is_applied_per_step():
    x, y = regression_data(12)
    schedule = lambda step: 0.1 * 0.5 ** step  # noqa: E731
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=schedule), loss="mse")
    rec = LrRecorder()
    model.fit(x, y, batch_size=3, epochs=2, shuffle=False, verbose=0, callbacks=[rec])
    expected_lrs = [0.1 * 0.5 ** i for i in range(8)]
    assert rec.lrs == pytest.approx(expected_lrs) and rec.group_lrs == pytest.approx(expected_lrs)
    # and the updates used those rates: a plain loop with the same schedule
    params = [torch.tensor(w, requires_grad=True) for w in init_weights()]
    xt, yt = torch.tensor(x), torch.tensor(y)
    for i in range(8):
        s = (i % 4) * 3
        loss = mse(torch_forward(params, xt[s:s + 3]), yt[s:s + 3])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads, strict=True):
                p -= schedule(i) * g
    assert_weights_equal(model.get_weights(), [p.detach().numpy() for p in params])


KERAS_CASES = [
    ("SGD", {"learning_rate": 0.1}, 1e-6),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}, 1e-6),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}, 1e-6),
    # torch and Keras place epsilon differently (RMSprop: outside vs inside the root): make it negligible
    ("Adam", {"learning_rate": 0.01, "epsilon": 1e-12}, 1e-4),
    ("AdamW", {"learning_rate": 0.01, "weight_decay": 0.1, "epsilon": 1e-12}, 1e-4),
    ("RMSprop", {"learning_rate": 0.01, "epsilon": 1e-12}, 1e-4),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "epsilon": 1e-12}, 1e-4),
]


@pytest.mark.parametrize(("name", "kwargs", "rtol"), KERAS_CASES, ids=lambda v: str(v))
def test_fit_with_each_optimizer_matches_keras(keras, name, kwargs, rtol):
    x, y = regression_data(12)
    w0 = init_weights()
    theirs = keras.Sequential([keras.Input((D_IN,)), keras.layers.Dense(D_HID, activation="tanh"),
                               keras.layers.Dense(D_OUT)])
    theirs.set_weights(w0)
    theirs.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss="mse")
    k_hist = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    ours = mlp(w0)
    ours.compile(optimizer=getattr(lamina.optimizers, name)(**kwargs), loss="mse")
    hist = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    got, expected = ours.get_weights(), [np.asarray(w) for w in theirs.get_weights()]
    assert not np.allclose(got[0], w0[0])
    assert_weights_equal(got, expected, atol=1e-5, rtol=rtol)
    assert hist.history["loss"] == pytest.approx(k_hist.history["loss"], rel=1e-4)


# ----------------------------------------------------------------------------------------------- reproducibility
def _seeded_run(seed):
    lamina.utils.set_random_seed(seed)
    model = lamina.Sequential([layers.Input((D_IN,)), layers.Dense(16, activation="relu"), layers.Dropout(0.5),
                               layers.Dense(D_OUT)])
    model.compile(optimizer="adam", loss="mse")
    x, y = regression_data(40)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=True, verbose=0)
    return model.get_weights()


def test_set_random_seed_makes_a_cpu_fit_repeatable_bit_for_bit():
    first, second, other = _seeded_run(7), _seeded_run(7), _seeded_run(8)
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])


def test_fit_before_compile_is_a_clear_error():
    with pytest.raises(RuntimeError, match="compile"):
        mlp().fit(*regression_data(), verbose=0)


def test_fit_emits_no_warning_on_well_formed_input():
    x, y = class_data()
    model = mlp(activation="softmax")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, validation_split=0.2, epochs=2, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x, verbose=0)


def test_evaluate_reports_nan_for_nan_inputs_instead_of_scanning_them():
    """As Keras (and predict): evaluate does not scan its whole input; a NaN row gives a NaN loss. fit still
    refuses such data before training (tests/training/test_preflight.py)."""
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    x, y = regression_data()
    clean = model.evaluate(x, y, verbose=0)
    assert np.isfinite(clean)
    x = x.copy()
    x[3, 1] = np.nan
    assert np.isnan(model.evaluate(x, y, verbose=0))
    with pytest.raises(ValueError, match="NaN"):
        model.fit(x, y, verbose=0)


def test_evaluate_and_predict_move_a_model_only_when_it_is_elsewhere(monkeypatch):
    from lamina.training import trainer as trainer_module

    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    x, y = regression_data()
    model.fit(x, y, verbose=0)
    moves = []
    real_to = type(model).to
    monkeypatch.setattr(type(model), "to", lambda self, *a, **k: moves.append(a) or real_to(self, *a, **k))
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    assert moves == []  # already on the trainer's device
    trainer_module.move_to(model, torch.device("meta"))
    assert moves == [(torch.device("meta"),)]


def test_fit_evaluate_predict_flush_denormals_on_cpu_and_restore_the_mode():
    from lamina.core import device

    seen = []

    class Probe(lamina.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(("fit", device.flushing_denormals()))

        def on_test_batch_end(self, batch, logs=None):
            seen.append(("evaluate", device.flushing_denormals()))

        def on_predict_batch_end(self, batch, logs=None):
            seen.append(("predict", device.flushing_denormals()))

    model = mlp()
    model.compile(optimizer="adam", loss="mse")
    x, y = regression_data()
    model.fit(x, y, batch_size=5, verbose=0, callbacks=[Probe()])
    model.evaluate(x, y, batch_size=5, verbose=0, callbacks=[Probe()])
    model.predict(x, batch_size=5, verbose=0, callbacks=[Probe()])
    assert seen == [("fit", True)] * 2 + [("evaluate", True)] * 2 + [("predict", True)] * 2
    assert not device.flushing_denormals()  # PyTorch's default again afterwards
    device.set_flush_denormal(False)
    try:
        seen.clear()
        model.fit(x, y, batch_size=5, verbose=0, callbacks=[Probe()])
        assert seen == [("fit", False)] * 2
    finally:
        device.set_flush_denormal(True)


def test_losses_added_by_layers_count_once_per_step():
    """add_loss in call(): not from the symbolic build (meta tensors), not from fit's first look at the data."""

    class Penalized(layers.Layer):
        def call(self, x):
            self.add_loss(0.1 * x.square().mean())
            return x

    model = lamina.Sequential([layers.Input((D_IN,)), layers.Dense(D_OUT, kernel_initializer="ones"), Penalized()])
    model.compile(optimizer=SGD(learning_rate=0.0), loss="mse")
    x, _ = regression_data(4)
    y = np.zeros((4, D_OUT), "float32")
    history = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    out = x @ np.ones((D_IN, D_OUT), "float32")
    expected = np.square(out).mean() + 0.1 * np.square(out).mean()
    np.testing.assert_allclose(history.history["loss"], [expected, expected], rtol=1e-5)


def test_evaluate_and_predict_leave_the_global_random_state_alone():
    # data read in order needs no shuffling seed: drawing one would shift every random number after it
    model = mlp()
    model.compile(loss="mse")
    x, y = regression_data()
    model.evaluate(x, y, verbose=0)
    state = torch.get_rng_state()
    model.evaluate(x, y, verbose=0)
    model.predict(x, verbose=0)
    model.fit(x, y, shuffle=False, epochs=1, verbose=0)
    assert torch.equal(torch.get_rng_state(), state)


class _TrainingSwitch(lamina.Model):
    """Adds 1000 to its output when called in training mode."""

    def __init__(self):
        super().__init__()
        self.dense = layers.Dense(1, kernel_initializer="ones", bias_initializer="zeros")

    def call(self, x, training=None):
        out = self.dense(x)
        return out + 1000.0 if training else out


def test_default_evaluate_and_predict_run_a_model_in_inference_mode(monkeypatch):
    # evaluate's lean test step and predict's direct forward pass call the model without the training flag:
    # the modules' own flags (set by evaluate/predict) must give inference mode
    from lamina.training import step as step_module

    def refuse(*args, **kwargs):
        raise AssertionError("the full step ran")

    monkeypatch.setattr(step_module, "predict_step", refuse)
    monkeypatch.setattr(step_module, "test_step", refuse)
    model = _TrainingSwitch()
    model.compile(loss="mae")
    x = np.ones((5, 2), "float32")
    model.train()
    assert model.evaluate(x, np.full((5, 1), 2.0, "float32"), batch_size=2, verbose=0) == pytest.approx(0.0)
    model.train()
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), np.full((5, 1), 2.0))


def test_streamed_arrays_are_converted_per_batch_only_when_needed():
    from lamina.data.adapters import make_adapter

    ready = make_adapter(np.ones((5, 2), "float32"), batch_size=2, stream=True)
    raw = make_adapter(np.ones((5, 2), "uint8"), np.arange(5, dtype="int32"), batch_size=2, stream=True)
    assert not ready._needs_fetch(ready.x, False)
    assert raw._needs_fetch(raw.x, False) and raw._needs_fetch(raw.y, True)
    batches = list(raw.epoch())
    assert [tuple(b[0].shape) for b in batches] == [(2, 2), (2, 2), (1, 2)]
    assert all(b[0].dtype == torch.float32 and b[1].dtype == torch.int64 for b in batches)
    assert [b[0].data_ptr() for b in ready.epoch()] == [ready.x[i].data_ptr() for i in (0, 2, 4)]  # views


def test_predict_copies_a_reused_output_buffer_before_it_is_refilled():
    class Refills(lamina.Model):
        """A model whose call writes each batch's result into one buffer it keeps (and returns that buffer)."""

        def __init__(self):
            super().__init__()
            self.buffer = None

        def call(self, x):
            if self.buffer is None or self.buffer.shape != x.shape:
                self.buffer = torch.empty_like(x)
            return self.buffer.copy_(x * 2)

    x = np.arange(10, dtype="float32").reshape(5, 2)
    np.testing.assert_array_equal(Refills().predict(x, batch_size=2, verbose=0), x * 2)
    batches = (x[i:i + 2] for i in range(0, 5, 2))  # rows unknown: the batches are gathered at the end
    np.testing.assert_array_equal(Refills().predict(batches, verbose=0), x * 2)


# ------------------------------------------------------------------------------ Keras behaviours of custom code
class _AddsLoss(layers.Layer):
    """A layer whose call adds a penalty on its own weight (the model's only loss when compiled without one)."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(1,), initializer="ones", name="w")

    def call(self, x):
        self.add_loss(((x * self.w) ** 2).mean())
        return x * self.w


def _adds_loss_model():
    return lamina.Sequential([lamina.Input((2,)), _AddsLoss(), layers.Dense(1, kernel_initializer="ones")])


def test_compile_without_loss_trains_on_the_added_losses():
    x = np.ones((4, 2), "float32")
    model = _adds_loss_model()
    model.compile("sgd")
    w = model.layers[0].w
    history = model.fit(x, epochs=2, batch_size=4, verbose=0)  # no targets needed, as in Keras
    assert history.history["loss"][0] == pytest.approx(1.0)  # mean((1 * 1) ** 2)
    assert float(w.detach()[0]) < 1.0  # the penalty was minimised
    assert model.evaluate(x, verbose=0) == pytest.approx(float(w.detach()[0]) ** 2, rel=1e-5)
    plain = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    plain.compile("sgd")
    with pytest.raises(ValueError, match="No loss to compute"):
        plain.fit(x, np.ones((4, 1)), verbose=0)


def test_fit_a_model_without_trainable_weights_runs_like_keras():
    x, y = np.ones((4, 2), "float32"), np.ones((4, 1), "float32")
    frozen = lamina.Sequential([lamina.Input((2,)), layers.Dense(1, trainable=False)])
    frozen.compile("sgd", "mse")
    before = frozen.get_weights()
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        history = frozen.fit(x, y, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    np.testing.assert_array_equal(frozen.get_weights()[0], before[0])
    no_weights = lamina.Sequential([lamina.Input((2,)), layers.Activation("relu")])
    no_weights.compile("sgd", "mse")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        assert no_weights.fit(x, np.ones((4, 2)), verbose=0).history["loss"] == [0.0]


def test_compute_loss_override_without_training_argument():
    seen = []

    class Custom(lamina.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None):  # Keras 3.0's signature
            seen.append(x is not None)
            return ((y_pred - y) ** 2).mean()

    model = Custom()
    model.compile("sgd")
    model.fit(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    model.evaluate(np.ones((4, 2), "float32"), np.ones((4, 1), "float32"), verbose=0)
    assert seen and all(seen)


def test_model_metrics_lists_the_loss_tracker_and_compile_metrics_like_keras(keras):
    x = np.random.rand(8, 2).astype("float32")
    for lib in (lamina, keras):
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])
        model.compile("sgd", "mse", metrics=["mae"])
        assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
        model(x)
        assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
        model = lib.Sequential([lib.Input((2,)), lib.layers.Dense(1)])  # (Keras keeps a stale one on recompile)
        model.compile("sgd", "mse")
        assert [m.name for m in model.metrics] == ["loss"]
    model = lamina.Sequential([lamina.Input((2,)), layers.Dense(1)])
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mse"])
    container = model.metrics[1]
    container.update_state(np.ones((8, 1), "float32"), np.zeros((8, 1), "float32"))
    assert [m.name for m in container.metrics] == ["mae", "mse"]
    assert {k: float(v) for k, v in container.result().items()} == {"mae": 1.0, "mse": 1.0}
    container.reset_state()
    assert float(container.result()["mae"]) == 0.0


def _guide_model(train_step_kind):
    class CustomModel(lamina.Model):
        def train_step(self, data):  # Keras's guide "Customizing what happens in fit() with PyTorch"
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                if train_step_kind == "apply":
                    self.optimizer.apply(gradients, trainable_weights)
                elif train_step_kind == "apply_gradients":
                    self.optimizer.apply_gradients(zip(gradients, trainable_weights, strict=True))
                else:  # plain SGD written with assign
                    for v, g in zip(trainable_weights, gradients, strict=True):
                        v.assign_sub(0.1 * g)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = lamina.Input(shape=(4,))
    return CustomModel(inputs, layers.Dense(1, kernel_initializer="zeros")(inputs))


@pytest.mark.parametrize("kind", ["apply", "apply_gradients", "assign"])
def test_keras_guide_custom_train_step_runs_unchanged(kind):
    rng = np.random.default_rng(0)
    x = rng.random((32, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = _guide_model(kind)
    model.compile(optimizer=lamina.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert set(history.history) == {"loss", "mae"}
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(np.isfinite(history.history["mae"]))
    if kind != "assign":
        assert model.optimizer.iterations == 12


def test_evaluate_lists_values_in_keras_order(keras):
    x = np.random.rand(6, 2).astype("float32")
    ys = [np.random.rand(6, 1).astype("float32")] * 2
    outs = []
    for lib in (lamina, keras):
        i = lib.Input((2,))
        model = lib.Model(i, [lib.layers.Dense(1, name="a")(i), lib.layers.Dense(1, name="b")(i)])
        model.compile("sgd", ["mse", "mae"], metrics=[["mae"], ["mse"]])
        logs = model.evaluate(x, ys, verbose=0, return_dict=True)
        values = model.evaluate(x, ys, verbose=0)
        outs.append([k for v in values for k in logs if logs[k] == pytest.approx(v)][:len(values)])
        assert model.metrics_names == ["loss", "compile_metrics", "a_loss", "b_loss"]
    assert outs[0] == outs[1] == ["loss", "a_loss", "b_loss", "a_mae", "b_mse"]


def test_custom_steps_get_x_alone_when_fit_has_no_targets_as_in_keras():
    seen = []

    class Autoencoder(lamina.Model):
        def train_step(self, data):
            seen.append(type(data))
            x_hat = self(data, training=True)
            loss = torch.mean((x_hat - data) ** 2)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            return {"loss": loss}

        def predict_step(self, data):
            seen.append(type(data))
            return self(data, training=False)

    inputs = lamina.Input((3,))
    ae = Autoencoder(inputs, lamina.layers.Dense(3)(inputs))
    ae.compile(optimizer="sgd")
    ae.fit(np.ones((8, 3), "float32"), batch_size=4, epochs=1, verbose=0)
    ae.predict(np.ones((4, 3), "float32"), verbose=0)
    assert seen == [torch.Tensor] * 3


# ----------------------------------------------------------------------------------------------- input edge cases
@pytest.mark.parametrize("kind", ["arrays", "dataloader"])
def test_steps_per_epoch_beyond_the_data_warns_and_ends_each_epoch_with_its_pass_as_keras(kind, keras):
    x, y = ids_data(10)  # 3 batches of 4 per pass, steps_per_epoch=5
    recorder = Recorder()
    model = mlp(first=(recorder,))
    model.compile(optimizer=SGD(learning_rate=0.01), loss="mse")
    data = (x, y) if kind == "arrays" else (DataLoader(TensorDataset(torch.tensor(x), torch.tensor(y)),
                                                       batch_size=4),)
    kwargs = {"batch_size": 4} if kind == "arrays" else {}
    with pytest.warns(UserWarning, match=r"ran out of data: the epoch got 3 of steps_per_epoch=5 batches"):
        history = model.fit(*data, steps_per_epoch=5, epochs=2, shuffle=False, verbose=0, **kwargs)
    assert history.epoch == [0, 1] and recorder.seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]] * 2
    # Keras 3 trains the same number of steps: each epoch ends with its pass over the data
    ref = keras.Sequential([keras.Input((D_IN,)), keras.layers.Dense(D_OUT)])
    ref.compile(optimizer="sgd", loss="mse")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref.fit(x, y, batch_size=4, steps_per_epoch=5, epochs=2, shuffle=False, verbose=0)
    assert int(model.optimizer.iterations) == int(ref.optimizer.iterations) == 6


def test_fit_on_a_meta_tensor_says_so_before_any_work():
    model = mlp()
    model.compile(optimizer=SGD(learning_rate=0.1), loss="mse")
    before = model.get_weights()
    with pytest.raises(lamina.data.adapters.DataError, match="'meta' device"):
        model.fit(torch.empty(8, D_IN, device="meta"), np.zeros((8, D_OUT), "float32"), verbose=0)
    assert_weights_equal(model.get_weights(), before, atol=0)
    assert int(model.optimizer.iterations) == 0
