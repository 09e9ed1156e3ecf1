"""The word-index sequence preparation IMDB and Reuters share: shuffling, marking, length and vocabulary cuts.

>>> import numpy as np
>>> seqs = [[1, 5, 2], [7]]
>>> mark(seqs, start_char=1, index_from=3)
[[1, 4, 8, 5], [1, 10]]
>>> cut_vocabulary([[1, 4, 8, 5], [1, 10]], num_words=6, skip_top=0, oov_char=2)
[[1, 4, 2, 5], [1, 2]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from lamina.core import bounded_json
from lamina.data.datasets._files import DatasetIntegrityError


def shuffled(rng: np.random.RandomState, *arrays: np.ndarray) -> list[np.ndarray]:
    """``arrays`` reordered by one permutation drawn with ``rng.shuffle`` over their indices."""
    indices = np.arange(len(arrays[0]))
    rng.shuffle(indices)
    return [array[indices] for array in arrays]


def as_lists(array: np.ndarray, where: str) -> list[list[int]]:
    """The sequences of an object array as lists of ints; raises if an item is not a list of ints."""
    out = []
    for item in array.tolist() if array.dtype == object else array:
        seq = item.tolist() if isinstance(item, np.ndarray) else item
        if not isinstance(seq, list):
            raise DatasetIntegrityError(f"{where} should hold lists of word indexes, found {type(seq).__name__}")
        out.append(seq)
    return out


def mark(seqs: list[list[int]], start_char: int | None, index_from: int) -> list[list[int]]:
    """Shift every index by ``index_from`` and, unless ``start_char`` is None, put it at each start."""
    if start_char is not None:
        return [[start_char] + [w + index_from for w in seq] for seq in seqs]
    if index_from:
        return [[w + index_from for w in seq] for seq in seqs]
    return seqs


def drop_long(maxlen: int | None, seqs: list[list[int]], labels: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
    """Keep only the sequences shorter than ``maxlen`` (as Keras does: longer ones are dropped, not cut)."""
    if not maxlen:
        return seqs, labels
    keep = [i for i, seq in enumerate(seqs) if len(seq) < maxlen]
    return [seqs[i] for i in keep], labels[np.asarray(keep, dtype=np.int64)]


def cut_vocabulary(
    seqs: list[list[int]], num_words: int | None, skip_top: int, oov_char: int | None
) -> list[list[int]]:
    """Keep indexes in ``[skip_top, num_words)``; others become ``oov_char``, or are dropped if it is None.

    ``num_words=None`` (or 0) means the largest index present.
    """
    if not num_words:
        num_words = max((max(seq) for seq in seqs if seq), default=0)
    if oov_char is not None:
        return [[w if skip_top <= w < num_words else oov_char for w in seq] for seq in seqs]
    return [[w for w in seq if skip_top <= w < num_words] for seq in seqs]


def object_array(seqs: Sequence[list[int]]) -> np.ndarray:
    """A 1-D object array holding each sequence as a list (even when all have the same length)."""
    out = np.empty(len(seqs), dtype=object)
    for i, seq in enumerate(seqs):
        out[i] = seq
    return out


def read_word_index(path: str | os.PathLike[str]) -> dict[str, int]:
    """The ``{word: index}`` dict in the JSON file at ``path``, checked to be that shape."""
    try:
        with open(path, "rb") as f:
            index = bounded_json.loads(f.read(), f"the word index {os.fspath(path)!r}")
    except ValueError as exc:  # malformed, not UTF-8, or over the bounded parser's limits
        raise DatasetIntegrityError(f"{path} is not a JSON word index ({exc}); delete it to download it again") from exc
    if not isinstance(index, dict) or not all(isinstance(v, int) for v in index.values()):
        raise DatasetIntegrityError(f"{path} should hold a JSON object mapping words to integer indexes")
    return index
