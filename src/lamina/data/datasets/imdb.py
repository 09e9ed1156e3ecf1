"""The IMDB movie-review sentiment dataset: 25,000 training and 25,000 test reviews as word-index sequences.

Words are numbered by frequency (1 is the most frequent word); ``index_from`` shifts them to leave room for
padding (0), the start marker and the out-of-vocabulary marker. The file is the ``imdb.npz`` Keras publishes,
checked against Keras's SHA-256, cached as ``$LAMINA_HOME/datasets/imdb.npz`` and read without unpickling
code (:mod:`lamina.data.datasets._npz`).

>>> from lamina.datasets import imdb
>>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)  # doctest: +SKIP
>>> len(x_train), y_train[:3]  # doctest: +SKIP
(25000, array([1, 0, 0]))
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lamina.data.datasets import _sequences as seq
from lamina.data.datasets._files import Arrays, dataset_file
from lamina.data.datasets._npz import load_npz, require

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
FILE_HASH = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_HASH = "bfafd718b763782e994055a2d397834f"
"""Keras's URLs and hashes (SHA-256 for the data, MD5 for the word index)."""


def load_data(
    path: str = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    *,
    mirror: str | Sequence[str] | None = None,
) -> Arrays:
    """Load IMDB as ``(x_train, y_train), (x_test, y_test)``, the way ``keras.datasets.imdb`` does.

    Args:
        path: the file's name in ``$LAMINA_HOME/datasets``.
        num_words: keep the ``num_words`` most frequent words (indexes below it, after ``index_from``);
            others become ``oov_char``. None keeps all.
        skip_top: also turn indexes below ``skip_top`` into ``oov_char``.
        maxlen: drop (not truncate) the reviews of ``maxlen`` words or more, start marker included.
        seed: seeds ``np.random.RandomState``, which shuffles the training set, then the test set.
        start_char: put at the start of every review; None for no marker.
        oov_char: what cut-out words become; None drops them instead.
        index_from: added to every word index.
        mirror: base URL(s) serving ``imdb.npz``, instead of ``LAMINA_DATASETS_MIRROR`` or Keras's bucket.

    Returns:
        ``x_train``, ``x_test``: 1-D object arrays of lists of ints; ``y_train``, ``y_test``: int arrays of 0/1.

    Raises:
        ValueError: ``maxlen`` leaves no training or no test review.
        DatasetUnavailableError, DatasetIntegrityError: the file cannot be had, or is not what it should be.

    >>> (x_train, y_train), _ = load_data(num_words=5000, maxlen=200)  # doctest: +SKIP
    >>> max(len(s) for s in x_train) < 200  # doctest: +SKIP
    True
    """
    file = dataset_file("IMDB", path, ORIGIN, FILE_HASH, mirror)
    x_train, y_train, x_test, y_test = require(load_npz(file), ("x_train", "y_train", "x_test", "y_test"), file)
    rng = np.random.RandomState(seed)
    x_train, y_train = seq.shuffled(rng, x_train, y_train)
    x_test, y_test = seq.shuffled(rng, x_test, y_test)
    train = seq.mark(seq.as_lists(x_train, file), start_char, index_from)
    test = seq.mark(seq.as_lists(x_test, file), start_char, index_from)
    if maxlen:
        train, y_train = seq.drop_long(maxlen, train, y_train)
        test, y_test = seq.drop_long(maxlen, test, y_test)
        for name, kept in (("training", train), ("test", test)):
            if not kept:
                raise ValueError(f"maxlen={maxlen} leaves no {name} review (each is at least {maxlen} long); "
                                 "pass a larger maxlen or None")
    merged = seq.cut_vocabulary(train + test, num_words, skip_top, oov_char)
    split = len(train)
    return (seq.object_array(merged[:split]), y_train), (seq.object_array(merged[split:]), y_test)


def get_word_index(
    path: str = "imdb_word_index.json", *, mirror: str | Sequence[str] | None = None
) -> dict[str, int]:
    """The ``{word: index}`` dict of IMDB (index 1 is the most frequent word, before ``index_from``).

    >>> index = get_word_index()  # doctest: +SKIP
    >>> index["the"]  # doctest: +SKIP
    1
    """
    return seq.read_word_index(dataset_file("IMDB word index", path, WORD_INDEX_ORIGIN, WORD_INDEX_HASH, mirror))
