"""plot_model and model_to_dot: the graph (boxes and arrows) against Keras's model_to_dot on the same
architecture, the SVG as XML with every layer name and shape, DOT text, and raster output without Graphviz."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import lamina
from lamina.utils import model_to_dot, plot_model
from lamina.utils.model_graph import describe_model

SVG = "{http://www.w3.org/2000/svg}"
# pydot's parser uses pyparsing names that pyparsing 3 deprecates: not lamina's to fix.
pytestmark = pytest.mark.filterwarnings("ignore:.*setParseAction.*:DeprecationWarning")


def _branching(k):
    """A functional model with two inputs, a merge, a layer shared by two calls and two outputs."""
    a, b = k.Input((8,), name="a"), k.Input((4,), name="b")
    x = k.layers.Dense(5, activation="relu", name="d1")(a)
    y = k.layers.Dense(5, name="d2")(b)
    z = k.layers.Concatenate(name="cat")([x, y])
    shared = k.layers.Dense(5, name="shared")
    o1 = shared(z)
    o2 = shared(k.layers.Dense(10, name="pre")(z))
    return k.Model([a, b], [o1, k.layers.Add(name="add")([o1, o2])], name="branching")


def _sequential(k):
    return k.Sequential([k.Input((6,)), k.layers.Dense(4, name="h"), k.layers.Dropout(0.5, name="drop"),
                         k.layers.Dense(1, name="out")], name="seq")


def _nested(k):
    inner = k.Sequential([k.Input((3,)), k.layers.Dense(2, name="in1")], name="inner")
    x = k.Input((3,), name="x")
    return k.Model(x, k.layers.Dense(1, name="head")(inner(x)), name="outer")


BUILDERS = [_branching, _sequential, _nested]


def _keras_structure(dot):
    names = {}
    for node in dot.get_nodes():
        found = re.search(r"<b>([^<]+)</b> \(", node.get("label") or "")
        if found:
            names[node.get_name()] = found.group(1)
    edges = {(names[e.get_source()], names[e.get_destination()]) for e in dot.get_edges()}
    return sorted(names.values()), edges


def _our_structure(graph):
    names = [box.lines[0].split(" (")[0] for box in graph.boxes]
    return sorted(names), {(names[a], names[b]) for a, b in graph.edges}


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__.strip("_"))
def test_boxes_and_arrows_match_keras_model_to_dot(keras, build):
    pytest.importorskip("pydot")
    theirs = _keras_structure(keras.utils.model_to_dot(build(keras), show_layer_names=True))
    ours = _our_structure(describe_model(build(lamina), show_layer_names=True))
    assert ours == theirs


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__.strip("_"))
def test_model_to_dot_returns_the_same_pydot_graph_shape(keras, build):
    pytest.importorskip("pydot")
    dot = model_to_dot(build(lamina), show_shapes=True)
    assert type(dot).__name__ == "Dot"
    labels = [n.get("label") for n in dot.get_nodes() if n.get("label")]
    theirs = keras.utils.model_to_dot(build(keras))
    assert len(labels) == len([n for n in theirs.get_nodes() if n.get("label")])
    assert len(dot.get_edges()) == len(theirs.get_edges())
    assert [str(dot.get(k)) for k in ("rankdir", "dpi", "splines")] == [
        str(theirs.get(k)) for k in ("rankdir", "dpi", "splines")]


@pytest.mark.parametrize("build", BUILDERS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("rankdir", ["TB", "LR"])
def test_svg_is_xml_with_every_layer_name_and_shape(tmp_path, build, rankdir):
    model = build(lamina)
    path = tmp_path / "model.svg"
    plot_model(model, to_file=str(path), show_shapes=True, show_layer_names=True, rankdir=rankdir,
               show_dtype=True, show_trainable=True, show_layer_activations=True, show_params=True)
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    layers = describe_model(model).boxes
    assert len([g for g in root.iter(f"{SVG}g") if g.get("class") == "layer"]) == len(layers)
    for layer in model.layers:
        assert any(t.startswith(f"{layer.name} (") for t in texts), layer.name
        for tensor in layer._inbound_nodes[-1].flat_outputs:
            assert any(str(tuple(tensor.shape)) in t for t in texts if t.startswith("Output shape"))
    assert len([p for p in root.iter(f"{SVG}polyline") if p.get("class") == "edge"]) == len(
        describe_model(model).edges)


def test_labels_follow_the_options():
    model = _branching(lamina)
    plain = describe_model(model, show_layer_names=False)
    assert plain.boxes[2].lines == ["Dense"]  # no names unless asked: Keras 3.15's plot_model default is False
    full = describe_model(model, show_shapes=True, show_dtype=True, show_layer_names=True,
                          show_layer_activations=True, show_trainable=True, show_params=True)
    d1 = next(box.lines for box in full.boxes if box.lines[0] == "d1 (Dense)")
    assert d1 == ["d1 (Dense)", "Input shape: (None, 8)", "Output shape: (None, 5)", "Output dtype: float32",
                  "Activation: relu", "Trainable: True", "Params: 45"]
    cat = next(box.lines for box in full.boxes if box.lines[0] == "cat (Concatenate)")
    assert "Input shape: [(None, 5), (None, 5)]" in cat and not any("Trainable" in line for line in cat)


def test_expand_nested_draws_the_inner_layers_in_a_frame(tmp_path):
    graph = describe_model(_nested(lamina), show_layer_names=True, expand_nested=True)
    names = [box.lines[0].split(" (")[0] for box in graph.boxes]
    assert "in1" in names and "inner" not in names and graph.clusters == ["inner (Sequential)"]
    edges = {(names[a], names[b]) for a, b in graph.edges}
    assert ("x", "in1") in edges and ("in1", "head") in edges
    plot_model(_nested(lamina), to_file=str(tmp_path / "n.svg"), expand_nested=True)
    root = ET.parse(tmp_path / "n.svg").getroot()
    assert any(g.get("class") == "nested-model" for g in root.iter(f"{SVG}g"))


def test_subclassed_and_unbuilt_models(tmp_path):
    class Net(lamina.Model):
        def __init__(self):
            super().__init__(name="net")
            self.dense = lamina.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    with pytest.raises(ValueError, match="not yet been built"):  # as Keras
        plot_model(net, to_file=str(tmp_path / "net.svg"))
    net(np.zeros((1, 3), "float32"))
    assert [box.lines for box in describe_model(net, show_layer_names=True).boxes] == [["net (Net)"]]
    stack = lamina.Sequential([lamina.layers.Dense(2), lamina.layers.Dense(3)])
    with pytest.raises(ValueError, match="not yet been built"):
        plot_model(stack, to_file=str(tmp_path / "stack.svg"))
    stack(np.zeros((1, 4), "float32"))  # built on data: no symbolic graph, still a chain
    chain = describe_model(stack, show_shapes=True)
    assert chain.edges == [(0, 1)] and chain.boxes[1].lines[-1] == "Output shape: (None, 3)"


def test_dot_and_raster_files(tmp_path):
    model = _branching(lamina)
    plot_model(model, to_file=str(tmp_path / "m.dot"), show_shapes=True)
    text = (tmp_path / "m.dot").read_text()
    assert text.startswith('digraph "branching"') and text.count("->") == len(describe_model(model).edges)
    pil = pytest.importorskip("PIL.Image")
    plot_model(model, to_file=str(tmp_path / "m.png"), show_shapes=True, dpi=72)
    image = pil.open(tmp_path / "m.png")
    assert image.format == "PNG" and image.size[0] > 100
    assert (np.asarray(image.convert("L")) < 128).any()  # something is drawn


def test_missing_renderers_give_clear_errors(tmp_path, monkeypatch):
    import builtins

    import lamina.utils.plot as plot_module

    real_import = builtins.__import__

    def no_pil_no_pydot(name, *args, **kwargs):
        if name.startswith(("PIL", "pydot")):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pil_no_pydot)
    monkeypatch.setattr(plot_module.shutil, "which", lambda _: None)
    with pytest.raises(ImportError, match=r"needs Pillow .* or Graphviz.*\.svg"):
        plot_model(_sequential(lamina), to_file=str(tmp_path / "m.png"))
    with pytest.raises(ImportError, match="You must install pydot"):
        model_to_dot(_sequential(lamina))
    plot_model(_sequential(lamina), to_file=str(tmp_path / "m.svg"))  # SVG needs neither
    assert (tmp_path / "m.svg").exists()


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_graphviz_renders_png_when_installed(tmp_path):
    plot_model(_branching(lamina), to_file=str(tmp_path / "g.png"))
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="rankdir"):
        plot_model(_sequential(lamina), to_file=str(tmp_path / "m.svg"), rankdir="XY")
    with pytest.raises(TypeError, match="Unexpected keyword"):
        plot_model(_sequential(lamina), to_file=str(tmp_path / "m.svg"), colour=True)


def test_layer_range_draws_part_of_the_model():
    graph = describe_model(_branching(lamina), show_layer_names=True, layer_range=("d1", "cat"))
    names = [box.lines[0].split(" (")[0] for box in graph.boxes]
    assert names == ["d1", "d2", "cat"]
    assert {(names[a], names[b]) for a, b in graph.edges} == {("d1", "cat"), ("d2", "cat")}
    with pytest.raises(ValueError, match="does not match the model's layer names"):
        describe_model(_branching(lamina), layer_range=("nothing", "cat"))
