"""``FullyShardedDataParallel``: PyTorch's FSDP2 (``torch.distributed.fsdp.fully_shard``) for models whose weights,
gradients and optimizer state do not fit one device. Each process keeps ``1/N`` of every weight; a layer's full
weights are gathered just before its forward (and backward) and freed after it.

Each layer that owns weights (Dense, Conv, ...) becomes one FSDP unit, then the model itself. Saving gathers
the full weights on rank 0 (``get_model_state_dict(full_state_dict=True, cpu_offload=True)``), so the file loads
in a single process; loading into a sharded model gives each process its shard.
"""

from __future__ import annotations

from typing import Any

from lamina.distribution import launch, reduce
from lamina.distribution.sharded_state import ShardedState


class FullyShardedDataParallel(ShardedState):
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
