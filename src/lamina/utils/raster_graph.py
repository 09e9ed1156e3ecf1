"""A ``ModelGraph`` drawn into a raster image with Pillow (placed by ``graph_layout``, as the SVG is): how
``plot_model`` writes ``.png``, ``.jpg``, ``.pdf``... when Graphviz is not installed.

>>> from lamina.utils.model_graph import Box, ModelGraph
>>> image = render_image(ModelGraph("m", [Box(["a (Dense)"]), Box(["b (Dense)"])], [(0, 1)]), dpi=96)
>>> image.mode, image.size[1] > image.size[0]
('RGB', True)
"""

from __future__ import annotations

import math
from typing import Any

from lamina.utils.graph_layout import LINE_HEIGHT, PAD, cluster_frame, extent, layout, route_edges
from lamina.utils.model_graph import ModelGraph

SCREEN_DPI = 96  # the layout's units are pixels at this resolution


def _require_pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise ImportError("Drawing a model into a raster image needs Pillow (`pip install pillow`) or Graphviz's "
                          "`dot` program; an .svg file needs neither.") from None
    return Image, ImageDraw, ImageFont


def _font(image_font: Any, size: int, bold: bool = False) -> Any:
    for name in (("DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"), "DejaVuSans.ttf"):
        try:
            return image_font.truetype(name, size)
        except OSError:
            continue
    try:
        return image_font.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return image_font.load_default()


def _dashed_rectangle(draw: Any, rect: tuple[float, float, float, float], fill: str, width: int,
                      dash: float) -> None:
    x, y, w, h = rect
    for (x1, y1), (x2, y2) in (((x, y), (x + w, y)), ((x + w, y), (x + w, y + h)), ((x + w, y + h), (x, y + h)),
                               ((x, y + h), (x, y))):
        length = math.hypot(x2 - x1, y2 - y1)
        steps = max(int(length // (2 * dash)), 1)
        for k in range(steps):
            a, b = 2 * k * dash / length, min((2 * k + 1) * dash / length, 1.0)
            draw.line([(x1 + (x2 - x1) * a, y1 + (y2 - y1) * a), (x1 + (x2 - x1) * b, y1 + (y2 - y1) * b)],
                      fill=fill, width=width)


def render_image(graph: ModelGraph, rankdir: str = "TB", dpi: int = 200) -> Any:
    """The drawing as a ``PIL.Image.Image`` (RGB), scaled to ``dpi``."""
    image_module, image_draw, image_font = _require_pil()
    rankdir = rankdir.upper()
    scale = max(float(dpi), 24.0) / SCREEN_DPI
    boxes, _, _ = layout(graph, rankdir)
    paths = route_edges(graph, boxes, rankdir)
    width, height = extent(boxes, paths)
    image = image_module.new("RGB", (max(int(width * scale), 1), max(int(height * scale), 1)), "white")
    draw = image_draw.Draw(image)
    line_width = max(int(round(scale)), 1)
    regular, bold = _font(image_font, int(12 * scale)), _font(image_font, int(12 * scale), bold=True)
    for c, title in enumerate(graph.clusters):
        frame = cluster_frame(graph, boxes, c)
        if frame is None:
            continue
        x, y, w, h = (v * scale for v in frame)
        _dashed_rectangle(draw, (x, y, w, h), "#777777", line_width, 5 * scale)
        draw.text((x + 4 * scale, y + 2 * scale), title, fill="#555555", font=regular)
    for path in paths:
        points = [(x * scale, y * scale) for x, y in path]
        draw.line(points, fill="#333333", width=line_width)
        (x1, y1), (x2, y2) = points[-2], points[-1]
        angle = math.atan2(y2 - y1, x2 - x1)
        size = 7 * scale
        draw.polygon([(x2, y2), (x2 - size * math.cos(angle - 0.4), y2 - size * math.sin(angle - 0.4)),
                      (x2 - size * math.cos(angle + 0.4), y2 - size * math.sin(angle + 0.4))], fill="#333333")
    for box, rect in zip(graph.boxes, boxes, strict=True):
        x, y, w, h = (v * scale for v in rect)
        draw.rounded_rectangle([x, y, x + w, y + h], radius=4 * scale, fill="#f3f6fb", outline="#333333",
                               width=line_width)
        for k, line in enumerate(box.lines):
            centre_y = y + (PAD + (k + 0.5) * LINE_HEIGHT) * scale
            draw.text((x + w / 2, centre_y), line, fill="black", font=bold if k == 0 else regular, anchor="mm")
    return image
