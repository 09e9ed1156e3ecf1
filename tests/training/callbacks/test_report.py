"""The Report callback: records each epoch's logs and learning rate, writes the report at the end of fit (and after
each epoch with every_epoch=True), survives BackupAndRestore, and refuses a malformed validation_data."""

import numpy as np
import pytest

import lamina
from lamina.callbacks import Callback, LearningRateScheduler, Report


def _model():
    model = lamina.Sequential([lamina.Input((5,)), lamina.layers.Dense(3, activation="softmax", name="probs")])
    model.compile(optimizer=lamina.optimizers.SGD(learning_rate=0.05), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.random((30, 5)).astype("float32"), np.arange(30) % 3


def test_records_epochs_and_learning_rate_and_writes_at_the_end(tmp_path, data):
    model = _model()
    path = tmp_path / "report.html"
    report = Report(path, validation_data=data, class_names=["a", "b", "c"], plots="svg")
    history = model.fit(*data, epochs=3, batch_size=10, verbose=0, callbacks=[report])
    assert [r["epoch"] for r in report.records] == [0, 1, 2]
    assert [r["loss"] for r in report.records] == history.history["loss"]
    assert [r["learning_rate"] for r in report.records] == pytest.approx([0.05] * 3)  # read from the optimizer
    text = path.read_text(encoding="utf-8")
    assert text.count("<circle") >= 3 * 2 + 3  # loss, accuracy and learning rate per epoch
    assert 'id="confusion-matrix"' in text and "Accuracy " in text


def test_a_schedule_logged_learning_rate_is_kept(tmp_path, data):
    report = Report(tmp_path / "r.html", plots="svg")
    schedule = LearningRateScheduler(lambda epoch: 0.1 * 0.5 ** epoch)
    _model().fit(*data, epochs=3, batch_size=10, verbose=0, callbacks=[schedule, report])
    assert [r["learning_rate"] for r in report.records] == pytest.approx([0.1, 0.05, 0.025])


def test_every_epoch_rewrites_the_file_during_fit(tmp_path, data):
    path = tmp_path / "r.html"
    seen = []

    class Look(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(path.read_text(encoding="utf-8").count("epochs recorded</th><td style='text-align:left'>"
                                                               f"{epoch + 1}<"))

    _model().fit(*data, epochs=2, verbose=0, callbacks=[Report(path, every_epoch=True, plots="svg"), Look()])
    assert seen == [1, 1]


def test_state_round_trip_for_backup_and_restore(tmp_path, data):
    report = Report(tmp_path / "r.html", plots="svg")
    _model().fit(*data, epochs=2, verbose=0, callbacks=[report])
    again = Report(tmp_path / "r.html")
    again.load_state_dict(report.state_dict())
    assert again.records == report.records and again.records is not report.records


def test_validation_data_must_be_a_pair(tmp_path, data):
    with pytest.raises(ValueError, match=r"takes a pair \(x, y\).*received tuple of length 3"):
        Report(tmp_path / "r.html", validation_data=(*data, None))
