"""Distributed training under ``torchrun --nproc_per_node=2`` on CPU (gloo), checked against single-process runs.

Each test starts ``worker.py`` (an ordinary training script plus ``set_distribution``) with torchrun in a
subprocess, on a free port, with a timeout, and compares what rank 0 wrote with the same script run in one
process (the oracle: plain single-process lamina on the same data and seed).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import lamina

WORKER = Path(__file__).with_name("worker.py")
pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra: str) -> dict:
    out = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **extra}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "LAMINA_SINGLE_PROCESS"):
        if name not in extra:
            out.pop(name, None)
    return out


# gloo's teardown on a heavily loaded machine can abort a process after its work is done and written (PyTorch's
# "terminate called without an active exception" at exit); such a run is repeated once, from the start.
TEARDOWN_ABORT = "terminate called without an active exception"


def torchrun(mode: str, out: Path, *extra: str, timeout: float = 90, **environ: str) -> subprocess.CompletedProcess:
    for attempt in range(2):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
               f"--master_port={free_port()}", "--max-restarts=0", str(WORKER), mode, str(out), *extra]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env(**environ))
        finished = all((out / f"rank{r}.json").exists() for r in (0, 1))
        if result.returncode == 0 or attempt or TEARDOWN_ABORT not in result.stderr or not finished:
            return result
        for f in out.glob("rank*.*"):
            f.unlink()
    return result


def single(mode: str, out: Path, timeout: float = 60, **environ: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, str(WORKER), mode, str(out)], capture_output=True, text=True,
                            timeout=timeout, env=env(LAMINA_SINGLE_PROCESS="1", **environ))
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def ok(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"torchrun failed:\n{result.stdout[-2000:]}\n{result.stderr[-12000:]}"


def report(out: Path, rank: int = 0) -> dict:
    return json.loads((out / f"rank{rank}.json").read_text())


def arrays(out: Path, rank: int = 0) -> dict:
    with np.load(out / f"rank{rank}.npz") as f:
        return dict(f)


def epoch_lines(stdout: str) -> list[dict[str, float]]:
    """The values on the final line of each epoch printed with verbose=2 ('20/20 - 0s - ... - loss: 1.0901')."""
    lines = [line for line in stdout.splitlines() if re.match(r"^\d+/\d+ - ", line)]
    return [{k: float(v) for k, v in re.findall(r"(\w+): ([-\d.e]+)", line)} for line in lines]


# ---------------------------------------------------------------------------------------------- the tests
def test_sgd_twenty_steps_equal_one_process_and_results_are_global(tmp_path):
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    result = torchrun("equivalence", dist_out)
    ok(result)
    single("equivalence", one_out)
    multi, reference = arrays(dist_out), arrays(one_out)
    other = arrays(dist_out, 1)
    weight_keys = [k for k in reference if k != "pred"]
    assert weight_keys
    for key in weight_keys:  # 20 SGD steps (the last batch uneven: 34 + 33 samples) == one process, batch 128
        np.testing.assert_allclose(multi[key], reference[key], atol=1e-5, rtol=0)
        np.testing.assert_array_equal(multi[key], other[key])  # the replicas stay identical
    # predict: the outputs of all processes, in input order (1001 rows: an uneven last batch)
    assert multi["pred"].shape == reference["pred"].shape == (1001, 3)
    np.testing.assert_allclose(multi["pred"], reference["pred"], atol=1e-5)
    np.testing.assert_array_equal(multi["pred"], other["pred"])
    # logs and evaluate: global values, the same on every rank, equal to the single-process ones
    r0, r1, ref = report(dist_out), report(dist_out, 1), report(one_out)
    assert r0 == r1
    for key in ("loss", "accuracy"):
        assert r0["history"][key][0] == pytest.approx(ref["history"][key][0], abs=1e-5)
        assert r0["evaluate"][key] == pytest.approx(ref["evaluate"][key], abs=1e-5)
    # only rank 0 printed, and what it printed is the global epoch logs
    printed = epoch_lines(result.stdout)
    assert len(printed) == 1 and result.stdout.count("Epoch 1/1") == 1
    assert printed[0]["loss"] == pytest.approx(r0["history"]["loss"][0], abs=1e-4)
    assert printed[0]["accuracy"] == pytest.approx(r0["history"]["accuracy"][0], abs=1e-4)


def test_fsdp_trains_saves_a_full_checkpoint_that_loads_and_predicts_in_one_process(tmp_path):
    sys.path.insert(0, str(WORKER.parent))
    try:
        import worker
    finally:
        sys.path.pop(0)
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    ok(torchrun("fsdp", dist_out))
    assert report(dist_out)["sharded"] == ["DTensor"] * 4  # the weights really were sharded
    sharded = arrays(dist_out)
    np.testing.assert_array_equal(sharded["pred"], arrays(dist_out, 1)["pred"])
    np.testing.assert_allclose(sharded["again"], sharded["pred"], atol=1e-6)  # load_weights into the sharded model
    # the file holds the full weights: a single process loads it and predicts the same
    x, _ = worker.linear_data()
    model = worker.mlp(seed=99)
    model(x[:2])
    model.load_weights(str(dist_out / "fsdp.weights.safetensors"))
    np.testing.assert_allclose(model.predict(x[:500], batch_size=50, verbose=0), sharded["pred"], atol=1e-6)
    # so does the whole-model file, through load_model
    loaded = lamina.models.load_model(str(dist_out / "fsdp.lamina"))
    np.testing.assert_allclose(loaded.predict(x[:500], batch_size=50, verbose=0), sharded["pred"], atol=1e-6)
    # and FSDP trained like one process would have (same shuffled order, Adam, 40 steps)
    single("fsdp", one_out)
    np.testing.assert_allclose(sharded["pred"], arrays(one_out)["pred"], atol=1e-4)


def test_without_torchrun_the_error_says_how_to_launch(tmp_path):
    result = subprocess.run([sys.executable, str(WORKER), "equivalence", str(tmp_path)], capture_output=True,
                            text=True, timeout=60, env=env())
    assert result.returncode != 0
    assert "LaunchError" in result.stderr and "torchrun --nproc_per_node" in result.stderr
    assert "'RANK'" in result.stderr and "without torchrun" in result.stderr


def test_an_existing_process_group_is_adopted_without_torchrun_variables(tmp_path):
    """A group made by the user's own init_process_group (file:// rendezvous, as Ray's TorchConfig or Spark may
    do): set_distribution adopts it, warns that its timeout cannot apply, and trains as one process does."""
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    procs = [subprocess.Popen([sys.executable, str(WORKER), "equivalence", str(dist_out)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env=env(LAMINA_TEST_ADOPT_RANK=str(rank), LAMINA_TEST_TIMEOUT="45"))
             for rank in (0, 1)]
    outputs = [p.communicate(timeout=90) for p in procs]
    for p, (_, stderr) in zip(procs, outputs, strict=True):
        assert p.returncode == 0 or (TEARDOWN_ABORT in stderr and (dist_out / "rank1.json").exists()), stderr[-4000:]
        assert "cannot apply to it" in stderr and "timeout=45" in stderr
        assert "LaunchError" not in stderr
    single("equivalence", one_out)
    multi, reference = arrays(dist_out), arrays(one_out)
    assert report(dist_out)["history"] == report(dist_out, 1)["history"]
    for key in (k for k in reference if k != "pred"):
        np.testing.assert_allclose(multi[key], reference[key], atol=1e-5, rtol=0)
    np.testing.assert_allclose(multi["pred"], reference["pred"], atol=1e-5)


def test_set_distribution_rejects_other_values():
    from lamina import distribution

    with pytest.raises(TypeError, match="DataParallel"):
        distribution.set_distribution("ddp")
    assert distribution.distribution() is None and distribution.rank() == 0 and distribution.is_chief()


def test_a_killed_rank_ends_the_job_quickly_and_a_rerun_resumes_from_the_backup(tmp_path):
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    start = time.monotonic()
    killed = torchrun("backup", dist_out, "12", timeout=60)  # rank 1 dies at step 12 of epoch 1 (backups every 5)
    assert time.monotonic() - start < 60
    assert killed.returncode != 0
    assert "rank      : 1" in killed.stderr and ("SIGKILL" in killed.stderr or "lost contact" in killed.stderr)
    assert (dist_out / "backup" / "latest.safetensors").exists() and not (dist_out / "rank0.json").exists()
    ok(torchrun("backup", dist_out))  # the same command again: resumes after step 10 of epoch 1
    steps = report(dist_out)["steps"]
    assert steps[0] == [1, 10] and len(steps) == 10 + 20
    assert not (dist_out / "backup" / "latest.safetensors").exists()  # rank 0 cleaned up at the end
    # the resumed run ends where an uninterrupted single-process run ends (same order, same Adam steps)
    single("backup", one_out)
    resumed, reference = arrays(dist_out), arrays(one_out)
    for key in reference:
        np.testing.assert_allclose(resumed[key], reference[key], atol=1e-4)
    assert report(dist_out)["history"]["loss"] == pytest.approx(report(one_out)["history"]["loss"], abs=1e-4)


def test_fashion_mnist_with_shuffling_and_adam_trains_like_one_process(tmp_path):
    import lamina as keras
    from lamina.datasets import fashion_mnist

    try:
        (_, _), (xt, yt) = fashion_mnist.load_data()
    except Exception as error:  # noqa: BLE001
        pytest.skip(f"Fashion-MNIST is not available: {error}")
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    result = torchrun("fashion", dist_out, timeout=120)
    ok(result)
    single("fashion", one_out, timeout=120)
    multi, one = report(dist_out), report(one_out)
    assert multi == report(dist_out, 1)  # every rank has the same, global, logs
    assert multi["evaluate"]["accuracy"] > 0.75
    assert abs(multi["evaluate"]["accuracy"] - one["evaluate"]["accuracy"]) < 0.03
    # what rank 0 printed (alone: two epoch lines) is the global history
    printed = epoch_lines(result.stdout)
    assert len(printed) == 2
    for epoch, line in enumerate(printed):
        for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
            assert line[key] == pytest.approx(multi["history"][key][epoch], abs=1e-4), key
    # and the global values are the metrics of all the data: recompute them in this process from the weights
    weights = arrays(dist_out)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    check = model.evaluate(xt[:2000] / 255.0, yt[:2000], batch_size=500, verbose=0, return_dict=True)
    assert check["accuracy"] == pytest.approx(multi["evaluate"]["accuracy"], abs=1e-6)
    assert check["loss"] == pytest.approx(multi["evaluate"]["loss"], abs=1e-5)
    assert multi["history"]["val_accuracy"][-1] == pytest.approx(check["accuracy"], abs=1e-6)


# ------------------------------------------------------------------ iterables: per-process batches (issue 21)
def assert_same_weights(dist_out: Path, one_out: Path, atol: float = 1e-6) -> None:
    multi, reference, other = arrays(dist_out), arrays(one_out), arrays(dist_out, 1)
    assert reference
    for key in reference:
        np.testing.assert_allclose(multi[key], reference[key], atol=atol, rtol=0, err_msg=key)
        np.testing.assert_array_equal(multi[key], other[key])  # the replicas stay identical


def test_a_fit_on_a_generator_after_an_array_fit_with_a_one_sample_last_batch_trains_correctly(tmp_path):
    # The array fit's last global batch (1 sample) left rank 0 with gradient weight 2 and rank 1 with 0; a later
    # fit on a generator kept them: silently wrong training. Each fit now starts from its own weights.
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    ok(torchrun("stale", dist_out))
    single("stale", one_out)
    assert_same_weights(dist_out, one_out)
    assert report(dist_out)["history"]["loss"] == pytest.approx(report(one_out)["history"]["loss"], abs=1e-6)


@pytest.mark.parametrize("mode", ["pad", "drop"])
def test_uneven_batch_counts_and_sizes_per_process_equal_one_process_on_the_global_batches(tmp_path, mode):
    # rank 0 yields 10 batches of 150 rows, rank 1 yields 9 of 50: every step's gradient is that of the mean loss
    # over the global batch (200 rows, 150 at the 10th step with "pad"; the 10th step dropped with "drop").
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    ok(torchrun("uneven", dist_out, LAMINA_TEST_UNEVEN=mode))
    single("uneven", one_out, LAMINA_TEST_UNEVEN=mode)
    assert_same_weights(dist_out, one_out)
    multi, one = report(dist_out), report(one_out)
    assert multi == report(dist_out, 1)
    for key in ("loss", "accuracy"):
        assert multi["history"][key] == pytest.approx(one["history"][key], abs=1e-6), key
    # evaluate sees every batch of every process (no agreement needed: nothing is exchanged per step)
    for key in ("loss", "accuracy"):
        assert multi["evaluate"][key] == pytest.approx(one["evaluate"][key], abs=1e-6), key


def test_the_readme_classifier_trains_from_parquet_row_groups_sharded_by_process_as_one_process(tmp_path):
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    if not Path("/usr/share/datasets/fashion-mnist").exists():
        pytest.skip("the Fashion-MNIST Debian package (dataset-fashion-mnist) is not installed")
    (x, y), _ = lamina.datasets.fashion_mnist.load_data()
    n = 2432  # 38 row groups of 64 rows: 19 global batches of 128
    table = pa.table({"image": pa.array([row.tobytes() for row in x[:n]], pa.binary(784)),
                      "label": y[:n].astype("int64")})
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=64)
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    ok(torchrun("parquet", dist_out, LAMINA_TEST_PARQUET=str(tmp_path / "train.parquet")))
    single("parquet", one_out, LAMINA_TEST_PARQUET=str(tmp_path / "train.parquet"))
    assert report(dist_out)["steps"] == report(dist_out, 1)["steps"] == report(one_out)["steps"] == 19
    assert_same_weights(dist_out, one_out, atol=1e-5)
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(report(dist_out)["history"][key], report(one_out)["history"][key], atol=1e-5)
    assert report(one_out)["history"]["accuracy"][-1] > 0.6  # it learns


def test_a_frozen_process_is_reported_within_the_timeout_and_named(tmp_path):
    started = time.monotonic()
    result = torchrun("frozen", tmp_path, timeout=120, LAMINA_TEST_TIMEOUT="5")
    elapsed = time.monotonic() - started
    assert result.returncode != 0
    seconds, message = (tmp_path / "error0.txt").read_text().split("\n", 1)
    assert float(seconds) < 5 + 10 + 10  # the timeout, the probe, slack for a loaded machine
    assert "waited the process group's whole timeout" in message and "rank 1" in message, message
    assert "DataParallel(timeout=seconds)" in message
    assert elapsed < 100  # not the default 600 s, nor the frozen rank's 120 s


def test_processes_reducing_different_metrics_are_told_what_each_has(tmp_path):
    result = torchrun("mismatch", tmp_path, timeout=90)
    assert result.returncode != 0
    message = (tmp_path / "error0.txt").read_text()
    assert "disagree during the reduction of metrics" in message, message
    assert "rank 0: loss/0" in message and "rank 1: loss/0" in message and "accuracy/" in message


def test_a_size_mismatch_inside_a_collective_is_reported_as_disagreement_not_as_a_dead_peer():
    from lamina.distribution.reduce import explain_failure

    gloo = RuntimeError("[gloo/transport/tcp/pair.cc:446] op.preamble.length <= op.nbytes. "
                        "Received data size doesn't match expected size")
    message = str(explain_failure(gloo, "agreeing on training step 4"))
    assert "called different collective operations during agreeing on training step 4" in message
    assert "different number of steps or epochs" in message and "died" not in message
    assert "lost contact" in str(explain_failure(RuntimeError("Connection closed by peer"), "a train step"))
