"""``write_report``: one self-contained HTML file about a model and its training (what ``model.report`` and the
``Report`` callback write). Inline CSS, charts as inline SVG or PNG data URIs, images as PNG data URIs, no
script and no link to anything outside the file, so it opens anywhere, offline, and can be mailed as it is.

>>> import os, tempfile, numpy as np, lamina
>>> model = lamina.Sequential([lamina.Input((4,)), lamina.layers.Dense(3, activation="softmax", name="probs")])
>>> model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
>>> x, y = np.random.default_rng(0).random((32, 4)), np.arange(32) % 3
>>> history = model.fit(x, y, epochs=2, verbose=0)
>>> path = write_report(model, os.path.join(tempfile.mkdtemp(), "report.html"), x, y, plots="svg")
>>> text = open(path, encoding="utf-8").read()
>>> all(f'id="{s}"' in text for s in ("learning-curves", "confusion-matrix", "model-graph"))
True
"""

from __future__ import annotations

import contextlib
import datetime
import math
import os
from typing import Any

import numpy as np

from lamina.core.files import atomic_write_bytes
from lamina.report import sections
from lamina.report.charts import label, mpl_chart, svg_chart
from lamina.report.classify import NotAClassifier, classify
from lamina.report.sections import esc
from lamina.utils.model_graph import describe_model
from lamina.utils.svg_graph import render_svg

PLOTS = ("auto", "svg", "matplotlib")
SECTION_IDS = ("overview", *sections.TITLES)

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222;
       background: #fafafa; }
