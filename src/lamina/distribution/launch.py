"""Joining the job that ``torchrun`` started: the process group, this process's rank and device, and timeouts.

``torchrun`` starts one process per device and tells each who it is through environment variables
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). ``initialize`` reads them, joins the
process group (NCCL on CUDA, gloo on CPU) with a bounded timeout, and places the process on its local device.
A process group that already exists (Ray Train, Spark's ``TorchDistributor``, a user's ``init_process_group``) is
adopted as it is.

>>> import os
>>> missing_launch_variables({"RANK": "0"})  # what torchrun would have set
['WORLD_SIZE', 'LOCAL_RANK', 'MASTER_ADDR', 'MASTER_PORT']
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as torch_dist

from lamina.core import device as device_module

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT = 600.0  # seconds a collective may wait for the other processes before the job fails


class LaunchError(RuntimeError):
    """Distribution was asked for, but this process was not started by ``torchrun`` (or is misconfigured)."""


class DistributedError(RuntimeError):
    """A collective operation failed: another process died or stopped answering."""


@dataclass(frozen=True)
class ProcessInfo:
    """Who this process is in the job."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device
    backend: str


def missing_launch_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """The torchrun environment variables that are not set (all of them when started with plain ``python``)."""
    environ = os.environ if environ is None else environ
    return [name for name in LAUNCH_VARIABLES if not environ.get(name)]


def launch_help(script: str = "train.py") -> str:
    return (
        "Start the script with torchrun, which runs one process per device and tells each its rank:\n"
        f"    torchrun --nproc_per_node=NUM_GPUS {script}                      # one machine\n"
        f"    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 {script}"
        "   # on every machine\n"
        "or drop set_distribution(...) to train in this single process. See docs/distributed.md."
    )


def initialize(timeout: float = DEFAULT_TIMEOUT, backend: str | None = None) -> ProcessInfo:
    """Join the job: adopt the process group that already exists (whatever started it: ``torchrun``, Ray Train,
    Spark's ``TorchDistributor``, a user's own ``init_process_group``), or join the one torchrun's environment
    describes (once per process), and pick this process's device."""
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds; received {timeout!r}.")
    if backend not in (None, "nccl", "gloo"):
        raise ValueError(f"backend must be 'nccl' (CUDA) or 'gloo' (CPU); received {backend!r}.")
    if torch_dist.is_available() and torch_dist.is_initialized():
        return _adopt(timeout, backend)
    missing = missing_launch_variables()
    if missing:
        import sys

        script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "train.py"
        raise LaunchError(
            f"set_distribution() needs a multi-process launch, but this process was started without torchrun "
            f"and no process group exists: the environment variables {missing} are not set.\n{launch_help(script)}"
        )
    rank, world, local_rank = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    use_cuda = torch.cuda.is_available() and backend in (None, "nccl")
    if backend is None:
        backend = "nccl" if use_cuda else "gloo"
    device = _local_device(local_rank, use_cuda)
    kwargs = {"device_id": device} if use_cuda else {}
    torch_dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=float(timeout)),
                                  rank=rank, world_size=world, **kwargs)
    atexit.register(shutdown)  # an unchanged script ends cleanly (no teardown of live communicators)
    device_module.set_device(device)
    return ProcessInfo(rank, world, local_rank, device, torch_dist.get_backend())


def _adopt(timeout: float, backend: str | None) -> ProcessInfo:
    """Take rank, world size and backend from the existing process group; ``LOCAL_RANK`` is optional."""
    group_backend = str(torch_dist.get_backend())
    rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
    if "WORLD_SIZE" in os.environ and os.environ["WORLD_SIZE"].isdigit() and int(os.environ["WORLD_SIZE"]) != world:
        raise LaunchError(f"A process group of {world} processes already exists, but the environment says "
                          f"WORLD_SIZE={os.environ['WORLD_SIZE']}: start as many processes as the group has.")
    ignored = []
    if timeout != DEFAULT_TIMEOUT:
        ignored.append(f"timeout={timeout:g}")
    if backend is not None and backend != group_backend:
        ignored.append(f"backend={backend!r}")
    if ignored:
        warnings.warn(f"The process group already exists (backend {group_backend!r}, started by the launcher or "
                      f"by init_process_group), so {' and '.join(ignored)} cannot apply to it: lamina uses the "
                      f"group as it is. Pass timeout/backend to init_process_group (or the launcher) instead.",
                      stacklevel=4)
    use_cuda = torch.cuda.is_available() and "nccl" in group_backend
    local_env = os.environ.get("LOCAL_RANK", "")
    if local_env.isdigit():
        local_rank = int(local_env)
    elif use_cuda:  # no LOCAL_RANK: the launcher gave each process its own visible device(s), or all of them
        local_rank = rank % torch.cuda.device_count()
    else:
        local_rank = 0
    device = _local_device(local_rank, use_cuda)
    device_module.set_device(device)
    return ProcessInfo(rank, world, local_rank, device, group_backend)


def _local_device(local_rank: int, use_cuda: bool) -> torch.device:
    if not use_cuda:
        return torch.device("cpu")
    if local_rank >= torch.cuda.device_count():
        raise LaunchError(
            f"LOCAL_RANK={local_rank} but this machine has {torch.cuda.device_count()} CUDA device(s): start "
            f"at most that many processes per machine (torchrun --nproc_per_node={torch.cuda.device_count()})."
        )
    device = torch.device("cuda", local_rank)
    torch.cuda.set_device(device)
    # A rank whose peer died raises instead of hanging in a collective (PyTorch's watchdog ends the process).
    os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
    return device


def shutdown() -> None:
    """Leave the process group (at the end of a script; optional, torchrun cleans up too)."""
    if torch_dist.is_initialized():
        if torch_dist.get_backend() == "gloo":
            # Leave together: a rank tearing gloo down while its peer still talks to it can abort the process
            # ("terminate called without an active exception"). A dead peer only delays the exit by the timeout.
            with contextlib.suppress(Exception):  # a peer gone already: nothing left to wait for
                torch_dist.monitored_barrier(timeout=datetime.timedelta(seconds=10))
        torch_dist.destroy_process_group()
