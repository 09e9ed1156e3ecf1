"""What the ``Distiller`` reads from its two models: their symbolic inputs and outputs (to check them against each
other before training), and the outputs of named layers (through a feature extractor: a functional model over
the same layers, whose outputs are the model's final outputs and those layers' outputs, run in one pass).

>>> import lamina as keras
>>> inputs = keras.Input((4,))
>>> model = keras.Model(inputs, keras.layers.Dense(2, name="out")(keras.layers.Dense(3, name="hidden")(inputs)))
>>> extractor = FeatureExtractor(model, ["hidden"])
>>> [tuple(t.shape) for t in extractor.symbolic_features()]
[(None, 3)]
"""

from __future__ import annotations

from typing import Any

from lamina.core import tree
from lamina.models.model import Model


def symbolic_inputs(model: Any) -> Any:
    """The model's symbolic inputs (their structure for a functional model), or None if it has none
    (subclassed, or Sequential without an ``Input`` and not yet built)."""
    graph = model.__dict__.get("_graph")
    if graph is not None:
        return graph.inputs
    inputs = getattr(model, "inputs", None)
    if not inputs:
        return None
    return inputs[0] if len(inputs) == 1 else list(inputs)


def symbolic_outputs(model: Any) -> Any:
    """The model's symbolic outputs (their structure for a functional model), or None if it has none."""
    graph = model.__dict__.get("_graph")
    if graph is not None:
        return graph.outputs
    outputs = getattr(model, "outputs", None)
    if not outputs:
        return None
    return outputs[0] if len(outputs) == 1 else list(outputs)


def dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


class FeatureExtractor:
    """``model``'s final outputs and the outputs of its layers ``layer_names``, from one forward pass.

    The extractor is a functional model over ``model``'s own layers (the weights are shared, not copied); it is
    kept outside the owner's sub-modules, so that the weights are not listed twice.
    """

    def __init__(self, model: Any, layer_names: list[str]):
        self.model = model
        self.layer_names = list(dict.fromkeys(layer_names))
        inputs, final = symbolic_inputs(model), symbolic_outputs(model)
        if inputs is None or final is None:
            raise ValueError(f"Model '{model.name}' has no symbolic inputs and outputs (it is subclassed, or "
                             "Sequential without an Input): the outputs of its layers cannot be read.")
        self._final = final
        self._features = [model.get_layer(name).output for name in self.layer_names]
        self._flat_final = tree.flatten(final)
        flat = self._flat_final + [leaf for feature in self._features for leaf in tree.flatten(feature)]
        self.extractor = Model(inputs, flat, name=f"{model.name}_feature_extractor")

    def symbolic_features(self) -> list:
        """The symbolic outputs of the named layers, in ``layer_names`` order."""
        return list(self._features)

    def symbolic_feature(self, name: str) -> Any:
        return self._features[self.layer_names.index(name)]

    def __call__(self, x: Any, training: bool | None = None) -> tuple[Any, dict[str, Any]]:
        """``(final outputs, {layer name: its output})`` for the batch ``x``."""
        flat = self.extractor(x, training=training)
        flat = list(flat) if isinstance(flat, (list, tuple)) else [flat]
        n = len(self._flat_final)
        final = tree.pack_as(self._final, flat[:n])
        features, position = {}, n
        for name, feature in zip(self.layer_names, self._features, strict=True):
            size = len(tree.flatten(feature))
            features[name] = tree.pack_as(feature, flat[position:position + size])
            position += size
        return final, features


def check_models(teacher: Any, student: Any) -> None:
    """Refuse a teacher and a student whose symbolic inputs or outputs disagree (structure, shape where both are
    known, output dtypes), as Keras's ``Distiller`` does before training."""
    for what in ("input", "output"):
        read = symbolic_inputs if what == "input" else symbolic_outputs
        t_struct, s_struct = read(teacher), read(student)
        if t_struct is None or s_struct is None:
            continue
        t_leaves, s_leaves = tree.flatten(t_struct), tree.flatten(s_struct)
        t_shapes = [tuple(t.shape) for t in t_leaves]
        s_shapes = [tuple(s.shape) for s in s_leaves]
        if len(t_leaves) != len(s_leaves) or any(
                len(a) != len(b) or any(x is not None and y is not None and x != y for x, y in zip(a, b, strict=True))
                for a, b in zip(t_shapes, s_shapes, strict=True)):
            show_t = t_shapes[0] if len(t_shapes) == 1 else t_shapes
            show_s = s_shapes[0] if len(s_shapes) == 1 else s_shapes
            raise ValueError(f"Teacher and student {what} shapes are incompatible. Teacher: {show_t}, Student: "
                             f"{show_s}. All dimensions must match (None, such as the batch, matches anything).")
        if what == "output":
            for t, s in zip(t_leaves, s_leaves, strict=True):
                if t.dtype != s.dtype:
                    raise ValueError(f"Teacher and student output dtypes must match. Teacher: {dtype_name(t.dtype)}, "
                                     f"Student: {dtype_name(s.dtype)}.")