header { background: #20344f; color: #fff; padding: 16px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
nav { padding: 8px 32px; background: #e8edf4; font-size: 14px; }
nav a { margin-right: 14px; color: #20344f; }
main { padding: 0 32px 32px 32px; }
section { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 18px 0; padding: 6px 18px 14px; }
h2 { font-size: 18px; margin: 10px 0 4px 0; }
p.what { color: #555; font-size: 13px; margin-top: 0; }
p.missing { color: #8a5a00; background: #fff6e0; padding: 6px 10px; border-radius: 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f2f4f7; }
table.confusion td { min-width: 28px; text-align: center; }
.cards { display: flex; flex-wrap: wrap; gap: 10px; }
.card { border: 1px solid #ddd; border-radius: 4px; padding: 6px; font-size: 12px; width: 120px; }
.card img { width: 112px; height: auto; image-rendering: pixelated; display: block; }
.graph { overflow: auto; max-height: 900px; }
code.features { font-size: 11px; word-break: break-all; }
"""


def _curves(history: Any) -> dict[str, tuple[list[float], list[float]]]:
    """Each logged value as ``(epochs, values)``, epochs counted from 1, from a ``History``, a dict of lists, or
    a list of per-epoch dicts (with an ``"epoch"`` key, 0-based, as the ``Report`` callback records them)."""
    if history is None:
        return {}
    if isinstance(history, list):
        out: dict[str, tuple[list[float], list[float]]] = {}
        for i, record in enumerate(history):
            epoch = int(record.get("epoch", i)) + 1
            for key, value in record.items():
                if key != "epoch":
                    xs, ys = out.setdefault(key, ([], []))
                    xs.append(epoch)
                    ys.append(_float(value))
        return out
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict):
        raise TypeError(f"history must be a History (what fit returns), a dict of lists or a list of per-epoch "
                        f"dicts; received {type(history).__name__}.")
    n = max((len(v) for v in logs.values()), default=0)
    epochs = [int(e) + 1 for e in getattr(history, "epoch", [])] if len(getattr(history, "epoch", [])) == n else []
    epochs = epochs or list(range(1, n + 1))
    out = {}
    for key, values in logs.items():
        m = len(values)
        # A key logged on fewer epochs (validation_freq > 1) is spread evenly: every (n/m)-th epoch, the last one
        # included, which is exactly where fit evaluates when validation_freq divides the epochs.
        xs = epochs if m == n else [epochs[max(0, round((i + 1) * n / m) - 1)] for i in range(m)]
        out[key] = (xs, [_float(v) for v in values])
    return out


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _drawer(plots: str):
    if plots not in PLOTS:
        raise ValueError(f"plots must be one of {PLOTS}; received {plots!r}.")
    if plots == "svg":
        return svg_chart, "inline SVG"
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        if plots == "matplotlib":
            raise ImportError("report(plots='matplotlib') needs matplotlib (`pip install matplotlib`); "
                              "plots='svg' or 'auto' draws the charts without it.") from None
        return svg_chart, "inline SVG"
    return mpl_chart, "matplotlib"


def _as_numpy(x: Any) -> Any:
    if hasattr(x, "detach"):  # a torch tensor
        return x.detach().cpu().numpy()
    return x if isinstance(x, np.ndarray) else None


def _classification(model: Any, x: Any, y: Any, batch_size: int | None) -> tuple[Any, str]:
    if x is None or y is None:
        return None, ("Pass the samples to judge, e.g. <code>model.report(path, x_test, y_test)</code> (or "
                      "<code>Report(path, validation_data=(x_val, y_val))</code>).")
    y_pred = model.predict(x, batch_size=batch_size, verbose=0)
    if isinstance(y_pred, list | tuple | dict):
        return None, "The model has several outputs; this section reads single-output classifiers."
    try:
        return classify(_as_numpy(y) if _as_numpy(y) is not None else np.asarray(y), _as_numpy(y_pred)), ""
    except NotAClassifier as error:
        return None, f"Not a classifier: {esc(error)}"


def _names(class_names: Any, classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(classes)]
    names = [str(n) for n in class_names]
    if len(names) != classes:
        raise ValueError(f"class_names has {len(names)} names but the model scores {classes} classes: pass one "
                         "name per class, in class-index order.")
    return names


def _graph(model: Any) -> tuple[str | None, str]:
    try:
        graph = describe_model(model, show_shapes=True, show_layer_names=True, show_params=True)
        return render_svg(graph), ""
    except (AttributeError, TypeError, ValueError, RuntimeError) as error:
        return None, f"The graph could not be drawn ({esc(error)}); build the model first (call it on a batch)."


def _overview(model: Any, curves: dict, backend: str, title: str) -> str:
    rows = [("model", f"{esc(getattr(model, 'name', ''))} ({esc(type(model).__name__)})")]
    with contextlib.suppress(AttributeError, TypeError, ValueError, RuntimeError):
        rows.append(("parameters", f"{model.count_params():,}"))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        rows.append(("optimizer", esc(type(optimizer).__name__)))
    epochs = max((len(xs) for xs, _ in curves.values()), default=0)
    rows.append(("epochs recorded", str(epochs)))
    finals = ", ".join(f"{esc(k)} {label(ys[-1]) if math.isfinite(ys[-1]) else esc(ys[-1])}"
                       for k, (_, ys) in curves.items() if ys)
    if finals:
        rows.append(("last epoch", finals))
    rows.append(("charts drawn with", backend))
    table = "".join(f"<tr><th>{k}</th><td style='text-align:left'>{v}</td></tr>" for k, v in rows)
    return f'<section id="overview">\n<h2>Overview</h2>\n<table>{table}</table>\n</section>'


def build_report(model: Any, x: Any = None, y: Any = None, *, history: Any = None, monitor: Any = None,
                 lr_find: Any = None, class_names: Any = None, batch_size: int | None = None, max_examples: int = 16,
                 plots: str = "auto", title: str | None = None) -> str:
    """The report as HTML text (``write_report`` writes it to a file); arguments as ``write_report``'s."""
    draw, backend = _drawer(plots)
    if history is None and hasattr(getattr(model, "history", None), "history"):
        history = model.history
    curves = _curves(history)
    title = title if title is not None else f"Training report: {getattr(model, 'name', type(model).__name__)}"
    optimizer = getattr(model, "optimizer", None)
    current_lr = _float(optimizer.learning_rate) if hasattr(optimizer, "learning_rate") else None
    records = dict(getattr(monitor, "records", monitor if isinstance(monitor, dict) else {}) or {})
    events = list(getattr(monitor, "events", None) or [])
    if "learning_rate" not in curves and records.get("learning_rate"):  # the monitor logged it per epoch
        curves["learning_rate"] = (list(range(1, len(records["learning_rate"]) + 1)), list(records["learning_rate"]))
    result, reason = _classification(model, x, y, batch_size)
    names = _names(class_names, result.confusion.shape[0]) if result is not None else []
    graph, graph_reason = _graph(model)
    body = [_overview(model, curves, backend, title),
            sections.learning_curves(curves, draw),
            sections.learning_rate(curves, current_lr, draw),
            sections.training_health(records, events, draw),
            sections.lr_find(lr_find, draw),
            sections.confusion(result, names, reason),
            sections.per_class(result, names, reason),
            sections.mistakes(result, _as_numpy(x), names, max_examples, reason),
            sections.model_graph(graph, graph_reason)]
    nav = "".join(f'<a href="#{sid}">{esc(sections.TITLES.get(sid, "Overview"))}</a>' for sid in SECTION_IDS)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; "
            "style-src 'unsafe-inline'\">\n"
            f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<header><h1>{esc(title)}</h1><div>written by lamina, {stamp}</div></header>\n<nav>{nav}</nav>\n"
            "<main>\n" + "\n".join(body) + "\n</main>\n</body>\n</html>\n")


def write_report(model: Any, path: str | os.PathLike, x: Any = None, y: Any = None, *, history: Any = None,
                 monitor: Any = None, lr_find: Any = None, class_names: Any = None, batch_size: int | None = None,
                 max_examples: int = 16, plots: str = "auto", title: str | None = None) -> str:
    """Write a self-contained HTML report about ``model`` to ``path`` (atomically) and return the path.

    Args:
        model: a lamina model (its graph is drawn; it predicts ``x`` for the classifier sections).
        path: the ``.html`` file to write.
        x, y: samples and labels to judge the classifier on (confusion matrix, per-class precision/recall, most
            confidently wrong examples, drawn as pictures when ``x`` holds images). Labels are class indices or
            one-hot rows; outputs may be probabilities or logits.
        history: a ``History`` (default: the model's last ``fit``), a dict of lists, or a list of per-epoch dicts.
        monitor: a ``lamina.callbacks.TrainingMonitor`` used in ``fit`` (or its ``records`` dict).
        lr_find: the result of ``model.lr_find(x, y)``.
        class_names: one name per class, in class-index order.
        batch_size: for ``model.predict``.
        max_examples: how many wrong examples to show.
        plots: ``"auto"`` (matplotlib when installed, else SVG), ``"svg"`` (no dependency) or ``"matplotlib"``.
        title: the page title.
    """
    text = build_report(model, x, y, history=history, monitor=monitor, lr_find=lr_find, class_names=class_names,
                        batch_size=batch_size, max_examples=max_examples, plots=plots, title=title)
    path = os.fspath(path)
    atomic_write_bytes(path, text.encode("utf-8"))
    return path
