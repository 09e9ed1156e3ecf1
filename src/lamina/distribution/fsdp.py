"""``FullyShardedDataParallel``: PyTorch's FSDP2 (``torch.distributed.fsdp.fully_shard``) for models whose weights,
gradients and optimizer state do not fit one device. Each process keeps ``1/N`` of every weight; a layer's full
weights are gathered just before its forward (and backward) and freed after it.

Each layer that owns weights (Dense, Conv, ...) becomes one FSDP unit, then the model itself. Saving gathers
the full weights on rank 0 (``get_model_state_dict(full_state_dict=True, cpu_offload=True)``), so the file loads
in a single process; loading into a sharded model gives each process its shard.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict, set_model_state_dict
from torch.distributed.tensor import DTensor, distribute_tensor

from lamina.distribution import launch, reduce
from lamina.distribution.base import Distribution, _state_dict_view


def _sharded(model: Any) -> bool:
    return any(isinstance(p, DTensor) for p in model.parameters())


class FullyShardedDataParallel(Distribution):
    """Fully sharded data parallelism (FSDP2): weights, gradients and optimizer state split across processes.

    Start the script with ``torchrun --nproc_per_node=N train.py``; ``batch_size`` is the global batch.

    >>> from lamina.distribution import FullyShardedDataParallel, set_distribution
    >>> set_distribution(FullyShardedDataParallel())  # under torchrun  # doctest: +SKIP
    >>> model.fit(x, y, batch_size=256)  # doctest: +SKIP
    >>> model.save_weights("model.weights.safetensors")  # full weights, written by rank 0  # doctest: +SKIP

    Args:
        timeout: seconds a collective waits for the other processes before the job fails.
        backend: ``"nccl"`` or ``"gloo"`` (default: NCCL with CUDA, else gloo).
        reshard_after_forward: free each layer's gathered weights after its forward (less memory, one more
            all-gather in backward); FSDP2's option.
        uneven_batches: ``"pad"`` or ``"drop"``: how an epoch ends when the processes' own generators yield
            different numbers of batches (see ``Distribution``).
    """

    def __init__(self, timeout: float = launch.DEFAULT_TIMEOUT, backend: str | None = None,
                 reshard_after_forward: bool = True, uneven_batches: str = "pad"):
        super().__init__(timeout, backend, uneven_batches)
        self.reshard_after_forward = reshard_after_forward
        self._mesh: Any = None

    def mesh(self) -> Any:
        if self._mesh is None:
            from torch.distributed.device_mesh import init_device_mesh

            self._mesh = init_device_mesh(self.device.type, (self.world_size,))
        return self._mesh

    def _wrap(self, model: Any) -> Any:
        from torch.distributed.fsdp import fully_shard

        mesh = self.mesh()
        # children before parents (reversed pre-order): each weight belongs to the innermost layer that owns it
        units = [m for m in reversed(list(model.modules()))
                 if m is not model and any(p is not None for p in m._parameters.values())]
        with reduce.collective("sharding the model with fully_shard"):
            for module in units:
                fully_shard(module, mesh=mesh, reshard_after_forward=self.reshard_after_forward)
            fully_shard(model, mesh=mesh, reshard_after_forward=self.reshard_after_forward)
        return None  # the model itself runs sharded: its forward hooks gather the weights

    def _full_state(self, model: Any) -> dict[str, torch.Tensor] | None:
        if not _sharded(model):
            return None
        with reduce.collective("gathering the full weights"):
            return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def _full_optimizer_state(self, model: Any) -> tuple[dict, dict] | None:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None or not getattr(optimizer, "built", False) or not _sharded(model):
            return None
        tensors, meta = optimizer.state_dict()
        with reduce.collective("gathering the optimizer state"):  # every process, in the same (sorted) order
            full = {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu() for k, v in
                    sorted(tensors.items())}
        return full, meta

    def _load_full_state(self, model: Any, read: Callable[[], Any]) -> None:
        if not _sharded(model):
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
        if not _sharded(model):
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
        if not _sharded(model):
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
