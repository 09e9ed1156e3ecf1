"""Keras's device functions on PyTorch: ``list_devices``, ``get_device_count`` and ``initialize``.

lamina runs one process per device (``torchrun``), so in a job the devices are the processes: ``list_devices()``
names one device per process, by global rank, in Keras's spelling (``"gpu:3"`` is the GPU of rank 3, ``"cpu:0"``
the CPU of rank 0). Outside a job it lists what this process sees: its GPUs, else its CPU.

>>> list_devices("cpu")  # one process, no job
['cpu:0']
>>> parse_device("gpu:3"), parse_device("cuda:1"), parse_device("CPU:0")
(('gpu', 3), ('gpu', 1), ('cpu', 0))
"""

from __future__ import annotations

import os
import re

import torch
import torch.distributed as torch_dist

from lamina.distribution import launch

DEVICE_TYPES = ("cpu", "gpu")
_ALIASES = {"cpu": "cpu", "gpu": "gpu", "cuda": "gpu"}
_DEVICE = re.compile(r"^\s*([A-Za-z]+)\s*:\s*(\d+)\s*$")


def _device_type(device_type: str | None) -> str:
    if device_type is None:
        return "gpu" if torch.cuda.is_available() else "cpu"
    kind = _ALIASES.get(str(device_type).lower())
    if kind is None:
        raise ValueError(
            f"Unknown device_type {device_type!r}: lamina runs on PyTorch, which drives 'cpu' and 'gpu' (CUDA) "
            f"devices ('tpu' has no PyTorch backend here). Pass device_type='cpu', 'gpu' or None."
        )
    return kind


def _job_size() -> int | None:
    """The number of processes of the job this process belongs to (None outside a job)."""
    if torch_dist.is_available() and torch_dist.is_initialized():
        return torch_dist.get_world_size()
    if not launch.missing_launch_variables():
        return int(os.environ["WORLD_SIZE"])
    return None


def list_devices(device_type: str | None = None) -> list[str]:
    """All devices of the job, as Keras names them (``"cpu:0"``, ``"gpu:1"``, ...).

    In a job started by ``torchrun`` (or joined with ``initialize``) there is one device per process, numbered by
    global rank: these are the devices a ``DeviceMesh`` is made of. Outside a job: this process's GPUs (by CUDA
    index), or its CPU. ``device_type`` is ``"cpu"``, ``"gpu"`` (``"cuda"`` too) or None (GPUs when CUDA is
    available, else the CPU), as in Keras.

    >>> list_devices("cpu")
    ['cpu:0']
    """
    kind = _device_type(device_type)
    size = _job_size()
    if kind == "gpu" and not torch.cuda.is_available():
        return []
    if size is not None:
        return [f"{kind}:{rank}" for rank in range(size)]
    count = torch.cuda.device_count() if kind == "gpu" else 1
    return [f"{kind}:{i}" for i in range(count)]


def get_device_count(device_type: str | None = None) -> int:
    """The number of devices ``list_devices(device_type)`` returns (Keras's ``get_device_count``).

    >>> get_device_count("cpu")
    1
    """
    return len(list_devices(device_type))


def parse_device(device: str | torch.device) -> tuple[str, int]:
    """``(kind, index)`` of a Keras device string (``"gpu:0"``, ``"cpu:1"``; ``"cuda:0"`` is a GPU too)."""
    if isinstance(device, torch.device):
        kind, index = device.type, device.index or 0
    else:
        match = _DEVICE.match(str(device))
        if match is None:
            raise ValueError(f"A device must be a string 'TYPE:INDEX' as list_devices() returns them (e.g. "
                             f"'gpu:0', 'cpu:1'); received {device!r}.")
        kind, index = match.group(1), int(match.group(2))
    return _device_type(kind), int(index)


def initialize(job_addresses: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Join the job's process group (Keras's ``keras.distribution.initialize``), before any training.

    Under ``torchrun`` no argument is needed: its environment says who this process is. Without torchrun, give
    what torchrun would have set, as Keras does: ``job_addresses`` (comma-separated ``host[:port]``; the first,
    process 0's, is where the processes meet; port 29500 when omitted), ``num_processes`` and ``process_id``
    (this process's rank). Each may also come from ``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
    ``KERAS_DISTRIBUTION_NUM_PROCESSES`` and ``KERAS_DISTRIBUTION_PROCESS_ID``. lamina runs one process per device:
    start one process per GPU (``LOCAL_RANK``, when not set, is the process id modulo the GPUs of the machine).

    >>> from lamina.distribution import initialize
    >>> initialize()  # under torchrun  # doctest: +SKIP
    >>> initialize("10.0.0.1:1234", num_processes=2, process_id=1)  # doctest: +SKIP
    """
    job_addresses = job_addresses or os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    num_processes = num_processes if num_processes is not None else _env_int("KERAS_DISTRIBUTION_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int("KERAS_DISTRIBUTION_PROCESS_ID")
    given = {"job_addresses": job_addresses, "num_processes": num_processes, "process_id": process_id}
    if any(v is not None for v in given.values()):
        missing = [k for k, v in given.items() if v is None]
        if missing:
            raise ValueError(f"initialize() needs job_addresses, num_processes and process_id together (or none of "
                             f"them, under torchrun); {missing} missing. Received {given}.")
        os.environ.update(_launch_environment(str(job_addresses), int(num_processes), int(process_id)))
    missing = launch.missing_launch_variables()
    if missing:
        raise launch.LaunchError(
            f"initialize() found no job to join: this process was not started by torchrun (the environment "
            f"variables {missing} are not set) and no job_addresses, num_processes and process_id were given.\n"
            f"{launch.launch_help()}"
        )
    launch.initialize()


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return None if value in (None, "") else int(value)


def _launch_environment(job_addresses: str, num_processes: int, process_id: int) -> dict[str, str]:
    """torchrun's variables for the process ``process_id`` of ``num_processes``, meeting at the first address."""
    if num_processes < 1 or not 0 <= process_id < num_processes:
        raise ValueError(f"process_id must be in [0, num_processes); received process_id={process_id}, "
                         f"num_processes={num_processes}.")
    first = job_addresses.split(",")[0].strip()
    if not first:
        raise ValueError(f"job_addresses must list 'host[:port]' addresses, the first being process 0's; received "
                         f"{job_addresses!r}.")
    host, _, port = first.rpartition(":") if first.count(":") == 1 else (first, "", "")
    gpus = torch.cuda.device_count()
    local_rank = os.environ.get("LOCAL_RANK") or str(process_id % gpus if gpus else 0)
    return {"MASTER_ADDR": host, "MASTER_PORT": port or "29500", "WORLD_SIZE": str(num_processes),
            "RANK": str(process_id), "LOCAL_RANK": local_rank}
