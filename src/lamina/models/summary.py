"""``model.summary()``: a table of the layers, their output shapes and parameter counts, as Keras 3 prints it.

>>> import lamina as keras
>>> model = keras.Sequential([keras.layers.Dense(10, input_shape=(784,), name="dense")], name="mlp")
>>> model.summary(line_length=60)
Model: "mlp"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━┓
┃ Layer (type)             ┃ Output Shape       ┃  Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━┩
│ dense (Dense)            │ (None, 10)         │    7,850 │
└──────────────────────────┴────────────────────┴──────────┘
 Total params: 7,850 (30.66 KB)
 Trainable params: 7,850 (30.66 KB)
 Non-trainable params: 0 (0.00 B)

Functional models whose graph is not a plain chain get a ``Connected to`` column
(``producer[call index][output index]``), ``show_trainable=True`` adds a ``Trainable`` column (``Y``/``N``, ``-``
for layers without weights), and ``expand_nested=True`` lists the layers of nested models under their row.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from lamina.core.serialization import layer_class_name
from lamina.layers.core import InputLayer
from lamina.layers.layer import Layer
from lamina.layers.symbolic import Node, SymbolicTensor

_UNICODE_BOX = {"top": "┏━┳┓", "head": "┃┃┃", "head_rule": "┡━╇┩", "rule": "├─┼┤", "body": "│││", "bottom": "└─┴┘"}
_ASCII_BOX = {"top": "+=++", "head": "|||", "head_rule": "+=++", "rule": "+-++", "body": "|||", "bottom": "+-++"}
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


@dataclass
class _Column:
    header: str
    align: str  # "left", "right" or "center"
    width: int = 0  # characters between the borders, padding included


def print_summary(model: Any, line_length: int | None = None, positions: list | None = None,
                  print_fn: Callable[..., Any] | None = None, expand_nested: bool = False,
                  show_trainable: bool = False, layer_range: Any = None) -> None:
    """Print a summary of ``model``: one row per layer, then the parameter totals and their sizes in memory.

    Args:
        model: a lamina ``Model`` (functional, ``Sequential`` or subclassed), built or not.
        line_length: total width of the table in characters (default: 88, or 108 with a ``Connected to``
            column, plus 12 with ``show_trainable``; never wider than the terminal).
        positions: where each column ends: fractions of ``line_length`` (e.g. ``[0.45, 0.8, 1.0]``) or absolute
            character positions. Without the ``Trainable`` column's entry, it is appended.
        print_fn: called with each line (one string, no newline); ``print`` by default.
        expand_nested: also list the layers of nested models, indented under their row.
        show_trainable: add a ``Trainable`` column.
        layer_range: ``(first, last)`` layer names (or regular expressions matched from the start of the name):
            only the top-level layers from the first match of ``first`` to the last match of ``last`` are shown.
            The totals always cover the whole model.
    """
    layers = _select_range(list(model.layers), layer_range)
    chain = _is_chain(model)
    columns = [_Column("Layer (type)", "left"), _Column("Output Shape", "left"), _Column("Param #", "right")]
    if not chain:
        columns.append(_Column("Connected to", "left"))
    if show_trainable:
        columns.append(_Column("Trainable", "center"))
    _set_widths(columns, line_length, positions, chain, show_trainable)

    own_nodes = _nodes_of(model)
    # Plain torch modules have no name: show the attribute path they are held under (e.g. `proj`).
    paths = {id(m): path for path, m in model.named_modules() if path} if isinstance(model, nn.Module) else {}
    rows: list[list[str]] = []
    for layer in layers:
        _add_rows(rows, layer, 0, own_nodes, paths, connected=not chain, trainable=show_trainable,
                  expand_nested=expand_nested)

    box = _UNICODE_BOX if print_fn is not None or _can_print_box() else _ASCII_BOX
    lines = [f'Model: "{getattr(model, "name", type(model).__name__)}"']
    lines += _render(columns, rows, box)
    lines += _totals(model)
    emit = print_fn if print_fn is not None else print
    for line in lines:
        emit(line)


# ---------------------------------------------------------------------------------------------- which layers
def _select_range(layers: list, layer_range: Any) -> list:
    """The top-level layers from the first name matching ``layer_range[0]`` to the last matching ``[1]``."""
    if layer_range is None:
        return layers
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list or tuple of two layer names, e.g. ('dense', 'dense_2'); "
                         f"received {layer_range!r}.")
    if not all(isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range must hold two strings (layer names or patterns); received {layer_range!r}.")
    names = [_name_of(layer) for layer in layers]
    starts = [i for i, n in enumerate(names) if _matches(layer_range[0], n)]
    ends = [i for i, n in enumerate(names) if _matches(layer_range[1], n)]
    if not starts or not ends or starts[0] > ends[-1]:
        raise ValueError(f"layer_range {tuple(layer_range)!r} does not match the model's layer names (in order): "
                         f"{names}. Pass the names of the first and the last layer to show.")
    return layers[starts[0]: ends[-1] + 1]


def _matches(pattern: str, name: str) -> bool:
    """``name`` is ``pattern``, or matches it as a regular expression from its start."""
    try:
        return name == pattern or re.match(pattern, name) is not None
    except re.error:  # not a valid pattern: a plain name then
        return False


def _nodes_of(model: Any) -> set[int]:
    """Ids of the graph nodes that belong to ``model`` (its symbolic inputs' and the calls leading to its
    outputs); empty for subclassed models, which have no graph."""
    found: set[int] = set()
    try:
        inputs, outputs = model.inputs or [], model.outputs or []
    except (AttributeError, TypeError):
        return found
    stack: list[Node] = [t.node for t in [*inputs, *outputs] if isinstance(t, SymbolicTensor) and t.node is not None]
    while stack:
        node = stack.pop()
        if id(node) not in found:
            found.add(id(node))
            stack.extend(node.parents)
    return found


def _is_chain(model: Any) -> bool:
    """Whether the model reads as a plain stack (no ``Connected to`` column): Sequential and subclassed models
    always; a functional model when it has one input, every call takes one tensor and feeds at most one other
    call, and no layer is called twice."""
    graph = getattr(model, "_graph", None)
    if graph is None:
        return True
    if len(graph.flat_inputs) != 1:
        return False
    layer_calls: dict[int, int] = {}
    consumers: dict[int, int] = {}
    for node in graph.nodes:
        if len(node.inputs) > 1:
            return False
        layer_calls[id(node.layer)] = layer_calls.get(id(node.layer), 0) + 1
        for parent in node.parents:
            consumers[id(parent)] = consumers.get(id(parent), 0) + 1
    return all(n == 1 for n in layer_calls.values()) and all(n == 1 for n in consumers.values())


# ---------------------------------------------------------------------------------------------- cells
def _name_of(layer: Any, paths: dict[int, str] | None = None) -> str:
    name = getattr(layer, "name", None)
    if isinstance(name, str) and name:
        return name
    return (paths or {}).get(id(layer)) or type(layer).__name__.lower()


def _type_of(layer: Any) -> str:
    """Class name, except that a plain ``Model(inputs, outputs)`` is ``Functional``, as Keras calls it."""
    return layer_class_name(layer)


def _add_rows(rows: list[list[str]], layer: Any, level: int, own_nodes: set[int], paths: dict[int, str], *,
              connected: bool, trainable: bool, expand_nested: bool) -> None:
    indent = "   " * level + "└ " if level else ""
    row = [f"{indent}{_name_of(layer, paths)} ({_type_of(layer)})", _shape_cell(layer, own_nodes), _params_cell(layer)]
    if connected:
        row.append(_connections_cell(layer, own_nodes) if level == 0 else "-")
    if trainable:
        row.append(_trainable_cell(layer))
    rows.append(row)
    children = getattr(layer, "layers", None) if expand_nested else None
    if isinstance(children, list):
        inner_nodes = _nodes_of(layer)
        for child in children:
            _add_rows(rows, child, level + 1, inner_nodes, paths, connected=connected, trainable=trainable,
                      expand_nested=expand_nested)


def _shape_cell(layer: Any, own_nodes: set[int]) -> str:
    """The output shape of the layer's last call in this model (any call if none is in the model; the shape
    recorded on its first call on data if it was never called symbolically; ``?`` if it never ran)."""
    nodes = list(getattr(layer, "_inbound_nodes", None) or [])
    mine = [n for n in nodes if id(n) in own_nodes]
    if mine or nodes:
        shapes = [t.shape for t in (mine or nodes)[-1].flat_outputs]
    else:
        shapes = _flat_shapes(getattr(layer, "recorded_output_shape", None))
    if not shapes:
        return "?"
    texts = [_format_shape(s) for s in shapes]
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


def _flat_shapes(recorded: Any) -> list[tuple]:
    """The shapes in a structure of shapes (tuples of ints and ``None``), in order."""
    if isinstance(recorded, tuple) and all(d is None or isinstance(d, int) for d in recorded):
        return [recorded]
    if isinstance(recorded, dict):
        recorded = list(recorded.values())
    if isinstance(recorded, (list, tuple)):
        return [s for item in recorded for s in _flat_shapes(item)]
    return []


def _format_shape(shape: tuple) -> str:
    return str(tuple(shape))


def _params_cell(layer: Any) -> str:
    if isinstance(layer, Layer):
        if not layer.built:
            return "0 (unbuilt)"
        return f"{layer.count_params():,}"
    tensors = list(layer.parameters()) + list(layer.buffers()) if isinstance(layer, nn.Module) else []
    if any(nn.parameter.is_lazy(t) for t in tensors):
        return "0 (unbuilt)"
    return f"{sum(t.numel() for t in tensors):,}"


def _connections_cell(layer: Any, own_nodes: set[int]) -> str:
    """``producer[call][output]`` for every tensor the layer's calls in this model take (``-`` for inputs)."""
    if isinstance(layer, InputLayer):
        return "-"
    refs = []
    for node in getattr(layer, "_inbound_nodes", None) or []:
        if id(node) not in own_nodes:
            continue
        for t in node.inputs:
            producer = t.node.layer
            call = next(i for i, n in enumerate(producer._inbound_nodes) if n is t.node)
            refs.append(f"{_name_of(producer)}[{call}][{t.index}]")
    return ", ".join(refs) or "-"


