"""The Reuters newswire topics dataset: 11,228 newswires as word-index sequences, labelled with 46 topics.

Like IMDB, words are numbered by frequency and shifted by ``index_from``. The file is the ``reuters.npz``
Keras publishes, checked against Keras's SHA-256, cached as ``$LAMINA_HOME/datasets/reuters.npz`` and read
without unpickling code. The split into training and test sets happens after one seeded shuffle.

>>> from lamina.datasets import reuters
>>> (x_train, y_train), (x_test, y_test) = reuters.load_data(num_words=10000)  # doctest: +SKIP
>>> len(x_train), len(x_test)  # doctest: +SKIP
(8982, 2246)
>>> reuters.get_label_names()[3]
'earn'
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lamina.data.datasets import _sequences as seq
from lamina.data.datasets._files import Arrays, dataset_file
from lamina.data.datasets._npz import load_npz, require

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters.npz"
FILE_HASH = "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"
WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/reuters_word_index.json"
WORD_INDEX_HASH = "4d44cc38712099c9e383dc6e5f11a921"
"""Keras's URLs and hashes (SHA-256 for the data, MD5 for the word index)."""

LABEL_NAMES = (
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply", "coffee", "sugar",
    "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas", "cpi", "money-fx", "interest", "gnp",
    "meal-feed", "alum", "oilseed", "gold", "tin", "strategic-metal", "livestock", "retail", "ipi", "iron-steel",
    "rubber", "heat", "jobs", "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog",
    "lead",
)
"""The 46 topic names, indexed by label."""


def load_data(
    path: str = "reuters.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    test_split: float = 0.2,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    *,
    mirror: str | Sequence[str] | None = None,
) -> Arrays:
    """Load Reuters as ``(x_train, y_train), (x_test, y_test)``, the way ``keras.datasets.reuters`` does.

    Args:
        path: the file's name in ``$LAMINA_HOME/datasets``.
        num_words: keep the ``num_words`` most frequent words; others become ``oov_char``. None keeps all.
        skip_top: also turn indexes below ``skip_top`` into ``oov_char``.
        maxlen: drop (not truncate) the newswires of ``maxlen`` words or more, start marker included.
        test_split: the fraction of newswires that go to the test set; the training set gets the first
            ``int(n * (1 - test_split))`` after shuffling.
        seed: seeds ``np.random.RandomState``, which shuffles all newswires once before the split.
        start_char: put at the start of every newswire; None for no marker.
        oov_char: what cut-out words become; None drops them instead.
        index_from: added to every word index.
        mirror: base URL(s) serving ``reuters.npz``, instead of ``LAMINA_DATASETS_MIRROR`` or Keras's bucket.

    Returns:
        ``x_train``, ``x_test``: 1-D object arrays of lists of ints; ``y_train``, ``y_test``: int arrays (0-45).

    >>> (x_train, y_train), (x_test, y_test) = load_data(test_split=0.1)  # doctest: +SKIP
    """
    file = dataset_file("Reuters", path, ORIGIN, FILE_HASH, mirror)
    xs, labels = require(load_npz(file), ("x", "y"), file)
    xs, labels = seq.shuffled(np.random.RandomState(seed), xs, labels)
    sequences = seq.mark(seq.as_lists(xs, file), start_char, index_from)
    sequences, labels = seq.drop_long(maxlen, sequences, labels)
    sequences = seq.cut_vocabulary(sequences, num_words, skip_top, oov_char)
    split = int(len(sequences) * (1 - test_split))
    return (
        (seq.object_array(sequences[:split]), labels[:split]),
        (seq.object_array(sequences[split:]), labels[split:]),
    )


def get_word_index(
    path: str = "reuters_word_index.json", *, mirror: str | Sequence[str] | None = None
) -> dict[str, int]:
    """The ``{word: index}`` dict of Reuters (add ``index_from``, 3 by default, to match the sequences).

    >>> get_word_index()["the"]  # doctest: +SKIP
    1
    """
    return seq.read_word_index(dataset_file("Reuters word index", path, WORD_INDEX_ORIGIN, WORD_INDEX_HASH, mirror))


def get_label_names() -> tuple[str, ...]:
    """The 46 topic names, in label order.

    >>> len(get_label_names())
    46
    """
    return LABEL_NAMES
