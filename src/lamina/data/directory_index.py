"""Which files of a directory make a dataset, with which labels and in which order, as Keras indexes them.

Shared by ``image_dataset_from_directory``, ``text_dataset_from_directory`` and
``audio_dataset_from_directory``: class folders, the file order, the seeded shuffle, the validation split and the
label encoding all follow Keras 3, so a seed gives the same files in the same order as in Keras.

>>> import os, tempfile
>>> root = tempfile.mkdtemp()
>>> for name in ["cat/1.txt", "cat/2.txt", "dog/1.txt"]:
...     os.makedirs(os.path.dirname(os.path.join(root, name)), exist_ok=True)
...     open(os.path.join(root, name), "w").close()
>>> index = index_directory(root, "inferred", (".txt",), shuffle=False, verbose=False)
>>> [os.path.relpath(p, root) for p in index.paths], index.labels.tolist(), index.class_names
(['cat/1.txt', 'cat/2.txt', 'dog/1.txt'], [0, 0, 1], ['cat', 'dog'])
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LABEL_MODES = ("int", "categorical", "binary", None)
SUBSETS = ("training", "validation", "both")


@dataclass
class DirectoryIndex:
    """The files of a dataset (``paths``), their integer labels (``None`` without labels) and the class names."""

    paths: list[str]
    labels: np.ndarray | None
    class_names: list[str] | None

    def take(self, start: int, stop: int | None) -> DirectoryIndex:
        labels = None if self.labels is None else self.labels[start:stop]
        return DirectoryIndex(self.paths[start:stop], labels, self.class_names)


def _inferred(labels: Any) -> bool:
    """``labels="inferred"`` (compared without ``==`` on arrays, which a list of labels may be)."""
    return isinstance(labels, str) and labels == "inferred"


def _walk(folder: str, formats: tuple[str, ...], follow_links: bool) -> list[str]:
    """Files under ``folder`` ending in one of ``formats`` (case-insensitive): folders in sorted order of their
    paths, the files of each folder sorted by name."""
    found = []
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda entry: entry[0]):
        found += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(formats)]
    return found


def index_directory(directory: str, labels: Any, formats: tuple[str, ...], class_names: Sequence[str] | None = None,
                    shuffle: bool = True, seed: int | None = None, follow_links: bool = False,
                    verbose: bool = True) -> DirectoryIndex:
    """The files of ``directory`` with their labels.

    ``labels="inferred"``: one class per subfolder (sorted by name, or in the order of ``class_names``), files found
    recursively inside each. ``labels=None`` or a list: every matching file under ``directory`` (a list gives
    one integer label per file, in that order; its class names are the sorted distinct labels). ``shuffle``
    permutes files and labels with ``np.random.RandomState(seed)`` (a random seed when ``seed`` is None).
    """
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"Could not find directory {directory!r}: pass the path of an existing folder.")
    if _inferred(labels):
        folders = sorted(name for name in os.listdir(directory) if os.path.isdir(os.path.join(directory, name)))
        if class_names is not None:
            if sorted(class_names) != folders:
                raise ValueError(f"The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {folders} (or a permutation of it), but received: "
                                 f"{list(class_names)}")
            folders = list(class_names)
        paths: list[str] = []
        label_list: list[int] = []
        for i, folder in enumerate(folders):
            found = _walk(os.path.join(directory, folder), formats, follow_links)
            paths += found
            label_list += [i] * len(found)
        names: list[str] | None = list(folders)
        label_array: np.ndarray | None = np.asarray(label_list, dtype="int32")
    else:
        paths = _walk(directory, formats, follow_links)
        names, label_array = None, None
        if labels is not None:
            if len(labels) != len(paths):
                raise ValueError(f"Expected the lengths of `labels` to match the number of files in the target "
                                 f"directory. len(labels) is {len(labels)} while we found {len(paths)} files in "
                                 f"directory {directory}.")
            names = [str(c) for c in sorted(set(np.asarray(labels).tolist()))]
            label_array = np.asarray(labels)
    if verbose:
        if label_array is None:
            print(f"Found {len(paths)} files.")
        else:
            print(f"Found {len(paths)} files belonging to {len(names or [])} classes.")
    if shuffle:
        if seed is None:
            seed = np.random.randint(1e6)
        np.random.RandomState(seed).shuffle(paths)
        if label_array is not None:
            np.random.RandomState(seed).shuffle(label_array)
    return DirectoryIndex(paths, label_array, names)


def check_dataset_args(labels: Any, label_mode: Any, class_names: Any, validation_split: float | None,
                       subset: str | None, shuffle: bool, seed: int | None) -> None:
    """The argument checks the ``*_dataset_from_directory`` functions share, with Keras's messages."""
    if not _inferred(labels) and labels is not None and not isinstance(labels, (list, tuple, np.ndarray)):
        raise ValueError("`labels` argument should be a list/tuple of integer labels, of the same size as the "
                         "number of files in the target directory. If you wish to infer the labels from the "
                         "subdirectory names in the target directory, pass `labels=\"inferred\"`. If you wish to "
                         f"get a dataset that only contains files (no labels), pass `labels=None`. Received: "
                         f"labels={labels!r}")
    if class_names is not None and not _inferred(labels):
        raise ValueError("You can only pass `class_names` if `labels=\"inferred\"`. Received: "
                         f"labels={labels!r}, and class_names={class_names!r}")
    if label_mode not in LABEL_MODES:
        raise ValueError(f'`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode!r}")
    if subset is not None and subset not in SUBSETS:
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if (validation_split is None) != (subset is None):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def split_index(index: DirectoryIndex, validation_split: float | None, subset: str | None,
                verbose: bool = True) -> list[DirectoryIndex]:
    """``[index]`` without a split; else the training part (all but the last ``int(validation_split * n)``
    files), the validation part (those last files), or both, as Keras splits. (Keras 3.15 gives an empty
    training set when ``int(validation_split * n)`` is 0; here the training set then keeps every file.)"""
    if not validation_split:
        return [index]
    n = len(index.paths)
    num_val = int(validation_split * n)
    parts = []
    if subset in ("training", "both"):
        if verbose:
            print(f"Using {n - num_val} files for training.")
        parts.append(index.take(0, n - num_val))
    if subset in ("validation", "both"):
        if verbose:
            print(f"Using {num_val} files for validation.")
        parts.append(index.take(n - num_val, None))
    return parts


def encode_labels(labels: np.ndarray, label_mode: str | None, num_classes: int) -> np.ndarray | None:
    """Labels as Keras yields them: ``"int"`` int32 ``(n,)``, ``"categorical"`` float32 one-hot
    ``(n, num_classes)``, ``"binary"`` float32 ``(n, 1)``; ``None`` for ``label_mode=None``."""
    if label_mode is None:
        return None
    ints = np.asarray(labels).astype("int32")
    if label_mode == "int":
        return ints
    if label_mode == "binary":
        return ints.astype("float32").reshape(-1, 1)
    return np.eye(num_classes, dtype="float32")[ints]


def resolve_label_mode(index: DirectoryIndex, labels: Any, label_mode: str | None) -> str | None:
    """``label_mode`` after Keras's rules: ``None`` when there are no labels; ``"binary"`` needs two classes."""
    if labels is None or index.labels is None:
        return None
    if label_mode == "binary" and len(index.class_names or []) != 2:
        raise ValueError(f'When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={index.class_names}. Use label_mode=\"categorical\" or \"int\" for more "
                         "classes.")
    return label_mode


@dataclass
class IndexedSplit:
    """One dataset to build: its files, its label mode, and whether it reshuffles on each pass."""

    index: DirectoryIndex
    label_mode: str | None
    shuffle: bool
    seed: int | None


def indexed_splits(directory: str, labels: Any, label_mode: str | None, class_names: Any,
                   formats: tuple[str, ...], kind: str, shuffle: bool, seed: int | None,
                   validation_split: float | None, subset: str | None, follow_links: bool,
                   verbose: bool) -> list[IndexedSplit]:
    """The steps every ``*_dataset_from_directory`` takes before reading a file: argument checks, the index
    (shuffled with one seed, so that training and validation never overlap), the split. One entry, or two
    (training, validation) for ``subset="both"``; the validation part of ``"both"`` does not reshuffle."""
    check_dataset_args(labels, label_mode, class_names, validation_split, subset, shuffle, seed)
    if seed is None and shuffle:
        seed = np.random.randint(1e6)
    index = index_directory(directory, labels, formats, class_names=class_names, shuffle=shuffle, seed=seed,
                            follow_links=follow_links, verbose=verbose)
    if not index.paths:
        raise ValueError(f"No {kind} found in directory {directory}. Allowed format{'s' if len(formats) > 1 else ''}:"
                         f" {formats}")
    mode = resolve_label_mode(index, labels, label_mode)
    parts = split_index(index, validation_split, subset, verbose=verbose)
    return [IndexedSplit(part, mode, shuffle and not (subset == "both" and i == 1), seed)
            for i, part in enumerate(parts)]
