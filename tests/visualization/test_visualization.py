"""lamina.visualization against Keras 3's keras.visualization.

draw_bounding_boxes and draw_segmentation_masks must give the same pixels as Keras on the same inputs (Keras
draws boxes with OpenCV, so those comparisons need cv2 and skip without it; class labels are left out of them,
as Keras writes text with OpenCV's Hershey fonts and lamina with Pillow). The plot functions are checked for
their figure (axes, titles, legend) under matplotlib's Agg backend and for the file they write.
"""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest
import torch

from lamina import visualization
from lamina.visualization.boxes import SUPPORTED_FORMATS, to_xyxy
from lamina.visualization.draw_segmentation_masks import default_palette
from lamina.visualization.raster import draw_rectangle


def _keras():
    keras = pytest.importorskip("keras")
    if keras.backend.backend() != "torch":
        pytest.skip("the comparisons run Keras on its torch backend")
    return keras


def _cv2():
    return pytest.importorskip("cv2", reason="Keras's draw_bounding_boxes draws with OpenCV")


def _random_boxes(rng: np.random.Generator, fmt: str, batch: int, count: int) -> dict:
    if fmt.startswith("rel_"):
        boxes = rng.random((batch, count, 4)) * 1.2 - 0.1
    else:
        boxes = rng.random((batch, count, 4)) * 40 - 5
    return {"boxes": boxes.astype("float32"), "labels": rng.integers(-1, 3, (batch, count))}


# ------------------------------------------------------------------------------------------- draw_bounding_boxes
@pytest.mark.parametrize("fmt", SUPPORTED_FORMATS)
@pytest.mark.parametrize("kind", ["uint8", "unit_float", "float_255"])
def test_draw_bounding_boxes_matches_keras_pixel_for_pixel(fmt, kind):
    keras, _ = _keras(), _cv2()
    rng = np.random.default_rng([SUPPORTED_FORMATS.index(fmt), len(kind)])
    shape = (2, 23, 31, 3)
    images = {"uint8": lambda: rng.integers(0, 256, shape).astype("uint8"),
              "unit_float": lambda: rng.random(shape).astype("float32"),
              "float_255": lambda: (rng.random(shape) * 300).astype("float32")}[kind]()
    for thickness in (1, 2, 3, 6, -1):
        boxes = _random_boxes(rng, fmt, 2, 4)
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        expected = keras.visualization.draw_bounding_boxes(images.copy(), dict(boxes), fmt, color=color,
                                                            line_thickness=thickness)
        got = visualization.draw_bounding_boxes(images, boxes, fmt, color=color, line_thickness=thickness)
        assert got.dtype == expected.dtype == np.uint8
        np.testing.assert_array_equal(got, expected, err_msg=f"{fmt}, thickness {thickness}")


def test_draw_bounding_boxes_defaults_and_tensor_inputs_match_keras():
    keras, _ = _keras(), _cv2()
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 20, 24, 3)).astype("uint8")
    boxes = _random_boxes(rng, "xyxy", 2, 3)
    original = images.copy()
    expected = keras.visualization.draw_bounding_boxes(images, dict(boxes), "xyxy")
    got = visualization.draw_bounding_boxes(torch.tensor(images), {k: torch.tensor(v) for k, v in boxes.items()},
                                            "XYXY")
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(visualization.draw_bounding_boxes(images, boxes, "xyxy"), expected)
    np.testing.assert_array_equal(images, original)  # drawn on a copy


def test_box_outlines_cover_the_pixels_opencv_covers():
    """The outline geometry against cv2.rectangle directly: clipping, swapped corners, 1 and 4 channels."""
    cv2 = _cv2()
    rng = np.random.default_rng(7)
    for _ in range(400):
        height, width = (int(v) for v in rng.integers(4, 30, 2))
        channels = int(rng.choice([1, 3, 4]))
        x1, y1, x2, y2 = (int(v) for v in rng.integers(-8, 36, 4))
        thickness = int(rng.choice([-1, 0, 1, 2, 3, 4, 5, 7, 10, 13]))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        expected = np.full((height, width, channels), 3, "uint8")
        got = expected.copy()
        cv2.rectangle(expected, (x1, y1), (x2, y2), color, thickness)
        draw_rectangle(got, (x1, y1), (x2, y2), color, thickness)
        np.testing.assert_array_equal(got, expected, err_msg=f"{(x1, y1, x2, y2)}, thickness {thickness}")


