"""The functional graph: nodes between ``Input``s and outputs, ordered once, executed with a flat slot list.

>>> from lamina import layers
>>> x = layers.Input(shape=(4,))
>>> graph = Graph(x, layers.Dense(2)(x))
>>> [type(layer).__name__ for layer in graph.layers]
['InputLayer', 'Dense']
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import tree
from lamina.layers.core import Input, InputLayer
from lamina.layers.layer import format_shape
from lamina.layers.symbolic import Node, SymbolicTensor


class Graph:
    """Topologically ordered layer calls from ``inputs`` to ``outputs`` (nested structures of symbolic tensors)."""

    def __init__(self, inputs: Any, outputs: Any):
        self.inputs = inputs
        self.outputs = outputs
        self.flat_inputs: list[SymbolicTensor] = tree.flatten(inputs)
        self.flat_outputs: list[SymbolicTensor] = tree.flatten(outputs)
        for t in self.flat_inputs:
            if not isinstance(t, SymbolicTensor) or t.node is None or not isinstance(t.node.layer, InputLayer):
                raise ValueError(
                    f"Model inputs must be tensors made by lamina.Input(...); received {t!r}. Pass the Input "
                    "tensors themselves, not results of layers."
                )
        for t in self.flat_outputs:
            if not isinstance(t, SymbolicTensor):
                raise ValueError(f"Model outputs must be symbolic tensors from layer calls; received {t!r}.")
        self.nodes, self.layers = self._order()
        self._slot = {id(t): i for i, t in enumerate(self.flat_inputs)}
        for node in self.nodes:
            for t in node.flat_outputs:
                self._slot[id(t)] = len(self._slot)
        self._plan = [self._compile(node) for node in self.nodes]
        self._out_slots = [self._slot[id(t)] for t in self.flat_outputs]

    def _traverse(self) -> list[Node]:
        """Nodes reachable from the outputs, depth-first, inputs visited in call order, in post-order (a node
        after everything it needs). Iterative, so graphs thousands of layers deep work."""
        input_ids = {id(t) for t in self.flat_inputs}
        order: list[Node] = []
        done: set[int] = set()
        for out in self.flat_outputs:
            stack: list[tuple[Node, bool]] = [(out.node, False)]
            while stack:
                node, expanded = stack.pop()
                if id(node) in done:
                    continue
                if expanded:
                    done.add(id(node))
                    order.append(node)
                    continue
                stack.append((node, True))
                for t in reversed(node.inputs):  # reversed onto the stack: visited in call order
                    if t.node is None or (isinstance(t.node.layer, InputLayer) and id(t) not in input_ids):
                        raise ValueError(
                            f"Graph disconnected: layer '{node.layer.name}' needs {t!r}, which is not among the "
                            f"model's inputs {[i.name for i in self.flat_inputs]}. Add that Input to "
                            "Model(inputs=[...])."
                        )
                    if id(t.node) not in done:
                        stack.append((t.node, False))
        return order

    def _order(self) -> tuple[list[Node], list]:
        """Execution order of the nodes and the model's layer order, both as Keras has them: by depth (distance
        from the outputs, deepest first), ties broken by traversal order. Weights follow the layer order, so
        ``get_weights``/``set_weights`` line up with a Keras model of the same graph."""
        traversal = self._traverse()
        layer_index: dict[int, int] = {}
        for node in traversal:
            layer_index.setdefault(id(node.layer), len(layer_index))
        node_depth: dict[int, int] = {}
        layer_depth: dict[int, int] = {}
        layers_by_id: dict[int, Any] = {}
        for node in reversed(traversal):  # consumers before producers
            depth = max(node_depth.get(id(node), 0), layer_depth.get(id(node.layer), 0))
            node_depth[id(node)] = depth
            layer_depth[id(node.layer)] = depth
            layers_by_id[id(node.layer)] = node.layer
            for parent in node.parents:
                node_depth[id(parent)] = max(node_depth.get(id(parent), 0), depth + 1)
        for t in self.flat_inputs:  # inputs that no output depends on
            if id(t.node.layer) not in layer_depth:
                layer_depth[id(t.node.layer)], layer_index[id(t.node.layer)] = 0, -1
                layers_by_id[id(t.node.layer)] = t.node.layer
        position = {id(n): i for i, n in enumerate(traversal)}
        nodes = sorted((n for n in traversal if not isinstance(n.layer, InputLayer)),
                       key=lambda n: (-node_depth[id(n)], position[id(n)]))
        layer_ids = sorted(layers_by_id, key=lambda k: (-layer_depth[k], layer_index[k]))
        return nodes, [layers_by_id[k] for k in layer_ids]

    def _compile(self, node: Node) -> tuple:
        slot = self._slot
        out_slots = [slot[id(t)] for t in node.flat_outputs]
        single_out = len(out_slots) == 1 and isinstance(node.outputs, SymbolicTensor)
        if len(node.args) == 1 and isinstance(node.args[0], SymbolicTensor) and not _has_symbolic(node.kwargs):
            source, kwargs = slot[id(node.args[0])], dict(node.kwargs)
            return node.layer, (lambda buf, s=source: ((buf[s],), kwargs)), out_slots, single_out

        def gather(buf: list, args: tuple = node.args, kwargs: dict = node.kwargs) -> tuple:
            fill = lambda t: buf[slot[id(t)]] if isinstance(t, SymbolicTensor) else t  # noqa: E731
            return tree.map_structure(fill, args), tree.map_structure(fill, kwargs)

        return node.layer, gather, out_slots, single_out

    def run(self, flat_inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Execute the graph on tensors given in ``flat_inputs`` order; returns outputs in ``flat_outputs`` order."""
        buf: list[Any] = [None] * len(self._slot)
        buf[: len(flat_inputs)] = flat_inputs
        for layer, gather, out_slots, single_out in self._plan:
            args, kwargs = gather(buf)
            out = layer(*args, **kwargs)
            if single_out:
                buf[out_slots[0]] = out
            else:
                for s, value in zip(out_slots, tree.flatten(out), strict=True):
                    buf[s] = value
        return [buf[s] for s in self._out_slots]


