"""Cross-process reductions: metric states summed so every rank sees the global values, Python objects broadcast
from rank 0, and predictions gathered back into input order.

Every function here is a collective: all processes must call it, in the same order, or the job waits (until the
process group's timeout) and then fails with a ``DistributedError``.

A metric's state is made of sums (totals, counts, confusion matrices), so the metric of all the data is the metric
of the summed states: one ``all_reduce(SUM)`` per dtype at an epoch's end gives exactly the single-process value.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as torch_dist

from lamina.distribution.launch import DistributedError
from lamina.training.step import MetricLogs

T = TypeVar("T")

# What a collective raises when a peer is gone (gloo: closed or reset connections; NCCL: the watchdog; both: timeouts).
_PEER_FAILURE = re.compile(r"gloo|nccl|connection|peer|timed? ?out|broken pipe|socket|closed|abort", re.IGNORECASE)
# What gloo raises when the processes called collectives of different sizes at the same point.
_MISMATCH = re.compile(r"doesn't match expected size|size mismatch|mismatch between|unexpected size", re.IGNORECASE)
_TIMEOUT = re.compile(r"timed? ?out|timeout|deadline", re.IGNORECASE)
PROBE_SECONDS = 10.0  # how long the barrier that names unresponsive processes waits for them


def _unresponsive_ranks() -> str:
    """After a timeout: which processes do not check in within ``PROBE_SECONDS``. The collective's own connections
    are closed by then, so every process that reaches this point writes a key to the job's rendezvous store (the
    one torchrun or ``init_process_group`` made) and waits for the others' keys."""
    if not torch_dist.is_initialized():
        return ""
    try:
        store = torch_dist.distributed_c10d._get_default_store()
        rank, world = torch_dist.get_rank(), torch_dist.get_world_size()
        store.set(f"lamina/answering/{rank}", "1")
        missing = set(range(world)) - {rank}
        deadline = time.monotonic() + PROBE_SECONDS
        while missing and time.monotonic() < deadline:
            missing = {r for r in missing if not store.check([f"lamina/answering/{r}"])}
            if missing:
                time.sleep(0.2)
    except Exception:  # no store to ask (a custom launcher): the message says what is known without it
        return ""
    if not missing:
        return " Every process answered just after, so one was only late (raise timeout= if that is expected)."
    named = ", ".join(str(r) for r in sorted(missing))
    return f" Not answering within a further {PROBE_SECONDS:g} s: rank{'s' if len(missing) > 1 else ''} {named}."


def explain_failure(error: BaseException, what: str) -> DistributedError | None:
    """A ``DistributedError`` saying what happened when ``error`` comes from a failed collective, else None."""
    if isinstance(error, DistributedError):
        return None
    dist_error = getattr(torch_dist, "DistError", ())
    if not (isinstance(error, dist_error) or (isinstance(error, RuntimeError) and _PEER_FAILURE.search(str(error)))):
        return None
    rank = torch_dist.get_rank() if torch_dist.is_initialized() else "?"
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if _MISMATCH.search(str(error)):
        return DistributedError(
            f"Process rank {rank} and another process called different collective operations during {what}: "
            f"{first}\nThe processes disagree on what comes next: a different number of steps or epochs, or "
            "tensors of different shapes (a different model or metrics). Every process must build and compile "
            "the same model and run the same fit/evaluate/predict calls with the same epochs and steps."
        )
    if _TIMEOUT.search(str(error)):
        return DistributedError(
            f"Process rank {rank} waited the process group's whole timeout during {what} without an answer: "
            f"{first}\nAnother process is frozen (stuck in its own code, or waiting for something else) or died."
            f"{_unresponsive_ranks()} This process stops instead of waiting longer; set the bound with "
            "DataParallel(timeout=seconds). Rerun the job; with lamina.callbacks.BackupAndRestore it resumes from "
            "the last backup."
        )
    return DistributedError(
        f"Process rank {rank} lost contact with the other processes during {what}: {first}\n"
        "Another process has most likely died (look for its error or 'Signal 9'/out-of-memory in the log above) "
        "or stopped answering within the process group's timeout. This process stops too instead of waiting. "
        "Rerun the job; with lamina.callbacks.BackupAndRestore it resumes from the last backup."
    )


@contextlib.contextmanager
def collective(what: str) -> Iterator[None]:
    """Turn a collective's failure (a dead peer, a timeout) into a ``DistributedError`` that says so."""
    try:
        yield
    except Exception as error:
        explained = explain_failure(error, what)
        if explained is None:
            raise
        raise explained from error


def _comm_device(device: torch.device) -> torch.device:
    return device if torch_dist.get_backend() == "nccl" else torch.device("cpu")


def check_same_layout(layout: list[str], what: str, processes: Any = None) -> None:
    """Raise a ``DistributedError`` naming what each process has when the processes are about to reduce different
    things (``layout``: one description per value, e.g. ``"accuracy/total: float32[]"``)."""
    everyone: list = [None] * torch_dist.get_world_size(processes)
    with collective(f"comparing what the processes reduce ({what})"):
        torch_dist.all_gather_object(everyone, layout, group=processes)
    if all(other == everyone[0] for other in everyone):
        return
    described = "\n".join(f"  rank {r}: {', '.join(items) or 'nothing'}" for r, items in enumerate(everyone))
    raise DistributedError(
        f"The processes disagree during {what}: they would reduce different values.\n{described}\n"
        "Every process must build and compile the same model with the same loss and metrics.")


