"""Where to draw a ``ModelGraph``'s boxes: ranks by graph depth (the longest path from an input), boxes of a
rank side by side in the order that keeps most arrows from crossing, ranks top to bottom (``"TB"``) or left to
right (``"LR"``); ``"BT"``/``"RL"`` mirror them. Shared by the SVG and the raster renderers.

>>> ranks(3, [(0, 1), (1, 2), (0, 2)])
[0, 1, 2]
"""

from __future__ import annotations

from lamina.utils.model_graph import Box, ModelGraph

Rect = tuple[float, float, float, float]  # x, y, width, height

CHAR_WIDTH = 7.3  # px per character of 12px monospace text (a generous estimate, so text stays inside its box)
LINE_HEIGHT = 16
PAD = 8
RANK_GAP = 44  # between ranks (vertical in TB)
SIBLING_GAP = 28  # between boxes of one rank
MARGIN = 32


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

        def key(i: int, first: dict[int, float] = first) -> tuple[bool, float, int]:
            above = [position[a] for a, b in graph.edges if b == i and a in position]
            # boxes of nested models first, so that their frame can hold them alone
            return (graph.boxes[i].cluster is None, sum(above) / len(above) if above else first[i], i)

        row.sort(key=key)
        for k, i in enumerate(row):
            position[i] = float(k)
    return rows


def _size(box: Box) -> tuple[float, float]:
    width = max(len(line) for line in box.lines) * CHAR_WIDTH + 2 * PAD
    return width, len(box.lines) * LINE_HEIGHT + 2 * PAD


def _clear_frames(graph: ModelGraph, rows: list[list[int]], place: list[list[float]],
                  extent: list[tuple[float, float]]) -> None:
    """Move the boxes outside an expanded nested model (those after its boxes in a rank) past its frame, so
    the frame holds its own boxes only. ``place[i]`` is ``[along, across]``; ``extent[i]`` the box's size along
    and across."""
    for c in range(len(graph.clusters)):
        members = [i for i, box in enumerate(graph.boxes) if box.cluster == c]
        if not members:
            continue
        first = min(place[i][0] for i in members) - PAD - LINE_HEIGHT
        last = max(place[i][0] + extent[i][0] for i in members) + PAD
        end = max(place[i][1] + extent[i][1] for i in members) + PAD
        for row in rows:
            shift = 0.0
            for i in row:
                place[i][1] += shift
                inside = first < place[i][0] + extent[i][0] and place[i][0] < last
                if graph.boxes[i].cluster != c and inside and place[i][1] < end + SIBLING_GAP / 2:
                    delta = end + SIBLING_GAP / 2 - place[i][1]
                    place[i][1] += delta
                    shift += delta


def layout(graph: ModelGraph, rankdir: str = "TB") -> tuple[list[Rect], float, float]:
    """``(x, y, width, height)`` of every box and the size of the drawing (arrows routed around boxes may need
    more: see ``extent``)."""
    horizontal = rankdir.upper() in ("LR", "RL")
    sizes = [_size(box) for box in graph.boxes]
    # along: the rank axis (y in TB); across: the axis of one rank's boxes (x in TB)
    extent_of = [(h, w) if not horizontal else (w, h) for w, h in sizes]
    rows = _rows(graph, ranks(len(graph.boxes), graph.edges))
    thickness = [max(extent_of[i][0] for i in row) for row in rows]
    spans = [sum(extent_of[i][1] for i in row) + SIBLING_GAP * (len(row) - 1) for row in rows]
    widest = max(spans, default=0.0)
    place = [[0.0, 0.0] for _ in graph.boxes]
    along = float(MARGIN)
    for row, thick, span in zip(rows, thickness, spans, strict=True):
        across = MARGIN + (widest - span) / 2
        for i in row:
            place[i] = [along + (thick - extent_of[i][0]) / 2, across]
            across += extent_of[i][1] + SIBLING_GAP
        along += thick + RANK_GAP
    _clear_frames(graph, rows, place, extent_of)
    total_along = along + MARGIN - RANK_GAP
    total_across = max([p[1] + e[1] for p, e in zip(place, extent_of, strict=True)], default=0.0) + MARGIN
    if rankdir.upper() in ("BT", "RL"):  # mirrored: the last rank first
        place = [[total_along - p[0] - e[0], p[1]] for p, e in zip(place, extent_of, strict=True)]
    boxes: list[Rect] = [((p[0], p[1], w, h) if horizontal else (p[1], p[0], w, h))
                         for p, (w, h) in zip(place, sizes, strict=True)]
    return boxes, (total_along if horizontal else total_across), (total_across if horizontal else total_along)


