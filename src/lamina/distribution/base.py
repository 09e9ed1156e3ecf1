"""``Distribution``: the trainer's ``Strategy`` (``lamina.training.strategy``) for several processes, shared by
``DataParallel`` and ``FullyShardedDataParallel``; the subclasses only say how the model is wrapped and how its
full state is read.

The hooks the trainer calls on every run: ``adapter``/``predict_adapter`` (each process's share of the data),
``prepare_model`` (wrap after the model is built, before the optimizer is), ``wrap_step`` (a dead peer's error
says what happened), ``reporting`` (rank 0 prints and writes files), ``reduce_logs`` (metrics summed over
processes), ``gather_predictions`` (``predict`` in input order), ``restore_backup`` (BackupAndRestore: one
backup, written by rank 0, resumed by all), ``save``/``load`` (full checkpoints written by rank 0), ``barrier``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from lamina.core import tree
from lamina.data.adapters import make_adapter
from lamina.distribution import iterables, launch, reduce, sharding
from lamina.distribution import mesh as mesh_module
from lamina.training import strategy as strategy_module
from lamina.training.callbacks import CSVLogger, TensorBoard
from lamina.training.progress import to_floats
from lamina.training.strategy import Strategy


class _ScaleGrad(torch.autograd.Function):
    """Identity forward; backward multiplies the gradient by ``factor`` (this process's weight in the batch)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, factor: float) -> torch.Tensor:
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad * ctx.factor, None


class Distribution(Strategy):
    """Base class of lamina's distributions (use ``DataParallel`` or ``FullyShardedDataParallel``).

    Args:
        timeout: seconds a collective operation waits for the other processes; after that (a process died or
            hangs) every process stops with an error instead of waiting forever.
        backend: ``"nccl"`` or ``"gloo"``; by default NCCL when CUDA is available, else gloo.
        uneven_batches: when the processes' own iterables (generators, ``PyDataset``s) yield different numbers
            of batches: ``"pad"`` trains until every process has run out (a process without a batch takes part
            with zero weight, so every batch is used), ``"drop"`` ends the epoch when the first one runs out.
    """

    wraps_model = True  # DDP/FSDP run the training forward and own the backward pass

    def __init__(self, timeout: float = launch.DEFAULT_TIMEOUT, backend: str | None = None,
                 uneven_batches: str = "pad"):
        if not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"timeout must be a positive number of seconds; received {timeout!r}.")
        if uneven_batches not in iterables.UNEVEN_BATCHES:
            raise ValueError(f"uneven_batches must be one of {iterables.UNEVEN_BATCHES}; received {uneven_batches!r}.")
        self.timeout = float(timeout)
        self.backend = backend
        self.uneven_batches = uneven_batches
        self.auto_shard_dataset = True  # Keras's argument: False, each process's data is its share, not split
        self.info: launch.ProcessInfo | None = None
        # This process's gradient weight for the current training batch: set by the training data of the current
        # fit only (reset when a fit's data is prepared; evaluation data never touches it).
        self.grad_factor = 1.0

    def initialize(self) -> None:
        """Join torchrun's process group (``set_distribution`` calls this)."""
        if self.info is None:
            self.info = launch.initialize(self.timeout, self.backend)

    @contextlib.contextmanager
    def scope(self) -> Iterator[Distribution]:
        """Keras's ``with distribution.scope():``: this distribution is the current one inside (joining the
        process group), the previous one after.

        >>> with DataParallel().scope():  # under torchrun  # doctest: +SKIP
        ...     model.fit(x, y, batch_size=256)
        """
        previous = strategy_module.current()
        self.initialize()
        strategy_module.set_current(self)
        try:
            yield self
        finally:
            strategy_module.set_current(previous)

    def _process(self) -> launch.ProcessInfo:
        if self.info is None:
            raise RuntimeError(f"{type(self).__name__} is not initialized: call "
                               f"lamina.distribution.set_distribution({type(self).__name__}()) first.")
        return self.info

    @property
    def rank(self) -> int:
        return self._process().rank

    @property
    def world_size(self) -> int:
        return self._process().world_size

    @property
    def device(self) -> torch.device:
        return self._process().device

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def __repr__(self) -> str:
        where = f"rank {self.rank}/{self.world_size} on {self.device}" if self.info else "not initialized"
        return f"{type(self).__name__}({where})"

    # ------------------------------------------------------------------ what subclasses provide
    def _wrap(self, model: Any) -> Any:
        """Wrap the built ``model``; returns the module to run training forwards through (or None: the model)."""
        raise NotImplementedError(f"abstract: {type(self).__name__} must implement _wrap.")

    def _full_state(self, model: Any) -> dict[str, torch.Tensor] | None:
        """The model's full state dict on rank 0 when its weights are sharded (a collective), else None."""
        return None

    def _full_optimizer_state(self, model: Any) -> tuple[dict, dict] | None:
        """The optimizer's ``state_dict()`` with full tensors when its state is sharded (a collective), else None."""
        return None

    def _local_state(self, model: Any, full: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """``full`` (every process has it) shaped as this process's part of the model's state."""
        return full

    def _load_full_state(self, model: Any, read: Callable[[], Any]) -> None:
        read()

    # ------------------------------------------------------------------ data
    def adapter(self, trainer: Any, x: Any, y: Any, sample_weight: Any, batch_size: Any, shuffle: Any,
                class_weight: Any, steps: Any, training: bool, check_finite: bool = True) -> Any:
        """This process's share of ``x``/``y``: arrays split per global batch, loaders with a sampler, and a
        process's own iterable agreed on step by step (``iterables.AgreedBatches``)."""
        trainer.device = self.device
        if training:
            self.grad_factor = 1.0  # nothing carries over from an earlier fit
        on_batch = self._set_batch_share if training else _unweighted  # (arrays; iterables: _set_iterable_share)
        if isinstance(x, list) and x and all(isinstance(v, (int, float, list)) for v in x):
            x = torch.as_tensor(x)
        if not self.auto_shard_dataset:
            return self._own_data_adapter(trainer, x, y, sample_weight, batch_size, shuffle, class_weight, steps,
                                          training, check_finite)
        if sharding.is_map_style(x):
            seed = reduce.broadcast_object(int(torch.randint(0, 2**31 - 1, (1,)).item()))
            loader = sharding.distributed_loader(x, batch_size, bool(shuffle), self.data_shard_id, self.data_shards,
                                                 seed, for_training=training or type(self).__name__ != "DataParallel")
            return make_adapter(loader, y, sample_weight, device=self.device, steps_per_epoch=steps)
        adapter = make_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, device=self.device,
                               class_weight=class_weight, steps_per_epoch=steps, check_finite=check_finite)
        if not hasattr(adapter, "_one_pass"):  # an iterable: each process trains on what its own one yields
            if not training:
                return adapter  # evaluation: every batch of every process, states summed at the end
            return iterables.AgreedBatches(
                adapter, rank=self.rank, device=self.device, uneven_batches=self.uneven_batches,
                on_batch=self._set_iterable_share if training else _unweighted,
                filler_guard=lambda: sharding.restored_metrics(lambda: trainer.model.metrics))
        state = reduce.broadcast_object(adapter._generator.get_state())
        return sharding.ShardedArrayAdapter(
            adapter.x, adapter.y, adapter.sample_weight, batch_size=adapter.batch_size, shuffle=shuffle,
            device=self.device, steps_per_epoch=steps, check_finite=False, rank=self.data_shard_id,
            world_size=self.data_shards, generator_state=state, on_batch=on_batch,
            filler_guard=lambda: sharding.restored_metrics(lambda: trainer.model.metrics))

    def _own_data_adapter(self, trainer: Any, x: Any, y: Any, sample_weight: Any, batch_size: Any, shuffle: Any,
                          class_weight: Any, steps: Any, training: bool, check_finite: bool) -> Any:
        """``auto_shard_dataset=False``: whatever this process was given is its share (arrays and loaders too), with
        ``batch_size`` rows per process and step; training steps are agreed on as for generators."""
        adapter = make_adapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, device=self.device,
                               class_weight=class_weight, steps_per_epoch=steps, check_finite=check_finite)
        if not training:
            return adapter
        if not hasattr(adapter, "end_pass"):
            adapter.end_pass = lambda: None  # an array's pass ends with its epoch
        return iterables.AgreedBatches(
            adapter, rank=self.rank, device=self.device, uneven_batches=self.uneven_batches,
            on_batch=self._set_iterable_share,
            filler_guard=lambda: sharding.restored_metrics(lambda: trainer.model.metrics))

    def predict_adapter(self, trainer: Any, x: Any, batch_size: Any, steps: Any) -> Any:
        """This process's share of ``x`` to predict."""
        return self.adapter(trainer, x, None, None, batch_size, False, None, steps, False, False)

    def _set_batch_share(self, local: int, total: int) -> None:
        self.grad_factor = 1.0 if local * self.world_size == total else local * self.world_size / total

    def _set_iterable_share(self, local: int, total: int) -> None:
        """A training step of the processes' own iterables: ``total`` rows over all processes."""
        self._set_batch_share(local, total)

    # ------------------------------------------------------------------ data shards
    @property
    def data_shards(self) -> int:
        """How many parts each global batch is cut into (one per process here; fewer under ``ModelParallel``,
        whose processes along the model axes share a part)."""
        return self.world_size

    @property
    def data_shard_id(self) -> int:
        """Which part of each global batch this process runs."""
        return self.data_shard_of(self.rank)

    def data_shard_of(self, rank: int) -> int:
        """Which part of each global batch process ``rank`` runs."""
        return rank

    @property
    def num_processes(self) -> int:
        """The number of processes of the job (Keras's attribute)."""
        return self.world_size

    @property
    def num_model_replicas(self) -> int:
        """How many parts each global batch is split into (Keras's attribute; ``data_shards``)."""
        return self.data_shards

    @property
    def metric_group(self) -> Any:
        """The processes whose metric states are summed into the global ones (None: all of them)."""
        return None

    # ------------------------------------------------------------------ the model
    def prepare_model(self, trainer: Any) -> None:
        """Wrap the built model (once) and route its training forward passes through the wrapper."""
        model = trainer.model
        owner = model.__dict__.get("_lamina_distribution")
        if owner is self:
            return
        if owner is not None:
            raise RuntimeError(f"Model '{model.name}' is already wrapped by {owner!r}; use one distribution per run.")
        if not any(p.requires_grad for p in model.parameters()):
            wrapped = None  # nothing to train: no gradients to reduce
        else:
            wrapped = self._wrap(model)
            if trainer.optimizer.built:  # its weights are the wrapped ones now
                trainer.optimizer.build([p for p in model.parameters() if p.requires_grad])
        model.__dict__["_lamina_distribution"] = self
        # The model's forward passes in training (a default or a user's train_step) run through the wrapper.
        model.__dict__["_distributed_call"] = self._router(model, wrapped)

    def wrap_step(self, step_fn: Callable[[Any], Any], kind: str) -> Callable[[Any], Any]:
        """``step_fn`` whose failure in a collective (a dead peer) raises an error that says so."""
        what = f"a {kind} step"

        def run(data: Any) -> Any:
            with reduce.collective(what):
                return step_fn(data)

        return run

    def _router(self, model: Any, wrapped: Any) -> Callable[..., Any]:
        def distributed_call(*args: Any, **kwargs: Any) -> Any:
            training = torch.is_grad_enabled() and model.training
            model.__dict__["_distributed_call"] = None  # the inner call is the model's own
            try:
                out = wrapped(*args, **kwargs) if training and wrapped is not None else model(*args, **kwargs)
            finally:
                model.__dict__["_distributed_call"] = distributed_call
            factor = self.grad_factor
            if training and factor != 1.0:
                out = tree.map_structure(lambda t: _ScaleGrad.apply(t, factor) if isinstance(
                    t, torch.Tensor) and t.requires_grad else t, out)
            return out

        return distributed_call

    # ------------------------------------------------------------------ reporting
    def reporting(self, verbose: int, callbacks: list | None) -> tuple[int, list | None]:
        """Only rank 0 prints progress. On other ranks, drop the callbacks that only write files (CSVLogger,
        TensorBoard, any callback with ``chief_only = True``); ModelCheckpoint stays everywhere (saving is
        collective), and writes on rank 0."""
        if self.is_chief:
            return verbose, callbacks
        if callbacks is not None:
            callbacks = [cb for cb in callbacks if not isinstance(cb, (CSVLogger, TensorBoard))
                         and not getattr(cb, "chief_only", False)]
        return 0, callbacks

    def reduce_logs(self, model: Any, logs: Any) -> dict[str, float]:
        """The loop's final logs with metrics summed over all processes (the same values on every rank)."""
        return reduce.global_logs(model, logs, self.device, to_floats, group=self.metric_group)

    def barrier(self) -> None:
        reduce.barrier()

    # ------------------------------------------------------------------ predict
    def gather_predictions(self, adapter: Any, outputs: Any) -> Any:
        """Each process predicted its share; the outputs are gathered back into input order on every process."""
        if isinstance(adapter, sharding.ShardedArrayAdapter):
            positions = [adapter.positions(self.data_shard_of(r)) for r in range(self.world_size)]
            total = adapter.num_samples
        elif isinstance(getattr(adapter, "data", None), torch.utils.data.DataLoader) and isinstance(
                adapter.data.sampler, (sharding.ExactShardSampler, torch.utils.data.DistributedSampler)):
            total, world = len(adapter.data.dataset), self.data_shards
            exact = isinstance(adapter.data.sampler, sharding.ExactShardSampler)
            # shard d predicted inputs d, d + world, ...; a padded sampler repeats the first inputs: dropped
            shards = [self.data_shard_of(r) for r in range(self.world_size)]
            lengths = [len(range(d, total, world)) if exact else len(adapter.data.sampler) for d in shards]
            positions = [np.where(k < total, k, -1) for k in (d + world * np.arange(n) for d, n in zip(
                shards, lengths, strict=True))]
        else:
            return outputs  # a generator: this process's own predictions
        flat = tree.flatten(outputs)
        joined = reduce.reassemble(reduce.gather_objects(flat), positions, total)
        return tree.pack_as(outputs, joined)

    # ------------------------------------------------------------------ saving
    @contextlib.contextmanager
    def _chief_writes(self, what: str) -> Iterator[bool]:
        """Rank 0 runs the body (yields True there); an error on rank 0 is raised on every rank."""
        error = None
        try:
            yield self.is_chief
        except Exception as e:  # noqa: BLE001  (shared with the other ranks below)
            error = e
        message = reduce.broadcast_object(None if error is None else f"{type(error).__name__}: {error}")
        if error is not None:
            raise error
        if message is not None:
            raise RuntimeError(f"{what} failed on rank 0: {message}")

    def save(self, model: Any, write: Callable[[], Any]) -> None:
        """Write a checkpoint once, on rank 0, with the model's full weights (gathered first when sharded)."""
        full = self._full_state(model)
        full_optimizer = self._full_optimizer_state(model)
        with self._chief_writes("Saving") as chief:
            if chief:
                with _state_dict_view(model, full), _optimizer_state_view(model, full_optimizer):
                    write()

    def load(self, model: Any, read: Callable[[], Any]) -> None:
        """Load a full checkpoint on every process (each takes its shard when the weights are sharded)."""
        self._load_full_state(model, read)

    # ------------------------------------------------------------------ BackupAndRestore
    def restore_backup(self, backup: Any, trainer: Any) -> tuple[dict, dict] | None:
        """One backup, written by rank 0 (``distributed_backup``), resumed by all (``load_backup``)."""
        self.distributed_backup(backup, trainer)
        return self.load_backup(backup, trainer)

    def load_backup(self, backup: Any, trainer: Any) -> Any:
        """Rank 0 reads the backup and sends it to all: every process resumes from the same state. The other
        ranks start their metrics from zero (rank 0's file holds the summed states)."""
        saved = reduce.broadcast_object(backup._load() if self.is_chief else None)
        if not self.is_chief:
            backup.delete_checkpoint = False  # rank 0 owns the files
        if saved is None:
            return None
        tensors, meta = saved
        if self.data_shard_id != 0:  # one process per data shard holds the (summed) states: rank 0's group
            tensors = {k: torch.zeros_like(v) if k.startswith("metric/") else v for k, v in tensors.items()}
            for entry in meta.get("metrics", []):
                entry["numbers"] = {k: 0 for k in entry.get("numbers", {})}
        return self._local_backup(tensors, trainer), meta

    def _local_backup(self, tensors: dict, trainer: Any) -> dict:
        return tensors

    def distributed_backup(self, backup: Any, trainer: Any) -> None:
        """Make ``backup`` save collectively: metric states summed (and sharded weights gathered) on every
        rank, the file written by rank 0 only."""
        if getattr(backup._save, "_lamina_distributed", False):
            return
        if not self.is_chief:
            backup.delete_checkpoint = False
        local_save = backup._save

        def save(trainer_: Any, adapter: Any, callbacks: list, epoch: int, epoch_steps: int) -> None:
            model = trainer_.model
            with reduce.global_metric_states(model.metrics, self.device, self.metric_group), \
                    self._full_views(trainer_), \
                    self._chief_writes("BackupAndRestore") as chief:
                if chief:
                    local_save(trainer_, adapter, callbacks, epoch, epoch_steps)

        save._lamina_distributed = True  # type: ignore[attr-defined]
        backup._save = save

    @contextlib.contextmanager
    def _full_views(self, trainer: Any) -> Iterator[None]:
        yield


