"""Keras's ``keras.visualization``: draw bounding boxes and segmentation masks on image batches (NumPy, no
OpenCV), and plot image galleries with matplotlib (optional: ``pip install lamina[plots]``).

>>> import numpy as np
>>> from lamina import visualization
>>> out = visualization.draw_bounding_boxes(
...     np.zeros((1, 16, 16, 3)), {"boxes": np.array([[[2, 2, 12, 12]]]), "labels": np.array([[0]])}, "xyxy")
>>> out.shape
(1, 16, 16, 3)
"""

from lamina.visualization.draw_bounding_boxes import draw_bounding_boxes
from lamina.visualization.draw_segmentation_masks import draw_segmentation_masks
from lamina.visualization.plot_bounding_box_gallery import plot_bounding_box_gallery
from lamina.visualization.plot_image_gallery import plot_image_gallery
from lamina.visualization.plot_segmentation_mask_gallery import plot_segmentation_mask_gallery

__all__ = [
    "draw_bounding_boxes",
    "draw_segmentation_masks",
    "plot_bounding_box_gallery",
    "plot_image_gallery",
    "plot_segmentation_mask_gallery",
]