def _trainable_cell(layer: Any) -> str:
    weights = list(layer.weights) if isinstance(layer, Layer) else list(layer.parameters())
    if not weights:
        return "-"
    if isinstance(layer, Layer):
        return "Y" if layer.trainable else "N"
    return "Y" if any(p.requires_grad for p in weights) else "N"


# ---------------------------------------------------------------------------------------------- totals
def _totals(model: Any) -> list[str]:
    trainable = _count(model.trainable_weights)
    non_trainable = _count(model.non_trainable_weights)
    optimizer = _optimizer_count(getattr(model, "optimizer", None))
    total = (trainable[0] + non_trainable[0] + (optimizer[0] if optimizer else 0),
             trainable[1] + non_trainable[1] + (optimizer[1] if optimizer else 0))
    lines = [f" Total params: {_amount(total)}", f" Trainable params: {_amount(trainable)}",
             f" Non-trainable params: {_amount(non_trainable)}"]
    if optimizer is not None:
        lines.append(f" Optimizer params: {_amount(optimizer)}")
    return lines


def _count(tensors: Iterable[torch.Tensor]) -> tuple[int, int]:
    """(number of values, bytes) of the distinct, materialized tensors."""
    seen: set[int] = set()
    count = size = 0
    for t in tensors:
        if id(t) in seen or nn.parameter.is_lazy(t):
            continue
        seen.add(id(t))
        count += t.numel()
        size += t.numel() * t.element_size()
    return count, size


