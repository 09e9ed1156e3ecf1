"""Keras's ``keras.export.ExportArchive`` on PyTorch: endpoints written as ``torch.export`` programs.

Keras's archive is a TensorFlow SavedModel: functions (endpoints) traced with input signatures, and the variables
they use. Its PyTorch counterpart is ``torch.export``: each endpoint is traced into an ``ExportedProgram`` that
holds its graph and the weights it reads, and is saved as ``NAME.pt2`` (``torch.export.save``); PyTorch reloads it
without lamina or the model's Python code (``torch.export.load(path).module()``). A dimension given as None in
the input signature stays dynamic. Variable collections are saved as ``NAME.safetensors``, and ``archive.json``
lists the endpoints and collections. ``load_archive`` reads a directory back, with endpoints as attributes, as
``tf.saved_model.load`` gives Keras's.

A SavedModel itself (``format="tf_saved_model"``) needs TensorFlow: write ``"pt2"`` here, or ONNX with
``model.export(path, format="onnx")``.

>>> import tempfile, torch, lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> archive = ExportArchive()
>>> archive.track(model)
>>> _ = archive.add_endpoint("serve", model.call, [lamina.InputSpec(shape=(None, 3), dtype="float32")])
>>> path = tempfile.mkdtemp()
>>> archive.write_out(path, verbose=False)
>>> reloaded = load_archive(path)
>>> reloaded.serve(torch.ones(5, 3)).shape
torch.Size([5, 2])
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from lamina.core import bounded_json, config, tree

FORMATS = ("pt2",)
_MANIFEST = "archive.json"
_DYNAMIC_EXAMPLE = 2  # the size a None dimension is traced with (0 and 1 would be specialized)


class ExportArchive:
    """Endpoints (functions with input signatures) and variable collections, written as ``torch.export`` programs
    (Keras's ``keras.export.ExportArchive``; see the module's docstring).

    >>> import lamina
    >>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(1)])
    >>> archive = ExportArchive()
    >>> archive.track(model)
    >>> program = archive.add_endpoint("serve", model, [lamina.InputSpec(shape=(None, 4))])
    >>> archive.add_variable_collection("weights", model.weights)
    >>> sorted(archive.endpoints), sorted(archive.variable_collections)
    (['serve'], ['weights'])
    """

    def __init__(self) -> None:
        self._tracked: list[nn.Module] = []
        self._endpoints: dict[str, tuple[torch.export.ExportedProgram, list]] = {}
        self._collections: dict[str, list[torch.Tensor]] = {}

    @property
    def endpoints(self) -> dict[str, torch.export.ExportedProgram]:
        """The endpoints added so far, by name."""
        return {name: program for name, (program, _) in self._endpoints.items()}

    @property
    def variable_collections(self) -> dict[str, list[torch.Tensor]]:
        """The variable collections added so far, by name."""
        return dict(self._collections)

    def track(self, resource: Any) -> None:
        """Track a built layer or model: its weights become part of the endpoints that use them."""
        if not isinstance(resource, nn.Module):
            raise ValueError(f"track() expects a lamina Layer or Model (a torch.nn.Module); received "
                             f"{type(resource).__name__}.")
        if getattr(resource, "built", True) is False:
            raise ValueError(f"The layer {getattr(resource, 'name', resource)!r} is not built yet: call it on data "
                             "(or build it) before tracking it.")
        if all(resource is not r for r in self._tracked):
            self._tracked.append(resource)

    def add_endpoint(self, name: str, fn: Callable[..., Any], input_signature: Sequence[Any] | None = None,
                     **kwargs: Any) -> torch.export.ExportedProgram:
        """Trace ``fn`` with ``torch.export`` into the endpoint ``name``; returns the ``ExportedProgram``.

        ``input_signature``: one spec per positional argument of ``fn`` (``lamina.InputSpec``, ``lamina.Input``
        or anything with ``shape`` and ``dtype``; nested lists/dicts of them for nested arguments); None
        dimensions stay dynamic. Left out, it is read from the model ``fn`` belongs to (``model.inputs``).
        Other keyword arguments go to ``torch.export.export`` (e.g. ``strict=True``).
        """
        self._check_name(name, self._endpoints, "endpoint")
        if not callable(fn):
            raise ValueError(f"fn must be callable (a model, a layer or one of their methods); received {fn!r}.")
        specs = _signature_of(fn) if input_signature is None else list(input_signature)
        example = tuple(tree.map_structure(_example, spec) for spec in specs)
        dynamic = (tuple(tree.map_structure(_dynamic_dims, spec) for spec in specs),)
        module = _Endpoint(self._tracked, fn)
        was_training = [m.training for m in self._tracked]
        for m in self._tracked:
            m.eval()
        try:
            program = torch.export.export(module, example, dynamic_shapes=dynamic, strict=kwargs.pop("strict", False),
                                          **kwargs)
        finally:
            for m, training in zip(self._tracked, was_training, strict=True):
                m.train(training)
        self._endpoints[name] = (program, [tree.map_structure(_describe, spec) for spec in specs])
        return program

    def track_and_add_endpoint(self, name: str, resource: Any, input_signature: Sequence[Any] | None,
                               **kwargs: Any) -> torch.export.ExportedProgram:
        """``track(resource)``, then ``add_endpoint(name, resource, input_signature)``: the endpoint calls it."""
        self.track(resource)
        return self.add_endpoint(name, resource, input_signature, **kwargs)

    def add_variable_collection(self, name: str, variables: Sequence[Any]) -> None:
        """Save ``variables`` (a list of variables or tensors) under ``name``, next to the endpoints."""
        self._check_name(name, self._collections, "variable collection")
        if not isinstance(variables, (list, tuple)) or not all(isinstance(v, torch.Tensor) for v in variables):
            raise ValueError(f"variables must be a list of variables (tensors), e.g. model.weights; received "
                             f"{type(variables).__name__}.")
        self._collections[name] = list(variables)

    def write_out(self, filepath: str | os.PathLike, options: Any = None, verbose: bool = True, *,
                  format: str = "pt2") -> None:
        """Write the archive to the directory ``filepath``: ``NAME.pt2`` per endpoint, ``NAME.safetensors`` per
        variable collection, and ``archive.json``.

        ``options`` (TensorFlow's ``SaveOptions``) has no PyTorch meaning and must be None; ``format`` is
        ``"pt2"`` (``"tf_saved_model"`` needs TensorFlow: see the module's docstring).
        """
        if format != "pt2":
            raise ValueError(
                f"ExportArchive writes format='pt2' (torch.export programs); received format={format!r}. A "
                f"TensorFlow SavedModel needs TensorFlow and its Keras: lamina runs on PyTorch. Use format='pt2' "
                f"here, or model.export(path, format='onnx') for an ONNX file."
            )
        if options is not None:
            raise ValueError("options are TensorFlow's tf.saved_model.SaveOptions, which a PyTorch archive has no use "
                             "for; leave options=None.")
        if not self._endpoints:
            raise ValueError("The archive has no endpoint yet: call add_endpoint() (or track_and_add_endpoint()) "
                             "before write_out().")
        from safetensors.torch import save_file

        os.makedirs(filepath, exist_ok=True)
        manifest: dict[str, Any] = {"format": "pt2", "endpoints": {}, "variable_collections": {}}
        for name, (program, signature) in self._endpoints.items():
            torch.export.save(program, os.path.join(filepath, f"{name}.pt2"))
            manifest["endpoints"][name] = {"file": f"{name}.pt2", "input_signature": signature}
        for name, variables in self._collections.items():
            tensors = {str(i): v.detach().cpu().contiguous().clone() for i, v in enumerate(variables)}
            save_file(tensors, os.path.join(filepath, f"{name}.safetensors"))
            manifest["variable_collections"][name] = {
                "file": f"{name}.safetensors", "paths": [str(getattr(v, "path", i)) for i, v in enumerate(variables)]}
        with open(os.path.join(filepath, _MANIFEST), "w", encoding="utf-8") as f:
            json.dump(manifest, f, indent=2)
        if verbose:
            lines = [f"Saved artifact at '{os.fspath(filepath)}'. The following endpoints are available:"]
            for name, (_, signature) in self._endpoints.items():
                lines.append(f"* Endpoint '{name}' ({name}.pt2): inputs {signature}")
            print("\n".join(lines))

    @staticmethod
    def _check_name(name: Any, taken: dict, what: str) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"The {what} name must be a Python identifier (it names a file and an attribute of the "
                             f"reloaded archive); received {name!r}.")
        if name in taken:
            raise ValueError(f"The archive already has {'an' if what[0] in 'aeiou' else 'a'} {what} named {name!r}; "
                             "pick another name.")


class _Endpoint(nn.Module):
    """The module ``torch.export`` traces: the tracked resources (so their weights are the program's) and ``fn``."""

    def __init__(self, resources: list[nn.Module], fn: Callable[..., Any]):
        super().__init__()
        self.resources = nn.ModuleList(resources)
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


def _signature_of(fn: Any) -> list:
    owner = fn if isinstance(fn, nn.Module) else getattr(fn, "__self__", None)
    inputs = getattr(owner, "inputs", None)
    if not inputs:
        raise ValueError(f"add_endpoint() needs an input_signature for {fn!r}: one spec per argument, e.g. "
                         "[lamina.InputSpec(shape=(None, 784), dtype='float32')] (it can be left out only for a model "
                         "with known inputs and its methods).")
    return list(inputs)


def _shape_dtype(spec: Any) -> tuple[tuple, torch.dtype]:
    if isinstance(spec, torch.Tensor):
        return tuple(spec.shape), spec.dtype
    shape = getattr(spec, "shape", None)
    if shape is None:
        raise ValueError(f"Each input_signature entry needs a shape (an InputSpec, Input or tensor); received "
                         f"{spec!r}.")
    dtype = getattr(spec, "dtype", None)
    return tuple(shape), config.standardize_dtype(None if dtype is None else dtype)


def _example(spec: Any) -> torch.Tensor:
    shape, dtype = _shape_dtype(spec)
    size = tuple(_DYNAMIC_EXAMPLE if d is None else int(d) for d in shape)
    if dtype.is_floating_point or dtype.is_complex:
        return torch.randn(size).to(dtype)
    return torch.zeros(size, dtype=dtype)


def _dynamic_dims(spec: Any) -> dict[int, Any] | None:
    shape, _ = _shape_dtype(spec)
    dims = {i: torch.export.Dim.DYNAMIC for i, d in enumerate(shape) if d is None}
    return dims or None


def _describe(spec: Any) -> dict[str, Any]:
    shape, dtype = _shape_dtype(spec)
    return {"shape": list(shape), "dtype": config.dtype_name(dtype)}


class LoadedArchive:
    """An archive read back by ``load_archive``: each endpoint is an attribute (a callable module) and each
    variable collection a list of tensors."""

    def __init__(self, endpoints: dict[str, nn.Module], collections: dict[str, list[torch.Tensor]]):
        self.endpoints, self.variable_collections = endpoints, collections
        for name, value in {**endpoints, **collections}.items():
            setattr(self, name, value)


def load_archive(filepath: str | os.PathLike) -> LoadedArchive:
    """Read a directory written by ``ExportArchive.write_out``: endpoints as callables (``torch.export.load``),
    variable collections as lists of tensors."""
    from safetensors.torch import load_file

    manifest_path = os.path.join(filepath, _MANIFEST)
    if not os.path.exists(manifest_path):
        raise FileNotFoundError(f"{os.fspath(filepath)!r} is not an archive written by ExportArchive.write_out "
                                f"(no {_MANIFEST}).")
    with open(manifest_path, "rb") as f:
        manifest = bounded_json.loads(f.read(), _MANIFEST)
    endpoints = {name: torch.export.load(os.path.join(filepath, entry["file"])).module()
                 for name, entry in manifest["endpoints"].items()}
    collections = {}
    for name, entry in manifest["variable_collections"].items():
        tensors = load_file(os.path.join(filepath, entry["file"]))
        collections[name] = [tensors[str(i)] for i in range(len(tensors))]
    return LoadedArchive(endpoints, collections)


__all__ = ["ExportArchive", "LoadedArchive", "load_archive"]


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.<namespace>)``): not the tools this module imports."""
    return sorted(__all__)
