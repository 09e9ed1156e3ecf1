"""Keras's layout objects on PyTorch DTensor: ``DeviceMesh``, ``TensorLayout``, ``LayoutMap`` and
``distribute_tensor``.

- ``DeviceMesh(shape, axis_names, devices)`` is a torch ``DeviceMesh`` (``init_device_mesh``) over the job's
  processes: lamina runs one process per device, so device ``"gpu:3"`` is the process of rank 3.
- ``TensorLayout(axes, device_mesh)`` names, for each dimension of a tensor, the mesh axis that splits it (or
  None). In DTensor terms that is one placement per *mesh* axis: ``Shard(dim)`` for the axis that splits ``dim``,
  ``Replicate()`` for an axis no dimension names.
- ``LayoutMap`` maps weight paths to layouts; its keys are regular expressions matched as Keras matches them: an
  exact key first, else every key that matches the whole path (``re.fullmatch``); two such keys are an error.

Attributes are computed without any device or process group, as in Keras; the torch mesh is built when first
needed (inside a job).

>>> mesh = DeviceMesh((1, 2), ["batch", "model"], devices=["cpu:0", "cpu:1"])
>>> layout = TensorLayout([None, "model"], mesh)
>>> layout.axes, layout.placements()
((None, 'model'), (Replicate(), Shard(dim=1)))
>>> layout_map = LayoutMap(mesh)
>>> layout_map[".*dense.*kernel"] = (None, "model")
>>> layout_map["sequential/dense/kernel"].axes, layout_map["sequential/dense/bias"]
((None, 'model'), None)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, MutableMapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.distributed as torch_dist
from torch.distributed.tensor import DTensor, Placement, Replicate, Shard

from lamina.distribution.devices import list_devices, parse_device


class DeviceMesh:
    """A grid of the job's devices with named axes (Keras's ``keras.distribution.DeviceMesh``).

    Args:
        shape: the size of each axis; their product is the number of devices (processes).
        axis_names: one name per axis, e.g. ``("batch", "model")``.
        devices: the devices, as ``list_devices()`` names them (default: all of them), laid out in row-major order.

    >>> mesh = DeviceMesh((2,), ["batch"], devices=["cpu:0", "cpu:1"])
    >>> mesh.shape, mesh.axis_names, mesh.devices.tolist()
    ((2,), ['batch'], ['cpu:0', 'cpu:1'])
    """

    def __init__(self, shape: Sequence[int], axis_names: Sequence[str], devices: Sequence[Any] | None = None):
        if not shape or not axis_names:
            raise ValueError(f"A DeviceMesh needs a shape and axis names (one per axis); received shape={shape!r}, "
                             f"axis_names={axis_names!r}.")
        if len(shape) != len(axis_names):
            raise ValueError(f"shape and axis_names must have the same length (one name per axis); received "
                             f"shape={shape!r}, axis_names={axis_names!r}.")
        if devices is None:
            devices = list_devices()
        array = np.array(devices)
        if int(np.prod(shape)) != int(array.size):
            raise ValueError(f"The mesh shape {shape!r} holds {int(np.prod(shape))} devices but {array.size} were "
                             f"given ({array.reshape(-1).tolist()}); make the product of the shape equal the number "
                             f"of devices.")
        self._shape, self._axis_names = shape, axis_names
        self._devices = array.reshape(tuple(shape))
        self._torch_mesh: Any = None

    @property
    def shape(self) -> Sequence[int]:
        return self._shape

    @property
    def axis_names(self) -> Sequence[str]:
        return self._axis_names

    @property
    def devices(self) -> np.ndarray:
        return self._devices

    def axis_size(self, name: str) -> int:
        """The number of devices along axis ``name``."""
        return int(self._shape[list(self._axis_names).index(name)])

    def ranks(self) -> np.ndarray:
        """The process rank of each device, in the mesh's shape (``"gpu:3"`` is rank 3)."""
        parsed = [parse_device(d) for d in self._devices.reshape(-1).tolist()]
        kinds = {kind for kind, _ in parsed}
        if len(kinds) > 1:
            raise ValueError(f"A DeviceMesh holds devices of one type; received {sorted(kinds)} in "
                             f"{self._devices.reshape(-1).tolist()}.")
        return np.array([index for _, index in parsed]).reshape(tuple(self._shape))

    @property
    def device_type(self) -> str:
        """PyTorch's name of the mesh's device type: ``"cuda"`` or ``"cpu"``."""
        kind, _ = parse_device(self._devices.reshape(-1)[0])
        return "cuda" if kind == "gpu" else "cpu"

    @property
    def torch_mesh(self) -> Any:
        """This mesh as a ``torch.distributed.device_mesh.DeviceMesh`` (built on first use, inside a job)."""
        if self._torch_mesh is None:
            self._torch_mesh = _build_torch_mesh(self)
        return self._torch_mesh

    backend_mesh = torch_mesh  # Keras's name for the backend's mesh object

    def __repr__(self) -> str:
        return f"<DeviceMesh shape={self._shape}, axis_names={self._axis_names}>"


