"""The report's charts: the SVG drawing maps data to pixels by one affine map per axis (linear or log10), its tick
labels sit where their values map, gaps break lines, every label is escaped; matplotlib draws a real PNG."""

import base64
import io
import math
import re
import xml.etree.ElementTree as ET

import pytest

from lamina.report.charts import HEIGHT, WIDTH, Chart, Series, has_data, label, mpl_chart, svg_chart, ticks

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # well-formed XML, or this raises


def _lines(root: ET.Element) -> dict[str, list[list[tuple[float, float]]]]:
    out = {}
    for group in root.iter(f"{SVG}g"):
        if group.get("class") == "series":
            out[group.get("data-label")] = [[tuple(map(float, p.split(","))) for p in line.get("points").split()]
                                            for line in group.iter(f"{SVG}polyline")]
    return out


def _affine(data: list[float], pixels: list[float]) -> tuple[float, float]:
    """(scale, offset) with pixels == scale * data + offset, checked on every point."""
    scale = (pixels[-1] - pixels[0]) / (data[-1] - data[0])
    offset = pixels[0] - scale * data[0]
    for d, p in zip(data, pixels, strict=True):
        assert p == pytest.approx(scale * d + offset, abs=0.02)
    return scale, offset


@pytest.mark.parametrize(("xlog", "ylog"), [(False, False), (True, False), (False, True), (True, True)])
def test_points_are_placed_by_one_affine_map_per_axis(xlog, ylog):
    xs = [1e-4, 3e-3, 0.02, 0.5, 2.0] if xlog else [1, 2, 3, 4, 5]
    ys = [3.0, 1.5, 0.2, 0.05, 0.9]
    root = _parse(svg_chart(Chart("c", [Series("s", xs, ys)], xlog=xlog, ylog=ylog)))
    (points,) = _lines(root)["s"]
    fx = [math.log10(x) if xlog else x for x in xs]
    fy = [math.log10(y) if ylog else y for y in ys]
    sx, ox = _affine(fx, [p[0] for p in points])
    sy, oy = _affine(fy, [p[1] for p in points])
    assert sx > 0 and sy < 0  # x grows to the right, y grows upwards
    assert all(0 <= p[0] <= WIDTH and 0 <= p[1] <= HEIGHT for p in points)
    # Each tick label is drawn where its value maps.
    for text in root.iter(f"{SVG}text"):
        kind = text.get("class")
        if kind in ("xtick", "ytick"):
            value = float(text.text)
            u = math.log10(value) if (xlog if kind == "xtick" else ylog) else value
            if kind == "xtick":
                assert float(text.get("x")) == pytest.approx(sx * u + ox, abs=0.1)
            else:
                assert float(text.get("y")) - 4 == pytest.approx(sy * u + oy, abs=0.1)


def test_missing_and_non_finite_values_break_the_line_and_log_axes_drop_non_positive_values():
    lines = _lines(_parse(svg_chart(Chart("c", [Series("s", [1, 2, 3, 4, 5, 6], [1, 2, float("nan"), 3, None, 4])]))))
    assert [len(run) for run in lines["s"]] == [2, 1, 1]
    lines = _lines(_parse(svg_chart(Chart("c", [Series("s", [1, 2, 3, 4], [1.0, -1.0, 0.0, 2.0])], ylog=True))))
    assert [len(run) for run in lines["s"]] == [1, 1]
    assert not has_data(Chart("c", [Series("s", [1, 2], [float("inf"), float("nan")])]))


def test_ylim_clips_values_to_its_edges():
    root = _parse(svg_chart(Chart("c", [Series("s", [1, 2, 3], [1.0, 2.0, 1e6])], ylim=(1.0, 2.0))))
    (points,) = _lines(root)["s"]
    assert points[2][1] == pytest.approx(points[1][1])  # 1e6 drawn at the top, where 2.0 is


def test_labels_are_escaped_and_several_series_get_a_legend():
    hostile = '<script>alert("x")</script> & co'
    svg = svg_chart(Chart(hostile, [Series(hostile, [1, 2], [1, 2]), Series("b", [1, 2], [2, 1], dashed=True)],
                          xlabel=hostile, vlines=[(1.5, hostile)]))
    assert "<script" not in svg
    root = _parse(svg)
    assert set(_lines(root)) == {hostile, "b"}  # the attribute decodes back to the exact text
    assert sum(1 for g in root.iter(f"{SVG}g") if g.get("class") == "legend") == 2
    single = _parse(svg_chart(Chart("c", [Series("a", [1, 2], [1, 2])])))
    assert not any(g.get("class") == "legend" for g in single.iter(f"{SVG}g"))


def test_ticks_are_round_numbers_inside_the_range():
    assert ticks(0.0, 1.0, False) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert ticks(0.9, 5.1, False, integer=True) == [1, 2, 3, 4, 5]
    assert ticks(0.9, 2.1, False, integer=True) == [1, 2]  # whole epochs only, never 1.5
    assert ticks(-6.2, 0.3, True) == [-6, -4, -2, 0]  # 1e-6, 1e-4, 0.01, 1 on a log axis
    within_a_decade = ticks(math.log10(2), math.log10(8), True)
    assert [round(10 ** u, 9) for u in within_a_decade] == [2, 4, 6, 8]  # round values, placed by their log
    assert [label(v) for v in (0, 1e-6, 0.001, 0.5, 12345, 2.5e7)] == ["0", "1e-6", "0.001", "0.5", "1.234e+04",
                                                                          "2.5e7"]


def test_matplotlib_draws_the_same_chart_as_a_png():
    pytest.importorskip("matplotlib")
    from PIL import Image

    tag = mpl_chart(Chart("loss <1>", [Series("train", [1, 2, 3], [3, 2, 1]), Series("val", [1, 2, 3], [3, 3, 2])],
                          ylog=True, vlines=[(2, "x")]))
    match = re.fullmatch(r'<img class="chart" alt="loss &lt;1&gt;" src="data:image/png;base64,([A-Za-z0-9+/=]+)">',
                         tag)
    assert match
    image = Image.open(io.BytesIO(base64.b64decode(match.group(1))))
    assert image.size == (WIDTH, HEIGHT)