EDGE_SIDES = {"TB": ("bottom", "top"), "BT": ("top", "bottom"), "LR": ("right", "left"), "RL": ("left", "right")}


def anchor(box: Rect, side: str) -> tuple[float, float]:
    """The middle of one side of ``box``: where an arrow leaves or arrives."""
    x, y, w, h = box
    return {"top": (x + w / 2, y), "bottom": (x + w / 2, y + h), "left": (x, y + h / 2),
            "right": (x + w, y + h / 2)}[side]


def _crosses(rect: Rect, p: tuple[float, float], q: tuple[float, float]) -> bool:
    """Whether the segment ``p``-``q`` passes through ``rect`` (checked at points along it)."""
    x, y, w, h = rect
    for k in range(1, 64):
        t = k / 64
        px, py = p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t
        if x < px < x + w and y < py < y + h:
            return True
    return False


def route_edges(graph: ModelGraph, boxes: list[Rect], rankdir: str) -> list[list[tuple[float, float]]]:
    """The points of each arrow: straight from one box to the other, or, where that line would pass through
    other boxes (an arrow skipping ranks), out to a lane beside them and back."""
    rankdir = rankdir.upper()
    start_side, end_side = EDGE_SIDES[rankdir]
    horizontal = rankdir in ("LR", "RL")
    paths = []
    lanes = 0
    for a, b in graph.edges:
        p, q = anchor(boxes[a], start_side), anchor(boxes[b], end_side)
        blocking = [r for i, r in enumerate(boxes) if i not in (a, b) and _crosses(r, p, q)]
        if not blocking:
            paths.append([p, q])
            continue
        lanes += 1
        offset = SIBLING_GAP / 2 + 6 * (lanes - 1)
        if horizontal:
            lane = max(y + h for _, y, _, h in blocking) + offset
            step = RANK_GAP / 2 if rankdir == "LR" else -RANK_GAP / 2
            paths.append([p, (p[0] + step, lane), (q[0] - step, lane), q])
        else:
            lane = max(x + w for x, _, w, _ in blocking) + offset
            step = RANK_GAP / 2 if rankdir == "TB" else -RANK_GAP / 2
            paths.append([p, (lane, p[1] + step), (lane, q[1] - step), q])
    return paths


def extent(boxes: list[Rect], paths: list[list[tuple[float, float]]]) -> tuple[float, float]:
    """The width and height that hold every box and arrow, with the margin."""
    right = max([x + w for x, _, w, _ in boxes] + [px for path in paths for px, _ in path], default=0.0)
    bottom = max([y + h for _, y, _, h in boxes] + [py for path in paths for _, py in path], default=0.0)
    return right + MARGIN, bottom + MARGIN


def cluster_frame(graph: ModelGraph, boxes: list[Rect], cluster: int) -> Rect | None:
    """The dashed frame around the boxes of an expanded nested model (room for its title above), or None."""
    members = [boxes[i] for i, box in enumerate(graph.boxes) if box.cluster == cluster]
    if not members:
        return None
    left = min(x for x, _, _, _ in members) - PAD
    top = min(y for _, y, _, _ in members) - PAD - LINE_HEIGHT
    right = max(x + w for x, _, w, _ in members) + PAD
    bottom = max(y + h for _, y, _, h in members) + PAD
    return left, top, right - left, bottom - top
