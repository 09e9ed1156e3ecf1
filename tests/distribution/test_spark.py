"""Spark with lamina: a Parquet dataset written by Spark is read back by ParquetDataset, and Spark's
TorchDistributor (local mode, 2 CPU processes on gloo) trains on it exactly as one process does."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pyspark = pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java (apt-get install -y openjdk-17-jre-headless)", allow_module_level=True)

from pyspark.ml.torch.distributor import TorchDistributor  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from spark_train import FEATURES, train  # noqa: E402  (by reference: the processes TorchDistributor starts import it)

sys.path.remove(str(HERE))
ROWS, GROUP = 2432, 64  # 38 partitions of 64 rows: one row group each; global batch 128


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def spark(monkeypatch_module):
    monkeypatch_module.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    session = (SparkSession.builder.master("local[2]").appName("lamina-test")
               .config("spark.ui.enabled", "false").config("spark.driver.memory", "1g")
               .config("spark.sql.shuffle.partitions", "4").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def test_spark_parquet_trains_under_torch_distributor_as_in_one_process(spark, tmp_path):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(ROWS, FEATURES))
    y = (x[:, :3].argmax(1)).astype(int)
    rows = [(*map(float, r), int(label), i // GROUP) for i, (r, label) in enumerate(zip(x, y, strict=True))]
    frame = spark.createDataFrame(rows, [*(f"f{i}" for i in range(FEATURES)), "label", "part"])
    path = str(tmp_path / "table")
    # Spark's layout: Hive partitions part=N/ of part-*.parquet files, _SUCCESS, .crc files; one 64-row file each
    frame.repartition("part").write.partitionBy("part").parquet(path)
    assert (Path(path) / "_SUCCESS").exists() and len(list(Path(path).glob("part=*/*.parquet"))) == ROWS // GROUP

    from lamina.data import ParquetDataset

    read = ParquetDataset(path, x=[f"f{i}" for i in range(FEATURES)], y="label", batch_size=ROWS)
    (features, labels), = list(read)  # every row Spark wrote, once (order is Spark's)
    order = np.lexsort(features.T[::-1])
    expected = np.lexsort(x.astype("float32").T[::-1])
    np.testing.assert_allclose(features[order], x.astype("float32")[expected])
    np.testing.assert_array_equal(labels[order], y[expected])

    result = TorchDistributor(num_processes=2, local_mode=True, use_gpu=False).run(
        train, path, str(tmp_path / "two.npz"), True)
    one = train(path, str(tmp_path / "one.npz"), False)
    assert result["steps"] == one["steps"] == 19
    np.testing.assert_allclose(result["history"]["loss"], one["history"]["loss"], atol=1e-5)
    with np.load(tmp_path / "two.npz") as two, np.load(tmp_path / "one.npz") as single:
        for key in single:
            np.testing.assert_allclose(two[key], single[key], atol=1e-6)
