"""Line charts for the HTML report: one ``Chart`` description, drawn as inline SVG with nothing but the standard
library (always available, always tested) or as a PNG through matplotlib when it is installed (``mpl_chart``).

>>> chart = Chart("loss", [Series("train", [1, 2, 3], [0.9, 0.5, 0.4])], xlabel="epoch")
>>> svg = svg_chart(chart)
>>> svg.startswith("<svg") and svg.count('class="series"') == 1
True
"""

from __future__ import annotations

import base64
import html
import io
import math
from dataclasses import dataclass, field

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")
WIDTH, HEIGHT = 520, 280
LEFT, TOP, BOTTOM = 64, 30, 44
LEGEND = 140  # width kept on the right for the legend when a chart has several series


@dataclass
class Series:
    """One line: its label (any text: it is escaped), x and y values (non-finite values break the line)."""

    label: str
    x: list[float]
    y: list[float]
    dashed: bool = False


@dataclass
class Chart:
    """A chart: a title, lines, axis labels, log axes, vertical markers ``(x, label)`` and an optional y range
    (values outside it are drawn at its edge)."""

    title: str
    series: list[Series]
    xlabel: str = ""
    ylabel: str = ""
    xlog: bool = False
    ylog: bool = False
    vlines: list[tuple[float, str]] = field(default_factory=list)
    ylim: tuple[float, float] | None = None
    xinteger: bool = False  # x counts something (epochs): ticks on whole numbers only


def _usable(value: float, log: bool) -> bool:
    return math.isfinite(value) and (value > 0 or not log)


def _point(chart: Chart, x: float | None, y: float | None) -> tuple[float, float] | None:
    """``(x, y)`` as drawn (y clipped to ``chart.ylim``), or None when it cannot be (missing, non-finite, or
    not positive on a log axis)."""
    if x is None or y is None:
        return None
    x, y = float(x), float(y)
    if not (_usable(x, chart.xlog) and _usable(y, chart.ylog)):
        return None
    if chart.ylim is not None:
        y = min(max(y, chart.ylim[0]), chart.ylim[1])
    return x, y


def points(chart: Chart, s: Series) -> list[tuple[float, float]]:
    """The drawable ``(x, y)`` pairs of ``s``."""
    return [p for p in (_point(chart, x, y) for x, y in zip(s.x, s.y, strict=False)) if p is not None]


def has_data(chart: Chart) -> bool:
    return any(points(chart, s) for s in chart.series)


def _domain(values: list[float], log: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    if log:
        low, high = math.log10(low), math.log10(high)
    if high - low < 1e-12 * max(1.0, abs(high)):
        pad = 0.5 if log else max(abs(high) * 0.1, 1e-6)
        return low - pad, high + pad
    pad = (high - low) * 0.04
    return low - pad, high + pad


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / count
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def ticks(low: float, high: float, log: bool, integer: bool = False) -> list[float]:
    """Tick positions inside ``[low, high]`` (in log10 units on a log axis): round numbers, 3 to 10 of them
    (whole numbers only when ``integer``)."""
    if log and high - low >= 1.5:
        step = max(1, math.ceil((high - low) / 6))
        return [float(p) for p in range(math.ceil(low), math.floor(high) + 1, step)]
    if log:  # less than about a decade: round values on a linear grid, placed on the log axis
        values = ticks(10 ** low, 10 ** high, False)
        return [math.log10(v) for v in values if v > 0]
    step = max(1.0, _nice_step(high - low)) if integer else _nice_step(high - low)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def label(value: float) -> str:
    """A tick label: 4 significant digits, exponent form for very small or large numbers."""
    if value == 0:
        return "0"
    if abs(value) >= 1e5 or abs(value) < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.4g}"


