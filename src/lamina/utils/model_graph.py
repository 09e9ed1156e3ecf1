"""A model's layer graph as boxes and arrows, ready to draw: what ``plot_model`` and ``model_to_dot`` show.

Reads the model through its public surface and the symbolic nodes of its layers (``_inbound_nodes``, each with
``inputs``, ``flat_outputs`` and ``parents``), so it draws functional, ``Sequential`` and subclassed models
without importing ``lamina.models``. ``to_dot`` writes the graph in Graphviz's DOT language.

>>> import lamina as keras
>>> x = keras.Input((3,), name="x")
>>> model = keras.Model(x, keras.layers.Dense(2, name="out")(x))
>>> graph = describe_model(model, show_shapes=True, show_layer_names=True)
>>> [box.lines for box in graph.boxes]
[['x (InputLayer)', 'Output shape: (None, 3)'], ['out (Dense)', 'Input shape: (None, 3)', 'Output shape: (None, 2)']]
>>> graph.edges
[(0, 1)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from lamina.core.serialization import layer_class_name


@dataclass
class Box:
    """One layer: its text lines (the first is the title) and the nested model it is drawn inside, if any."""

    lines: list[str]
    cluster: int | None = None


@dataclass
class ModelGraph:
    """Boxes, arrows ``(from_box, to_box)`` and clusters (the titles of expanded nested models)."""

    name: str
    boxes: list[Box] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    clusters: list[str] = field(default_factory=list)


@dataclass
class _Options:
    show_shapes: bool
    show_dtype: bool
    show_layer_names: bool
    expand_nested: bool
    show_layer_activations: bool
    show_trainable: bool
    show_params: bool


def _own_nodes(model: Any) -> set[int]:
    """Ids of the symbolic nodes of ``model``'s graph (from its inputs back from its outputs)."""
    try:
        inputs, outputs = list(model.inputs or []), list(model.outputs or [])
    except (AttributeError, TypeError, ValueError):
        return set()
    found: set[int] = set()
    stack = [t.node for t in inputs + outputs if getattr(t, "node", None) is not None]
    while stack:
        node = stack.pop()
        if id(node) not in found:
            found.add(id(node))
            stack.extend(node.parents)
    return found


def _layers(model: Any) -> list[Any]:
    """The layers drawn for ``model``: its ``layers`` (input layers included for functional models; a
    ``Sequential`` lists none, and Keras draws none for it)."""
    return list(getattr(model, "layers", None) or [])


def _format_shapes(tensors: list[Any]) -> str:
    shapes = [str(tuple(t.shape)) for t in tensors]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _format_dtypes(tensors: list[Any]) -> str:
    dtypes = [str(t.dtype).replace("torch.", "") for t in tensors]
    return dtypes[0] if len(dtypes) == 1 else "[" + ", ".join(dtypes) + "]"


def _lines(layer: Any, nodes: list[Any], options: _Options) -> list[str]:
    class_name = layer_class_name(layer)
    name = getattr(layer, "name", None) or class_name.lower()
    lines = [f"{name} ({class_name})" if options.show_layer_names else class_name]
    is_input = class_name == "InputLayer"
    node = nodes[-1] if nodes else None
    outputs = list(node.flat_outputs) if node is not None else []
    inputs = [] if is_input or node is None else list(node.inputs)
    if options.show_shapes:
        if inputs:
            lines.append(f"Input shape: {_format_shapes(inputs)}")
        if outputs:
            lines.append(f"Output shape: {_format_shapes(outputs)}")
        elif getattr(layer, "recorded_output_shape", None) is not None:
            lines.append(f"Output shape: {layer.recorded_output_shape}")
        else:
            lines.append("Output shape: ?")
    if options.show_dtype and outputs:
        lines.append(f"Output dtype: {_format_dtypes(outputs)}")
    activation = getattr(layer, "activation", None)
    if options.show_layer_activations and activation is not None:
        lines.append(f"Activation: {getattr(activation, '__name__', type(activation).__name__)}")
    if options.show_trainable and list(getattr(layer, "weights", None) or []):  # as Keras: layers with weights
        lines.append(f"Trainable: {bool(getattr(layer, 'trainable', True))}")
    if options.show_params:
        try:
            lines.append(f"Params: {layer.count_params():,}")
        except (ValueError, AttributeError):
            lines.append("Params: 0 (unbuilt)")
    return lines


def select_range(layers: list[Any], layer_range: Any) -> list[Any]:
    """The layers from the first whose name matches ``layer_range[0]`` to the last matching ``layer_range[1]``
    (a name, or a regular expression matched from the start of the name); all of them for None."""
    if layer_range is None:
        return layers
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2 or not all(
            isinstance(n, str) for n in layer_range):
        raise ValueError(f"layer_range must be a list or tuple of two layer names (or patterns), e.g. "
                         f"('dense', 'dense_2'); received {layer_range!r}.")

    def matches(pattern: str, name: str) -> bool:
        try:
            return name == pattern or re.match(pattern, name) is not None
        except re.error:
            return False

    names = [str(getattr(layer, "name", "")) for layer in layers]
    starts = [i for i, n in enumerate(names) if matches(layer_range[0], n)]
    ends = [i for i, n in enumerate(names) if matches(layer_range[1], n)]
    if not starts or not ends or starts[0] > ends[-1]:
        raise ValueError(f"layer_range {tuple(layer_range)!r} does not match the model's layer names (in order): "
                         f"{names}. Pass the names of the first and the last layer to draw.")
    return layers[starts[0]:ends[-1] + 1]


