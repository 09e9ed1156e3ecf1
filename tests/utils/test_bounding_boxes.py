"""Tests of lamina/utils/bounding_boxes.py (the arithmetic in lamina/layers/bounding_box_ops.py): every function
against Keras 3's ``keras.utils.bounding_boxes`` on random boxes, in every format, batched and not, from NumPy and
torch inputs; plus round trips and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lamina.utils import bounding_boxes as bb

FORMATS = ["xyxy", "yxyx", "xywh", "center_xywh", "center_yxhw", "rel_xyxy", "rel_yxyx", "rel_xywh",
           "rel_center_xywh"]
H, W = 40, 60
RNG = np.random.default_rng(0)


def _xyxy(shape, rng=RNG, height=H, width=W):
    """Random valid boxes (x1 < x2, y1 < y2) inside a height x width image."""
    x = np.sort(rng.uniform(0, width, (*shape, 2)), axis=-1)
    y = np.sort(rng.uniform(0, height, (*shape, 2)), axis=-1)
    return np.stack([x[..., 0], y[..., 0], x[..., 1], y[..., 1]], axis=-1).astype("float32")


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


@pytest.mark.parametrize("source", FORMATS)
@pytest.mark.parametrize("target", FORMATS)
def test_convert_format_matches_keras(keras, source, target):
    boxes = _np(keras.utils.bounding_boxes.convert_format(_xyxy((3, 5)), "xyxy", source, height=H, width=W))
    theirs = keras.utils.bounding_boxes.convert_format(boxes.copy(), source, target, height=H, width=W)
    ours = bb.convert_format(boxes, source, target, height=H, width=W)
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float32
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-6, atol=1e-5)
    back = bb.convert_format(torch.tensor(boxes), source, target, height=H, width=W)
    np.testing.assert_allclose(_np(bb.convert_format(back, target, source, height=H, width=W)), boxes, atol=1e-4)


def test_convert_format_dicts_dtypes_per_image_sizes_and_errors(keras):
    boxes = _xyxy((2, 3))
    out = bb.convert_format({"boxes": boxes, "labels": np.array([[1, 2, 3], [4, 5, 6]])}, "xyxy", "rel_xyxy",
                            height=H, width=W, dtype="float64")
    assert out["boxes"].dtype == torch.float64 and out["labels"].tolist() == [[1, 2, 3], [4, 5, 6]]
    # sizes as (batch, 1, 1) tensors, as Keras's zoom passes them: each image its own size
    heights, widths = torch.tensor([[[20.0]], [[40.0]]]), torch.tensor([[[30.0]], [[60.0]]])
    theirs = keras.utils.bounding_boxes.convert_format(boxes.copy(), "xyxy", "rel_xyxy", height=heights.numpy(),
                                                       width=widths.numpy())
    np.testing.assert_allclose(_np(bb.convert_format(boxes, "xyxy", "rel_xyxy", height=heights, width=widths)),
                               _np(theirs), rtol=1e-6)
    np.testing.assert_allclose(_np(bb.convert_format(boxes, "rel_xyxy", "rel_yxyx")), boxes[..., [1, 0, 3, 2]])
    with pytest.raises(ValueError, match="last dimension of 4"):
        bb.convert_format(np.zeros((2, 3)), "xyxy", "yxyx")
    with pytest.raises(ValueError, match="must be one of"):
        bb.convert_format(boxes, "xyxy", "xyzw")
    with pytest.raises(ValueError, match="height"):
        bb.convert_format(boxes, "xyxy", "rel_xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "rel_xyxy"])
@pytest.mark.parametrize("batched", [False, True])
def test_clip_to_image_size_matches_keras(keras, fmt, batched):
    shape = (2, 6) if batched else (6,)
    boxes = _xyxy(shape) * 1.6 - 15  # some outside, some empty after clipping
    if fmt == "rel_xyxy":
        boxes = boxes / np.array([W, W, W, W], dtype="float32")
    labels = RNG.integers(0, 5, shape)
    data = {"boxes": boxes, "labels": labels}
    theirs = keras.utils.bounding_boxes.clip_to_image_size(dict(data), height=H, width=W, bounding_box_format=fmt)
    ours = bb.clip_to_image_size(data, height=H, width=W, bounding_box_format=fmt)
    np.testing.assert_allclose(_np(ours["boxes"]), _np(theirs["boxes"]), atol=1e-5)
    np.testing.assert_array_equal(_np(ours["labels"]), _np(theirs["labels"]))
    assert (_np(ours["labels"]) == -1).any() and (_np(ours["labels"]) >= 0).any()


def test_clip_to_image_size_other_formats_and_errors():
    data = {"boxes": np.array([[-5.0, 10.0, 20.0, 100.0]]), "labels": np.array([3])}  # xywh
    out = bb.clip_to_image_size(data, height=H, width=W, bounding_box_format="xywh")
    np.testing.assert_allclose(_np(out["boxes"]), [[0, 10, 15, 30]])
    with pytest.raises(ValueError, match="height"):
        bb.clip_to_image_size(data, bounding_box_format="xyxy")


@pytest.mark.parametrize("batch", [1, 3])
def test_affine_transform_matches_keras(keras, batch):
    boxes = _xyxy((batch, 4))
    rng = np.random.default_rng(batch)
    params = [rng.uniform(-30, 30, batch), rng.uniform(-0.2, 0.2, batch), rng.uniform(-0.2, 0.2, batch),
              rng.uniform(0.7, 1.3, batch), rng.uniform(-10, 10, batch), rng.uniform(-10, 10, batch)]
    params = [p.astype("float32") for p in params]
    kw = {"height": H, "width": W, "center_x": 0.4, "center_y": 0.6}
    theirs = keras.utils.bounding_boxes.affine_transform(boxes, *[torch.tensor(p) for p in params], **kw)
    ours = bb.affine_transform(boxes, *params, **kw)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-3)
    # another format goes through xyxy
    cxywh = bb.convert_format(boxes, "xyxy", "center_xywh")
    moved = bb.affine_transform(cxywh, *params, **kw, bounding_box_format="center_xywh")
    np.testing.assert_allclose(_np(bb.convert_format(moved, "center_xywh", "xyxy")), _np(theirs), atol=1e-3)


def test_affine_transform_identity_and_rotation_by_90_degrees():
    boxes = torch.tensor([[[1.0, 2.0, 3.0, 6.0]]])
    zeros, ones = torch.zeros(1), torch.ones(1)
    same = bb.affine_transform(boxes, zeros, zeros, zeros, ones, zeros, zeros, height=9, width=9)
    torch.testing.assert_close(same, boxes)
    # 90 degrees about the center (4, 4) of a 9x9 image (y down): (x, y) -> (y, 8 - x)
    turned = bb.affine_transform(boxes, torch.tensor([90.0]), zeros, zeros, ones, zeros, zeros, height=9, width=9)
    torch.testing.assert_close(turned, torch.tensor([[[2.0, 5.0, 6.0, 7.0]]]), atol=1e-4, rtol=0)


def test_crop_and_pad_match_keras(keras):
    boxes = _xyxy((2, 5))
    theirs = keras.utils.bounding_boxes.crop(boxes.copy(), top=5, left=7, height=20, width=30)
    np.testing.assert_allclose(_np(bb.crop(boxes, top=5, left=7, height=20, width=30)), _np(theirs), atol=1e-5)
    theirs = keras.utils.bounding_boxes.pad(boxes.copy(), top=5, left=7)
    np.testing.assert_allclose(_np(bb.pad(torch.tensor(boxes), top=5, left=7)), _np(theirs), atol=1e-5)
    yxyx = bb.convert_format(boxes, "xyxy", "yxyx")
    np.testing.assert_allclose(_np(bb.pad(yxyx, 5, 7, bounding_box_format="yxyx")), _np(theirs)[..., [1, 0, 3, 2]],
                               atol=1e-5)
    with pytest.raises(ValueError, match="pixels"):
        bb.crop(boxes, 1, 1, 5, 5, bounding_box_format="rel_xyxy")


@pytest.mark.parametrize("encoding", ["center_yxhw", "center_xywh"])
@pytest.mark.parametrize("variance", [None, [0.1, 0.1, 0.2, 0.2]])
def test_encode_and_decode_deltas_match_keras(keras, encoding, variance):
    anchors = _xyxy((6,))
    boxes = _xyxy((2, 6))
    kw = {"anchor_format": "xyxy", "box_format": "xywh", "variance": variance}
    boxes_xywh = _np(bb.convert_format(boxes, "xyxy", "xywh"))
    theirs = keras.utils.bounding_boxes.encode_box_to_deltas(anchors, boxes_xywh, encoding_format=encoding, **kw)
    ours = bb.encode_box_to_deltas(anchors, boxes_xywh, encoding_format=encoding, **kw)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-5)
    decoded = bb.decode_deltas_to_boxes(anchors, ours, encoded_format=encoding, **kw)
    theirs = keras.utils.bounding_boxes.decode_deltas_to_boxes(anchors, ours.clone(), encoded_format=encoding, **kw)
    np.testing.assert_allclose(_np(decoded), _np(theirs), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(_np(decoded), boxes_xywh, atol=1e-3)
    levels = bb.decode_deltas_to_boxes({3: anchors}, {3: ours}, encoded_format=encoding, **kw)
    np.testing.assert_allclose(_np(levels[3]), _np(decoded))
    with pytest.raises(ValueError, match="center_xywh"):
        bb.encode_box_to_deltas(anchors, boxes, "xyxy", "xyxy", encoding_format="xyxy")
    with pytest.raises(ValueError, match="length 4"):
        bb.decode_deltas_to_boxes(anchors, boxes, "xyxy", "xyxy", variance=[1.0, 2.0])


@pytest.mark.parametrize("shapes", [((5,), (4,)), ((2, 5), (2, 4)), ((2, 5), (4,)), ((5,), (2, 4))])
@pytest.mark.parametrize("fmt", ["xyxy", "center_yxhw", "rel_xywh"])
def test_compute_iou_matches_keras(keras, shapes, fmt):
    b1, b2 = _xyxy(shapes[0]), _xyxy(shapes[1])
    b1[..., 0, :] = -1.0  # padding rows, masked with use_masking
    image_shape = (H, W, 3)
    b1, b2 = (_np(keras.utils.bounding_boxes.convert_format(b, "xyxy", fmt, height=H, width=W)) for b in (b1, b2))
    for masking in (False, True) if len(shapes[0]) == len(shapes[1]) else (False,):  # Keras masks equal ranks
        kw = {"use_masking": masking, "mask_val": -2, "image_shape": image_shape}
        theirs = keras.utils.bounding_boxes.compute_iou(b1, b2, fmt, **kw)
        ours = bb.compute_iou(b1, torch.tensor(b2), fmt, **kw)
        np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-6)


def test_compute_iou_closed_form_and_errors():
    iou = bb.compute_iou(np.array([[0, 0, 4, 4]]), np.array([[2, 2, 6, 6], [0, 0, 4, 4]]), "xyxy")
    np.testing.assert_allclose(_np(iou), [[4 / 28, 1.0]], rtol=1e-5)
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_iou(np.zeros((1, 4)), np.zeros((1, 4)), "rel_xyxy")
    with pytest.raises(ValueError, match="batch"):
        bb.compute_iou(np.zeros((1, 1, 1, 4)), np.zeros((1, 4)), "xyxy")


@pytest.mark.parametrize("fmt", ["xyxy", "center_xywh", "yxyx"])
def test_compute_ciou_matches_keras(keras, fmt):
    b1, b2 = _xyxy((3, 7)), _xyxy((3, 7))
    b1, b2 = (_np(bb.convert_format(b, "xyxy", fmt)) for b in (b1, b2))
    theirs = keras.utils.bounding_boxes.compute_ciou(b1, b2, fmt)
    ours = bb.compute_ciou(torch.tensor(b1), b2, fmt)
    assert ours.shape == (3, 7)
    np.testing.assert_allclose(_np(ours), _np(theirs), rtol=1e-5, atol=1e-6)
    rel = bb.compute_ciou(b1 / 100, b2 / 100, "rel_" + fmt if fmt != "center_xywh" else "rel_center_xywh",
                          image_shape=(100, 100, 3))
    np.testing.assert_allclose(_np(rel), _np(theirs), atol=1e-4)
    with pytest.raises(ValueError, match="image_shape"):
        bb.compute_ciou(b1, b2, "rel_xyxy")


def test_the_module_lists_keras_names(keras):
    assert set(bb.__all__) == {n for n in dir(keras.utils.bounding_boxes) if not n.startswith("_")}
