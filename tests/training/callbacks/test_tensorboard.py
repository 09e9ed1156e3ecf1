"""TensorBoard: the event files read back with TensorBoard's own reader hold the History's epoch values, the
batch logs every ``update_freq`` batches, the learning rate, weight histograms (count, sum, extremes of the
weights), images, the model summary, evaluations, embeddings and a profiler trace."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from callback_helpers import data, model

import lamina
from lamina import layers
from lamina.callbacks import LambdaCallback, TensorBoard
from lamina.optimizers import SGD

event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")


def read(folder):
    acc = event_accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                                        "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_epoch_scalars_equal_the_history(tmp_path):
    vx, vy = data(4, seed=1)
    history = model(lr=0.05).fit(*data(12), batch_size=4, epochs=3, validation_data=(vx, vy), verbose=0,
                                 callbacks=[TensorBoard(str(tmp_path))])
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = read(tmp_path / "train"), read(tmp_path / "validation")
    assert set(train.Tags()["scalars"]) == {"epoch_loss", "epoch_mae", "epoch_learning_rate"}
    assert {"epoch_loss", "epoch_mae"} <= set(val.Tags()["scalars"])
    for name in ("loss", "mae"):
        assert scalars(train, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6))
                                                   for e, v in enumerate(history.history[name])]
        assert scalars(val, f"epoch_{name}") == [(e, pytest.approx(v, rel=1e-6))
                                                 for e, v in enumerate(history.history[f"val_{name}"])]
    assert scalars(train, "epoch_learning_rate") == [(e, pytest.approx(0.05)) for e in range(3)]


def test_evaluations_are_logged_against_optimizer_iterations(tmp_path):
    vx, vy = data(4, seed=1)
    history = model().fit(*data(12), batch_size=4, epochs=2, validation_data=(vx, vy), verbose=0,
                          callbacks=[TensorBoard(str(tmp_path))])
    val = read(tmp_path / "validation")
    assert scalars(val, "evaluation_loss_vs_iterations") == [
        (3, pytest.approx(history.history["val_loss"][0], rel=1e-6)),
        (6, pytest.approx(history.history["val_loss"][1], rel=1e-6))]


@pytest.mark.parametrize(("update_freq", "steps"), [(2, [2, 4, 6]), ("batch", [1, 2, 3, 4, 5, 6]), (4, [4])])
def test_batch_scalars_every_update_freq_batches(tmp_path, update_freq, steps):
    batch_logs = []
    record = LambdaCallback(on_train_batch_end=lambda batch, logs: batch_logs.append(dict(logs)))
    model().fit(*data(12), batch_size=4, epochs=2, verbose=0,
                callbacks=[record, TensorBoard(str(tmp_path), update_freq=update_freq)])
    train = read(tmp_path / "train")
    for name in ("loss", "mae"):  # global batch s (1-based) holds the logs of the s-th batch
        assert scalars(train, f"batch_{name}") == [(s, pytest.approx(batch_logs[s - 1][name], rel=1e-6))
                                                   for s in steps]


def test_batch_scalars_with_steps_per_execution(tmp_path):
    m = model()
    m.compile(optimizer=SGD(0.1), loss="mse", steps_per_execution=2)
    m.fit(*data(24), batch_size=4, epochs=1, verbose=0, callbacks=[TensorBoard(str(tmp_path), update_freq=3)])
    # the hook fires after batches 2, 4, 6: global batch 4 passes 3, batch 6 passes 6
    assert [s for s, _ in scalars(read(tmp_path / "train"), "batch_loss")] == [4, 6]


@pytest.mark.parametrize(("histogram_freq", "epochs", "steps"), [(1, 2, [0, 1]), (2, 3, [0, 2])])
def test_weight_histograms_describe_the_weights(tmp_path, histogram_freq, epochs, steps):
    weights = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: weights.append(m.get_weights()))
    m = model()
    m.fit(*data(12), batch_size=4, epochs=epochs, verbose=0,
          callbacks=[keep, TensorBoard(str(tmp_path), histogram_freq=histogram_freq)])
    train = read(tmp_path / "train")
    tags = ["sequential/hidden/kernel", "sequential/hidden/bias", "sequential/out/kernel", "sequential/out/bias"]
    assert sorted(train.Tags()["histograms"]) == sorted(f"{t}/histogram" for t in tags)
    for i, tag in enumerate(tags):
        events = train.Histograms(f"{tag}/histogram")
        assert [e.step for e in events] == steps
        for event in events:
            w = weights[event.step][i]
            h = event.histogram_value
            assert h.num == w.size
            assert h.sum == pytest.approx(float(w.sum()), abs=1e-5)
            assert (h.min, h.max) == (pytest.approx(float(w.min())), pytest.approx(float(w.max())))


def test_weight_images(tmp_path):
    model().fit(*data(12), epochs=1, verbose=0, callbacks=[TensorBoard(str(tmp_path), histogram_freq=1,
                                                                       write_images=True)])
    train = read(tmp_path / "train")
    images = {tag: train.Images(tag)[0] for tag in train.Tags()["images"]}
    # Keras's layout: kernels with the wide side horizontal, a bias of n values as an n x 1 image
    assert {tag: (img.height, img.width) for tag, img in images.items()} == {
        "sequential/hidden/kernel/image": (4, 5), "sequential/hidden/bias/image": (5, 1),
        "sequential/out/kernel/image": (2, 5), "sequential/out/bias/image": (2, 1)}


def test_model_summary_and_steps_per_second(tmp_path):
    model().fit(*data(12), batch_size=4, epochs=2, verbose=0,
                callbacks=[TensorBoard(str(tmp_path), write_steps_per_second=True, update_freq=1)])
    train = read(tmp_path / "train")
    text = train.Tensors("model_summary/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'Model: "sequential"' in text and "hidden (Dense)" in text
    assert all(v > 0 for _, v in scalars(train, "epoch_steps_per_second"))
    assert [s for s, _ in scalars(train, "batch_steps_per_second")] == [1, 2, 3, 4, 5, 6]


def test_embeddings_for_the_projector(tmp_path):
    m = lamina.Sequential([layers.Input((3,), dtype="int32"), layers.Embedding(5, 2, name="words"),
                           layers.Flatten(), layers.Dense(1)])
    m.compile(optimizer=SGD(0.1), loss="mse")
    labels = tmp_path / "labels.tsv"
    labels.write_text("".join(f"w{i}\n" for i in range(5)))
    m.fit(np.array([[0, 1, 2], [3, 4, 0]]), np.zeros((2, 1), "float32"), epochs=1, verbose=0,
          callbacks=[TensorBoard(str(tmp_path / "logs"), embeddings_freq=1,
                                 embeddings_metadata={"words": str(labels)})])
    folder = tmp_path / "logs" / "train" / "00000" / "words"
    written = np.loadtxt(folder / "tensors.tsv", delimiter="\t")
    np.testing.assert_allclose(written, m.get_layer("words").get_weights()[0], atol=1e-6)
    assert (folder / "metadata.tsv").read_text().split() == [f"w{i}" for i in range(5)]
    with pytest.raises(ValueError, match="wordz"):
        m.fit(np.array([[0, 1, 2]]), np.zeros((1, 1), "float32"), epochs=1, verbose=0,
              callbacks=[TensorBoard(str(tmp_path / "logs2"), embeddings_freq=1,
                                     embeddings_metadata={"wordz": str(labels)})])


def test_profile_batch_writes_a_trace(tmp_path):
    model().fit(*data(12), batch_size=4, epochs=1, verbose=0, callbacks=[TensorBoard(str(tmp_path),
                                                                                     profile_batch=2)])
    traces = [f for _, _, files in os.walk(tmp_path / "train") for f in files if f.endswith(".pt.trace.json")]
    assert len(traces) == 1


def test_missing_tensorboard_is_a_clear_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        TensorBoard("logs")


def test_tensorboard_rejects_bad_arguments():
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard("logs", update_freq=0)
    with pytest.raises(ValueError, match="update_freq"):
        TensorBoard("logs", update_freq="step")
    with pytest.raises(ValueError, match="histogram_freq"):
        TensorBoard("logs", histogram_freq=-1)
    with pytest.raises(ValueError, match="profile_batch"):
        TensorBoard("logs", profile_batch="5,2")