def test_box_outline_of_thickness_two_has_rounded_corners():
    """What OpenCV draws (checked above when cv2 is installed), written out so the shape is tested without it."""
    image = np.zeros((9, 10, 1), "uint8")
    draw_rectangle(image, (2, 2), (7, 6), (1,), thickness=2)
    assert ["".join("#" if v else "." for v in row) for row in image[..., 0]] == [
        "..........",
        "..######..",
        ".########.",
        ".########.",
        ".###..###.",
        ".########.",
        ".########.",
        "..######..",
        "..........",
    ]


def test_draw_bounding_boxes_skips_padding_and_keeps_the_input():
    images = np.zeros((1, 10, 10, 3), "uint8")
    boxes = {"boxes": np.array([[[1, 1, 8, 8], [2, 2, 5, 5]]]), "labels": np.array([[-1, 0]])}
    out = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(9, 9, 9), line_thickness=1)
    assert images.sum() == 0  # a new array
    assert out[0, 1, 1].tolist() == [0, 0, 0]  # the box labelled -1 is padding
    assert out[0, 2, 2].tolist() == [9, 9, 9] and out[0, 5, 3].tolist() == [9, 9, 9]


def test_draw_bounding_boxes_channels_first_keeps_the_layout():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (2, 16, 20, 3)).astype("uint8")
    boxes = _random_boxes(rng, "center_xywh", 2, 3)
    last = visualization.draw_bounding_boxes(images, boxes, "center_xywh")
    first = visualization.draw_bounding_boxes(images.transpose(0, 3, 1, 2), boxes, "center_xywh",
                                              data_format="channels_first")
    np.testing.assert_array_equal(first, last.transpose(0, 3, 1, 2))


def test_draw_bounding_boxes_writes_labels_and_confidences_with_pillow():
    pytest.importorskip("PIL")
    images = np.zeros((1, 64, 96, 3), "uint8")
    boxes = {"boxes": np.array([[[10, 40, 60, 60]]]), "labels": np.array([[1]])}
    plain = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 0))
    labelled = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 0), class_mapping={1: "cat"})
    scored = visualization.draw_bounding_boxes(images, dict(boxes, confidences=np.array([[0.5]])), "xyxy",
                                               color=(255, 0, 0), class_mapping={1: "cat"})
    text = np.any(labelled != plain, axis=-1)[0]
    assert text.any() and not text[41:, :].any()  # the label sits above the box (whose top is at y=40)
    assert set(map(tuple, labelled[0][text].tolist())) == {(255, 0, 0)}  # crisp text, in the box's color
    assert np.any(scored != labelled)  # "cat | 0.50" is longer than "cat"
    unmapped = visualization.draw_bounding_boxes(images, boxes, "xyxy", color=(255, 0, 0), class_mapping={2: "x"})
    np.testing.assert_array_equal(unmapped, plain)


