"""The report's sections, each an HTML fragment ``<section id=...>``: learning curves, learning rate, training
health (a ``TrainingMonitor``'s records), the lr_find curve, the confusion matrix, per-class precision and
recall, the most confidently wrong examples and the model graph. Every user string (metric, layer and class
names, messages) is escaped here; nothing in a section runs a script or loads anything from outside the page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lamina.report.charts import Chart, Series, has_data, label
from lamina.report.classify import Classification, image_data_uri, image_kind

Draw = Callable[[Chart], str]
CURVE_SKIP = ("learning_rate", "lr")  # drawn in their own section
SHOWN_ELSEWHERE = ("loss", "learning_rate", "lr")  # a monitor's copies of what the history sections draw
MAX_LINES = 10  # per-layer charts show the first layers' lines, and say how many more there are
MAX_CLASSES = 25  # the confusion matrix shows at most this many classes

TITLES = {
    "learning-curves": "Learning curves",
    "learning-rate": "Learning rate",
    "training-health": "Gradient and weight norms",
    "lr-find": "Learning-rate finder",
    "confusion-matrix": "Confusion matrix",
    "per-class": "Per-class precision and recall",
    "mistakes": "Most confidently wrong examples",
    "model-graph": "Model graph",
}


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def section(sid: str, what: str, body: str) -> str:
    return f'<section id="{sid}">\n<h2>{esc(TITLES[sid])}</h2>\n<p class="what">{what}</p>\n{body}\n</section>'


def missing(text: str) -> str:
    return f'<p class="missing">{text}</p>'


def _charts(draw: Draw, charts: list[Chart]) -> str:
    drawn = [f'<figure>{draw(c)}</figure>' for c in charts if has_data(c)]
    return '<div class="charts">' + "".join(drawn) + "</div>" if drawn else ""


# ------------------------------------------------------------------------------------------ from the history
def learning_curves(curves: dict[str, tuple[list[float], list[float]]], draw: Draw) -> str:
    what = "Each metric per epoch on the training data and, where given, the validation data."
    groups: dict[str, dict[str, tuple]] = {}
    for key, values in curves.items():
        if key in CURVE_SKIP:
            continue
        base, split = (key[4:], "validation") if key.startswith("val_") else (key, "train")
        groups.setdefault(base, {})[split] = values
    order = sorted(groups, key=lambda k: (k != "loss", list(groups).index(k)))
    charts = [Chart(name, [Series(split, *groups[name][split], dashed=split == "validation")
                           for split in ("train", "validation") if split in groups[name]],
                    xlabel="epoch", ylabel=name, xinteger=True) for name in order]
    body = _charts(draw, charts) or missing("No training history: train with <code>model.fit(...)</code> first, or "
                                            "pass <code>history=</code> (a History or a dict of lists).")
    return section("learning-curves", what, body)


def learning_rate(curves: dict, current: float | None, draw: Draw) -> str:
    what = "The optimizer's learning rate at the end of each epoch (schedules and ReduceLROnPlateau change it)."
    key = next((k for k in CURVE_SKIP if k in curves), None)
    body = ""
    if key is not None:
        xs, ys = curves[key]
        positive = [v for v in ys if v is not None and math.isfinite(v) and v > 0]
        spread = bool(positive) and max(positive) / min(positive) > 20
        body = _charts(draw, [Chart("learning rate", [Series("learning rate", xs, ys)], xlabel="epoch",
                                    ylabel="learning rate", ylog=spread, xinteger=True)])
    if not body:
        now = f" The optimizer's learning rate is now {esc(label(current))}." if current is not None else ""
        body = missing("No learning rate per epoch was recorded: fit with the <code>Report</code> or "
                       f"<code>TrainingMonitor</code> callback, which log it.{now}")
    return section("learning-rate", what, body)


# ------------------------------------------------------------------------------------------ TrainingMonitor
def training_health(records: dict[str, list[float]], events: list[dict], draw: Draw) -> str:
    what = ("From a <code>TrainingMonitor</code>: the gradient norm, the weight norm and the update/weight "
            "ratio per epoch, for the whole model and per layer, and the warnings it raised.")
    if not records and not events:
        return section("training-health", what, missing(
            "No monitor given: fit with <code>monitor = lamina.callbacks.TrainingMonitor()</code> in the callbacks "
            "and pass <code>monitor=monitor</code>."))
    charts, per_layer, notes = [], {}, []
    for key, values in records.items():
        stat, _, layer = key.partition("/")
        if key in SHOWN_ELSEWHERE:
            continue
        if layer:
            per_layer.setdefault(stat, []).append((layer, values))
        else:
            charts.append(Chart(key.replace("_", " "), [Series(key, _epochs(values), values)], xlabel="epoch",
                                ylabel=key, ylog=_positive(values), xinteger=True))
    for stat, lines in per_layer.items():
        shown = lines[:MAX_LINES]
        values = [v for _, vs in shown for v in vs]
        charts.append(Chart(f"{stat.replace('_', ' ')} per layer", [Series(n, _epochs(vs), vs) for n, vs in shown],
                            xlabel="epoch", ylabel=stat, ylog=_positive(values), xinteger=True))
        if len(lines) > MAX_LINES:
            notes.append(f"{esc(stat)} per layer: the first {MAX_LINES} of {len(lines)} layers are drawn.")
    body = _charts(draw, charts) + "".join(f'<p class="note">{n}</p>' for n in notes)
    if events:
        rows = "".join(f"<tr><td>{esc(e.get('epoch', ''))}</td><td>{esc(e.get('step', ''))}</td>"
                       f"<td>{esc(e.get('kind', ''))}</td><td>{esc(e.get('message', ''))}</td></tr>" for e in events)
        body += ('<table class="events"><caption>Warnings</caption><tr><th>epoch</th><th>step</th><th>kind</th>'
                 f"<th>message</th></tr>{rows}</table>")
    else:
        body += '<p class="note">The monitor raised no warning.</p>'
    return section("training-health", what, body)


def _epochs(values: list) -> list[int]:
    return list(range(1, len(values) + 1))


def _positive(values: list) -> bool:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return bool(finite) and min(finite) > 0


# ------------------------------------------------------------------------------------------ lr_find
def lr_find(result: Any, draw: Draw) -> str:
    what = ("The loss over an exponential sweep of learning rates, one step each, from "
            "<code>model.lr_find(x, y)</code>, with the suggested rates marked.")
    if result is None:
        return section("lr-find", what, missing("Not run: pass <code>lr_find=model.lr_find(x, y)</code>."))
    rates = [float(v) for v in result.learning_rates]
    smooth = [float(v) for v in result.losses]
    raw = getattr(result, "raw_losses", None)
    suggestions = dict(getattr(result, "suggestions", None) or {})
    if not suggestions and getattr(result, "suggestion", None) is not None:
        suggestions = {"suggestion": result.suggestion}
    series = [Series("smoothed loss", rates, smooth)]
    if raw is not None:
        series.append(Series("raw loss", rates, [float(v) for v in raw], dashed=True))
    finite = [v for s in series for v in s.y if math.isfinite(v)]
    first = next((v for v in smooth if math.isfinite(v)), None)
    ylim = None
    if first is not None and first > 0:  # the sweep ends where the loss explodes: keep the descent readable
        low = min(finite)
        ylim = (low, max(min(max(finite), 1.5 * first), low + 1e-3 * abs(low) + 1e-12))
    vlines = [(float(v), f"{k} {label(float(v))}") for k, v in suggestions.items() if v is not None]
    chart = Chart("loss against learning rate", series, xlabel="learning rate (log scale)", ylabel="loss",
                  xlog=True, vlines=vlines, ylim=ylim)
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{esc(label(float(v)))}</td></tr>" for k, v in suggestions.items()
                   if v is not None)
    table = f'<table class="suggestions"><tr><th>rule</th><th>learning rate</th></tr>{rows}</table>' if rows else ""
    chosen = getattr(result, "suggestion", None)
    if chosen is not None and math.isfinite(float(chosen)):
        table += f"<p>Suggested learning rate: <b>{esc(label(float(chosen)))}</b>.</p>"
    if getattr(result, "stopped_early", False):
        table += '<p class="note">The sweep stopped early: the loss diverged before the last rate.</p>'
    return section("lr-find", what, (_charts(draw, [chart]) or missing("The sweep recorded no finite loss.")) + table)


# ------------------------------------------------------------------------------------------ classification
def confusion(result: Classification | None, names: list[str], reason: str) -> str:
    what = "Rows: the true class; columns: the predicted class; the shade is the share of the row."
    if result is None:
        return section("confusion-matrix", what, missing(reason))
    m = result.confusion
    rows_total = np.maximum(m.sum(axis=1, keepdims=True), 1)
    shown = list(range(len(names)))
    note = ""
    if len(names) > MAX_CLASSES:  # a table of every pair would be unreadable: keep the classes most confused
        errors = m.sum(axis=0) + m.sum(axis=1) - 2 * np.diag(m)
        shown = sorted(np.argsort(-errors, kind="stable")[:MAX_CLASSES].tolist())
        note = (f'<p class="note">The {MAX_CLASSES} classes with the most errors (wrong as the true or the '
                f"predicted class) of {len(names)}; shares are of each true class's samples.</p>")
    head = "".join(f'<th class="pred">{esc(names[j])}</th>' for j in shown)
    rows = []
    for i in shown:
        name = names[i]
        cells = []
        for j in shown:
            share = m[i, j] / rows_total[i, 0]
            color = "31,119,180" if i == j else "214,39,40"
            cells.append(f'<td style="background: rgba({color},{share:.3f})" title="{share:.1%}">{m[i, j]}</td>')
        rows.append(f'<tr><th class="true">{esc(name)}</th>{"".join(cells)}</tr>')
    table = (f'<table class="confusion"><tr><th class="corner">true \\ predicted</th>{head}</tr>'
             f'{"".join(rows)}</table>')
    return section("confusion-matrix", what,
                   f'<p>Accuracy {result.accuracy:.4f} on {m.sum()} samples.</p>{note}{table}')


def per_class(result: Classification | None, names: list[str], reason: str) -> str:
    what = ("Precision: of the samples predicted as the class, the share that are; recall: of the class's samples, "
            "the share found; F1: their harmonic mean; support: the class's samples.")
    if result is None:
        return section("per-class", what, missing(reason))

    def cell(v: float) -> str:
        return "n/a" if not math.isfinite(v) else f"{v:.3f}"

    rows = "".join(f"<tr><th>{esc(n)}</th><td>{cell(result.precision[i])}</td><td>{cell(result.recall[i])}</td>"
                   f"<td>{cell(result.f1[i])}</td><td>{result.support[i]}</td></tr>" for i, n in enumerate(names))
    return section("per-class", what, '<table class="per-class"><tr><th>class</th><th>precision</th><th>recall</th>'
                                      f"<th>F1</th><th>support</th></tr>{rows}</table>")


def mistakes(result: Classification | None, x: Any, names: list[str], count: int, reason: str) -> str:
    what = "The wrong predictions the model was most sure of: often mislabelled data, or classes it confuses."
    if result is None:
        return section("mistakes", what, missing(reason))
    chosen = result.wrong[:count]
    if not len(chosen):
        return section("mistakes", what, '<p class="note">No wrong prediction.</p>')
    kind = image_kind(x)
    cards = []
    for i in chosen:
        if kind is not None:
            shown = f'<img class="sample" alt="sample {i}" src="{image_data_uri(x[i])}">'
        elif isinstance(x, np.ndarray):
            values = x[i].reshape(-1)
            text = ", ".join(f"{v:.3g}" if isinstance(v, float | np.floating) else esc(v) for v in values[:6])
            shown = f'<code class="features">[{text}{", …" if values.size > 6 else ""}]</code>'
        else:
            shown = ""
        cards.append(f'<div class="card">{shown}<div>#{i}</div><div>true: <b>{esc(names[result.labels[i]])}</b>'
                     f'</div><div>predicted: <b>{esc(names[result.predicted[i]])}</b></div>'
                     f'<div>{result.confidence[i]:.1%} sure</div></div>')
    note = (f"<p>{len(result.wrong)} of {len(result.labels)} predictions are wrong; the {len(chosen)} most "
            "confident:</p>")
    return section("mistakes", what, note + '<div class="cards">' + "".join(cards) + "</div>")


# ------------------------------------------------------------------------------------------ the graph
def model_graph(svg: str | None, reason: str) -> str:
    what = "Each layer with its input and output shapes and parameter count, arrows from each layer to those it feeds."
    return section("model-graph", what, f'<div class="graph">{svg}</div>' if svg else missing(reason))
