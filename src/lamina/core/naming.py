"""Keras's snake_case of a class name: the base of automatic layer, loss and metric names and of the group
names in Keras's weight files.

>>> [snake_case(n) for n in ("Conv2D", "MaxPooling2D", "BatchNormalization", "MeanIoU", "AUC")]
['conv2d', 'max_pooling2d', 'batch_normalization', 'mean_io_u', 'auc']
"""

from __future__ import annotations

import re


def snake_case(name: str) -> str:
    """Underscores before each capitalised word and between a lower-case letter and a capital (digits join the
    word before them: ``Conv2D`` -> ``conv2d``), as Keras's ``to_snake_case``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()