def test_labels_need_pillow_but_boxes_do_not(monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    images = np.zeros((1, 32, 32, 3), "uint8")
    boxes = {"boxes": np.array([[[4, 20, 20, 30]]]), "labels": np.array([[0]])}
    assert visualization.draw_bounding_boxes(images, boxes, "xyxy").any()
    with pytest.raises(ImportError, match="Pillow"):
        visualization.draw_bounding_boxes(images, boxes, "xyxy", class_mapping={0: "dog"})


def test_draw_bounding_boxes_errors_are_clear():
    images = np.zeros((1, 8, 8, 3), "uint8")
    boxes = {"boxes": np.zeros((1, 1, 4)), "labels": np.zeros((1, 1), "int32")}
    with pytest.raises(ValueError, match="4D"):
        visualization.draw_bounding_boxes(images[0], boxes, "xyxy")
    with pytest.raises(TypeError, match="dict"):
        visualization.draw_bounding_boxes(images, [np.zeros((1, 1, 4))], "xyxy")
    with pytest.raises(ValueError, match="labels"):
        visualization.draw_bounding_boxes(images, {"boxes": boxes["boxes"]}, "xyxy")
    with pytest.raises(ValueError, match="'center_xywh'"):
        visualization.draw_bounding_boxes(images, boxes, "xyxx")
    with pytest.raises(ValueError, match="last dimension of 4"):
        visualization.draw_bounding_boxes(images, {"boxes": np.zeros((1, 1, 3)), "labels": boxes["labels"]}, "xyxy")
    with pytest.raises(ValueError, match="data_format"):
        visualization.draw_bounding_boxes(images, boxes, "xyxy", data_format="nhwc")


def test_box_formats_convert_as_keras_does():
    keras = _keras()
    rng = np.random.default_rng(5)
    boxes = (rng.random((2, 5, 4)) * 3).astype("float32")
    for fmt in SUPPORTED_FORMATS:
        expected = keras.ops.convert_to_numpy(keras.utils.bounding_boxes.convert_format(
            boxes, fmt, "xyxy", height=37, width=53))
        np.testing.assert_array_equal(to_xyxy(boxes, fmt, height=37, width=53), expected, err_msg=fmt)
    with pytest.raises(ValueError, match="height"):
        to_xyxy(boxes, "rel_xyxy")


# ---------------------------------------------------------------------------------------- draw_segmentation_masks
@pytest.mark.parametrize("case", range(8))
def test_draw_segmentation_masks_matches_keras_pixel_for_pixel(case):
    keras = _keras()
    rng = np.random.default_rng(case)
    num_classes = int(rng.integers(1, 6))
    shape = (2, 9, 13, 3)
    images = rng.integers(0, 256, shape).astype("uint8") if case % 2 else (rng.random(shape) * 255).astype("float32")
    masks = rng.integers(-1, num_classes, (*shape[:3], 1)).astype("int32")
    alpha = [0.8, 0.5, 0.3, 1.0, 0.0, 0.123, 0.8, 0.65][case]
    ignore_index = [-1, 0, 1, -1, 0, 2, -1, -1][case]
    colors = None if case % 3 else {c: tuple(int(v) for v in rng.integers(0, 256, 3)) for c in range(num_classes)}
    kwargs = dict(num_classes=num_classes, color_mapping=colors, alpha=alpha, ignore_index=ignore_index)
    expected = keras.visualization.draw_segmentation_masks(images, masks, **kwargs)
    got = visualization.draw_segmentation_masks(images, masks, **kwargs)
    assert got.dtype == expected.dtype == np.uint8
    np.testing.assert_array_equal(got, expected)
    # (batch, height, width) masks and torch tensors draw the same
    np.testing.assert_array_equal(visualization.draw_segmentation_masks(torch.tensor(images), masks[..., 0], **kwargs),
                                  expected)


def test_draw_segmentation_masks_without_blending_matches_keras():
    keras = _keras()
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, (2, 6, 7, 3)).astype("uint8")
    masks = rng.integers(-1, 4, (2, 6, 7, 1)).astype("int32")
    expected = keras.ops.convert_to_numpy(keras.visualization.draw_segmentation_masks(images, masks, 4, blend=False))
    got = visualization.draw_segmentation_masks(images, masks, 4, blend=False)
    assert got.dtype == expected.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    # Unlike Keras (which paints every class when not blending), pixels equal to ignore_index stay as they were.
    kept = visualization.draw_segmentation_masks(images, masks, 4, blend=False, ignore_index=2)
    np.testing.assert_array_equal(kept[masks[..., 0] == 2], images[masks[..., 0] == 2])


def test_draw_segmentation_masks_channels_first_matches_keras_in_the_input_layout():
    keras = _keras()
    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (2, 3, 5, 6)).astype("uint8")
    masks = rng.integers(0, 3, (2, 1, 5, 6)).astype("int32")
    expected = keras.visualization.draw_segmentation_masks(images, masks, 3, data_format="channels_first")
    got = visualization.draw_segmentation_masks(images, masks, 3, data_format="channels_first")
    # Keras gives channels-last pixels back; lamina gives them in the caller's layout.
    np.testing.assert_array_equal(got, expected.transpose(0, 3, 1, 2))