def _unweighted(local: int, total: int) -> None:
    """Evaluation and predict batches: no gradient, so no weight to set."""


@contextlib.contextmanager
def _state_dict_view(model: Any, full: dict[str, torch.Tensor] | None) -> Iterator[None]:
    """Inside, ``model.state_dict()`` returns ``full`` (when given): the saving code needs no distributed case."""
    if full is None:
        yield
        return
    model.__dict__["state_dict"] = lambda *args, **kwargs: dict(full)
    try:
        yield
    finally:
        model.__dict__.pop("state_dict", None)


@contextlib.contextmanager
def _optimizer_state_view(model: Any, full: tuple[dict, dict] | None) -> Iterator[None]:
    """Inside, ``model.optimizer.state_dict()`` returns ``full`` (when given)."""
    optimizer = getattr(model, "optimizer", None)
    if full is None or optimizer is None:
        yield
        return
    optimizer.__dict__["state_dict"] = lambda: (dict(full[0]), full[1])
    try:
        yield
    finally:
        optimizer.__dict__.pop("state_dict", None)


class DataParallel(Distribution):
    """Data parallelism with ``torch.nn.parallel.DistributedDataParallel``: every process holds the whole model,
    trains on its share of each global batch, and the gradients are averaged across processes.

    Start the script with ``torchrun --nproc_per_node=N train.py``; ``batch_size`` stays the global batch.

    >>> import lamina
    >>> from lamina.distribution import DataParallel, set_distribution
    >>> set_distribution(DataParallel())  # under torchrun  # doctest: +SKIP
    >>> model.fit(x, y, batch_size=256, epochs=5)  # 128 samples per process with 2 processes  # doctest: +SKIP
    >>> DataParallel(devices=["cpu:0", "cpu:1"]).device_mesh  # Keras's arguments
    <DeviceMesh shape=(2,), axis_names=['batch']>

    Args:
        device_mesh: Keras's argument: a one-axis ``DeviceMesh`` of all the job's devices (its axis name is
            ``batch_dim_name``). lamina runs one process per device, so the mesh must hold every process's device.
        devices: Keras's argument: the devices (``list_devices()``), every process's; the mesh is
            ``DeviceMesh((len(devices),), ["batch"], devices)``. Default: all of them.
        auto_shard_dataset: Keras's argument. True: arrays and map-style datasets are split across processes.
            False: each process's data is already its own share (arrays and loaders are not split, ``batch_size``
            rows per process and step), as for generators.
        timeout: seconds a collective waits for the other processes before the job fails.
        backend: ``"nccl"`` or ``"gloo"`` (default: NCCL with CUDA, else gloo).
        find_unused_parameters: for models whose forward skips some weights (DDP's option).
        broadcast_buffers: keep non-trainable buffers (BatchNormalization statistics) equal to rank 0's at each
            training step (DDP's option).
        uneven_batches: ``"pad"`` or ``"drop"``: how an epoch ends when the processes' own generators yield
            different numbers of batches (see ``Distribution``).
    """

    def __init__(self, device_mesh: mesh_module.DeviceMesh | None = None, devices: list | None = None,
                 auto_shard_dataset: bool = True, *, timeout: float = launch.DEFAULT_TIMEOUT,
                 backend: str | None = None, find_unused_parameters: bool = False, broadcast_buffers: bool = True,
                 uneven_batches: str = "pad"):
        super().__init__(timeout, backend, uneven_batches)
        self._device_mesh = mesh_module.data_parallel_mesh(device_mesh, devices)
        self.auto_shard_dataset = bool(auto_shard_dataset)
        self.find_unused_parameters = find_unused_parameters
        self.broadcast_buffers = broadcast_buffers

    @property
    def device_mesh(self) -> mesh_module.DeviceMesh:
        """The one-axis mesh of the job's devices (Keras's attribute; all of ``list_devices()`` by default)."""
        if self._device_mesh is None:
            return mesh_module.DeviceMesh((len(mesh_module.list_devices()),), ["batch"])
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str:
        """The mesh axis the batch is split along (Keras's attribute)."""
        return str(self.device_mesh.axis_names[0])

    def initialize(self) -> None:
        """Join torchrun's process group; a mesh given to the constructor must hold every process's device."""
        super().initialize()
        if self._device_mesh is not None:
            mesh_module.check_covers_job(self._device_mesh, self.world_size)

    def _wrap(self, model: Any) -> Any:
        from torch.nn.parallel import DistributedDataParallel

        device = self.device
        ids = [device.index] if device.type == "cuda" else None
        with reduce.collective("wrapping the model in DistributedDataParallel"):
            ddp = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=self.find_unused_parameters,
                                          **_buffer_option(self.broadcast_buffers))
        model.__dict__["_lamina_ddp"] = ddp  # not a submodule: the model's state_dict keeps its own names
        return ddp


def _buffer_option(sync: bool) -> dict:
    """DDP's buffer syncing at each forward, under the name this PyTorch knows (renamed in 2.13)."""
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    name = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(
        DistributedDataParallel.__init__).parameters else "broadcast_buffers"
    return {name: sync}
