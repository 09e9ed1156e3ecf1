"""lamina op nodes (``OpLayer``: a ``lamina.ops`` call on symbolic tensors) -> Keras op nodes, for the ops
whose Keras class takes no settings (``ops.not_equal(x, 0)`` becomes ``keras.src.ops.numpy.NotEqual`` called
on ``[x, 0]``, as Keras writes the mask of an ``Embedding(mask_zero=True)``). Other ops have no Keras 3 config.

>>> entry = {"class_name": "OpLayer", "name": "ne", "config": {"name": "ne", "op": "not_equal",
...          "arguments": {"args": [{"__tensor__": 0}, 0], "kwargs": {"__dict__": {}}}},
...          "inbound_nodes": [{"args": [["T"]], "kwargs": {}}]}
>>> keras_op_entry(entry)["class_name"], keras_op_entry(entry)["inbound_nodes"]
('NotEqual', [{'args': ['T', 0], 'kwargs': {}}])
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# lamina op name -> (Keras module, Keras class): Keras ops whose classes take no constructor settings
_NUMPY = ("not_equal", "equal", "add", "subtract", "multiply", "divide", "maximum", "minimum", "greater",
          "greater_equal", "less", "less_equal", "power", "abs", "exp", "log", "sqrt", "square", "negative")
KERAS_OPS = {**{op: ("keras.src.ops.numpy", "".join(p.title() for p in op.split("_"))) for op in _NUMPY},
             "relu": ("keras.src.ops.nn", "Relu"), "sigmoid": ("keras.src.ops.nn", "Sigmoid")}


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def keras_op_entry(entry: Mapping) -> dict | None:
    """The Keras form of one lamina ``OpLayer`` entry of a functional config, or None when Keras has no
    settings-free class for its op or its arguments are not plain values and tensors."""
    config = entry.get("config") or {}
    op, arguments = config.get("op"), config.get("arguments") or {}
    if op not in KERAS_OPS or arguments.get("kwargs") not in ({}, {"__dict__": {}}, None):
        return None
    template = arguments.get("args")
    if not isinstance(template, list) or not all(_plain(a) or (isinstance(a, Mapping) and set(a) == {"__tensor__"})
                                                 for a in template):
        return None
    nodes = []
    for node in entry.get("inbound_nodes") or []:
        tensors = (node.get("args") or [[]])[0]
        args = [tensors[a["__tensor__"]] if isinstance(a, Mapping) else a for a in template]
        nodes.append({"args": args, "kwargs": {}})
    module, class_name = KERAS_OPS[op]
    name = entry.get("name") or config.get("name")
    return {"module": module, "class_name": class_name, "config": {"name": name}, "registered_name": class_name,
            "name": name, "inbound_nodes": nodes}