def test_draw_segmentation_masks_infers_the_classes_and_leaves_other_pixels():
    images = np.full((1, 2, 3, 3), 50, "uint8")
    masks = np.array([[[0, 1, 2], [2, 7, -1]]])
    colors = {0: (0, 0, 0), 1: (200, 0, 0), 2: (0, 200, 0)}
    out = visualization.draw_segmentation_masks(images, masks, num_classes=3, color_mapping=colors, alpha=0.5,
                                                ignore_index=0)
    assert out[0, :, :, 0].tolist() == [[50, 125, 25], [25, 50, 50]]  # class 7 is out of range, -1 not a class
    inferred = visualization.draw_segmentation_masks(images[:, :, :2], masks[..., :2], alpha=1.0)  # classes 0..2
    assert inferred[0, 0, 1].tolist() == default_palette(3)[1]
    nothing = np.full((1, 2, 3), -1)
    np.testing.assert_array_equal(visualization.draw_segmentation_masks(images, nothing), images)


def test_draw_segmentation_masks_errors_are_clear():
    images = np.zeros((1, 4, 4, 3), "uint8")
    masks = np.zeros((1, 4, 4), "int32")
    with pytest.raises(ValueError, match="4D"):
        visualization.draw_segmentation_masks(images[0], masks, 2)
    with pytest.raises(TypeError, match="integer"):
        visualization.draw_segmentation_masks(images, masks.astype("float32"), 2)
    with pytest.raises(ValueError, match="match"):
        visualization.draw_segmentation_masks(images, np.zeros((1, 3, 4), "int32"), 2)
    with pytest.raises(KeyError, match="missing \\[1\\]"):
        visualization.draw_segmentation_masks(images, masks, 2, color_mapping={0: (1, 2, 3)})
    with pytest.raises(ValueError, match="components"):
        visualization.draw_segmentation_masks(images, masks, 1, color_mapping={0: (1, 2)})


# ------------------------------------------------------------------------------------------------------- galleries
@pytest.fixture
def plt():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot

    pyplot.close("all")
    yield pyplot
    pyplot.close("all")


def _shown(plt) -> list:
    return [axis for axis in plt.gcf().axes if axis.images]


@pytest.mark.parametrize("batch, rows, cols, grid", [(4, None, None, (2, 2)), (6, 2, None, (2, 3)),
                                                     (9, None, None, (3, 3)), (1, None, None, (1, 1))])
def test_plot_image_gallery_grid_matches_keras(plt, batch, rows, cols, grid):
    keras = _keras()
    images = np.random.default_rng(0).integers(0, 256, (batch, 8, 10, 3)).astype("uint8")
    keras.visualization.plot_image_gallery(images, rows=rows, cols=cols, show=False)
    expected = len(plt.gcf().axes)
    plt.close("all")
    visualization.plot_image_gallery(images, rows=rows, cols=cols, show=False)
    axes = plt.gcf().axes
    assert len(axes) == expected == grid[0] * grid[1]
    assert len(_shown(plt)) == batch
    np.testing.assert_array_equal(np.asarray(axes[-1].images[0].get_array()), images[batch - 1])


def test_plot_image_gallery_shows_every_image_with_titles_and_value_range(plt):
    images = np.random.default_rng(1).random((5, 6, 6, 1)).astype("float32")
    names = {0: "zero", 1: "one"}
    visualization.plot_image_gallery(images, y_true=np.array([0, 1, 2, 0, 1]), y_pred=[1, 1, 0, 0, 1],
                                     label_map=names, value_range=(0, 1), show=False)
    axes = plt.gcf().axes
    assert len(axes) == 6 and len(_shown(plt)) == 5  # 3 x 2: Keras's grid would show 3 of the 5 images
    assert axes[0].get_title() == "Label: zero  Pred: one"
    assert axes[2].get_title() == "Label: Unknown  Pred: zero"
    np.testing.assert_array_equal(np.asarray(axes[1].images[0].get_array()),
                                  np.clip(images[1, ..., 0] * 255, 0, 255).astype("uint8"))


def test_plot_image_gallery_writes_the_file_and_closes_the_figure(plt, tmp_path):
    path = tmp_path / "gallery.png"
    visualization.plot_image_gallery(np.zeros((2, 3, 8, 8)), path=str(path), data_format="channels_first")
    assert path.stat().st_size > 0 and path.read_bytes()[:4] == b"\x89PNG"
    assert plt.get_fignums() == []


