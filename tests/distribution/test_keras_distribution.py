"""Keras's ``keras.distribution`` names on lamina: ``ModelParallel`` under ``torchrun --nproc_per_node=2`` (gloo,
CPU) against one process, ``DataParallel``'s Keras arguments, and the layout objects' attributes, signatures and
errors against Keras 3 itself (which computes them without devices)."""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import lamina
from lamina import distribution as dist
from lamina.distribution import (
    DataParallel,
    DeviceMesh,
    LaunchError,
    LayoutMap,
    ModelParallel,
    TensorLayout,
    distribute_tensor,
    get_device_count,
    list_devices,
)
from lamina.distribution.mesh import check_covers_job
from lamina.distribution.weight_axes import stored_axes

WORKER = Path(__file__).with_name("model_parallel_worker.py")
needs_gloo = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")


def _keras_distribution():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    return keras.distribution


sys.path.insert(0, str(Path(__file__).parent))
try:
    from test_distribution import env, free_port, ok  # the harness: a clean environment, a free port
finally:
    sys.path.pop(0)


def torchrun(mode: str, out: Path, timeout: float = 150) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--master_addr=127.0.0.1",
           f"--master_port={free_port()}", "--max-restarts=0", str(WORKER), mode, str(out)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env())


def single(mode: str, out: Path, timeout: float = 90) -> None:
    result = subprocess.run([sys.executable, str(WORKER), mode, str(out)], capture_output=True, text=True,
                            timeout=timeout, env=env(LAMINA_SINGLE_PROCESS="1"))
    assert result.returncode == 0, result.stderr[-3000:]


def outputs(out: Path, rank: int = 0) -> tuple[dict, dict]:
    with np.load(out / f"rank{rank}.npz") as f:
        arrays = dict(f)
    return arrays, json.loads((out / f"rank{rank}.json").read_text())


def run_both(mode: str, tmp_path: Path) -> tuple[tuple, tuple, tuple]:
    dist_out, one_out = tmp_path / "dist", tmp_path / "one"
    dist_out.mkdir(), one_out.mkdir()
    ok(torchrun(mode, dist_out))
    single(mode, one_out)
    return outputs(dist_out), outputs(dist_out, 1), outputs(one_out)


def assert_same_training(rank0: tuple, rank1: tuple, reference: tuple, atol: float = 1e-5) -> None:
    (multi, r0), (other, r1), (ref, ref_report) = rank0, rank1, reference
    for key in ref:
        np.testing.assert_allclose(multi[key], ref[key], atol=atol, rtol=0, err_msg=key)
        np.testing.assert_array_equal(multi[key], other[key])  # every process holds the same full values
    for key, values in ref_report["history"].items():
        np.testing.assert_allclose(r0["history"][key], values, atol=atol)
        assert r0["history"][key] == r1["history"][key]  # global logs on every rank
    for key, value in ref_report.get("evaluate", {}).items():
        assert r0["evaluate"][key] == pytest.approx(value, abs=atol) == r1["evaluate"][key]


# ---------------------------------------------------------------------------------------------- under torchrun
@needs_gloo
def test_model_parallel_shards_a_dense_kernel_and_trains_like_one_process(tmp_path):
    rank0, rank1, reference = run_both("tensor_parallel", tmp_path)
    placements = rank0[1]["placements"]
    assert placements["dense.kernel"] == "(Replicate(), Shard(dim=1))"  # the LayoutMap's (None, "model")
    assert placements["dense.bias"] == "(Replicate(), Shard(dim=0))"
    assert placements["dense_1.kernel"] == "(Replicate(), Replicate())"  # no key matched: replicated
    assert_same_training(rank0, rank1, reference)  # SGD, 20 steps, an uneven last batch; predict in input order
    # save_weights gathered the full weights and load_weights gave each process its part back
    np.testing.assert_allclose(rank0[0]["again"], rank0[0]["pred"], atol=1e-6)


@needs_gloo
def test_model_parallel_splits_the_batch_and_a_weight_along_the_same_axis(tmp_path):
    rank0, rank1, reference = run_both("batch_and_weights", tmp_path)
    assert rank0[1]["placements"]["dense_1.kernel"] == "(Shard(dim=0),)"
    assert rank0[1]["placements"]["dense.kernel"] == "(Replicate(),)"
    assert_same_training(rank0, rank1, reference)  # Adam, 2 epochs, the batch split in two (34 + 33 at the end)


@needs_gloo
def test_model_parallel_with_a_penalty_and_replicated_batch_norm_state(tmp_path):
    rank0, rank1, reference = run_both("stateful_layers", tmp_path)
    assert rank0[1]["placements"]["batch_normalization.moving_mean"] == "(Replicate(), Replicate())"
    assert_same_training(rank0, rank1, reference)  # the moving statistics too: updated in place, not on a copy