def _add_model(graph: ModelGraph, model: Any, options: _Options, cluster: int | None,
               layer_range: Any = None) -> tuple[dict, list[int]]:
    """Add ``model``'s layers as boxes (nested models expanded when asked). Returns, per layer id, the boxes
    that receive its inputs and the boxes that give its outputs; and the boxes that take the model's inputs
    (its input layers, or for a ``Sequential`` the layers called on its input)."""
    own = _own_nodes(model)
    ends: dict[int, tuple[list[int], list[int]]] = {}
    inputs_of_model: list[int] = []
    try:
        model_inputs = {id(t) for t in model.inputs or []}
    except (AttributeError, TypeError, ValueError):
        model_inputs = set()
    layers = select_range(_layers(model), layer_range)
    for layer in layers:
        nodes = [n for n in getattr(layer, "_inbound_nodes", None) or [] if id(n) in own]
        if options.expand_nested and getattr(layer, "layers", None) and _own_nodes(layer):
            graph.clusters.append(_lines(layer, nodes, options)[0])
            inner, inner_inputs = _add_model(graph, layer, options, len(graph.clusters) - 1)
            outs = [b for t in (layer.outputs or []) for b in inner[id(t.node.layer)][1]]
            ends[id(layer)] = (inner_inputs, outs)
        else:
            graph.boxes.append(Box(_lines(layer, nodes, options), cluster))
            box = len(graph.boxes) - 1
            ends[id(layer)] = ([box], [box])
            takes_input = any(id(t) in model_inputs for n in nodes for t in n.inputs)
            if layer_class_name(layer) == "InputLayer" or takes_input:
                inputs_of_model.append(box)
    if own:
        for layer in layers:
            for node in getattr(layer, "_inbound_nodes", None) or []:
                if id(node) not in own:
                    continue
                for t in node.inputs:
                    producer = ends.get(id(t.node.layer))
                    if producer is None:
                        continue
                    for a in producer[1]:
                        for b in ends[id(layer)][0]:
                            if (a, b) not in graph.edges:
                                graph.edges.append((a, b))
    elif len(layers) > 1 and layer_class_name(model) == "Sequential":  # not built yet: still a chain
        for before, after in zip(layers, layers[1:], strict=False):
            graph.edges.append((ends[id(before)][1][0], ends[id(after)][0][0]))
    return ends, inputs_of_model


def describe_model(model: Any, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                   expand_nested: bool = False, show_layer_activations: bool = False, show_trainable: bool = False,
                   show_params: bool = False, layer_range: Any = None) -> ModelGraph:
    """The boxes and arrows of ``model``: one box per layer (a subclassed model, which has no graph, is one box
    for the model itself), arrows from each layer to the layers its output feeds; only the layers of
    ``layer_range`` (tf.keras's argument: first and last layer name) when it is given."""
    options = _Options(show_shapes, show_dtype, show_layer_names, expand_nested, show_layer_activations,
                       show_trainable, show_params)
    graph = ModelGraph(str(getattr(model, "name", type(model).__name__)))
    if not _layers(model) or (not _own_nodes(model) and layer_class_name(model) != "Sequential"):
        graph.boxes.append(Box(_lines(model, [], options)))
        return graph
    _add_model(graph, model, options, None, layer_range)
    return graph


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _quote(text: str) -> str:
    return f'"{_escape(text)}"'


def _id(text: str) -> str:
    """A DOT value: bare when it is a plain identifier (as Keras writes ``rankdir=TB``), else quoted."""
    return text if re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", text) else _quote(text)


def _label(lines: list[str]) -> str:
    """Lines as one quoted DOT label, DOT's ``\\n`` escape between them."""
    return '"' + "\\n".join(_escape(line) for line in lines) + '"'


def to_dot(graph: ModelGraph, rankdir: str = "TB", dpi: int = 200, splines: str = "ortho") -> str:
    """The graph in Graphviz's DOT language: one ``box`` node per layer, clusters for expanded nested models."""
    out = [f"digraph {_quote(graph.name)} {{", f"  rankdir={_id(rankdir)};", "  concentrate=true;",
           f"  dpi={int(dpi)};", f"  splines={_id(str(splines))};", '  node [shape="box", fontname="Helvetica"];']

    def node_line(i: int, box: Box) -> str:
        return f"  {i} [label={_label(box.lines)}];"

    for i, box in enumerate(graph.boxes):
        if box.cluster is None:
            out.append(node_line(i, box))
    for c, title in enumerate(graph.clusters):
        out.append(f"  subgraph cluster_{c} {{")
        out.append(f'    label={_quote(title)}; style="dashed";')
        out += ["  " + node_line(i, box) for i, box in enumerate(graph.boxes) if box.cluster == c]
        out.append("  }")
    out += [f"  {a} -> {b};" for a, b in graph.edges]
    out.append("}")
    return "\n".join(out) + "\n"
