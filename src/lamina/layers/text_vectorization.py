"""``TextVectorization``: raw strings to token indices (or multi-hot, count, TF-IDF vectors), as Keras's.

Each string is standardized (ASCII lower-casing and/or stripping ASCII punctuation, as TensorFlow's string ops
that Keras uses; or your callable, which receives a NumPy array of ``str``), split into tokens (ASCII whitespace,
characters, or your callable), optionally turned into n-grams joined by spaces, and looked up in a vocabulary with
``""`` as the mask/padding token (index 0) and ``"[UNK]"`` for out-of-vocabulary tokens (index 1).

Strings live on the host: the layer takes a list or NumPy array of strings and returns a tensor. Put it in the
data pipeline, or first in a ``Sequential`` model that you ``fit`` on string arrays.

>>> layer = TextVectorization(output_sequence_length=4)
>>> layer.adapt(["foo bar", "bar baz", "baz bada boom"])
>>> layer([["foo qux bar"], ["qux baz"]])
tensor([[4, 1, 3, 0],
        [1, 2, 0, 0]])
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lamina.layers.category_encoding import refuse_sparse
from lamina.layers.host_inputs import HostLayer, to_host_array, to_text
from lamina.layers.lookup import StringLookup

_PUNCTUATION = "!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'"  # what Keras's strip_punctuation regex removes
_STRIP = str.maketrans("", "", _PUNCTUATION)
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")  # TF lowers ASCII only
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")  # TF's split: ASCII whitespace
_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation")
_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _ngrams(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    """All n-grams of ``tokens`` for each width in turn (a width longer than the sequence gives none)."""
    out: list[str] = []
    for n in widths:
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


class TextVectorization(HostLayer):
    """Turn strings into sequences of token indices or into token-count vectors, as Keras's
    ``TextVectorization``.

    Args:
        max_tokens: the largest vocabulary size (``""`` and ``"[UNK]"`` included in ``"int"`` mode).
        standardize: ``"lower_and_strip_punctuation"`` (default), ``"lower"``, ``"strip_punctuation"``, None,
            or a callable taking and returning a NumPy array of ``str``.
        split: ``"whitespace"`` (default), ``"character"``, None (each string is one token), or a callable taking
            the 1-D NumPy array of standardized strings and returning one list of tokens per string.
        ngrams: None, an int ``n`` (1- to n-grams) or a tuple of widths.
        output_mode: ``"int"`` (int64 indices), ``"one_hot"``, ``"multi_hot"``, ``"count"`` (int64) or
            ``"tf_idf"`` (float32).
        output_sequence_length: ``"int"`` mode: truncate or pad (with 0) every sequence to this length; None:
            pad to the longest sequence of the batch.
        pad_to_max_tokens: encode to ``max_tokens`` wide vectors whatever the vocabulary size.
        vocabulary: a list/array of tokens or a text file's path; or None and ``adapt``.
        idf_weights: the IDF weights of ``"tf_idf"`` mode.
        sparse, ragged: must be False: lamina returns dense tensors.
        encoding: the text encoding of ``bytes`` inputs.

    >>> layer = TextVectorization(output_mode="count", vocabulary=["foo", "bar", "baz"])
    >>> layer(["foo bar", "baz foo foo"])
    tensor([[0, 1, 1, 0],
            [0, 2, 0, 1]])
    """

    takes_tensors = False

    def __init__(self, max_tokens: int | None = None, standardize: str | Callable | None =
                 "lower_and_strip_punctuation", split: str | Callable | None = "whitespace",
                 ngrams: int | tuple | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, sparse: bool = False, ragged: bool = False,
                 encoding: str = "utf-8", name: str | None = None, **kwargs: Any):
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"The `standardize` argument of TextVectorization must be one of {_STANDARDIZE}, None "
                             f"or a callable. Received: standardize={standardize}")
        if not (split is None or callable(split) or split in ("whitespace", "character")):
            raise ValueError("The `split` argument of TextVectorization must be one of ('whitespace', "
                             f"'character'), None or a callable. Received: split={split}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise ValueError(f"The `output_mode` argument of TextVectorization must be one of {_MODES}. Received: "
                             f"output_mode={output_mode}")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or isinstance(ngrams, int) or (isinstance(ngrams, tuple) and all(
                isinstance(n, int) for n in ngrams))):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if output_mode == "int" and not (output_sequence_length is None or isinstance(output_sequence_length, int)):
            raise ValueError("`output_sequence_length` must be either None or an integer when `output_mode` is "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("`output_sequence_length` must not be set if `output_mode` is not 'int'. Received "
                             f"output_sequence_length={output_sequence_length}.")
        if ragged:
            raise ValueError("`TextVectorization(ragged=True)` is not supported in lamina: PyTorch has no ragged "
                             "tensors. Use ragged=False; sequences are padded with 0 (to output_sequence_length "
                             "if set).")
        refuse_sparse(sparse, "TextVectorization")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, dtype="float32" if output_mode == "tf_idf" else "int64", **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._ragged = ragged
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._lookup_layer = StringLookup(max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
                                          pad_to_max_tokens=pad_to_max_tokens, mask_token="",
                                          output_mode=output_mode, sparse=sparse,
                                          has_input_vocabulary=has_input_vocabulary, encoding=encoding,
                                          vocabulary_size=vocabulary_size)

    # ------------------------------------------------------------------------------------------ text
    def _standardized(self, arr: np.ndarray) -> np.ndarray:
        """The strings of ``arr`` (any shape) after ``standardize``, as an array of ``str``."""
        texts = np.vectorize(lambda v: to_text(v, self._encoding), otypes=[object])(arr) if arr.size else \
            arr.astype(object)
        if callable(self._standardize):
            result = self._standardize(texts.astype(str) if texts.size else np.zeros(texts.shape, dtype="U1"))
            return to_host_array(result.detach().cpu().numpy() if isinstance(result, torch.Tensor) else result)
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            texts = np.vectorize(lambda s: s.translate(_LOWER), otypes=[object])(texts) if texts.size else texts
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            texts = np.vectorize(lambda s: s.translate(_STRIP), otypes=[object])(texts) if texts.size else texts
        return texts

    def _split_rows(self, texts: np.ndarray) -> list[list[str]]:
        """One token list per string of the 1-D ``texts``."""
        if self._split == "whitespace":
            return [[t for t in _WHITESPACE.split(s) if t] for s in texts.tolist()]
        if self._split == "character":
            return [list(s) for s in texts.tolist()]
        result = self._split(texts.astype(str) if texts.size else np.zeros((0,), dtype="U1"))
        return [[to_text(t, self._encoding) for t in (row.tolist() if isinstance(row, np.ndarray) else row)]
                for row in result]

    def _preprocess(self, inputs: Any) -> list[list[str]] | np.ndarray:
        """Standardized, split (and n-grammed) tokens: a list of token lists per row, or (split=None) an array."""
        arr = to_host_array(inputs)
        texts = self._standardized(arr)
        if self._split is None:
            if self._ngrams is not None:
                rows = texts.reshape(-1, texts.shape[-1]) if texts.ndim > 1 else texts.reshape(1, -1)
                return [_ngrams([str(t) for t in row], self._ngrams) for row in rows]
            return texts
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError("When using `TextVectorization` to tokenize strings, the input rank must be 1 or "
                                 f"the last shape dimension must be 1. Received: inputs.shape={texts.shape} with "
                                 f"rank={texts.ndim}")
            texts = texts.squeeze(-1)
        rows = self._split_rows(texts.reshape(-1))
        if self._ngrams is not None:
            rows = [_ngrams(row, self._ngrams) for row in rows]
        return rows

    # ------------------------------------------------------------------------------------------ vocabulary
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary from strings: a list or NumPy array (one batch), or an iterable of batches (a
        generator, a DataLoader...; ``steps`` limits how many are read). Tokens are ordered by count, ties by
        the token from high to low; ``max_tokens`` keeps the most frequent."""
        self.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, torch.Tensor, str, bytes)):
            arr = to_host_array(data)
            self.update_state(arr[:, None] if arr.ndim == 1 else arr)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                if isinstance(batch, tuple) and len(batch) in (2, 3):
                    batch = batch[0]
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        tokens = self._preprocess(data)
        if isinstance(tokens, list):
            rows = [np.array(row, dtype=object) for row in tokens]
            for row in rows:  # a row of tokens is a document
                self._lookup_layer.update_state(row.reshape(1, -1))
        else:
            self._lookup_layer.update_state(tokens)

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """The vocabulary, index by index (``""`` and ``"[UNK]"`` first in ``"int"`` mode)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def vocabulary_size(self) -> int:
        """The number of indices, the padding and OOV ones included."""
        return self._lookup_layer.vocabulary_size()

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the vocabulary (a list, array or a text file's path) and, in ``"tf_idf"`` mode, the IDF weights."""
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    # ------------------------------------------------------------------------------------------ call
    def call(self, inputs: Any) -> torch.Tensor:
        tokens = self._preprocess(inputs)
        lookup = self._lookup_layer
        if not isinstance(tokens, list):  # split=None: one token per string, the input's shape
            out = lookup.call(tokens)
            if self._output_mode == "int" and self._output_sequence_length is not None:
                out = self._fit_length(out)
            return out
        if self._output_mode != "int":
            width = max((len(r) for r in tokens), default=0)
            padded = np.array([row + [""] * (width - len(row)) for row in tokens], dtype=object).reshape(
                len(tokens), width)
            if width == 0:
                depth = lookup.max_tokens if lookup.pad_to_max_tokens else lookup.vocabulary_size()
                return torch.zeros((len(tokens), depth), dtype=torch.float32 if self._output_mode == "tf_idf"
                                   else torch.int64)
            return lookup.call(padded)  # "" is the mask token: padding encodes as nothing
        ids = [lookup.call(np.array(row, dtype=object)) if row else torch.zeros(0, dtype=torch.int64)
               for row in tokens]
        length = self._output_sequence_length
        if length is None:
            length = max((len(r) for r in ids), default=0)
        out = torch.zeros((len(ids), length), dtype=torch.int64)
        for i, row in enumerate(ids):
            row = row[:length]
            out[i, :len(row)] = row
        return out

    def _fit_length(self, out: torch.Tensor) -> torch.Tensor:
        length = self._output_sequence_length
        out = out[..., :length]
        if out.shape[-1] < length:
            out = torch.nn.functional.pad(out, (0, length - out.shape[-1]))
        return out

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if self._output_mode == "int":
            return (input_shape[0], self._output_sequence_length)
        if self._split is None:
            if len(input_shape) <= 1:
                input_shape = input_shape + (1,)
        else:
            input_shape = input_shape + (None,)
        return self._lookup_layer.compute_output_shape(input_shape)

    # ------------------------------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        """Keras's arguments; ``vocabulary`` and ``idf_weights`` are the current ones (adapted ones too), so a
        saved model keeps them."""
        lookup = self._lookup_layer.get_config()
        return {**super().get_config(), "max_tokens": self._lookup_layer.max_tokens,
                "standardize": self._standardize, "split": self._split, "ngrams": self._ngrams_arg,
                "output_mode": self._output_mode, "output_sequence_length": self._output_sequence_length,
                "pad_to_max_tokens": self._lookup_layer.pad_to_max_tokens, "sparse": False, "ragged": False,
                "vocabulary": lookup["vocabulary"], "idf_weights": lookup["idf_weights"],
                "encoding": self._encoding, "vocabulary_size": self.vocabulary_size(),
                "has_input_vocabulary": self._lookup_layer._has_input_vocabulary}

    def save_own_variables(self, store: Any) -> None:
        self._lookup_layer.save_own_variables(store)

    def load_own_variables(self, store: Any) -> None:
        self._lookup_layer.load_own_variables(store)

    def load_assets(self, dir_path: str) -> None:
        self._lookup_layer.load_assets(dir_path)