def _optimizer_count(optimizer: Any) -> tuple[int, int] | None:
    """What the optimizer holds, counted as Keras counts its variables: one int32 step counter, the learning
    rate (float32, unless a schedule computes it), and the slots kept per weight (momenta, velocities...).
    ``torch.optim`` keeps a step count per weight instead of one counter: those are left out. None until the
    optimizer is built."""
    if optimizer is None or not getattr(optimizer, "built", False):
        return None
    count, size = 1, 4  # iterations
    if not callable(getattr(optimizer, "_learning_rate", None)):
        count, size = count + 1, size + 4
    torch_optimizer = getattr(optimizer, "torch_optimizer", None)
    if torch_optimizer is None:
        slots = _count(getattr(optimizer, "variables", []))
    else:
        slots = _count(t for p, state in torch_optimizer.state.items() for key, t in state.items()
                       if key != "step" and isinstance(t, torch.Tensor) and t.shape == p.shape)
    return count + slots[0], size + slots[1]


def _amount(count_and_bytes: tuple[int, int]) -> str:
    count, size = count_and_bytes
    return f"{count:,} ({_readable_size(size)})"


def _readable_size(size: float) -> str:
    """Bytes in binary units with two decimals: 101800 -> '99.41 KB'."""
    unit = 0
    while size >= 1024 and unit < len(_SIZE_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{size:.2f} {_SIZE_UNITS[unit]}"


# ---------------------------------------------------------------------------------------------- layout
def _set_widths(columns: list[_Column], line_length: int | None, positions: list | None, chain: bool,
                show_trainable: bool) -> None:
    """Share ``line_length`` characters out among the columns, as ``positions`` (or the defaults) say."""
    n = len(columns)
    default_length = 88 if chain else 108
    default_positions = [0.45, 0.80, 1.0] if chain else [0.30, 0.56, 0.74, 1.0]
    if show_trainable:
        default_length += 12
    if positions is None:
        positions = default_positions
    positions = [float(p) for p in positions]
    if show_trainable and len(positions) == n - 1:  # positions for the other columns: make room at the end
        if positions[-1] <= 1:
            positions = [p * 0.9 for p in positions] + [1.0]
        else:
            positions = positions + [positions[-1] + 12]
    if len(positions) != n:
        raise ValueError(f"positions must give one end position per column ({n}: "
                         f"{[c.header for c in columns]}); received {len(positions)}: {positions}.")
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
        if positions[-1] > 1:
            line_length = int(positions[-1])
    ends = [int(p * line_length) if positions[-1] <= 1 else int(p) for p in positions]
    start = 0
    for i, (column, end) in enumerate(zip(columns, ends, strict=True)):
        # Each column owns its left border; the last one also gives a character to the right border.
        column.width = end - start - 1 - (1 if i == n - 1 else 0)
        start = end
        if column.width < 3:
            raise ValueError(f"The summary does not fit in {line_length} characters with positions {positions}: "
                             f"column '{column.header}' would be {max(column.width, 0)} wide. Pass a larger "
                             "line_length.")


def _render(columns: list[_Column], rows: list[list[str]], box: dict[str, str]) -> list[str]:
    """The table's lines: a heavy header, then the rows separated by light rules."""
    def rule(kind: str) -> str:
        left, fill, mid, right = box[kind]
        return left + mid.join(fill * c.width for c in columns) + right

    def text_lines(cells: list[str], kind: str, header: bool) -> list[str]:
        outer, inner = box[kind][0], box[kind][1]
        wrapped = [[_fit(cell, c.width - 2)] if header else _wrap(cell, c.width - 2)
                   for cell, c in zip(cells, columns, strict=True)]
        height = max(len(w) for w in wrapped)
        out = []
        for i in range(height):
            parts = [" " + _align(w[i] if i < len(w) else "", c.width - 2, c.align) + " "
                     for w, c in zip(wrapped, columns, strict=True)]
            out.append(outer + inner.join(parts) + outer)
        return out

    lines = [rule("top"), *text_lines([c.header for c in columns], "head", True), rule("head_rule")]
    for i, row in enumerate(rows):
        if i:
            lines.append(rule("rule"))
        lines += text_lines(row, "body", False)
    lines.append(rule("bottom"))
    return lines


def _align(text: str, width: int, align: str) -> str:
    if align == "right":
        return text.rjust(width)
    if align == "center":
        return text.center(width)
    return text.ljust(width)


def _fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, with an ellipsis where it was cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def _wrap(text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` characters, at spaces where possible. Leading spaces
    (the indentation of nested layers) stay on the first line."""
    indent = text[: len(text) - len(text.lstrip(" "))]
    lines: list[str] = []
    current: str | None = None
    for word in text.split():
        candidate = indent + word if current is None else current + " " + word
        if len(candidate) <= width:
            current = candidate
            continue
        if current is not None:
            lines.append(current)
        while len(word) > width:  # a word longer than a line: cut it
            lines.append(word[:width])
            word = word[width:]
        current = word
    if current is not None:
        lines.append(current)
    return lines or [""]


def _can_print_box() -> bool:
    """Whether stdout can encode the box-drawing characters (else the table is drawn in ASCII)."""
    encoding = getattr(sys.stdout, "encoding", None)
    if not encoding:  # an in-memory stream (StringIO, captured output) holds any text
        return True
    try:
        "".join(_UNICODE_BOX.values()).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