def from_intermediate_inputs(inputs: Any, outputs: Any) -> tuple[Any, Any]:
    """``(inputs, outputs)`` of a model whose inputs may be results of layers (``Model(encoded, predictions)``, as
    Keras's structured-data guide builds its training model): as Keras's ``clone_graph_nodes``, each such tensor
    gets a new ``Input`` named ``<name>CLONE`` of its shape and dtype, and the layer calls between those inputs
    and the outputs are made again on them (the layers, and so their weights, are shared)."""
    flat = tree.flatten(inputs)
    if not all(isinstance(t, SymbolicTensor) and t.node is not None for t in flat) or all(
            isinstance(t.node.layer, InputLayer) for t in flat):
        return inputs, outputs  # (anything else: Graph says what is wrong)
    mapping: dict[int, SymbolicTensor] = {}
    for t in flat:
        if not isinstance(t.node.layer, InputLayer):
            dtype = t.dtype if isinstance(t.dtype, str) else str(t.dtype).replace("torch.", "")
            mapping[id(t)] = Input(batch_shape=t.shape, dtype=dtype, name=f"{t.name}CLONE")
    order: list[Node] = []  # the nodes between the new inputs and the outputs, producers first
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(t.node, False) for t in reversed(tree.flatten(outputs))
                                      if isinstance(t, SymbolicTensor) and t.node is not None and id(t) not in mapping]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen or isinstance(node.layer, InputLayer):
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((t.node, False) for t in reversed(node.inputs) if id(t) not in mapping and t.node is not None)
    for node in order:
        args, kwargs = tree.map_structure(
            lambda x: mapping.get(id(x), x) if isinstance(x, SymbolicTensor) else x, (node.args, node.kwargs))
        out = node.layer(*args, **kwargs)
        for old, new in zip(node.flat_outputs, tree.flatten(out), strict=True):
            mapping[id(old)] = new
    remap = lambda t: mapping.get(id(t), t) if isinstance(t, SymbolicTensor) else t  # noqa: E731
    return tree.map_structure(remap, inputs), tree.map_structure(remap, outputs)