def sum_tensors_(tensors: list[torch.Tensor], device: torch.device, processes: Any = None,
                 names: list[str] | None = None) -> None:
    """Replace each tensor by its sum over all processes (or the group ``processes``), in place; one all_reduce per
    dtype. With ``names``, the processes first check that they all sum the same tensors (names, dtypes, shapes)
    and say which differ instead of failing inside the reduction."""
    if names is not None:
        check_same_layout([f"{n}: {str(t.dtype).removeprefix('torch.')}{list(t.shape)}"
                           for n, t in zip(names, tensors, strict=True)], "the reduction of metrics", processes)
    comm = _comm_device(device)
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    with collective("the reduction of metrics across processes"):
        for dtype in sorted(by_dtype, key=str):
            group = by_dtype[dtype]
            flat = torch.cat([t.detach().reshape(-1).to(comm) for t in group])
            torch_dist.all_reduce(flat, op=torch_dist.ReduceOp.SUM, group=processes)
            offset = 0
            for t in group:
                n = t.numel()
                t.copy_(flat[offset:offset + n].reshape(t.shape).to(t.device))
                offset += n


def metric_states(metrics: list) -> list[torch.Tensor]:
    """The live accumulators of ``metrics`` (lazy ones become tensors, so changing them in place changes the
    metric); the same list, in the same order, on every process."""
    return [v for m in metrics for v in m.variables]


def metric_state_names(metrics: list) -> list[str]:
    """One name per tensor of ``metric_states(metrics)``: the metric's name (a container's: its children's, when
    their states make up its own) and the state's position."""
    names = []
    for m in metrics:
        children = [c for c in getattr(m, "metrics", None) or [] if c is not m]
        if children and sum(len(c.variables) for c in children) == len(m.variables):
            names += [f"{c.name}/{i}" for c in children for i, _ in enumerate(c.variables)]
        else:
            names += [f"{m.name}/{i}" for i, _ in enumerate(m.variables)]
    return names


def sum_metric_states_(metrics: list, device: torch.device, group: Any = None) -> None:
    """Make every metric's state the sum of its states over all processes (or ``group``'s), in place."""
    sum_tensors_(metric_states(metrics), device, group, names=metric_state_names(metrics))


@contextlib.contextmanager
def global_metric_states(metrics: list, device: torch.device, group: Any = None) -> Iterator[None]:
    """Inside: every metric holds the global (summed) state; afterwards each process gets its own back."""
    states = metric_states(metrics)
    saved = [t.clone() for t in states]
    sum_tensors_(states, device, group, names=metric_state_names(metrics))
    try:
        yield
    finally:
        for t, s in zip(states, saved, strict=True):
            t.copy_(s)


def mean_values(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """The mean over processes of each value (the same keys on every process)."""
    check_same_layout(sorted(values), "the reduction of logs")
    if not values:
        return {}
    t = torch.tensor([values[k] for k in values], dtype=torch.float64, device=_comm_device(device))
    with collective("the reduction of logs across processes"):
        torch_dist.all_reduce(t, op=torch_dist.ReduceOp.SUM)
    return dict(zip(values, (t / torch_dist.get_world_size()).tolist(), strict=True))


def global_logs(model: Any, logs: Any, device: torch.device, to_floats: Callable[[Any], dict],
                group: Any = None) -> dict[str, float]:
    """The logs of a finished loop with every value global: metrics from their summed states (over ``group``: the
    processes that ran different data), anything else a custom step returned averaged over the processes. The
    metrics keep the global state."""
    metrics = model.metrics
    sum_metric_states_(metrics, device, group)
    fresh = to_floats(MetricLogs(metrics)) if metrics else {}
    local = to_floats(logs)
    others = mean_values({k: v for k, v in local.items() if k not in fresh}, device)
    return {k: fresh[k] if k in fresh else others[k] for k in local}


def broadcast_object(value: T, src: int = 0) -> T:
    """``value`` as process ``src`` has it, on every process (pickled in memory between our own processes)."""
    box = [value if torch_dist.get_rank() == src else None]
    with collective("a broadcast from rank 0"):
        torch_dist.broadcast_object_list(box, src=src)
    return box[0]


def gather_objects(value: Any) -> list:
    """Every process's ``value``, in rank order, on every process."""
    out: list = [None] * torch_dist.get_world_size()
    with collective("gathering results from all processes"):
        torch_dist.all_gather_object(out, value)
    return out


def gather_ints(values: list[int], device: torch.device, what: str) -> list[list[int]]:
    """Every process's ``values`` (a few integers, the same count everywhere), in rank order, on every process:
    one small ``all_gather``, read on the host."""
    mine = torch.tensor(values, dtype=torch.int64, device=_comm_device(device))
    out = [torch.empty_like(mine) for _ in range(torch_dist.get_world_size())]
    with collective(what):
        torch_dist.all_gather(out, mine)
    return torch.stack(out).tolist()


def barrier(what: str = "a barrier") -> None:
    with collective(what):
        torch_dist.barrier()


def reassemble(per_rank: list[list[np.ndarray]], positions: list[np.ndarray], total: int) -> list[np.ndarray]:
    """Put the rows each process predicted back where they belong: ``positions[r][i]`` is the input index of row
    ``i`` of process ``r``'s outputs (-1 for rows to drop); returns one array per output, ``total`` rows each."""
    joined = []
    for k in range(len(per_rank[0])):
        first = per_rank[0][k]
        out = np.empty((total, *first.shape[1:]), dtype=first.dtype)
        filled = np.zeros(total, dtype=bool)
        for outputs, where in zip(per_rank, positions, strict=True):
            keep = where >= 0
            out[where[keep]] = outputs[k][keep]
            filled[where[keep]] = True
        if not filled.all():
            raise DistributedError(f"predict(): {int((~filled).sum())} of {total} inputs got no prediction from any "
                                   "process; every process must predict its share of the same data.")
        joined.append(out)
    return joined
