"""Ray Train with lamina: TorchTrainer on 2 CPU workers (gloo) trains as one process does, reports the global
logs and a checkpoint every epoch, resumes from that checkpoint, and trains from Ray Data's dict batches.

One local ``ray.init`` is shared by the module (enough CPUs for the workers and Ray Data's tasks)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("ray.train")

from ray.train import RunConfig, ScalingConfig  # noqa: E402
from ray.train.torch import TorchTrainer  # noqa: E402

import lamina  # noqa: E402
from lamina.distribution.ray import ReportCheckpointCallback, load_checkpoint, restore  # noqa: E402

HERE = Path(__file__).parent


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False, configure_logging=False,
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(HERE), *sys.path]),
                                       "OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(1024, 12)).astype("float32")
    y = (x[:, :3].argmax(1)).astype("int64")
    return x, y


def model(seed: int = 1) -> lamina.Model:
    lamina.backend.clear_session()  # the same layer names (the weights' keys) in every process, as in a new run
    lamina.utils.set_random_seed(seed)
    m = lamina.Sequential([lamina.Input((12,)), lamina.layers.Dense(16, activation="relu"),
                           lamina.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=lamina.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


def train_func(config: dict) -> None:
    from lamina.distribution import DataParallel, set_distribution

    set_distribution(DataParallel())
    m = model()
    x, y = data()
    # the given checkpoint, else the one Ray restores a run from (get_checkpoint); 0 on a fresh run
    start = restore(m, config.get("checkpoint"))
    m.fit(x, y, batch_size=128, epochs=config["epochs"], initial_epoch=start, shuffle=False, verbose=0,
          callbacks=[ReportCheckpointCallback(metrics=["loss", "accuracy"])])


def single(epochs: int) -> tuple[lamina.Model, dict]:
    m = model()
    x, y = data()
    history = m.fit(x, y, batch_size=128, epochs=epochs, shuffle=False, verbose=0)
    return m, history.history


def weights_in(checkpoint, tmp_path: Path) -> list[np.ndarray]:
    m = model(seed=9)
    with checkpoint.as_directory() as directory:
        epoch = load_checkpoint(m, directory)
    return epoch, m.get_weights()


def test_torch_trainer_reports_global_logs_and_checkpoints_and_resumes_exactly(local_ray, tmp_path):
    run = RunConfig(storage_path=str(tmp_path), name="first")
    result = TorchTrainer(train_func, train_loop_config={"epochs": 2}, run_config=run,
                          scaling_config=ScalingConfig(num_workers=2, use_gpu=False)).fit()
    reference, history = single(2)
    assert result.metrics["loss"] == pytest.approx(history["loss"][-1], abs=1e-5)
    assert result.metrics["accuracy"] == pytest.approx(history["accuracy"][-1], abs=1e-5)
    epoch, weights = weights_in(result.checkpoint, tmp_path)
    assert epoch == 2
    for got, want in zip(weights, reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
    # Ray resumes a new run from that checkpoint: epochs 3-4 continue exactly (weights and Adam's moments)
    resumed = TorchTrainer(train_func, train_loop_config={"epochs": 4, "checkpoint": result.checkpoint},
                           run_config=RunConfig(storage_path=str(tmp_path), name="second"),
                           scaling_config=ScalingConfig(num_workers=2, use_gpu=False)).fit()
    reference, history = single(4)
    epoch, weights = weights_in(resumed.checkpoint, tmp_path)
    assert epoch == 4
    assert resumed.metrics["loss"] == pytest.approx(history["loss"][-1], abs=1e-5)
    for got, want in zip(weights, reference.get_weights(), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5)


def ray_data_func(config: dict) -> None:
    import ray.train

    from lamina.data import dict_batches
    from lamina.distribution import DataParallel, set_distribution

    set_distribution(DataParallel())
    m = model()
    shard = ray.train.get_dataset_shard("train")
    batches = dict_batches(shard.iter_torch_batches(batch_size=64), x="features", y="label")
    history = m.fit(batches, epochs=3, verbose=0, callbacks=[ReportCheckpointCallback(checkpoint_on="train_end")])
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_ray_data_dict_batches_train_through_dict_batches(local_ray, tmp_path):
    x, y = data()
    dataset = ray.data.from_items([{"features": row, "label": int(label)} for row, label in zip(x, y, strict=True)])
    result = TorchTrainer(ray_data_func, datasets={"train": dataset},
                          run_config=RunConfig(storage_path=str(tmp_path), name="data"),
                          scaling_config=ScalingConfig(num_workers=2, use_gpu=False)).fit()
    assert result.metrics["loss"] < 1.0 and result.metrics["epoch"] == 2
    epoch, _ = weights_in(result.checkpoint, tmp_path)
    assert epoch == 3  # only the last epoch's report carried a checkpoint (checkpoint_on="train_end")


def test_a_checkpoint_round_trips_weights_and_optimizer_state_and_bad_directories_are_refused(tmp_path):
    from lamina.distribution.ray import save_checkpoint

    trained, _ = single(2)
    save_checkpoint(trained, str(tmp_path), epoch=2, logs={"loss": 0.5})
    m = model(seed=5)
    assert restore(m, checkpoint=str(tmp_path)) == 2
    for got, want in zip(m.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    assert int(m.optimizer.iterations) == int(trained.optimizer.iterations) == 16
    x, y = data()  # the next epoch continues identically from the restored state
    trained.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=0)
    m.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=0)
    for got, want in zip(m.get_weights(), trained.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)
    m = model()
    with pytest.raises(FileNotFoundError, match="is not a lamina checkpoint"):
        load_checkpoint(m, str(tmp_path / "empty"))
    with pytest.raises(ValueError, match="checkpoint_on must be"):
        ReportCheckpointCallback(checkpoint_on="batch")
