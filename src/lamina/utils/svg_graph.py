"""A ``ModelGraph`` drawn as SVG without Graphviz: boxes placed in ranks by graph depth (top to bottom, or left
to right), arrows between them, dashed frames around expanded nested models.

>>> from lamina.utils.model_graph import Box, ModelGraph
>>> svg = render_svg(ModelGraph("m", [Box(["a"]), Box(["b"])], [(0, 1)]))
>>> svg.startswith("<svg") and svg.count('class="layer"') == 2 and svg.count("<line") == 1
True
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from lamina.utils.model_graph import Box, ModelGraph

CHAR_WIDTH = 7.3  # px per character of 12px monospace text (a generous estimate, so text stays inside its box)
LINE_HEIGHT = 16
PAD = 8
RANK_GAP = 44  # between ranks (vertical in TB)
SIBLING_GAP = 28  # between boxes of one rank
MARGIN = 24


def ranks(count: int, edges: list[tuple[int, int]]) -> list[int]:
    """Each box's rank: the length of the longest path reaching it (sources are rank 0)."""
    parents: list[list[int]] = [[] for _ in range(count)]
    children: list[list[int]] = [[] for _ in range(count)]
    for a, b in edges:
        parents[b].append(a)
        children[a].append(b)
    pending = [len(p) for p in parents]
    rank = [0] * count
    ready = [i for i in range(count) if pending[i] == 0]
    seen = 0
    while ready:
        node = ready.pop(0)
        seen += 1
        for child in children[node]:
            rank[child] = max(rank[child], rank[node] + 1)
            pending[child] -= 1
            if pending[child] == 0:
                ready.append(child)
    if seen != count:  # a cycle (not made by layer graphs): fall back to list order
        return list(range(count))
    return rank


def _rows(graph: ModelGraph, rank: list[int]) -> list[list[int]]:
    """The boxes of each rank, ordered by the mean position of their parents in the rank above (list order
    for ties), which keeps most arrows from crossing."""
    rows: list[list[int]] = [[] for _ in range(max(rank, default=-1) + 1)]
    for i, r in enumerate(rank):
        rows[r].append(i)
    position: dict[int, float] = {}
    for row in rows:
        first = {i: float(k) for k, i in enumerate(row)}

        def key(i: int, first: dict[int, float] = first) -> tuple[float, int]:
            above = [position[a] for a, b in graph.edges if b == i and a in position]
            return (sum(above) / len(above) if above else first[i], i)

        row.sort(key=key)
        for k, i in enumerate(row):
            position[i] = float(k)
    return rows


def _size(box: Box) -> tuple[float, float]:
    width = max(len(line) for line in box.lines) * CHAR_WIDTH + 2 * PAD
    return width, len(box.lines) * LINE_HEIGHT + 2 * PAD


def layout(graph: ModelGraph, rankdir: str = "TB") -> tuple[list[tuple[float, float, float, float]], float, float]:
    """``(x, y, width, height)`` of every box and the size of the drawing."""
    sizes = [_size(box) for box in graph.boxes]
    rows = _rows(graph, ranks(len(graph.boxes), graph.edges))
    horizontal = rankdir.upper() in ("LR", "RL")
    # along: the rank axis (y in TB); across: the axis of one rank's boxes (x in TB)
    along_size = [max((sizes[i][0] if horizontal else sizes[i][1]) for i in row) for row in rows]
    across_size = [sum((sizes[i][1] if horizontal else sizes[i][0]) for i in row) + SIBLING_GAP * (len(row) - 1)
                   for row in rows]
    widest = max(across_size, default=0.0)
    boxes: list[tuple[float, float, float, float]] = [(0.0, 0.0, 0.0, 0.0)] * len(graph.boxes)
    along = float(MARGIN)
    for row, thickness, span in zip(rows, along_size, across_size, strict=True):
        across = MARGIN + (widest - span) / 2
        for i in row:
            w, h = sizes[i]
            if horizontal:
                boxes[i] = (along + (thickness - w) / 2, across, w, h)
                across += h + SIBLING_GAP
            else:
                boxes[i] = (across, along + (thickness - h) / 2, w, h)
                across += w + SIBLING_GAP
        along += thickness + RANK_GAP
    along += MARGIN - RANK_GAP
    if rankdir.upper() in ("BT", "RL"):  # mirrored: the last rank first
        boxes = [((along - x - w) if horizontal else x, y if horizontal else (along - y - h), w, h)
                 for x, y, w, h in boxes]
    total_across = widest + 2 * MARGIN
    return boxes, (along if horizontal else total_across), (total_across if horizontal else along)


def _anchor(box: tuple[float, float, float, float], side: str) -> tuple[float, float]:
    x, y, w, h = box
    return {"top": (x + w / 2, y), "bottom": (x + w / 2, y + h), "left": (x, y + h / 2),
            "right": (x + w, y + h / 2)}[side]


def render_svg(graph: ModelGraph, rankdir: str = "TB") -> str:
    """The whole drawing as an SVG document (a string)."""
    rankdir = rankdir.upper()
    boxes, width, height = layout(graph, rankdir)
    start_side, end_side = {"TB": ("bottom", "top"), "BT": ("top", "bottom"), "LR": ("right", "left"),
                            "RL": ("left", "right")}[rankdir]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="monospace" font-size="12">',
           f"<title>{escape(graph.name)}</title>",
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>',
           f'<rect width="{width:.1f}" height="{height:.1f}" fill="white"/>']
    for c, title in enumerate(graph.clusters):
        members = [boxes[i] for i, box in enumerate(graph.boxes) if box.cluster == c]
        if not members:
            continue
        left = min(x for x, _, _, _ in members) - PAD
        top = min(y for _, y, _, _ in members) - PAD - LINE_HEIGHT
        right = max(x + w for x, _, w, _ in members) + PAD
        bottom = max(y + h for _, y, _, h in members) + PAD
        out.append(f'<g class="nested-model"><rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
                   f'height="{bottom - top:.1f}" fill="none" stroke="#777" stroke-dasharray="5,3"/>'
                   f'<text x="{left + 4:.1f}" y="{top + 12:.1f}" fill="#555">{escape(title)}</text></g>')
    for a, b in graph.edges:
        (x1, y1), (x2, y2) = _anchor(boxes[a], start_side), _anchor(boxes[b], end_side)
        out.append(f'<line class="edge" x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="#333" '
                   'marker-end="url(#arrow)"/>')
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
