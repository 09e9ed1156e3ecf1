"""A line chart as a self-contained SVG string: no matplotlib, no fonts to load, nothing to install.

>>> svg = line_chart([1e-4, 1e-3, 1e-2], [2.3, 1.0, 4.0], log_x=True, title="loss")
>>> svg.startswith("<svg") and "polyline" in svg
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 560, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 32, 48
COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    magnitude = 10 ** math.floor(math.log10(raw))
    spacing = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / spacing) * spacing
    return [start + i * spacing for i in range(int((hi - start) / spacing) + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0e}" if value != 0 and (abs(value) < 1e-2 or abs(value) >= 1e4) else f"{value:g}"


def line_chart(xs: Sequence[float], ys: Sequence[float], *, log_x: bool = False, title: str = "",
               x_label: str = "", y_label: str = "", markers: dict[str, float] | None = None,
               extra: dict[str, Sequence[float]] | None = None) -> str:
    """An SVG line chart of ``ys`` against ``xs`` (non-finite points are skipped). ``markers``: labelled vertical
    lines at given x values; ``extra``: more series over the same ``xs``, drawn fainter and in the legend."""
    series = {"": list(ys), **{k: list(v) for k, v in (extra or {}).items()}}
    tx = (lambda v: math.log10(v)) if log_x else (lambda v: v)  # noqa: E731
    points = [(tx(x), y) for values in series.values() for x, y in zip(xs, values, strict=False)
              if math.isfinite(y) and (x > 0 or not log_x)]
    if not points:
        points = [(0.0, 0.0), (1.0, 1.0)]
    x_lo, x_hi = min(p[0] for p in points), max(p[0] for p in points)
    y_lo, y_hi = min(p[1] for p in points), max(p[1] for p in points)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    if y_hi == y_lo:
        y_hi = y_lo + 1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def px(v: float) -> float:
        return LEFT + (v - x_lo) / (x_hi - x_lo) * plot_w

    def py(v: float) -> float:
        return TOP + (1 - (v - y_lo) / (y_hi - y_lo)) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{WIDTH / 2}" y="18" text-anchor="middle" font-size="13">{escape(title)}</text>']
    x_ticks = [float(e) for e in range(math.ceil(x_lo), math.floor(x_hi) + 1)] if log_x else _ticks(x_lo, x_hi)
    for t in x_ticks:
        label = _fmt(10 ** t) if log_x else _fmt(t)
        out.append(f'<line x1="{px(t):.1f}" y1="{TOP}" x2="{px(t):.1f}" y2="{TOP + plot_h}" stroke="#eee"/>'
                   f'<text x="{px(t):.1f}" y="{TOP + plot_h + 14}" text-anchor="middle">{label}</text>')
    for t in _ticks(y_lo, y_hi):
        out.append(f'<line x1="{LEFT}" y1="{py(t):.1f}" x2="{LEFT + plot_w}" y2="{py(t):.1f}" stroke="#eee"/>'
                   f'<text x="{LEFT - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    for i, (name, values) in enumerate(series.items()):
        pts = " ".join(f"{px(tx(x)):.1f},{py(y):.1f}" for x, y in zip(xs, values, strict=False)
                       if math.isfinite(y) and (x > 0 or not log_x))
        width, opacity = ("2", "1") if i == 0 else ("1", "0.5")
        out.append(f'<polyline points="{pts}" fill="none" stroke="{COLORS[i % len(COLORS)]}" '
                   f'stroke-width="{width}" opacity="{opacity}"/>')
        if name:
            out.append(f'<text x="{LEFT + plot_w - 4}" y="{TOP + 14 * i}" text-anchor="end" '
                       f'fill="{COLORS[i % len(COLORS)]}">{escape(name)}</text>')
    for j, (name, value) in enumerate((markers or {}).items()):
        if value > 0 or not log_x:
            x = px(tx(value))
            color = COLORS[(j + 1) % len(COLORS)]
            out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="{color}" '
                       f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{TOP + 12 + 12 * j}" fill="{color}">'
                       f'{escape(name)} {value:.3g}</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 10}" text-anchor="middle">{escape(x_label)}</text>')
    out.append(f'<text x="14" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 14 {TOP + plot_h / 2})">{escape(y_label)}</text>')
    out.append("</svg>")
    return "\n".join(out)
