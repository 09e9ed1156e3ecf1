"""Spatial-window helpers of conv and pooling layers: TensorFlow's 'same' padding (closed forms), argument checks,
channels-first views (no copy), and the shape errors' wording."""

import pytest
import torch

from lamina import layers
from lamina.layers import spatial


@pytest.mark.parametrize(("size", "kernel", "stride", "dilation", "expected"), [
    (5, 3, 1, 1, (1, 1)), (5, 2, 1, 1, (0, 1)), (5, 2, 2, 1, (0, 1)), (6, 3, 2, 1, (0, 1)), (7, 3, 2, 2, (2, 2)),
    (4, 1, 1, 1, (0, 0)), (2, 5, 1, 1, (2, 2)),
])
def test_same_padding_follows_tensorflow(size, kernel, stride, dilation, expected):
    assert spatial.same_padding(size, kernel, stride, dilation) == expected
    before, after = expected
    effective = (kernel - 1) * dilation + 1
    assert (size + before + after - effective) // stride + 1 == -(-size // stride)  # 'same': ceil(size / stride)


def test_pad_same_leaves_symmetric_padding_to_the_op_and_pads_odd_ones_itself():
    x = torch.ones(1, 2, 5, 5)
    same, pads = spatial.pad_same(x, (3, 3), (1, 1), (1, 1))
    assert same is x and pads == (1, 1)
    padded, pads = spatial.pad_same(x, (2, 2), (1, 1), (1, 1))
    assert tuple(padded.shape) == (1, 2, 6, 6) and pads == (0, 0)
    assert padded[0, 0, -1].sum() == 0 and padded[0, 0, 0].sum() == 5  # the odd pixel goes after


def test_argument_checks_name_the_argument_and_the_layer():
    assert spatial.standardize_tuple(3, 2, "kernel_size", "Conv2D") == (3, 3)
    assert spatial.standardize_tuple([2, 4], 2, "strides", "Conv2D") == (2, 4)
    for bad in (0, (1, 2, 3), "3", True):
        with pytest.raises(ValueError, match="Conv2D: `kernel_size` must be a positive int"):
            spatial.standardize_tuple(bad, 2, "kernel_size", "Conv2D")
    assert spatial.standardize_padding("SAME", "Conv1D") == "same"
    assert spatial.standardize_padding("causal", "Conv1D", allow_causal=True) == "causal"
    with pytest.raises(ValueError, match="Conv2D: `padding` must be one of 'valid', 'same'"):
        spatial.standardize_padding("causal", "Conv2D")


def test_channels_first_views_share_memory():
    x = torch.randn(2, 4, 5, 3)
    view = spatial.to_channels_first(x, "channels_last")
    assert tuple(view.shape) == (2, 3, 4, 5) and view.data_ptr() == x.data_ptr()
    assert spatial.to_data_format(view, "channels_last").data_ptr() == x.data_ptr()
    assert spatial.to_channels_first(x, "channels_first") is x


def test_shape_errors_say_the_layout_and_the_fix():
    conv = layers.Conv2D(2, 3, name="c")
    with pytest.raises(ValueError, match=r"'c' expects inputs of rank 4 \(batch, height, width, channels\)"):
        spatial.check_rank(conv, (None, 5, 3), 2, "channels_last")
    with pytest.raises(ValueError, match=r"too small for its kernel of size \(3, 3\).*padding='same'"):
        spatial.check_window_fits(conv, (None, 2, 5, 1), (3, 3), (1, 1), "channels_last")
