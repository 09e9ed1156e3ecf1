"""Export a model for inference outside lamina: ONNX through ``torch.onnx`` (the dynamo exporter), with a
dynamic batch dimension.

The dynamo-based exporter (``torch.onnx.export(..., dynamo=True)``, the default of torch >= 2.9) needs the
``onnxscript`` package (``pip install lamina[onnx]``, which also brings ``onnx`` and ``onnxruntime``); it runs
offline. Example inputs use a batch of 2: the exporter specialises sizes 0 and 1, so they cannot stand for a
dynamic dimension.

>>> import lamina as keras
>>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
>>> model.export("model.onnx")  # writes a file (and needs onnxscript)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from lamina.core import tree

FORMATS = ("onnx",)
_EXAMPLE_BATCH = 2


class _Inference(torch.nn.Module):
    """The model called in inference mode on positional inputs, outputs flattened to a tuple."""

    def __init__(self, model: torch.nn.Module, structure: Any):
        super().__init__()
        self.model = model
        self.structure = structure  # how the model takes its inputs: None (one tensor), "list", or dict keys

    def forward(self, *inputs: torch.Tensor) -> tuple:
        if self.structure is None:
            x: Any = inputs[0]
        elif isinstance(self.structure, tuple):
            x = dict(zip(self.structure, inputs, strict=True))
        else:
            x = list(inputs)
        return tuple(tree.flatten(self.model(x, training=False)))


def _shape_list(signature: Any) -> tuple[list[tuple], Any]:
    """Shapes (batch first) and the input structure from an ``input_signature``: a shape, a list of shapes, a
    dict of shapes, or tensors/arrays/objects with ``.shape`` standing for them."""
    def as_shape(s: Any) -> tuple:
        s = getattr(s, "shape", s)
        if not isinstance(s, (tuple, list, torch.Size)) or not all(d is None or isinstance(d, int) for d in s):
            raise ValueError(f"export: each input signature must be a shape such as (None, 28, 28, 1); received {s!r}.")
        return tuple(s)

    if isinstance(signature, Mapping):
        keys = tuple(signature)
        return [as_shape(signature[k]) for k in keys], keys
    if hasattr(signature, "shape") or (isinstance(signature, (tuple, list)) and
                                        all(d is None or isinstance(d, int) for d in signature)):
        return [as_shape(signature)], None
    if isinstance(signature, Sequence) and signature:
        shapes = [as_shape(s) for s in signature]
        return shapes, (None if len(shapes) == 1 else "list")
    raise ValueError(f"export: input_signature must be a shape, a list or a dict of shapes; received {signature!r}.")


def _signature_of(model: Any) -> tuple[list[tuple], list[torch.dtype], Any, list[str]]:
    """Shapes, dtypes, structure and names of the model's inputs, from its symbolic inputs or its first call."""
    inputs = getattr(model, "inputs", None)
    if inputs:
        graph_input = getattr(model, "input", None)
        structure = tuple(graph_input) if isinstance(graph_input, Mapping) else (None if len(inputs) == 1 else "list")
        names = list(graph_input) if isinstance(graph_input, Mapping) else [t.name or f"input_{i}" for i, t in
                                                                             enumerate(inputs)]
        return [tuple(t.shape) for t in inputs], [t.dtype for t in inputs], structure, names
    recorded = getattr(model, "_build_shapes_dict", None) or {}
    shape = recorded.get("input_shape") if isinstance(recorded, Mapping) else None
    if shape is None:
        raise ValueError(
            f"export: model '{model.name}' has no known input shape. Build it first (call it on a batch of data, or "
            "give the first layer input_shape=), or pass input_signature=(None, ...) with the input shape.")
    shapes, structure = _shape_list(shape)
    shapes = [(None, *s[1:]) for s in shapes]
    return shapes, [torch.float32] * len(shapes), structure, [f"input_{i}" for i in range(len(shapes))]


def _example(shape: tuple, dtype: torch.dtype, index: int) -> torch.Tensor:
    if any(d is None for d in shape[1:]):
        raise ValueError(
            f"export: input {index} has shape {shape} with unknown sizes besides the batch. Pass "
            "input_signature=[(None, 32, 32, 3), ...] with every size but the batch fixed.")
    size = (_EXAMPLE_BATCH, *shape[1:])
    if dtype.is_floating_point:
        return torch.randn(size, dtype=dtype)
    return torch.zeros(size, dtype=dtype)


def export_model(model: Any, filepath: str | os.PathLike, format: str = "onnx", input_signature: Any = None,
                 opset_version: int | None = None, verbose: bool = False) -> None:
    """Write ``model`` as an ONNX file with a dynamic batch dimension (``Model.export`` calls this).

    Args:
        model: a built lamina model (or layer).
        filepath: where to write, e.g. ``"model.onnx"`` (written atomically).
        format: ``"onnx"``.
        input_signature: the input shapes, batch first (``(None, 28, 28, 1)``, a list, or a dict for dict
            inputs), when the model has no symbolic inputs (subclassed models) or to override them.
        opset_version: the ONNX opset (the exporter's default when None).
        verbose: print the exporter's report.

    (Not run as doctests: they write and read a file.)

    >>> export_model(model, "model.onnx")  # doctest: +SKIP
    >>> import onnxruntime; onnxruntime.InferenceSession("model.onnx").run(None, {"input_layer": x})  # doctest: +SKIP
    """
    if format not in FORMATS:
        raise ValueError(f"export: unknown format {format!r}; supported: {', '.join(FORMATS)}.")
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's dependency: fail early with the fix)
    except ImportError:
        raise ImportError("export(format='onnx') needs the onnx extra: pip install 'lamina[onnx]' (onnx, onnxscript, "
                          "onnxruntime).") from None
    if input_signature is not None:
        shapes, structure = _shape_list(input_signature)
        dtypes = [torch.float32] * len(shapes)
        names = list(structure) if isinstance(structure, tuple) else [f"input_{i}" for i in range(len(shapes))]
    elif not getattr(model, "built", False):
        raise ValueError(f"export: model '{model.name}' is not built. Call it on a batch of data first, give its first "
                         "layer input_shape=, or pass input_signature=(None, ...) with the input shape.")
    else:
        shapes, dtypes, structure, names = _signature_of(model)
    examples = tuple(_example(s, d, i) for i, (s, d) in enumerate(zip(shapes, dtypes, strict=True)))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    examples = tuple(x.to(device) for x in examples)
    wrapper = _Inference(model, structure).eval()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            outputs = wrapper(*examples)  # builds an unbuilt model given input_signature; checks the call works
        output_names = list(getattr(model, "output_names", None) or [])
        if len(output_names) != len(outputs) or len(set(output_names)) != len(output_names):
            output_names = [f"output_{i}" for i in range(len(outputs))]
        batch = torch.export.Dim("batch", min=1)
        path = os.fspath(filepath)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".onnx", dir=folder)
        os.close(fd)
        try:
            torch.onnx.export(wrapper, examples, tmp, dynamo=True, input_names=names, output_names=output_names,
                              dynamic_shapes=(tuple({0: batch} for _ in examples),), opset_version=opset_version,
                              external_data=False, verbose=verbose, optimize=True)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    finally:
        model.train(was_training)