def _has_symbolic(x: Any) -> bool:
    return any(isinstance(t, SymbolicTensor) for t in tree.flatten(x))


def standardize_input(x: Any, spec: SymbolicTensor, model_name: str) -> Any:
    """Check one input against its ``Input`` (rank, fixed sizes), fix a missing/extra trailing axis of size 1
    as Keras does, and cast floats to the Input's dtype."""
    if not isinstance(x, torch.Tensor):
        return x
    want = spec.shape
    if x.dtype == spec.dtype and x.shape[1:] == want[1:]:  # the common case, decided in one comparison
        return x
    if x.ndim == len(want) - 1 and want[-1] == 1:
        x = x.unsqueeze(-1)
    elif x.ndim == len(want) + 1 and x.shape[-1] == 1:
        x = x.squeeze(-1)
    bad = x.ndim != len(want) or any(w is not None and w != g for w, g in zip(want, x.shape, strict=False))
    if bad:
        raise ValueError(
            f"Input '{spec.name}' of model '{model_name}' expects shape {format_shape(want)}, but received input of "
            f"shape {format_shape(tuple(x.shape))}. Reshape the data (e.g. x.reshape(-1, "
            f"{', '.join(str(d) for d in want[1:])})) or build the model for this shape."
        )
    if spec.dtype.is_floating_point and x.dtype != spec.dtype:
        x = x.to(spec.dtype)
    return x


# ---------------------------------------------------------------------------------------------- config
# Keras 3's functional config: every layer with the nodes (calls) it makes in this graph, each argument tensor
# named by [layer name, node index, tensor index]; ``input_layers``/``output_layers`` mirror the structures.
TENSOR = "__keras_tensor__"


def graph_config(graph: Graph, serialize_layer: Any) -> dict:
    """``layers``, ``input_layers`` and ``output_layers`` describing ``graph`` (shared layers, nested models,
    several inputs and outputs included). ``serialize_layer(layer)`` gives one layer's ``{"class_name", ...}``."""
    members = {id(n) for n in graph.nodes} | {id(t.node) for t in graph.flat_inputs}
    node_index: dict[int, int] = {}
    own_nodes: dict[int, list[Node]] = {}
    for layer in graph.layers:
        own_nodes[id(layer)] = [n for n in layer._inbound_nodes if id(n) in members]
        for i, n in enumerate(own_nodes[id(layer)]):
            node_index[id(n)] = i

    def ref(t: SymbolicTensor) -> list:
        return [t.node.layer.name, node_index[id(t.node)], t.index]

    def arg(value: Any) -> Any:
        if isinstance(value, SymbolicTensor):
            return {"class_name": TENSOR, "config": {"shape": list(value.shape), "dtype": str(value.dtype).replace(
                "torch.", ""), "keras_history": ref(value)}}
        if isinstance(value, (list, tuple)):
            return [arg(v) for v in value]
        if isinstance(value, dict):
            return {str(k): arg(v) for k, v in value.items()}
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"Cannot save a functional model whose layer call takes {value!r}: only tensors, numbers, "
                        "strings and lists/dicts of them are saved.")

    layers = []
    for layer in graph.layers:
        entry = dict(serialize_layer(layer))
        entry["name"] = layer.name
        entry["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
            {"args": arg(list(n.args)), "kwargs": arg(dict(n.kwargs))} for n in own_nodes[id(layer)]]
        layers.append(entry)
    return {"layers": layers, "input_layers": tree.map_structure(ref, graph.inputs),
            "output_layers": tree.map_structure(ref, graph.outputs)}


def _is_ref(x: Any) -> bool:
    return isinstance(x, list) and len(x) == 3 and isinstance(x[0], str) and all(
        type(i) is int for i in x[1:])


