"""``clone_model``: the same architecture with new layers made from their configs, so new weights.

>>> import lamina
>>> model = lamina.Sequential([lamina.Input((3,)), lamina.layers.Dense(2)])
>>> clone = lamina.models.clone_model(model)
>>> clone.layers[0] is model.layers[0], clone.output_shape
(False, (None, 2))
"""

from __future__ import annotations

from typing import Any

from lamina.core import serialization, tree
from lamina.layers.core import InputLayer
from lamina.layers.layer import Layer
from lamina.layers.symbolic import SymbolicTensor
from lamina.models.functional import graph_from_config
from lamina.models.model import Model
from lamina.models.sequential import Sequential


def _fresh(layer: Layer) -> Layer:
    """The default ``clone_function``: a new layer of the same class from the layer's config."""
    return type(layer).from_config(layer.get_config())


def _input_layer(t: Any) -> InputLayer:
    if not (isinstance(t, SymbolicTensor) and t.node is not None and isinstance(t.node.layer, InputLayer)):
        raise ValueError(f"clone_model: input_tensors must be lamina.Input tensors; received {t!r:.200}.")
    return t.node.layer


def clone_model(model: Model, input_tensors: Any = None, clone_function: Any = None, call_function: Any = None,
                recursive: bool = False, **kwargs: Any) -> Model:
    """A copy of a Sequential or functional ``model`` whose layers are ``clone_function(layer)`` (default: new
    layers from their configs, with newly initialized weights); ``input_tensors`` replace the model's inputs;
    for functional models ``call_function(layer, *args, **kwargs)`` makes each layer call of the new graph.
    A subclassed model is rebuilt with ``model.__class__.from_config(model.get_config())``; ``recursive=True``
    clones nested Sequential/functional models layer by layer with the same ``clone_function``."""
    if kwargs:
        raise TypeError(f"clone_model got unexpected arguments {sorted(kwargs)}.")
    user_function = clone_function
    clone_function = clone_function or _fresh

    def clone_layer(layer: Layer) -> Layer:
        if recursive and isinstance(layer, Model) and (isinstance(layer, Sequential) or layer._graph is not None):
            return clone_model(layer, clone_function=user_function, recursive=True)
        new = clone_function(layer)
        if not isinstance(new, Layer):
            raise ValueError(f"clone_function must return a layer; it returned {type(new).__name__} for "
                             f"layer {layer.name!r}.")
        return new

    if call_function is not None and (isinstance(model, Sequential) or model._graph is None):
        raise ValueError("clone_model: call_function is only supported for functional models.")
    if isinstance(model, Sequential):
        new = Sequential(name=model.name, trainable=model.trainable)
        if input_tensors is not None:
            flat = tree.flatten(input_tensors)
            if len(flat) != 1:
                raise ValueError("clone_model: a Sequential model takes exactly one input tensor.")
            new.add(_input_layer(flat[0]))
        elif model._input is not None:
            new.add(_fresh(_input_layer(model._input)))
        for layer in model.layers:
            new.add(clone_layer(layer))
        return new
    if model._graph is None:
        if user_function is not None or input_tensors is not None:
            raise ValueError("clone_model: a subclassed model can only be cloned with the default clone_function "
                             "and no input_tensors.")
        return type(model).from_config(model.get_config())
    config = model.get_config()
    by_name = {layer.name: layer for layer in model._graph.layers}
    by_name.update({t.node.layer.name: t.node.layer for t in model._graph.flat_inputs})
    given = {}
    if input_tensors is not None:
        names = [t.node.layer.name for t in model._graph.flat_inputs]
        flat = tree.flatten(input_tensors)
        if len(flat) != len(names):
            raise ValueError(f"clone_model: the model has {len(names)} input(s); received {len(flat)} tensor(s).")
        given = {name: _input_layer(t) for name, t in zip(names, flat, strict=True)}

    def make(entry: dict) -> Layer:
        original = by_name.get(entry["name"])
        if original is None:
            return serialization.deserialize_layer(entry)
        if isinstance(original, InputLayer):
            return given.get(entry["name"]) or _fresh(original)
        return clone_layer(original)

    inputs, outputs = graph_from_config(config, make, call_function)
    return Model(inputs, outputs, name=model.name)
