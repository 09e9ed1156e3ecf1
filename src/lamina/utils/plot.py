"""``plot_model`` and ``model_to_dot``: a picture of a model's layer graph, as ``keras.utils`` has them.

``plot_model`` writes ``.svg`` itself (no Graphviz needed) and ``.dot``/``.gv`` as DOT text; other formats
(``.png``, ``.jpg``, ``.pdf``, ...) are rendered by Graphviz's ``dot`` program when it is installed (as in
Keras), else drawn with Pillow. ``model_to_dot`` returns a ``pydot.Dot``, as in Keras, so it needs pydot.

>>> import os, tempfile
>>> import lamina as keras
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="out")])
>>> path = os.path.join(tempfile.mkdtemp(), "model.svg")
>>> plot_model(model, to_file=path, show_shapes=True, show_layer_names=True)
>>> "out (Dense)" in open(path).read()
True
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

from lamina.utils.model_graph import ModelGraph, describe_model, to_dot
from lamina.utils.raster_graph import render_image
from lamina.utils.svg_graph import render_svg

RANKDIRS = ("TB", "LR", "BT", "RL")


def _check(rankdir: str) -> str:
    if not isinstance(rankdir, str) or rankdir.upper() not in RANKDIRS:
        raise ValueError(f"rankdir must be 'TB' (top to bottom) or 'LR' (left to right); received {rankdir!r}.")
    return rankdir.upper()


def _check_built(model: Any) -> None:
    if not getattr(model, "built", True):
        raise ValueError("This model has not yet been built. Build the model first by calling `build()` or by "
                         "calling the model on a batch of data.")


def model_to_dot(model: Any, show_shapes: bool = False, show_dtype: bool = False, show_layer_names: bool = True,
                 rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200, subgraph: bool = False,
                 show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
                 **kwargs: Any) -> Any:
    """The model's graph as a ``pydot.Dot``, as ``keras.utils.model_to_dot`` (needs ``pip install pydot``).

    Arguments are ``plot_model``'s; ``subgraph`` is accepted for Keras compatibility (the whole graph is
    returned). ``show_params=True`` (lamina) adds each layer's parameter count; ``layer_range`` draws part of
    the model.

    >>> dot = model_to_dot(model)  # needs pydot  # doctest: +SKIP
    >>> dot.write_svg("model.svg")  # needs Graphviz  # doctest: +SKIP
    """
    try:
        import pydot
    except ImportError:
        raise ImportError("You must install pydot (`pip install pydot`) for model_to_dot to work. (plot_model "
                          "writes .svg files without it.)") from None
    _check_built(model)
    graph = describe_model(model, show_shapes=show_shapes, show_dtype=show_dtype,
                           show_layer_names=show_layer_names, expand_nested=expand_nested,
                           show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                           show_params=bool(kwargs.pop("show_params", False)),
                           layer_range=kwargs.pop("layer_range", None))
    _unexpected(kwargs)
    return pydot.graph_from_dot_data(to_dot(graph, _check(rankdir), dpi, splines))[0]


def _unexpected(kwargs: dict) -> None:
    if kwargs:
        raise TypeError(f"Unexpected keyword arguments: {sorted(kwargs)}. plot_model/model_to_dot take Keras's "
                        "arguments, layer_range and show_params.")


def plot_model(model: Any, to_file: str = "model.png", show_shapes: bool = False, show_dtype: bool = False,
               show_layer_names: bool = False, rankdir: str = "TB", expand_nested: bool = False, dpi: int = 200,
               show_layer_activations: bool = False, show_trainable: bool = False, splines: str = "ortho",
               **kwargs: Any) -> None:
    """Draw the model's layer graph into ``to_file``, as ``keras.utils.plot_model``.

    Args:
        model: a lamina model: functional and ``Sequential`` models draw their graph (arrows from each layer to
            the layers it feeds); a subclassed model, which has no graph, is one box.
        to_file: ``.svg`` is drawn by lamina itself; ``.dot``/``.gv`` get the DOT text; other extensions
            (``.png``, ``.jpg``, ``.pdf``, ...) are rendered by Graphviz's ``dot`` program when it is on the PATH,
            else drawn by lamina with Pillow (same layout as the SVG).
        show_shapes / show_dtype: add each layer's input and output shapes / dtypes.
        show_layer_names: title each box ``name (Class)`` instead of ``Class`` (Keras 3.15's default is False).
        rankdir: ``"TB"`` (top to bottom) or ``"LR"`` (left to right); ``"BT"``/``"RL"`` mirror them.
        expand_nested: draw the layers of nested models inside a dashed frame.
        dpi: resolution of raster output (an SVG has none).
        show_layer_activations: add the activation of layers that have one.
        show_trainable: add whether each layer is trainable.
        splines: Graphviz's edge style (DOT and Graphviz output only; lamina's SVG draws straight arrows).
        show_params (keyword, lamina): add each layer's parameter count.
        layer_range (keyword, tf.keras's): ``(first, last)`` layer names or patterns: draw only those layers
            and the ones between them.

    Returns:
        None (Keras returns an IPython image in notebooks).
    """
    show_params = bool(kwargs.pop("show_params", False))
    layer_range = kwargs.pop("layer_range", None)
    _unexpected(kwargs)
    rankdir = _check(rankdir)
    _check_built(model)
    graph = describe_model(model, show_shapes=show_shapes, show_dtype=show_dtype,
                           show_layer_names=show_layer_names, expand_nested=expand_nested,
                           show_layer_activations=show_layer_activations, show_trainable=show_trainable,
                           show_params=show_params, layer_range=layer_range)
    path = os.fspath(to_file)
    extension = os.path.splitext(path)[1][1:].lower()
    if extension == "svg":
        text = render_svg(graph, rankdir)
    elif extension in ("dot", "gv"):
        text = to_dot(graph, rankdir, dpi, splines)
    else:
        _render_raster(graph, path, extension or "png", rankdir, dpi, splines)
        return None
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return None


def _render_raster(graph: ModelGraph, path: str, extension: str, rankdir: str, dpi: int, splines: str) -> None:
    """Graphviz's ``dot`` when installed (Keras's renderer), else Pillow, else an error suggesting .svg."""
    program = shutil.which("dot")
    if program is not None:
        result = subprocess.run([program, f"-T{extension}", "-o", path],
                                input=to_dot(graph, rankdir, dpi, splines).encode("utf-8"), capture_output=True,
                                check=False)
        if result.returncode != 0:
            raise RuntimeError(f"Graphviz could not write {path!r} (format {extension!r}): "
                               f"{result.stderr.decode(errors='replace').strip()}")
        return
    try:
        image = render_image(graph, rankdir, dpi)
    except ImportError:
        raise ImportError(f"Writing {os.path.basename(path)!r} needs Pillow (`pip install pillow`) or Graphviz's "
                          f"`dot` program, and neither is installed. Plot to an .svg file instead "
                          f"(to_file={os.path.splitext(path)[0] + '.svg'!r}): lamina draws SVG itself.") from None
    try:
        image.save(path, dpi=(dpi, dpi))
    except (KeyError, ValueError) as error:  # Pillow knows no such format
        raise ValueError(f"Cannot write a model plot as {extension!r} ({error}): use .svg, .png, .jpg or .pdf "
                         "(or install Graphviz for its formats).") from None
