"""``ShardedState``: the saving, loading and backups of a model whose weights are DTensors (sharded over the
processes), shared by ``FullyShardedDataParallel`` and ``ModelParallel``.

Saving gathers the full weights on rank 0 (``get_model_state_dict(full_state_dict=True, cpu_offload=True)``), so
the file loads in a single process; loading into a sharded model gives each process its part; a backup holds full
tensors and each process takes its part back when it resumes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, set_model_state_dict
from torch.distributed.tensor import DTensor, distribute_tensor

from lamina.distribution import reduce
from lamina.distribution.base import Distribution, _state_dict_view


def sharded(model: Any) -> bool:
    """Whether some weight of ``model`` is a DTensor."""
    return any(isinstance(p, DTensor) for p in model.parameters())



class ShardedState(Distribution):
    """A ``Distribution`` whose model holds DTensor weights: checkpoints and backups hold the full tensors."""

    def _full_state(self, model: Any) -> dict[str, torch.Tensor] | None:
        if not sharded(model):
            return None
        with reduce.collective("gathering the full weights"):
            return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def _full_optimizer_state(self, model: Any) -> tuple[dict, dict] | None:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not getattr(optimizer, "built", False) or not sharded(model):
            return None
        tensors, meta = optimizer.state_dict()
        with reduce.collective("gathering the optimizer state"):  # every process, in the same (sorted) order
            full = {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu() for k, v in
                    sorted(tensors.items())}
        return full, meta

    def _load_full_state(self, model: Any, read: Callable[[], Any]) -> None:
        if not sharded(model):
            read()
            return
        # the loading code fills full-size tensors; each process then keeps its shard of them
        full = {k: torch.empty(tuple(v.shape), dtype=v.dtype) for k, v in model.state_dict().items()}
        with _state_dict_view(model, full):
            read()
        with reduce.collective("sharding the loaded weights"):
            set_model_state_dict(model, full, options=StateDictOptions(full_state_dict=True))

    # ------------------------------------------------------------------ BackupAndRestore
    @contextlib.contextmanager
    def _full_views(self, trainer: Any) -> Iterator[None]:
        """Inside, the model's and the optimizer's state dicts hold full tensors (gathered on every rank)."""
        model, optimizer = trainer.model, trainer.optimizer
        if not sharded(model):
            yield
            return
        with reduce.collective("gathering the state for a backup"):
            full_model = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in model.state_dict().items()}
            tensors, meta = optimizer.state_dict()
            full_opt = {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in tensors.items()}
        optimizer.__dict__["state_dict"] = lambda: (full_opt, meta)
        try:
            with _state_dict_view(model, full_model):
                yield
        finally:
            optimizer.__dict__.pop("state_dict", None)

    def _local_backup(self, tensors: dict, trainer: Any) -> dict:
        """The backup's full tensors as this process's shards of the model's and the optimizer's state."""
        model = trainer.model
        if not sharded(model):
            return tensors
        own = {f"model/{k}": v for k, v in model.state_dict().items()}
        if trainer.optimizer.built:
            opt_tensors, _ = trainer.optimizer.state_dict()
            own.update({f"optimizer/{k}": v for k, v in opt_tensors.items()})
        out = dict(tensors)
        for key, value in tensors.items():
            mine = own.get(key)
            if isinstance(mine, DTensor):
                out[key] = distribute_tensor(value.to(mine.device, mine.dtype), mine.device_mesh, mine.placements,
                                             src_data_rank=None)
        return out