def _build_torch_mesh(mesh: DeviceMesh) -> Any:
    from torch.distributed.device_mesh import DeviceMesh as TorchDeviceMesh
    from torch.distributed.device_mesh import init_device_mesh

    if not (torch_dist.is_available() and torch_dist.is_initialized()):
        raise RuntimeError(f"{mesh!r} needs the job's process group: start the script with torchrun and call "
                           "lamina.distribution.initialize() or set_distribution(...) first.")
    world = torch_dist.get_world_size()
    ranks = check_covers_job(mesh, world)
    device_type = mesh.device_type
    if (device_type == "cuda") != (torch_dist.get_backend() == "nccl"):
        raise ValueError(f"{mesh!r} lists {device_type} devices but this job runs on "
                         f"{'CUDA (NCCL)' if torch_dist.get_backend() == 'nccl' else 'CPU (gloo)'}; build the mesh "
                         "from list_devices().")
    names = tuple(str(n) for n in mesh.axis_names)
    if np.array_equal(ranks.reshape(-1), np.arange(world)):
        return init_device_mesh(device_type, tuple(int(s) for s in mesh.shape), mesh_dim_names=names)
    return TorchDeviceMesh(device_type, torch.as_tensor(ranks), mesh_dim_names=names)


def check_covers_job(mesh: DeviceMesh, world_size: int) -> np.ndarray:
    """The rank of each device of ``mesh``, which must hold each of the job's ``world_size`` processes once."""
    ranks = mesh.ranks()
    if sorted(ranks.reshape(-1).tolist()) != list(range(world_size)):
        raise ValueError(
            f"lamina runs one process per device, so a DeviceMesh must hold each of the job's {world_size} devices "
            f"once (list_devices() names them); {mesh!r} holds {mesh.devices.reshape(-1).tolist()}. To use fewer "
            f"devices, start fewer processes (torchrun --nproc_per_node=...); else build the mesh from list_devices()."
        )
    return ranks


def data_parallel_mesh(device_mesh: DeviceMesh | None, devices: Sequence[Any] | None) -> DeviceMesh | None:
    """The mesh of ``DataParallel(device_mesh=..., devices=...)`` (Keras's arguments); None: all the job's
    devices, known once it has started."""
    if device_mesh is not None and devices is not None:
        raise ValueError("Pass DataParallel(device_mesh=...) or DataParallel(devices=...), not both.")
    if isinstance(device_mesh, (int, float)) and not isinstance(device_mesh, bool):
        raise TypeError(f"DataParallel's first argument is Keras's device_mesh; received {device_mesh!r}. Pass the "
                        f"timeout by keyword: DataParallel(timeout={device_mesh!r}).")
    if device_mesh is not None:
        if not isinstance(device_mesh, DeviceMesh):
            raise TypeError(f"device_mesh must be a lamina.distribution.DeviceMesh; received "
                            f"{type(device_mesh).__name__}.")
        if len(device_mesh.shape) != 1:
            raise ValueError(f"DataParallel needs a one-axis mesh (the batch axis); received {device_mesh!r}. For a "
                             "mesh with a model axis, use ModelParallel(layout_map=LayoutMap(mesh)).")
        return device_mesh
    if devices is not None:
        devices = list(devices)
        if not devices:
            raise ValueError("DataParallel(devices=[]) lists no device; pass list_devices() or leave it out.")
        return DeviceMesh((len(devices),), ["batch"], devices)
    return None


class TensorLayout:
    """How a tensor is split over a mesh (Keras's ``keras.distribution.TensorLayout``): ``axes`` has one entry per
    tensor dimension, the name of the mesh axis that splits it or None (not split).

    In PyTorch this is a DTensor's placements, one per mesh axis: ``Shard(d)`` for the axis naming dimension
    ``d``, ``Replicate()`` for the others. A mesh axis can split one dimension only: a layout naming an axis
    twice has no DTensor meaning and raises when it is used.

    >>> mesh = DeviceMesh((2,), ["model"], devices=["cpu:0", "cpu:1"])
    >>> TensorLayout(["model", None], mesh).placements()
    (Shard(dim=0),)
    """

    def __init__(self, axes: Sequence[str | None], device_mesh: DeviceMesh | None = None):
        self._axes = tuple(axes)
        self._device_mesh = device_mesh
        self._validate_axes()

    @property
    def axes(self) -> tuple[str | None, ...]:
        return self._axes

    @property
    def device_mesh(self) -> DeviceMesh | None:
        return self._device_mesh

    @device_mesh.setter
    def device_mesh(self, device_mesh: DeviceMesh) -> None:
        if self._device_mesh is not None:
            raise ValueError(f"This TensorLayout already has a device mesh ({self._device_mesh!r}); it cannot be "
                             "replaced. Create a new TensorLayout for another mesh.")
        self._device_mesh = device_mesh
        self._validate_axes()

    def _validate_axes(self) -> None:
        if self._device_mesh is None:
            return
        valid = set(self._device_mesh.axis_names)
        unknown = {a for a in self._axes if a is not None and a not in valid}
        if unknown:
            raise ValueError(f"TensorLayout axes must be axis names of its mesh {sorted(valid)} or None; received "
                             f"{sorted(map(str, unknown))} in axes={self._axes}.")

    def placements(self, ndim: int | None = None) -> tuple[Placement, ...]:
        """The DTensor placements of this layout (one per mesh axis); ``ndim``: the rank of the tensor it is for.

        Raises ``ValueError`` when the layout has no DTensor meaning: no mesh, more axes than the tensor has
        dimensions, or one mesh axis splitting two dimensions."""
        mesh = self._device_mesh
        if mesh is None:
            raise ValueError(f"{self!r} has no device mesh: pass device_mesh=... or put it in a LayoutMap(mesh).")
        if ndim is not None and len(self._axes) > ndim:
            raise ValueError(f"{self!r} names {len(self._axes)} dimensions but the tensor has {ndim}; give one axis "
                             "(or None) per dimension.")
        out: list[Placement] = []
        for name in mesh.axis_names:
            dims = [i for i, a in enumerate(self._axes) if a == name]
            if len(dims) > 1:
                raise ValueError(f"{self!r} splits dimensions {dims} over the same mesh axis {name!r}; a mesh axis "
                                 "can split one dimension of a tensor (DTensor's Shard(dim)). Name it once.")
            out.append(Shard(dims[0]) if dims else Replicate())
        return tuple(out)

    backend_layout = property(lambda self: self.placements())  # Keras's name for the backend's layout

    def __repr__(self) -> str:
        return f"<TensorLayout axes={self._axes}, device_mesh={self._device_mesh}>"