class _Axes:
    """The map from data to pixels: linear, or linear in log10 of the value."""

    def __init__(self, chart: Chart, width: float):
        xs = [x for s in chart.series for x, _ in points(chart, s)] + [x for x, _ in chart.vlines
                                                                      if _usable(x, chart.xlog)]
        ys = [y for s in chart.series for _, y in points(chart, s)] + (list(chart.ylim) if chart.ylim else [])
        self.xlog, self.ylog = chart.xlog, chart.ylog
        self.x0, self.x1 = _domain(xs, chart.xlog)
        self.y0, self.y1 = _domain(ys, chart.ylog)
        self.left, self.right = LEFT, width
        self.top, self.bottom = TOP, HEIGHT - BOTTOM

    def px(self, x: float) -> float:
        u = math.log10(x) if self.xlog else x
        return self.left + (u - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def py(self, y: float) -> float:
        u = math.log10(y) if self.ylog else y
        return self.bottom - (u - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def svg_chart(chart: Chart) -> str:
    """``chart`` as an inline ``<svg>`` element (no ids, so any number of charts share a page)."""
    several = len(chart.series) > 1
    axes = _Axes(chart, WIDTH - (LEGEND if several else 16))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11" role="img">',
           f"<title>{_esc(chart.title)}</title>",
           f'<text x="{LEFT}" y="18" font-size="13" font-weight="bold">{_esc(chart.title)}</text>',
           f'<rect x="{axes.left}" y="{axes.top}" width="{axes.right - axes.left}" height="{axes.bottom - axes.top}" '
           'fill="#fff" stroke="#999"/>']
    for u in ticks(axes.x0, axes.x1, chart.xlog, chart.xinteger and not chart.xlog):
        value = 10 ** u if chart.xlog else u
        x = axes.px(value)
        out.append(f'<line class="grid" x1="{x:.1f}" y1="{axes.top}" x2="{x:.1f}" y2="{axes.bottom}" stroke="#eee"/>'
                   f'<text class="xtick" x="{x:.1f}" y="{axes.bottom + 14}" text-anchor="middle">'
                   f"{label(value)}</text>")
    for u in ticks(axes.y0, axes.y1, chart.ylog):
        value = 10 ** u if chart.ylog else u
        y = axes.py(value)
        out.append(f'<line class="grid" x1="{axes.left}" y1="{y:.1f}" x2="{axes.right}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text class="ytick" x="{axes.left - 4}" y="{y + 4:.1f}" text-anchor="end">{label(value)}</text>')
    out.append(f'<text x="{(axes.left + axes.right) / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
               f"{_esc(chart.xlabel)}</text>")
    out.append(f'<text transform="translate(12 {(axes.top + axes.bottom) / 2:.1f}) rotate(-90)" '
               f'text-anchor="middle">{_esc(chart.ylabel)}</text>')
    for k, (x, text) in enumerate(chart.vlines):
        if _usable(x, chart.xlog):
            px = axes.px(x)
            out.append(f'<line class="marker" x1="{px:.1f}" y1="{axes.top}" x2="{px:.1f}" y2="{axes.bottom}" '
                       f'stroke="#d62728" stroke-dasharray="4,3"/><text x="{px + 3:.1f}" y="{axes.top + 12 + 13 * k}" '
                       f'fill="#d62728">{_esc(text)}</text>')
    for i, s in enumerate(chart.series):
        color = PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5,3"' if s.dashed else ""
        out.append(f'<g class="series" data-label="{_esc(s.label)}"><title>{_esc(s.label)}</title>')
        for run in _runs(chart, s):
            coords = " ".join(f"{axes.px(x):.2f},{axes.py(y):.2f}" for x, y in run)
            out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="1.6"{dash}/>')
            if len(run) <= 40:
                out.extend(f'<circle cx="{axes.px(x):.2f}" cy="{axes.py(y):.2f}" r="2.5" fill="{color}"/>'
                           for x, y in run)
        out.append("</g>")
        if several:
            ly = axes.top + 8 + 16 * i
            name = s.label if len(s.label) <= 24 else s.label[:11] + "…" + s.label[-12:]
            out.append(f'<g class="legend"><line x1="{axes.right + 10}" y1="{ly}" x2="{axes.right + 28}" y2="{ly}" '
                       f'stroke="{color}" stroke-width="2"{dash}/><text x="{axes.right + 32}" y="{ly + 4}">'
                       f"{_esc(name)}</text></g>")
    out.append("</svg>")
    return "\n".join(out)


def _runs(chart: Chart, s: Series) -> list[list[tuple[float, float]]]:
    """The drawable stretches of ``s``: a missing or non-finite value ends one line and starts the next."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(s.x, s.y, strict=False):
        p = _point(chart, x, y)
        if p is not None:
            runs[-1].append(p)
        elif runs[-1]:
            runs.append([])
    return [r for r in runs if r]


def mpl_chart(chart: Chart) -> str:
    """``chart`` drawn by matplotlib (no pyplot: a ``Figure`` of its own), as an ``<img>`` with a PNG data URI."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    figure = Figure(figsize=(WIDTH / 100, HEIGHT / 100), dpi=100)
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    for i, s in enumerate(chart.series):
        for k, run in enumerate(_runs(chart, s)):
            xs, ys = zip(*run, strict=True)
            ax.plot(xs, ys, color=PALETTE[i % len(PALETTE)], linestyle="--" if s.dashed else "-",
                    marker="o" if len(run) <= 40 else None, markersize=3, label=s.label if k == 0 else None)
    for k, (x, text) in enumerate(chart.vlines):
        if _usable(x, chart.xlog):
            ax.axvline(x, color=("#d62728", "#9467bd", "#8c564b")[k % 3], linestyle=":", label=text)
    ax.set_xscale("log" if chart.xlog else "linear")
    ax.set_yscale("log" if chart.ylog else "linear")  # (setting a scale resets the axis' locators: set them after)
    if chart.xinteger and not chart.xlog:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if chart.ylog:  # round values (1, 2, 5 per decade) labelled as plain numbers, as the SVG drawing labels them
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: label(value)))
        ax.yaxis.set_minor_formatter(NullFormatter())
    if chart.ylim is not None:
        ax.set_ylim(*chart.ylim)
    ax.set_title(chart.title, fontsize=11, loc="left")
    ax.set_xlabel(chart.xlabel)
    ax.set_ylabel(chart.ylabel)
    ax.grid(alpha=0.3)
    if len(chart.series) > 1 or chart.vlines:
        ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="chart" alt="{_esc(chart.title)}" src="data:image/png;base64,{data}">'