def test_plot_image_gallery_errors_are_clear(plt):
    images = np.zeros((2, 4, 4, 3))
    with pytest.raises(ValueError, match="path"):
        visualization.plot_image_gallery(images, path="x.png", show=True)
    with pytest.raises(ValueError, match="label_map"):
        visualization.plot_image_gallery(images, y_true=[0, 1], show=False)
    with pytest.raises(ValueError, match="4D"):
        visualization.plot_image_gallery(images[0], show=False)


def test_plot_bounding_box_gallery(plt, tmp_path):
    rng = np.random.default_rng(4)
    images = rng.random((3, 24, 24, 3)).astype("float32")
    y_true = {"boxes": np.array([[[0.1, 0.1, 0.5, 0.5]]] * 3), "labels": np.array([[0]] * 3)}
    y_pred = {"boxes": np.array([[[0.2, 0.2, 0.9, 0.9]]] * 3), "labels": np.array([[0]] * 3)}
    visualization.plot_bounding_box_gallery(images, "rel_xyxy", y_true=y_true, y_pred=y_pred, value_range=(0, 1),
                                            rows=1, legend=True, show=False)
    fig = plt.gcf()
    assert len(fig.axes) == 3 and len(fig.legends) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["Ground Truth", "Prediction"]
    shown = np.asarray(fig.axes[0].images[0].get_array())
    expected = visualization.draw_bounding_boxes(np.clip(images * 255, 0, 255).astype("uint8"), y_true,
                                                 "rel_xyxy", color=(0, 188, 212))
    expected = visualization.draw_bounding_boxes(expected, y_pred, "rel_xyxy", color=(255, 235, 59))
    np.testing.assert_array_equal(shown, expected[0])
    path = tmp_path / "boxes.png"
    visualization.plot_bounding_box_gallery(images, "rel_xyxy", y_true=y_true, value_range=(0, 1), path=str(path))
    assert path.stat().st_size > 0
    with pytest.raises(ValueError, match="legend"):
        visualization.plot_bounding_box_gallery(images, "rel_xyxy", legend=True, legend_handles=[object()])


def test_plot_segmentation_mask_gallery(plt, tmp_path):
    rng = np.random.default_rng(6)
    images = rng.integers(0, 256, (2, 10, 12, 3)).astype("uint8")
    y_true = rng.integers(0, 3, (2, 10, 12, 1))
    y_pred = rng.integers(0, 3, (2, 10, 12))
    visualization.plot_segmentation_mask_gallery(images, 3, y_true=y_true, y_pred=y_pred, show=False)
    axes = plt.gcf().axes
    assert len(axes) == 6  # one row per image: the image, its true masks, its predicted masks
    np.testing.assert_array_equal(np.asarray(axes[3].images[0].get_array()), images[1])
    np.testing.assert_array_equal(np.asarray(axes[4].images[0].get_array()),
                                  visualization.draw_segmentation_masks(images, y_true, 3)[1])
    plt.close("all")
    path = tmp_path / "masks.png"
    visualization.plot_segmentation_mask_gallery(images.transpose(0, 3, 1, 2), 3, y_true=y_true.transpose(0, 3, 1, 2),
                                                 data_format="channels_first", path=str(path))
    assert path.stat().st_size > 0


def test_plot_functions_need_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    images = np.zeros((1, 4, 4, 3), "uint8")
    for call in (lambda: visualization.plot_image_gallery(images),
                 lambda: visualization.plot_bounding_box_gallery(images, "xyxy"),
                 lambda: visualization.plot_segmentation_mask_gallery(images, 2)):
        with pytest.raises(ImportError, match="matplotlib"):
            call()


def test_signatures_are_keras_s():
    keras = _keras()
    assert sorted(visualization.__all__) == sorted(n for n in dir(keras.visualization) if not n.startswith("_"))
    for name in visualization.__all__:
        ours = inspect.signature(getattr(visualization, name)).parameters.values()
        theirs = inspect.signature(getattr(keras.visualization, name)).parameters.values()
        assert [(p.name, p.kind, p.default) for p in ours] == [(p.name, p.kind, p.default) for p in theirs], name