class LayoutMap(MutableMapping):
    """Weight paths to ``TensorLayout``s (Keras's ``keras.distribution.LayoutMap``); keys are regular expressions.

    A lookup returns the layout of the key equal to the path, else of the one key that matches the whole path
    (``re.fullmatch``), else None; two matching keys raise ``ValueError``. A tuple of axis names is stored as
    ``TensorLayout(axes, device_mesh)``, and layouts without a mesh get this map's.

    >>> layout_map = LayoutMap(DeviceMesh((2,), ["model"], devices=["cpu:0", "cpu:1"]))
    >>> layout_map["dense.*kernel"] = (None, "model")
    >>> layout_map["dense_1/kernel"].axes
    (None, 'model')
    """

    def __init__(self, device_mesh: DeviceMesh):
        self._layouts: dict[str, TensorLayout] = {}
        self._device_mesh = device_mesh

    @property
    def device_mesh(self) -> DeviceMesh:
        return self._device_mesh

    def __getitem__(self, key: str) -> TensorLayout | None:
        if key in self._layouts:
            return self._layouts[key]
        matching = [k for k in self._layouts if re.fullmatch(k, key)]
        if len(matching) > 1:
            raise ValueError(f"The path {key!r} matches several LayoutMap keys: {matching}. Make the keys specific "
                             "enough that each weight path matches at most one.")
        return self._layouts[matching[0]] if matching else None

    def __setitem__(self, key: str, layout: Any) -> None:
        if key in self._layouts:
            raise ValueError(f"The LayoutMap already has the key {key!r} (layout {self._layouts[key]!r}); each key "
                             "can be set once.")
        if isinstance(layout, (tuple, list)):
            layout = TensorLayout(layout, self._device_mesh)
        if not isinstance(layout, TensorLayout):
            raise ValueError(f"A LayoutMap value must be a TensorLayout or a tuple of axis names; received "
                             f"{type(layout)} for key {key!r}.")
        if layout.device_mesh is None and self._device_mesh is not None:
            layout.device_mesh = self._device_mesh
        self._layouts[key] = layout

    def __delitem__(self, key: str) -> None:
        del self._layouts[key]

    def __len__(self) -> int:
        return len(self._layouts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._layouts)


def distribute_tensor(tensor: Any, layout: TensorLayout) -> Any:
    """``tensor`` laid out over the mesh as ``layout`` says (Keras's ``keras.distribution.distribute_tensor``): a
    DTensor made by ``torch.distributed.tensor.distribute_tensor`` (a DTensor is redistributed).

    Every process of the mesh calls it with the same full tensor and keeps its part. On a one-device mesh
    outside a job, the tensor is returned as it is.

    >>> distribute_tensor(torch.ones(2), TensorLayout([None], DeviceMesh((1,), ["batch"], ["cpu:0"])))
    tensor([1., 1.])
    """
    from torch.distributed.tensor import distribute_tensor as torch_distribute

    if not isinstance(layout, TensorLayout):
        raise TypeError(f"layout must be a TensorLayout; received {type(layout).__name__}.")
    if layout.device_mesh is None:
        raise ValueError(f"{layout!r} has no device mesh: pass TensorLayout(axes, device_mesh).")
    if isinstance(tensor, DTensor):
        return tensor.redistribute(layout.device_mesh.torch_mesh, layout.placements(tensor.ndim))
    tensor = torch.as_tensor(tensor)
    placements = layout.placements(tensor.ndim)
    if layout.device_mesh.devices.size == 1 and not torch_dist.is_initialized():
        return tensor
    torch_mesh = layout.device_mesh.torch_mesh
    return torch_distribute(tensor.to(torch_mesh.device_type), torch_mesh, placements)
