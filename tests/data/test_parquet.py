"""ParquetDataset and dict_batches: columns to batches, row-group sharding, shuffling, bounded memory, exact resume
and training, checked against the same rows held in NumPy."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

import lamina
from lamina.data.parquet import ParquetDataset, dict_batches

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

FASHION = Path("/usr/share/datasets/fashion-mnist")


def write_table(path: Path, rows: int = 50, row_group_size: int = 8) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    data = {"a": rng.normal(size=rows), "b": np.arange(rows, dtype="float64"), "label": np.arange(rows) % 3,
            "w": rng.uniform(size=rows).astype("float32"),
            "pixels": rng.integers(0, 256, size=(rows, 12), dtype=np.uint8),
            "vec": rng.normal(size=(rows, 6)).astype("float32"),
            "word": np.array([f"w{i % 4}" for i in range(rows)])}
    table = pa.table({"a": data["a"], "b": data["b"], "label": data["label"], "w": data["w"],
                      "pixels": pa.array([r.tobytes() for r in data["pixels"]], pa.binary(12)),
                      "vec": pa.FixedSizeListArray.from_arrays(pa.array(data["vec"].reshape(-1)), 6),
                      "word": pa.array(data["word"].tolist())})
    pq.write_table(table, path, row_group_size=row_group_size)
    return data


def test_columns_become_the_arrays_numpy_would_give(tmp_path):
    data = write_table(tmp_path / "t.parquet")
    ds = ParquetDataset(tmp_path / "t.parquet", x=["a", "b"], y="label", sample_weight="w", batch_size=16)
    batches = list(ds)
    assert len(ds) == len(batches) == 4  # 50 rows: 16, 16, 16, 2
    x = np.concatenate([b[0] for b in batches])
    np.testing.assert_allclose(x, np.stack([data["a"], data["b"]], 1).astype("float32"))
    assert x.dtype == np.float32 and batches[0][0].shape == (16, 2) and batches[-1][0].shape == (2, 2)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), data["label"])
    np.testing.assert_allclose(np.concatenate([b[2] for b in batches]), data["w"])
    # binary bytes reshaped per row, fixed-size lists, strings, a dict of named inputs
    ds = ParquetDataset(str(tmp_path / "t.parquet"), x={"image": "pixels", "vec": "vec", "word": "word"},
                        y="label", batch_size=50, x_shape=None)
    (x, y), = list(ds)
    np.testing.assert_array_equal(x["image"], data["pixels"])
    assert x["image"].dtype == np.uint8
    np.testing.assert_allclose(x["vec"], data["vec"])
    assert x["word"].tolist() == data["word"].tolist()
    (x, _), = list(ParquetDataset(tmp_path / "t.parquet", x="pixels", y="label", batch_size=64, x_shape=(2, 2, 3)))
    np.testing.assert_array_equal(x, data["pixels"].reshape(50, 2, 2, 3))
    assert len(ParquetDataset(tmp_path / "t.parquet", x="a", batch_size=16, drop_remainder=True)) == 3


def test_bad_arguments_say_what_is_wrong(tmp_path):
    write_table(tmp_path / "t.parquet")
    with pytest.raises(ValueError, match=r"columns \['nope'\] are not in the data"):
        ParquetDataset(tmp_path / "t.parquet", x="nope")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        ParquetDataset(tmp_path / "t.parquet", x="a", batch_size=0)
    with pytest.raises(ValueError, match=r"cannot be reshaped to \(5,\)"):
        list(ParquetDataset(tmp_path / "t.parquet", x="pixels", x_shape=(5,)))
    ds = ParquetDataset(tmp_path / "t.parquet", x="a", batch_size=5)
    with pytest.raises(ValueError, match="does not split evenly over 2 processes"):
        ds._local_batch(2)


def test_shuffling_uses_every_row_once_per_epoch_in_a_new_order_and_shards_without_overlap(tmp_path):
    data = write_table(tmp_path / "t.parquet", rows=64, row_group_size=4)
    ds = ParquetDataset(tmp_path / "t.parquet", x="b", batch_size=8, shuffle=True, seed=3)
    first, second = (np.concatenate(list(ds)) for _ in range(2))
    assert sorted(first.tolist()) == sorted(second.tolist()) == data["b"].tolist()
    assert first.tolist() != second.tolist() and first.tolist() != data["b"].tolist()
    again = ParquetDataset(tmp_path / "t.parquet", x="b", batch_size=8, shuffle=True, seed=3)
    assert np.concatenate(list(again)).tolist() == first.tolist()  # the seed fixes the order
    # two processes' shares (as under torch.distributed): disjoint, together every row, each batch half as big
    shares = []
    for rank in (0, 1):
        part = ParquetDataset(tmp_path / "t.parquet", x="b", batch_size=8, shuffle=True, seed=3)
        part._world = lambda rank=rank: (rank, 2)
        batches = list(part)
        assert len(part) == len(batches) == 8 and {len(b) for b in batches} == {4}
        shares.append(np.concatenate(batches))
    assert sorted(np.concatenate(shares).tolist()) == data["b"].tolist()
    # with row groups of batch_size / 2 rows the two processes' global batches are the one process's
    for step in range(8):
        one_batch = set(first[step * 8:(step + 1) * 8].tolist())
        assert one_batch == set(shares[0][step * 4:(step + 1) * 4].tolist()) | set(
            shares[1][step * 4:(step + 1) * 4].tolist())


def test_memory_stays_bounded_by_a_row_group_on_a_file_many_times_larger(tmp_path):
    rows, width = 40_000, 256  # 41 MB of float32 in 40 row groups of 1 MB
    table = pa.table({"x": pa.FixedSizeListArray.from_arrays(
        pa.array(np.ones(rows * width, dtype="float32")), width), "y": np.zeros(rows, dtype="int64")})
    pq.write_table(table, tmp_path / "big.parquet", row_group_size=1000)
    del table
    ds = ParquetDataset(tmp_path / "big.parquet", x="x", y="y", batch_size=100)
    base, peak, count = pa.total_allocated_bytes(), 0, 0
    for x, _ in ds:
        peak = max(peak, pa.total_allocated_bytes() - base)
        count += len(x)
    assert count == rows
    assert peak < 4 * 1000 * width * 4, f"Arrow held {peak / 1e6:.1f} MB for a 41 MB file"  # < 4 row groups


def test_fit_on_parquet_equals_fit_on_the_same_rows_in_numpy(tmp_path):
    data = write_table(tmp_path / "t.parquet", rows=96, row_group_size=32)

    def model():
        lamina.utils.set_random_seed(1)
        m = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(3)])
        m.compile(optimizer=lamina.optimizers.SGD(0.1),
                  loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
        return m

    a, b = model(), model()
    a.fit(ParquetDataset(tmp_path / "t.parquet", x=["a", "b"], y="label", batch_size=32), epochs=2, verbose=0)
    x = np.stack([data["a"], data["b"]], 1).astype("float32")
    b.fit(x, data["label"], batch_size=32, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-6)


def test_dict_batches_feed_fit_from_dict_yielding_sources(tmp_path):
    rng = np.random.default_rng(1)
    batches = [{"f": torch.as_tensor(rng.normal(size=(16, 4)).astype("float32")),
                "label": torch.as_tensor(rng.integers(0, 2, 16))} for _ in range(3)]
    source = dict_batches(batches, x="f", y="label")
    assert len(source) == 3
    (x, y), *_ = list(source)
    assert isinstance(x, np.ndarray) and x.shape == (16, 4) and y.tolist() == batches[0]["label"].tolist()
    model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(2)])
    model.compile(optimizer="sgd", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(source, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2  # re-iterable: a second epoch over the same list
    with pytest.raises(KeyError, match=r"batch 0 has no \['y'\]"):
        list(dict_batches(batches, x="f", y="y"))


RESUME_SCRIPT = textwrap.dedent('''
    import os, signal, sys
    import numpy as np
    import lamina
    from lamina.data.parquet import ParquetDataset

    path, backup, out = sys.argv[1:4]
    kill_at = int(os.environ.get("KILL_AT", "-1"))
    lamina.utils.set_random_seed(3)
    model = lamina.Sequential([lamina.Input((2,)), lamina.layers.Dense(8, activation="relu"),
                               lamina.layers.Dense(3)])
    model.compile(optimizer=lamina.optimizers.Adam(0.01),
                  loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []

    class Kill(lamina.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(1)
            if len(seen) == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

    data = ParquetDataset(path, x=["a", "b"], y="label", batch_size=8, shuffle=True, seed=5)
    model.fit(data, epochs=3, verbose=0,
              callbacks=[Kill(), lamina.callbacks.BackupAndRestore(backup, save_freq=2)])
    np.savez(out, *model.get_weights())
    with open(out + ".steps", "w") as f:
        f.write(str(len(seen)))
''')


def test_backup_and_restore_resumes_a_shuffled_parquet_run_exactly(tmp_path):
    write_table(tmp_path / "t.parquet", rows=64, row_group_size=8)  # 8 steps per epoch
    script = tmp_path / "train.py"
    script.write_text(RESUME_SCRIPT)

    def run(name: str, kill_at: int = -1) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, str(script), str(tmp_path / "t.parquet"), str(tmp_path / name),
                               str(tmp_path / f"{name}.npz")], capture_output=True, text=True, timeout=240,
                              env={**os.environ, "KILL_AT": str(kill_at)})

    assert run("reference").returncode == 0
    assert run("killed", kill_at=13).returncode != 0  # in epoch 2, after the backup at its step 4
    resumed = run("killed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = {name: int((tmp_path / f"{name}.npz.steps").read_text()) for name in ("reference", "killed")}
    assert steps == {"reference": 24, "killed": 12}  # it resumed after step 12, it did not start again
    with np.load(tmp_path / "reference.npz") as ref, np.load(tmp_path / "killed.npz") as got:
        for key in ref:
            np.testing.assert_array_equal(got[key], ref[key])


@pytest.mark.skipif(not (FASHION / "train-images-idx3-ubyte.gz").exists() and not FASHION.exists(),
                    reason="the Fashion-MNIST Debian package (dataset-fashion-mnist) is not installed")
def test_the_readme_classifier_trains_from_parquet_images(tmp_path):
    (x_train, y_train), (x_test, y_test) = lamina.datasets.fashion_mnist.load_data()
    n = 6000
    table = pa.table({"image": pa.array([r.tobytes() for r in x_train[:n]], pa.binary(784)),
                      "label": y_train[:n].astype("int64")})
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=500)
    lamina.utils.set_random_seed(0)
    model = lamina.Sequential([lamina.Input((28, 28)), lamina.layers.Rescaling(1 / 255),
                               lamina.layers.Flatten(), lamina.layers.Dense(64, activation="relu"),
                               lamina.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    data = ParquetDataset(tmp_path / "train.parquet", x="image", y="label", batch_size=64, shuffle=True,
                          x_shape=(28, 28))
    model.fit(data, epochs=2, verbose=0)
    accuracy = model.evaluate(x_test[:2000], y_test[:2000], verbose=0, return_dict=True)["accuracy"]
    assert accuracy > 0.75
