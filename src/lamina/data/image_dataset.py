"""``image_dataset_from_directory``: batches of images (and labels) read from class folders, as Keras's.

Keras returns a ``tf.data.Dataset``; lamina has none, so it returns an ``ImageDirectoryDataset``: a ``PyDataset``
(what ``fit``/``evaluate``/``predict`` take) whose batches are NumPy arrays, read with Pillow when asked for.

>>> import os, tempfile, numpy as np
>>> from lamina.data.images import save_img
>>> root = tempfile.mkdtemp()
>>> for name in ["cat/a.png", "cat/b.png", "dog/c.png"]:
...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
...     save_img(os.path.join(root, name), np.zeros((20, 30, 3)))
>>> ds = image_dataset_from_directory(root, image_size=(8, 8), batch_size=2, shuffle=False)
Found 3 files belonging to 2 classes.
>>> images, labels = ds[0]
>>> images.shape, images.dtype, labels.tolist(), ds.class_names
((2, 8, 8, 3), dtype('float32'), [0, 0], ['cat', 'dog'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lamina.core import config
from lamina.data.directory_index import IndexedSplit, encode_labels, indexed_splits
from lamina.data.image_resize import check_interpolation, resize_image
from lamina.data.images import COLOR_MODES, require_pil
from lamina.data.sample_batches import FileBatches

IMAGE_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}


class ImageDirectoryDataset(FileBatches):
    """The images of ``file_paths`` as float32 batches ``(batch, height, width, channels)`` (channels first with
    ``data_format="channels_first"``), values 0-255, with their labels (``(images, labels)``; images alone when
    there are no labels). ``class_names`` and ``file_paths`` are Keras's attributes of the same names."""

    def __init__(self, split: IndexedSplit, batch_size: int | None, image_size: tuple[int, int], color_mode: str,
                 interpolation: str, crop_to_aspect_ratio: bool, pad_to_aspect_ratio: bool, data_format: str):
        index = split.index
        labels = None if index.labels is None else encode_labels(index.labels, split.label_mode,
                                                                 len(index.class_names or []))
        super().__init__(index.paths, labels, index.class_names, batch_size, shuffle=split.shuffle,
                         seed=split.seed)
        self.image_size = tuple(int(s) for s in image_size)
        self.color_mode = color_mode
        self.interpolation = interpolation
        self.crop_to_aspect_ratio = crop_to_aspect_ratio
        self.pad_to_aspect_ratio = pad_to_aspect_ratio
        self.data_format = data_format

    def read(self, path: str) -> np.ndarray:
        """One file as a float32 array of ``image_size`` (the first frame of an animated GIF)."""
        image_module = require_pil()
        with image_module.open(path) as img:
            img = img.convert(COLOR_MODES[self.color_mode])
            x = np.asarray(img, dtype="float32")
        if x.ndim == 2:
            x = x[:, :, None]
        x = resize_image(x, self.image_size, self.interpolation, crop_to_aspect_ratio=self.crop_to_aspect_ratio,
                         pad_to_aspect_ratio=self.pad_to_aspect_ratio)
        return x.transpose(2, 0, 1) if self.data_format == "channels_first" else x


def image_dataset_from_directory(
    directory: str,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: tuple[int, int] = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    format: str = "tf",
    verbose: bool = True,
) -> ImageDirectoryDataset | list[ImageDirectoryDataset]:
    """Batches of the images in ``directory``, as ``keras.utils.image_dataset_from_directory``.

    With ``labels="inferred"`` each subfolder of ``directory`` is a class (sorted by name, or in the order of
    ``class_names``), its images found recursively; files are ``.bmp``, ``.gif``, ``.jpeg``, ``.jpg``, ``.png``.
    ``labels=None`` reads every image under ``directory`` without labels; a list gives one label per image, in
    the sorted order of the image paths.

    Args:
        label_mode: ``"int"`` (int32 ``(batch,)``), ``"categorical"`` (float32 one-hot), ``"binary"`` (float32
            ``(batch, 1)``, two classes only) or None (images only).
        color_mode: ``"rgb"``, ``"rgba"`` or ``"grayscale"`` (3, 4 or 1 channels).
        batch_size: images per batch (the last batch may be smaller); None for single images.
        image_size: ``(height, width)`` every image is resized to.
        shuffle: shuffle the files (with ``seed``) and reshuffle on every later pass.
        validation_split, subset: keep the last ``int(validation_split * n)`` files of the (shuffled) order
            for ``"validation"``, the others for ``"training"``; ``"both"`` returns ``[training, validation]``.
            Shuffling with a split needs a ``seed``.
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"`` or ``"area"``.
        crop_to_aspect_ratio / pad_to_aspect_ratio: centre-crop, or zero-pad, each image to ``image_size``'s
            aspect ratio before resizing, instead of stretching it.
        data_format: ``"channels_last"`` or ``"channels_first"``; ``image_data_format()`` by default.
        format: accepted for Keras compatibility; lamina always returns its own dataset.
        verbose: print how many files and classes were found.

    Returns:
        An ``ImageDirectoryDataset`` (a ``PyDataset`` of NumPy batches ``(images, labels)``, or ``images`` when
        there are no labels) with ``class_names`` and ``file_paths``; a list of two for ``subset="both"``.

    >>> train, val = image_dataset_from_directory("img", validation_split=0.2, subset="both", seed=1)  # doctest: +SKIP
    >>> model.fit(train, validation_data=val)  # doctest: +SKIP
    """
    if color_mode not in CHANNELS:
        raise ValueError(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: '
                         f"color_mode={color_mode!r}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError("Only one of `crop_to_aspect_ratio` and `pad_to_aspect_ratio` can be set to `True`.")
    if not isinstance(image_size, (tuple, list)) or len(image_size) != 2:
        raise ValueError(f"`image_size` must be a tuple of two integers (height, width); received {image_size!r}.")
    check_interpolation(interpolation)
    data_format = data_format or config.image_data_format()
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f'`data_format` must be "channels_last" or "channels_first"; received {data_format!r}.')
    require_pil()
    splits = indexed_splits(directory, labels, label_mode, class_names, IMAGE_FORMATS, "images", shuffle, seed,
                            validation_split, subset, follow_links, verbose)
    datasets = [ImageDirectoryDataset(s, batch_size, image_size, color_mode, interpolation, crop_to_aspect_ratio,
                                      pad_to_aspect_ratio, data_format) for s in splits]
    return datasets if subset == "both" else datasets[0]