@needs_gloo
def test_model_parallel_split_embedding_before_a_replicated_convolution(tmp_path):
    rank0, rank1, reference = run_both("embedding_and_conv", tmp_path)
    assert rank0[1]["placements"]["embedding.embeddings"] == "(Replicate(), Shard(dim=1))"
    assert rank0[1]["placements"]["conv1d.kernel"] == "(Replicate(), Replicate())"
    assert_same_training(rank0, rank1, reference)


@needs_gloo
def test_data_parallel_takes_keras_arguments_and_unsharded_data(tmp_path):
    rank0, rank1, reference = run_both("keras_data_parallel", tmp_path)
    report = rank0[1]
    assert report["devices"] == ["cpu:0", "cpu:1"]  # one device per process, by rank, in Keras's spelling
    assert report["mesh"] == "<DeviceMesh shape=(2,), axis_names=['batch']>" and report["batch_dim_name"] == "batch"
    assert report["num_processes"] == 2 and (report["data_shard_id"], rank1[1]["data_shard_id"]) == (0, 1)
    # auto_shard_dataset=False: each rank's own 64 rows per step train as one process on the 128 together
    assert_same_training(rank0, rank1, reference)


@needs_gloo
def test_initialize_joins_a_job_from_keras_s_variables_without_torchrun(tmp_path):
    port = free_port()
    procs = [subprocess.Popen([sys.executable, str(WORKER), "keras_initialize", str(tmp_path)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env(
                                  KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                                  KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(rank)))
             for rank in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err[-3000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["rank"] for r in reports] == [0, 1]
    assert reports[0]["devices"] == reports[1]["devices"] == ["cpu:0", "cpu:1"]
    assert reports[0]["history"] == reports[1]["history"]  # one job: global logs on both
    assert reports[0]["after"] == "None"  # scope() put the single process back


# ---------------------------------------------------------------------------------------------- Keras's API
def parameters(fn) -> list[tuple]:
    """(name, kind, default) of each parameter: the signature without type hints."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_signatures_are_keras_s():
    kd = _keras_distribution()
    for name in ("list_devices", "get_device_count", "initialize", "distribute_tensor", "DeviceMesh", "TensorLayout",
                 "LayoutMap"):
        assert parameters(getattr(dist, name)) == parameters(getattr(kd, name)), name
    ours = {p[0]: p for p in parameters(ModelParallel)}
    for parameter in parameters(kd.ModelParallel):  # Keras's, plus lamina's keyword-only ones
        assert ours[parameter[0]] == parameter
    assert parameters(DataParallel)[:3] == parameters(kd.DataParallel)


def test_mesh_layout_and_layout_map_attributes_equal_keras_s():
    kd = _keras_distribution()
    for shape, names in [((2,), ["model"]), ((1, 2), ["batch", "model"]), ([2, 1], ("data", "model"))]:
        devices = ["cpu:0", "cpu:1"]
        ours, theirs = DeviceMesh(shape, names, devices=devices), kd.DeviceMesh(shape, names, devices=devices)
        assert ours.shape == theirs.shape and ours.axis_names == theirs.axis_names
        np.testing.assert_array_equal(ours.devices, theirs.devices)
        assert ours.devices.shape == theirs.devices.shape and repr(ours) == repr(theirs)
        for axes in [(None, names[-1]), [names[0]], (None,)]:
            a, b = TensorLayout(axes, ours), kd.TensorLayout(axes, theirs)
            assert a.axes == b.axes and repr(a) == repr(b)
        ours_map, theirs_map = LayoutMap(ours), kd.LayoutMap(theirs)
        for layout_map in (ours_map, theirs_map):
            layout_map[".*dense.*kernel"] = (None, names[-1])
            layout_map["sequential/dense/bias"] = (names[-1],)
            layout_map["conv"] = (None, None, None, names[-1])
        for path in ["sequential/dense/kernel", "dense_1/kernel", "sequential/dense/bias", "dense/bias", "conv",
                     "my/conv", "conv/kernel"]:
            a, b = ours_map[path], theirs_map[path]
            assert (a is None) == (b is None) and (a is None or a.axes == b.axes), path
        assert list(ours_map) == list(theirs_map) and len(ours_map) == len(theirs_map)
        assert ours_map["dense/kernel"].device_mesh is ours  # the map's mesh is given to its layouts
    mesh = DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"])
    ours_map = LayoutMap(mesh)
    ours_map["a.*"] = ("model",)
    mp = ModelParallel(layout_map=ours_map, batch_dim_name="batch")
    assert (mp.device_mesh, mp.batch_dim_name, mp.auto_shard_dataset) == (mesh, "batch", True)
    assert mp.get_data_layout((8, 3)).axes == ("batch", None) and mp.get_tensor_layout("abc").axes == ("model",)
    assert ModelParallel(layout_map=ours_map).batch_dim_name == "batch"  # the mesh's first axis
    dp = DataParallel(devices=["cpu:0", "cpu:1"])
    assert (dp.batch_dim_name, dp.auto_shard_dataset, repr(dp.device_mesh)) == (
        "batch", True, repr(kd.DataParallel(devices=["cpu:0", "cpu:1"]).device_mesh))


def test_layouts_are_dtensor_placements():
    from torch.distributed.tensor import Replicate, Shard

    mesh = DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"])
    assert TensorLayout([None, "model"], mesh).placements(2) == (Replicate(), Shard(1))
    assert TensorLayout(["batch", "model"], mesh).placements() == (Shard(0), Shard(1))
    assert TensorLayout([None, None], mesh).placements() == (Replicate(), Replicate())
    assert TensorLayout(["model"], mesh).placements(3) == (Replicate(), Shard(0))  # the rest not split
    one = DeviceMesh((1,), ["batch"], devices=["cpu:0"])
    t = torch.arange(4.0)
    assert distribute_tensor(t, TensorLayout(["batch"], one)) is t  # one device, no job: nothing to split


def test_list_devices_in_keras_s_format():
    devices = list_devices()
    assert devices and all(d.split(":")[0] in ("cpu", "gpu") and d.split(":")[1].isdigit() for d in devices)
    assert list_devices("cpu") == ["cpu:0"] and get_device_count("cpu") == 1
    assert get_device_count() == len(devices)
    if not torch.cuda.is_available():
        assert list_devices("gpu") == [] and devices == ["cpu:0"]
    with pytest.raises(ValueError, match="'tpu'"):
        list_devices("tpu")


# ---------------------------------------------------------------------------------------------- clear errors
def test_errors_say_what_is_wrong():
    mesh = DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="same length"):
        DeviceMesh((2,), ["a", "b"], devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="holds 3 devices but 2"):
        DeviceMesh((3,), ["a"], devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="axis names of its mesh"):
        TensorLayout(["x"], mesh)
    with pytest.raises(ValueError, match="same mesh axis 'model'"):
        TensorLayout(["model", "model"], mesh).placements()  # no DTensor meaning
    with pytest.raises(ValueError, match="names 2 dimensions but the tensor has 1"):
        TensorLayout([None, "model"], mesh).placements(1)
    layout = TensorLayout(["model"])
    layout.device_mesh = mesh
    with pytest.raises(ValueError, match="cannot be replaced"):
        layout.device_mesh = mesh
    layout_map = LayoutMap(mesh)
    layout_map["dense.*"] = ("model",)
    layout_map[".*kernel"] = (None, "model")
    with pytest.raises(ValueError, match="matches several LayoutMap keys"):
        layout_map["dense/kernel"]
    with pytest.raises(ValueError, match="already has the key"):
        layout_map["dense.*"] = (None,)
    with pytest.raises(ValueError, match="TensorLayout or a tuple"):
        layout_map["x"] = "model"
    with pytest.raises(ValueError, match="needs a layout_map"):
        ModelParallel()
    with pytest.raises(ValueError, match="not an axis"):
        ModelParallel(layout_map=layout_map, batch_dim_name="data")
    with pytest.raises(TypeError, match="timeout=600"):
        DataParallel(600)
    with pytest.raises(ValueError, match="one-axis mesh"):
        DataParallel(device_mesh=mesh)
    with pytest.raises(ValueError, match="not both"):
        DataParallel(device_mesh=DeviceMesh((2,), ["batch"], ["cpu:0", "cpu:1"]), devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="one process per device"):
        check_covers_job(DeviceMesh((2,), ["batch"], ["gpu:0", "gpu:0"]), 2)
    conv = lamina.layers.Conv2D(4, 3)
    conv.build((None, 8, 8, 3))
    with pytest.raises(ValueError, match="no sharding rule for a convolution"):
        stored_axes(conv, "kernel", tuple(conv.kernel.shape), (None, None, None, "model"))
    with pytest.raises(ValueError, match="'TYPE:INDEX'"):
        DeviceMesh((1,), ["batch"], ["first"]).ranks()


def test_initialize_without_a_job_says_how_to_start_one(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "KERAS_DISTRIBUTION_JOB_ADDRESSES",
                 "KERAS_DISTRIBUTION_NUM_PROCESSES", "KERAS_DISTRIBUTION_PROCESS_ID"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(LaunchError, match="torchrun"):
        dist.initialize()
    with pytest.raises(LaunchError, match="torchrun"), DataParallel().scope():
        pass
    assert dist.distribution() is None
    with pytest.raises(ValueError, match=r"\['process_id'\] missing"):
        dist.initialize("127.0.0.1:1234", num_processes=2)
    with pytest.raises(ValueError, match="process_id must be in"):
        dist.initialize("127.0.0.1:1234", num_processes=2, process_id=2)
