"""A ``ModelGraph`` drawn as SVG without Graphviz (placed by ``graph_layout``): boxes, arrows between them,
dashed frames around expanded nested models.

>>> from lamina.utils.model_graph import Box, ModelGraph
>>> svg = render_svg(ModelGraph("m", [Box(["a"]), Box(["b"])], [(0, 1)]))
>>> svg.startswith("<svg") and svg.count('class="layer"') == 2 and svg.count('class="edge"') == 1
True
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lamina.utils.graph_layout import LINE_HEIGHT, PAD, cluster_frame, extent, layout, route_edges
from lamina.utils.model_graph import ModelGraph


def render_svg(graph: ModelGraph, rankdir: str = "TB") -> str:
    """The whole drawing as an SVG document (a string)."""
    rankdir = rankdir.upper()
    boxes, _, _ = layout(graph, rankdir)
    paths = route_edges(graph, boxes, rankdir)
    width, height = extent(boxes, paths)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="monospace" font-size="12">',
           f"<title>{escape(graph.name)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>',
           f'<rect width="{width:.1f}" height="{height:.1f}" fill="white"/>']
    for c, title in enumerate(graph.clusters):
        frame = cluster_frame(graph, boxes, c)
        if frame is None:
            continue
        left, top, w, h = frame
        out.append(f'<g class="nested-model"><rect x="{left:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}" '
                   f'fill="none" stroke="#777" stroke-dasharray="5,3"/>'
                   f'<text x="{left + 4:.1f}" y="{top + 12:.1f}" fill="#555">{escape(title)}</text></g>')
    for path in paths:
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in path)
        out.append(f'<polyline class="edge" points="{points}" fill="none" stroke="#333" marker-end="url(#arrow)"/>')
    for i, box in enumerate(graph.boxes):
        x, y, w, h = boxes[i]
        out.append(f'<g class="layer" id="layer-{i}"><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" '
                   f'height="{h:.1f}" rx="4" fill="#f3f6fb" stroke="#333"/>')
        for k, line in enumerate(box.lines):
            weight = ' font-weight="bold"' if k == 0 else ""
            out.append(f'<text x="{x + w / 2:.1f}" y="{y + PAD + (k + 0.8) * LINE_HEIGHT:.1f}" '
                       f'text-anchor="middle"{weight}>{escape(line)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