def graph_from_config(config: dict, deserialize_layer: Any, call_function: Any = None) -> tuple[Any, Any]:
    """``(inputs, outputs)`` of a graph rebuilt from ``graph_config``'s output by calling freshly made layers
    in an order that respects every node's inputs. ``deserialize_layer(entry)`` makes one layer;
    ``call_function(layer, *args, **kwargs)``, if given, makes each call (clone_model's ``call_function``)."""
    entries = config["layers"]
    if not isinstance(entries, list) or not all(isinstance(e, dict) and isinstance(e.get("name"), str)
                                                for e in entries):
        raise ValueError("A functional config's 'layers' must be a list of layer configs with names.")
    names = [e["name"] for e in entries]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"A functional config names a layer twice: {twice}.")
    made: dict[tuple[str, int], Any] = {}
    pending: list[tuple[Any, str, list]] = []
    for entry in entries:
        layer = deserialize_layer(entry)
        if isinstance(layer, InputLayer):
            made[(entry["name"], 0)] = layer.output_tensor
        nodes = entry.get("inbound_nodes") or []
        if not isinstance(nodes, list):
            raise ValueError(f"'inbound_nodes' of layer {entry['name']!r} must be a list.")
        pending.append((layer, entry["name"], list(nodes)))

    def tensor(history: Any) -> SymbolicTensor:
        if not _is_ref(history) or (history[0], history[1]) not in made:
            raise KeyError(history)
        flat = tree.flatten(made[(history[0], history[1])])
        return flat[history[2]]

    def fill(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == TENSOR:
            return tensor((value.get("config") or {}).get("keras_history"))
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    # Each node waits for the first tensor it needs that is not made yet; making a tensor wakes its waiters, and
    # a layer's nodes run in their order. Every node is tried at most once per tensor it needs, so a config
    # listed in any order rebuilds in time linear in its size (retrying every node in passes was quadratic).
    done = {name: 0 for _, name, _ in pending}
    waiting: dict[tuple[str, int], list[int]] = {}
    ready = list(range(len(pending) - 1, -1, -1))  # a stack: the config's order first

    def missing(value: Any) -> tuple[str, int] | None:
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, dict) and item.get("class_name") == TENSOR:
                history = (item.get("config") or {}).get("keras_history")
                if _is_ref(history) and (history[0], history[1]) not in made:
                    return history[0], history[1]
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                stack.extend(item.values())
        return None

    while ready:
        index = ready.pop()
        layer, name, nodes = pending[index]
        while done[name] < len(nodes):
            node = nodes[done[name]]
            if not isinstance(node, dict):
                raise ValueError(f"A node of layer {name!r} must be a dict with 'args' and 'kwargs'.")
            need = missing([node.get("args", []), node.get("kwargs", {})])
            if need is not None:
                waiting.setdefault(need, []).append(index)
                break
            try:
                args, kwargs = fill(node.get("args", [])), fill(node.get("kwargs", {}))
            except (KeyError, IndexError):
                raise ValueError(f"A node of layer {name!r} refers to a tensor its producer does not "
                                 "have.") from None
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ValueError(f"A node of layer {name!r} has malformed args/kwargs.")
            made[(name, done[name])] = (call_function(layer, *args, **kwargs) if call_function is not None
                                        else layer(*args, **kwargs))
            ready.extend(reversed(waiting.pop((name, done[name]), [])))
            done[name] += 1
    stuck = [name for _, name, nodes in pending if done[name] < len(nodes)]
    if stuck:
        raise ValueError(f"The functional config cannot be rebuilt: the calls of layers {stuck[:10]} need tensors "
                         "that no layer of the config produces (the config is damaged or inconsistent).")

    def resolve(structure: Any) -> Any:
        if _is_ref(structure):
            try:
                return tensor(structure)
            except (KeyError, IndexError):
                raise ValueError(f"The functional config refers to a missing tensor {structure}.") from None
        if isinstance(structure, list):
            return [resolve(s) for s in structure]
        if isinstance(structure, dict):
            return {k: resolve(v) for k, v in structure.items()}
        raise ValueError(f"Malformed input_layers/output_layers entry {structure!r}.")

    return resolve(config["input_layers"]), resolve(config["output_layers"])
