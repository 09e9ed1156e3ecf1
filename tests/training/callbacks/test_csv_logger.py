"""CSVLogger: byte-identical files to Keras 3's CSVLogger on the same logs sequences (header, NA columns,
separators, append with and without an existing header), and the rows of a real fit equal its History."""

from __future__ import annotations

import csv

import pytest
from callback_helpers import data, model

from lamina.callbacks import CSVLogger

RUNS = [  # epoch logs of one or more fit() calls
    [[{"loss": 1.5, "mae": 0.75, "val_loss": 2.0, "val_mae": 1.0}, {"loss": 1.25, "mae": 0.5, "val_loss": 1.75,
                                                                     "val_mae": 0.875}]],
    [[{"loss": 1.5, "acc": 0.25}, {"loss": 1.0, "acc": 0.5, "val_loss": 1.2, "val_acc": 0.4}]],  # val from epoch 2
    [[{"loss": 0.5, "note": "warm-up", "sizes": [1, 2]}]],
    [[{"loss": 1.5}], [{"loss": 1.0}, {"loss": 0.5}]],  # two fits
]


def write(make, path, runs, **kwargs):
    for run in runs:
        logger = make(str(path), **kwargs)
        logger.on_train_begin()
        for epoch, logs in enumerate(run):
            logger.on_epoch_end(epoch, dict(logs))
        logger.on_train_end()
    return path.read_bytes()


@pytest.mark.parametrize("runs", RUNS, ids=["val", "val-later", "strings-and-lists", "two-fits"])
@pytest.mark.parametrize("kwargs", [{}, {"separator": ";"}, {"append": True}, {"append": True, "separator": "\t"}],
                         ids=["default", "semicolon", "append", "append-tab"])
def test_csv_logger_writes_what_keras_writes(keras, tmp_path, runs, kwargs):
    ours = write(CSVLogger, tmp_path / "ours.csv", runs, **kwargs)
    theirs = write(keras.callbacks.CSVLogger, tmp_path / "theirs.csv", runs, **kwargs)
    assert ours == theirs


@pytest.mark.parametrize("existing", ["", "epoch,loss\r\n0,2.0\r\n"], ids=["empty-file", "with-header"])
def test_append_to_an_existing_file_matches_keras(keras, tmp_path, existing):
    files = {}
    for name, make in (("ours", CSVLogger), ("theirs", keras.callbacks.CSVLogger)):
        path = tmp_path / f"{name}.csv"
        path.write_bytes(existing.encode())
        files[name] = write(make, path, [[{"loss": 1.0}]], append=True)
    assert files["ours"] == files["theirs"]
    assert files["ours"].count(b"epoch") == 1  # one header, whether the file had it or not


def test_csv_rows_of_a_fit_equal_its_history(tmp_path):
    path = tmp_path / "log.csv"
    history = model().fit(*data(12), batch_size=4, epochs=3, validation_data=data(4, seed=2), verbose=0,
                          callbacks=[CSVLogger(str(path))])
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["epoch", "loss", "mae", "val_loss", "val_mae"]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    for key, values in history.history.items():
        assert [float(r[key]) for r in rows] == values  # exact: floats are written with repr


def test_csv_logger_overwrites_without_append(tmp_path):
    path = tmp_path / "log.csv"
    m = model()
    m.fit(*data(12), epochs=3, verbose=0, callbacks=[CSVLogger(str(path))])
    m.fit(*data(12), epochs=1, verbose=0, callbacks=[CSVLogger(str(path))])
    assert len(path.read_text().splitlines()) == 2


def test_csv_logger_rejects_a_bad_separator():
    with pytest.raises(ValueError, match="separator"):
        CSVLogger("log.csv", separator=", ")
