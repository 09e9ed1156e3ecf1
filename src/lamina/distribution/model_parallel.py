"""``ModelParallel``: Keras's model parallelism on PyTorch DTensor (tensor parallelism plus data parallelism).

Each weight whose path a ``LayoutMap`` key matches is split over the mesh as its ``TensorLayout`` says
(``torch.distributed.tensor.distribute_tensor`` with ``Shard``/``Replicate`` placements); every other weight and
buffer is replicated. The model's inputs become DTensors split along the batch axis (``batch_dim_name``) and
replicated along the others, so every layer runs on DTensors: PyTorch's sharding propagation inserts the
all-gathers and reductions the layouts call for, in the forward and the backward pass. The outputs come back
as this process's rows, so losses and metrics are computed as under ``DataParallel``.

Paths are looked up as Keras spells ``variable.path``, ``"<model name>/<layer>/.../<weight>"`` (e.g.
``"sequential/dense/kernel"``), then as lamina's own ``variable.path`` (``"dense/kernel"``).

The processes along the batch axis run different rows of each global batch (arrays and map-style datasets are
split among them); the processes along the other axes run the same rows. Metrics are summed along the batch axis.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import nn
from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor
from torch.distributed.tensor.experimental import implicit_replication

from lamina.core import tree
from lamina.distribution import launch, reduce
from lamina.distribution.base import _ScaleGrad
from lamina.distribution.mesh import DeviceMesh, LayoutMap, TensorLayout, check_covers_job
from lamina.distribution.sharded_state import ShardedState
from lamina.distribution.weight_axes import stored_axes


class ModelParallel(ShardedState):
    """Shards weights over a ``DeviceMesh`` as a ``LayoutMap`` says, and the data along its batch axis (Keras's
    ``keras.distribution.ModelParallel``).

    Start the script with ``torchrun --nproc_per_node=N``: one process per device of the mesh.

    >>> from lamina.distribution import DeviceMesh, LayoutMap, ModelParallel, list_devices, set_distribution
    >>> mesh = DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"])
    >>> layout_map = LayoutMap(mesh)
    >>> layout_map[".*dense.*kernel"] = (None, "model")   # split the columns of every Dense kernel
    >>> layout_map[".*dense.*bias"] = ("model",)
    >>> distribution = ModelParallel(layout_map=layout_map, batch_dim_name="batch")
    >>> distribution.device_mesh, distribution.batch_dim_name
    (<DeviceMesh shape=(1, 2), axis_names=['batch', 'model']>, 'batch')
    >>> set_distribution(distribution)  # under torchrun --nproc_per_node=2  # doctest: +SKIP

    Args:
        layout_map: weight paths (regular expressions) to layouts; its mesh is the distribution's.
        batch_dim_name: the mesh axis the batch is split along (default: the mesh's first axis).
        auto_shard_dataset: True: arrays and map-style datasets are split along the batch axis. False: each
            process's data is its own share, as for generators.
        timeout, backend, uneven_batches: as for ``DataParallel``.
        device_mesh: Keras's older keyword; when given it must be ``layout_map.device_mesh``.
    """

    def __init__(self, *, layout_map: LayoutMap | None = None, batch_dim_name: str | None = None,
                 auto_shard_dataset: bool = True, timeout: float = launch.DEFAULT_TIMEOUT, backend: str | None = None,
                 uneven_batches: str = "pad", **kwargs: Any):
        super().__init__(timeout, backend, uneven_batches)
        device_mesh = kwargs.pop("device_mesh", None)
        if kwargs:
            raise TypeError(f"ModelParallel() got unexpected keyword arguments {sorted(kwargs)}.")
        if layout_map is None:
            raise ValueError("ModelParallel needs a layout_map: ModelParallel(layout_map=LayoutMap(mesh)).")
        if not isinstance(layout_map, LayoutMap):
            raise TypeError(f"layout_map must be a lamina.distribution.LayoutMap; received "
                            f"{type(layout_map).__name__}.")
        if device_mesh is not None and device_mesh is not layout_map.device_mesh:
            raise ValueError(f"device_mesh={device_mesh!r} is not the layout map's mesh "
                             f"({layout_map.device_mesh!r}); leave device_mesh out: the layout map's is used.")
        mesh = layout_map.device_mesh
        if not isinstance(mesh, DeviceMesh):
            raise ValueError("The layout map has no DeviceMesh: create it as LayoutMap(DeviceMesh(...)).")
        batch_dim_name = mesh.axis_names[0] if batch_dim_name is None else batch_dim_name
        if batch_dim_name not in mesh.axis_names:
            raise ValueError(f"batch_dim_name={batch_dim_name!r} is not an axis of {mesh!r}; use one of "
                             f"{list(mesh.axis_names)}.")
        self._layout_map, self._device_mesh, self._batch_dim_name = layout_map, mesh, str(batch_dim_name)
        self.auto_shard_dataset = bool(auto_shard_dataset)
        self._data_placements: tuple | None = None
        self._replicating = False

    # ------------------------------------------------------------------ Keras's attributes
    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    @property
    def batch_dim_name(self) -> str:
        return self._batch_dim_name

    @property
    def layout_map(self) -> LayoutMap:
        return self._layout_map


    def get_data_layout(self, data_shape: tuple) -> TensorLayout:
        """The layout of a batch: split along the batch axis, replicated along the others."""
        return TensorLayout([self._batch_dim_name] + [None] * (len(data_shape) - 1), self._device_mesh)

    def get_variable_layout(self, variable: Any) -> TensorLayout:
        """The layout of a weight: the layout map's for its path, else replicated."""
        layout = self._layout_map[getattr(variable, "path", "")]
        return layout if layout is not None else TensorLayout([None] * len(variable.shape), self._device_mesh)

    def get_tensor_layout(self, path: str) -> TensorLayout | None:
        """The layout map's layout for ``path`` (None when no key matches)."""
        return self._layout_map[path]

    # ------------------------------------------------------------------ processes and data
    def initialize(self) -> None:
        """Join torchrun's process group; the mesh must hold every process's device once."""
        super().initialize()
        check_covers_job(self._device_mesh, self.world_size)

    @property
    def data_shards(self) -> int:
        """The size of the batch axis: the number of parts each global batch is split into."""
        return self._device_mesh.axis_size(self._batch_dim_name)

    def data_shard_of(self, rank: int) -> int:
        ranks = self._device_mesh.ranks()
        where = [int(i[0]) for i in (ranks == rank).nonzero()]
        return where[list(self._device_mesh.axis_names).index(self._batch_dim_name)]

    @property
    def metric_group(self) -> Any:
        return self._device_mesh.torch_mesh.get_group(list(self._device_mesh.axis_names).index(self._batch_dim_name))

    def _set_batch_share(self, local: int, total: int) -> None:
        # DTensor sums the gradients of the batch axis's parts: weight each by its share of the global batch
        self.grad_factor = local / total

    def _set_iterable_share(self, local: int, total: int) -> None:
        # every process reported its rows, so each part of the batch was counted once per process along the others
        self._set_batch_share(local, total * self.data_shards / self.world_size)

    # ------------------------------------------------------------------ the model
    def _wrap(self, model: Any) -> Any:
        mesh = self._device_mesh.torch_mesh
        self._data_placements = tuple(Shard(0) if name == self._batch_dim_name else Replicate()
                                      for name in self._device_mesh.axis_names)
        done: dict[int, nn.Parameter] = {}
        with reduce.collective("distributing the model's weights over the mesh"):
            for prefix, module in model.named_modules(remove_duplicate=False):
                for name, param in list(module._parameters.items()):
                    if param is None or isinstance(param, DTensor):
                        continue
                    if id(param) not in done:
                        placements = self._placements_of(model, prefix, name, param, module)
                        new = nn.Parameter(distribute_tensor(param.detach(), mesh, placements),
                                           requires_grad=param.requires_grad)
                        new.__dict__.update({k: v for k, v in getattr(param, "__dict__", {}).items()
                                             if k in ("constraint", "regularizer")})
                        done[id(param)] = new
                    module._parameters[name] = done[id(param)]
                for name, buffer in list(module._buffers.items()):  # non-trainable weights: looked up too
                    if buffer is not None and not isinstance(buffer, DTensor):
                        placements = self._placements_of(model, prefix, name, buffer, module)
                        module._buffers[name] = distribute_tensor(buffer, mesh, placements)
                if _replicated_state(module):
                    module.register_forward_pre_hook(self._replicate_inputs)
                for info in getattr(module, "_weight_info", {}).values():
                    if info.regularizer is not None and not isinstance(info.regularizer, _PlainPenalty):
                        info.regularizer = _PlainPenalty(info.regularizer)
        return None  # the model itself runs on DTensors (the router converts its inputs and outputs)

    def prepare_model(self, trainer: Any) -> None:
        """Distribute the model's weights (once), and make the run's optimizer lay each gradient out as its
        weight before applying it (every run: a model compiled again has a new optimizer)."""
        super().prepare_model(trainer)
        optimizer = getattr(trainer, "optimizer", None)
        if optimizer is not None and "_apply" not in optimizer.__dict__:
            optimizer.__dict__["_apply"] = _reducing_apply(optimizer._apply)

    def _replicate_inputs(self, module: nn.Module, args: tuple) -> tuple:
        """Before a layer whose weights and state are all replicated: its inputs whole along the model axes (split
        along the batch axis only), so it runs as under data parallelism. Its operations then need no sharding
        rule (DTensor has none for a convolution over split channels), and in-place updates of its state
        (BatchNormalization's moving statistics) reach the state itself, not a redistributed copy."""
        return tree.map_structure(
            lambda t: t.redistribute(t.device_mesh, self._data_placements) if isinstance(t, DTensor) and tuple(
                t.placements) != self._data_placements else t, args)

    def _placements_of(self, model: Any, prefix: str, name: str, param: torch.Tensor, module: nn.Module) -> tuple:
        """The placements of ``module``'s weight ``name`` (``prefix``: the module's path in ``model``): its layout
        in the layout map, with Keras's axes moved to the order lamina stores the weight in."""
        keras_path = "/".join([model.name, *(prefix.split(".") if prefix else []), name])
        own_path = getattr(param, "path", None)
        layout = self._layout_map[keras_path]
        if layout is None and isinstance(own_path, str):
            layout = self._layout_map[own_path]
        if layout is None:
            return (Replicate(),) * len(self._device_mesh.axis_names)
        if layout.device_mesh is not None and layout.device_mesh is not self._device_mesh:
            raise ValueError(f"The layout for {keras_path!r} is on {layout.device_mesh!r}, not on the "
                             f"distribution's mesh {self._device_mesh!r}; give every layout the layout map's mesh.")
        try:
            if len(layout.axes) > param.ndim:
                layout.placements(param.ndim)  # (raises, saying so)
            axes = stored_axes(module, name, tuple(param.shape), layout.axes)
            return TensorLayout(axes, self._device_mesh).placements(param.ndim)
        except ValueError as error:
            raise ValueError(f"The weight {keras_path!r} of shape {tuple(param.shape)}: {error}") from None

    def _router(self, model: Any, wrapped: Any) -> Callable[..., Any]:
        def distributed_call(*args: Any, **kwargs: Any) -> Any:
            training = torch.is_grad_enabled() and model.training
            model.__dict__["_distributed_call"] = None  # the inner call is the model's own
            try:
                args, kwargs = self._inputs((args, kwargs))
                with self._replicated():  # constants a layer makes (plain tensors) count as replicated
                    out = model(*args, **kwargs)
            finally:
                model.__dict__["_distributed_call"] = distributed_call
            _plain_losses(model)
            out = tree.map_structure(self._local_rows, out)
            factor = self.grad_factor
            if training and factor != 1.0:
                out = tree.map_structure(lambda t: _ScaleGrad.apply(t, factor) if isinstance(
                    t, torch.Tensor) and t.requires_grad else t, out)
            return out

        return distributed_call

    def _inputs(self, structure: Any) -> Any:
        """The batch tensors in ``structure`` as DTensors: this process's rows of a batch split along the batch
        axis (the global row count exchanged along it when it has several parts)."""
        mesh = self._device_mesh.torch_mesh
        placements = self._data_placements or ()
        cache: dict[int, int] = {}

        def convert(t: Any) -> Any:
            if not isinstance(t, torch.Tensor) or isinstance(t, DTensor) or t.ndim == 0:
                return t
            rows = cache.get(t.shape[0])
            if rows is None:
                rows = cache[t.shape[0]] = self._global_rows(t.shape[0])
            return DTensor.from_local(t, mesh, placements, run_check=False, shape=(rows, *t.shape[1:]),
                                      stride=torch.empty((rows, *t.shape[1:]), device="meta").stride())

        return tree.map_structure(convert, structure)

    def _global_rows(self, local: int) -> int:
        if self.data_shards == 1:
            return local
        counts = torch.tensor([local], dtype=torch.int64, device=reduce._comm_device(self.device))
        with reduce.collective("agreeing on the batch size along the batch axis"):
            torch_dist.all_reduce(counts, group=self.metric_group)
        return int(counts.item())

    def _local_rows(self, t: Any) -> Any:
        if not isinstance(t, DTensor):
            return t
        return t.redistribute(t.device_mesh, self._data_placements[:t.device_mesh.ndim]).to_local()

    def wrap_step(self, step_fn: Callable[[Any], Any], kind: str) -> Callable[[Any], Any]:
        """The step with plain tensors (a loss's constants) counting as replicated next to the weights."""
        run = super().wrap_step(step_fn, kind)

        def replicated(data: Any) -> Any:
            with self._replicated():
                return run(data)

        return replicated

    @contextlib.contextmanager
    def _replicated(self) -> Iterator[None]:
        """DTensor's ``implicit_replication``, entered once however deep the calls nest (it does not nest: its
        exit switches it off)."""
        if self._replicating:
            yield
            return
        self._replicating = True
        try:
            with implicit_replication():
                yield
        finally:
            self._replicating = False


def _replicated_state(module: nn.Module) -> bool:
    """Whether ``module`` owns weights or buffers itself and all of them are replicated."""
    state = [t for t in (*module._parameters.values(), *module._buffers.values()) if t is not None]
    return bool(state) and all(isinstance(t, DTensor) and all(isinstance(p, Replicate) for p in t.placements)
                               for t in state)


class _PlainPenalty:
    """A weight regularizer whose penalty is a plain tensor (added to this process's plain loss)."""

    def __init__(self, regularizer: Callable[[Any], Any]):
        self.regularizer = regularizer

    def __call__(self, weight: Any) -> Any:
        return _plain(self.regularizer(weight))

    def __repr__(self) -> str:
        return repr(self.regularizer)


def _plain(t: Any) -> Any:
    """A DTensor's full value as a plain tensor (differentiable); anything else as it is."""
    return t.full_tensor() if isinstance(t, DTensor) else t


def _plain_losses(model: nn.Module) -> None:
    """The activity penalties and added losses of the last call as plain tensors (computed on DTensors, they
    are DTensors; the loss they are added to is this process's plain one)."""
    for module in model.modules():
        for name in ("_activity_losses", "_added_losses"):
            losses = getattr(module, name, None)
            if isinstance(losses, list) and any(isinstance(t, DTensor) for t in losses):
                losses[:] = [_plain(t) for t in losses]


def _reducing_apply(apply: Callable[[list, list], None]) -> Callable[[list, list], None]:
    """The optimizer's ``_apply`` with every gradient first laid out as its weight (a gradient of a weight
    replicated along the batch axis is a partial sum there: this is its all-reduce)."""

    def reduced(params: list, grads: list) -> None:
        grads = list(_as_weights(params, grads))
        apply(params, grads)

    return reduced


def _as_weights(params: list, grads: list) -> Iterator[Any]:
    for p, g in zip(params, grads, strict=True):
        if isinstance(p, DTensor) and isinstance(g, DTensor) and tuple(g.placements) != tuple(p.placements):
            g = g.redistribute(p.device_mesh, p.placements)
        yield g
