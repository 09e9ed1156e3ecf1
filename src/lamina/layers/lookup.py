"""``StringLookup`` and ``IntegerLookup``: map tokens to vocabulary indices (or back, with ``invert=True``).

The index layout is Keras's: ``[mask_token]`` (``output_mode="int"`` only) + ``num_oov_indices`` OOV slots + the
vocabulary. Out-of-vocabulary tokens go to the single OOV slot, or, with several, to a slot chosen by FarmHash
``Fingerprint64`` (strings, or integers with ``oov_method="farmhash"``; SipHash when salted) or by ``token %
num_oov_indices`` (integers, ``oov_method="floormod"``). ``adapt`` orders the vocabulary by frequency, ties by the
token from high to low, as Keras.

Strings live on the host: ``StringLookup`` takes a ``str``, lists or NumPy arrays and returns a tensor (see
``lamina.layers.host_inputs``). The vocabulary (and the IDF weights of ``"tf_idf"``) travel in ``get_config``, so
saving a model keeps them.

>>> StringLookup(vocabulary=["a", "b", "c", "d"])([["a", "c", "d"], ["d", "z", "b"]])
tensor([[1, 3, 4],
        [4, 0, 2]])
"""

from __future__ import annotations

import math
import os
from collections import Counter
from typing import Any

import numpy as np
import torch

from lamina.layers.category_encoding import encode, refuse_sparse
from lamina.layers.fingerprint import fingerprint64, siphash24
from lamina.layers.host_inputs import HostLayer, to_bytes, to_host_array, to_text

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


def _salt_pair(salt: Any) -> list[int] | None:
    if salt is None:
        return None
    if isinstance(salt, (tuple, list)) and len(salt) == 2:
        return [int(salt[0]), int(salt[1])]
    if isinstance(salt, int):
        return [salt, salt]
    raise ValueError(f"The `salt` argument for `IndexLookup` can only be a tuple of 2 integers, or a single "
                     f"integer. Received: salt={salt}.")


class IndexLookup(HostLayer):
    """The shared machinery of ``StringLookup`` and ``IntegerLookup`` (use those)."""

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any, oov_token: Any,
                 vocabulary_dtype: str, vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", sparse: bool = False, pad_to_max_tokens: bool = False,
                 oov_method: str = "floormod", name: str | None = None, salt: Any = None, **kwargs: Any):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"`num_oov_indices` must be greater than or equal to 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if oov_method not in ("floormod", "farmhash"):
            raise ValueError(f"oov_method must be 'floormod' or 'farmhash'. Received: oov_method={oov_method}")
        if salt is not None and vocabulary_dtype == "int64" and oov_method != "farmhash":
            raise ValueError(f"`salt` can only be used when `oov_method='farmhash'`. Received: "
                             f"oov_method={oov_method}")
        output_mode = {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode)
        if output_mode not in _MODES:
            raise ValueError(f"The `output_mode` argument of {type(self).__name__} must be one of {_MODES}. "
                             f"Received: output_mode={output_mode}")
        if invert and output_mode != "int":
            raise ValueError(f"`output_mode` must be `'int'` when `invert` is true. Received: "
                             f"output_mode={output_mode}")
        if sparse and output_mode == "int":
            raise ValueError("`sparse` may only be true if `output_mode` is `'one_hot'`, `'multi_hot'`, `'count'` "
                             f"or `'tf_idf'`. Received: sparse={sparse} and output_mode={output_mode}")
        refuse_sparse(sparse, type(self).__name__)
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"`idf_weights` should only be set if `output_mode` is `'tf_idf'`. Received: "
                             f"idf_weights={idf_weights} and output_mode={output_mode}")
        self._frozen_vocab_size = kwargs.pop("vocabulary_size", None)
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        if kwargs:
            raise ValueError(f"Unrecognized keyword argument(s): {kwargs}")
        super().__init__(name=name, dtype="int64" if output_mode != "tf_idf" else "float32")
        self.invert = invert
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = sparse
        self.pad_to_max_tokens = pad_to_max_tokens
        self.vocabulary_dtype = vocabulary_dtype
        self.oov_method = oov_method
        self.salt = _salt_pair(salt)
        self._has_input_vocabulary = has_input_vocabulary
        self._tokens: list = []
        self._index: dict = {}
        self.idf_weights: np.ndarray | None = None
        self._counts: Counter = Counter()
        self._doc_counts: Counter = Counter()
        self._num_documents = 0
        if output_mode == "tf_idf" and has_input_vocabulary and vocabulary is not None and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ------------------------------------------------------------------------------------------ tokens
    def _token(self, value: Any) -> Any:
        """One input element as a vocabulary key (``str`` for strings, ``int`` for integers)."""
        raise NotImplementedError

    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: the mask (``"int"`` mode) and OOV slots plus the vocabulary."""
        return len(self._tokens) + self._token_start_index()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The vocabulary, index by index: the mask token, the OOV token repeated ``num_oov_indices`` times,
        then the tokens (only the tokens when ``include_special_tokens=False``)."""
        specials = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        return (specials if include_special_tokens else []) + list(self._tokens)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Set the vocabulary (a list, array, tensor, or the path of a text file with one token a line), and
        the IDF weights in ``"tf_idf"`` mode. It may start with the mask and OOV tokens in Keras's order."""
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError(f"`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: "
                             f"output_mode={self.output_mode} and idf_weights={idf_weights}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if not os.path.exists(vocabulary):
                raise ValueError(f"Vocabulary file {vocabulary} does not exist.")
            if self.output_mode == "tf_idf":
                raise ValueError("output_mode `'tf_idf'` does not support loading a vocabulary from file.")
            with open(vocabulary, encoding="utf-8") as f:
                vocabulary = f.read().splitlines()
        tokens = [self._token(v) for v in to_host_array(vocabulary).reshape(-1).tolist()]
        if not tokens:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        token_start = self._token_start_index()
        specials = [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices
        found_specials = tokens[:token_start] == specials
        if found_specials:
            tokens = tokens[token_start:]
        repeated = [t for t, c in Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError(f"The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {repeated}")
        for special, what in ((self.mask_token, "mask_token"), (self.oov_token if self.invert else None,
                                                                "oov_token")):
            if special is not None and special in tokens:
                raise ValueError(f"Found reserved {what} at unexpected location in `vocabulary`. Note that passed "
                                 "`vocabulary` does not need to include the OOV and mask tokens. Either remove all "
                                 "mask and OOV tokens, or include them only at the start of the vocabulary in "
                                 f"precisely this order: {specials}. Received: {what}={special}")
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError(f"Attempted to set a vocabulary larger than the maximum vocab size. Received "
                             f"vocabulary size is {token_start + len(tokens)}; `max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights.detach().cpu() if isinstance(idf_weights, torch.Tensor)
                                 else idf_weights, dtype=np.float64)
            if weights.ndim != 1:
                raise ValueError(f"TF-IDF data must be a 1-index array. Received: type(idf_weights)="
                                 f"{type(idf_weights)}")
            if len(weights) != len(tokens) + (token_start if found_specials else 0):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(weights)}; len(vocabulary) is {len(vocabulary)}")
            if not found_specials:
                weights = np.concatenate([np.full(token_start, weights.mean()), weights])
            self._set_idf(weights.astype(np.float32))

    def _set_tokens(self, tokens: list) -> None:
        self._tokens = list(tokens)
        start = self._token_start_index()
        self._index = {t: i + start for i, t in enumerate(self._tokens)}
        self._check_vocabulary_size_unchanged()

    def _set_idf(self, weights: np.ndarray) -> None:
        """The IDF weights of every index (the special ones included), padded to ``max_tokens`` if asked."""
        if self.pad_to_max_tokens and self.max_tokens is not None:
            weights = np.pad(weights, (0, self.max_tokens - len(weights)))
        self.idf_weights = weights.astype(np.float32)

    def _check_vocabulary_size_unchanged(self) -> None:
        size = self.vocabulary_size()
        if self.output_mode != "int" and not self.pad_to_max_tokens and self._frozen_vocab_size is not None \
                and size != self._frozen_vocab_size:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, the "
                               f"vocabulary size cannot be changed after the layer is called. Old vocab size is "
                               f"{self._frozen_vocab_size}, new vocab size is {size}")
        self._frozen_vocab_size = size

    # ------------------------------------------------------------------------------------------ adapt
    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary from ``data``: a NumPy array, list or tensor (one batch; a 1-D one is a column
        of one-token documents), or an iterable of batches (a generator, a DataLoader...; ``steps`` limits how
        many are read). Tokens are ordered by count, ties by the token from high to low; ``max_tokens`` keeps
        the most frequent. In ``"tf_idf"`` mode, every row is a document for the IDF weights."""
        self.reset_state()
        if isinstance(data, (list, tuple, np.ndarray, torch.Tensor, str, bytes)):
            arr = to_host_array(data)
            self.update_state(arr[:, None] if arr.ndim == 1 else arr)
        elif hasattr(data, "__iter__"):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                if isinstance(batch, tuple) and len(batch) in (2, 3):
                    batch = batch[0]
                self.update_state(batch)
        else:
            raise TypeError(f"adapt() takes an array, a list or an iterable of batches; received {type(data)}.")
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        """Count the tokens of one batch (``adapt`` calls it for every batch)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via "
                             "`vocabulary` argument or `set_vocabulary()` method.")
        arr = to_host_array(data)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim == 1:
            arr = arr.reshape(1, -1)
        rows = [[self._token(v) for v in row.reshape(-1).tolist()] for row in arr]
        for row in rows:
            self._counts.update(row)
        if self.output_mode == "tf_idf":
            for row in rows:
                self._doc_counts.update(set(row))
            self._num_documents += len(rows)

    def _sort_key(self, token: Any) -> Any:
        return token

    def finalize_state(self) -> None:
        """Turn the counts into the vocabulary (and IDF weights)."""
        if self._has_input_vocabulary or not self._counts:
            return
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                self._counts.pop(special, None)
        ordered = sorted(self._counts, key=lambda t: (self._counts[t], self._sort_key(t)), reverse=True)
        if self.max_tokens:
            ordered = ordered[:self.max_tokens - self._token_start_index()]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            n = self._num_documents
            idf = np.array([math.log(1 + n / (1 + self._doc_counts[t])) for t in ordered], dtype=np.float32)
            mean = idf.mean(dtype=np.float32) if len(idf) else np.float32(0)
            self._set_idf(np.concatenate([np.full(self._token_start_index(), mean, np.float32), idf]))
        self.reset_state()

    def reset_state(self) -> None:
        """Forget the counts of an unfinished ``adapt``."""
        self._counts = Counter()
        self._doc_counts = Counter()
        self._num_documents = 0

    # ------------------------------------------------------------------------------------------ call
    def _oov_index(self, token: Any) -> int:
        n = self.num_oov_indices
        if n == 1:
            return self._oov_start_index()
        if isinstance(token, int) and self.oov_method != "farmhash":
            return token % n + self._oov_start_index()
        data = to_bytes(token)
        h = siphash24(tuple(self.salt), data) if self.salt is not None else fingerprint64(data)
        return h % n + self._oov_start_index()

    def _lookup(self, arr: np.ndarray) -> np.ndarray:
        masked = -1 if self.output_mode != "int" else 0
        out = []
        for v in arr.reshape(-1).tolist():
            token = self._token(v)
            if self.mask_token is not None and token == self.mask_token:
                out.append(masked)
            elif token in self._index:
                out.append(self._index[token])
            elif self.num_oov_indices == 0:
                raise ValueError(f"When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                                 f"[{token!r}], consider setting `num_oov_indices=1`.")
            else:
                out.append(self._oov_index(token))
        return np.asarray(out, dtype=np.int64).reshape(arr.shape)

    def _invert(self, arr: np.ndarray) -> np.ndarray:
        vocab = self.get_vocabulary()
        start = self._token_start_index()
        out = []
        for i in arr.reshape(-1).tolist():
            i = int(i)
            if self.mask_token is not None and i == 0:
                out.append(self.mask_token)
            elif start <= i < len(vocab):
                out.append(vocab[i])
            else:
                out.append(self.oov_token)
        return np.asarray(out, dtype=object).reshape(arr.shape)

    def call(self, inputs: Any) -> Any:
        device = inputs.device if isinstance(inputs, torch.Tensor) else None
        if self.output_mode != "int" and not self.pad_to_max_tokens and not self._tokens:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you "
                               "must set the layer's vocabulary before calling it. Either pass a `vocabulary` "
                               "argument to the layer, or call `adapt` with some sample data.")
        arr = to_host_array(inputs)
        if self.invert:
            return self._finish_invert(self._invert(arr), device)
        ids = torch.from_numpy(self._lookup(arr))
        if self.output_mode != "int":
            depth = self.max_tokens if self.pad_to_max_tokens else self.vocabulary_size()
            mode = "count" if self.output_mode == "tf_idf" else self.output_mode
            out = encode(ids, mode, depth, "int64", drop_negative=True)  # mask tokens encode as nothing
            if self.output_mode == "tf_idf":
                out = out.to(torch.float32) * torch.from_numpy(self.idf_weights)
            ids = out
        self.built = True
        return ids.to(device) if device is not None else ids

    def _finish_invert(self, tokens: np.ndarray, device: Any) -> Any:
        return tokens

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            if len(input_shape) > 1 and input_shape[-1] == 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)

    # ------------------------------------------------------------------------------------------ saving
    def get_config(self) -> dict:
        """Keras's arguments; the vocabulary and IDF weights are the current ones (adapted ones too, with the
        special tokens first), so a saved model keeps them."""
        vocabulary = self.get_vocabulary() if self._tokens else None
        idf = None
        if self.idf_weights is not None and vocabulary is not None:
            idf = [float(w) for w in self.idf_weights[:len(vocabulary)]]
        return {**super().get_config(), "invert": self.invert, "max_tokens": self.max_tokens,
                "num_oov_indices": self.num_oov_indices, "oov_token": self.oov_token,
                "mask_token": self.mask_token, "output_mode": self.output_mode, "sparse": self.sparse,
                "pad_to_max_tokens": self.pad_to_max_tokens, "vocabulary_dtype": self.vocabulary_dtype,
                "idf_weights": idf, "vocabulary": vocabulary, "vocabulary_size": self._frozen_vocab_size,
                "oov_method": self.oov_method, "salt": self.salt,
                "has_input_vocabulary": self._has_input_vocabulary}

    def save_own_variables(self, store: Any) -> None:
        """Keras's layout: the IDF weights (``"tf_idf"`` mode) under ``"idf_weights"``."""
        if self.output_mode == "tf_idf" and self.idf_weights is not None:
            store["idf_weights"] = self.idf_weights

    def load_own_variables(self, store: Any) -> None:
        if self.output_mode == "tf_idf" and "idf_weights" in store:
            self.idf_weights = np.asarray(store["idf_weights"], dtype=np.float32)

    def load_assets(self, dir_path: str) -> None:
        """Read a Keras ``vocabulary.txt`` (what Keras writes for an adapted layer), unless the config had one."""
        path = os.path.join(dir_path, "vocabulary.txt")
        if self._tokens or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        while lines and lines[-1] == "":
            lines.pop()
        idf = self.idf_weights[:len(lines)] if self.output_mode == "tf_idf" else None
        self._has_input_vocabulary, keep = False, self._has_input_vocabulary
        self.set_vocabulary(lines, idf_weights=idf)
        self._has_input_vocabulary = keep


class StringLookup(IndexLookup):
    """Map strings to integer indices of a vocabulary (given, or learnt by ``adapt``), as Keras's
    ``StringLookup``.

    Args:
        max_tokens: the largest vocabulary size (special tokens included); None: no limit.
        num_oov_indices: the number of out-of-vocabulary slots (0: OOV tokens are an error).
        mask_token: a token mapped to 0 in ``"int"`` mode (dropped in the other modes); None: no mask.
        oov_token: the token the OOV slots stand for in ``get_vocabulary`` and ``invert`` (``"[UNK]"``).
        vocabulary: a list/array of tokens or a text file's path; or None and ``adapt``.
        idf_weights: the IDF weights of ``"tf_idf"`` mode, one per vocabulary token.
        invert: map indices back to tokens (returns a NumPy array of ``str``).
        output_mode: ``"int"`` (int64 indices), ``"one_hot"``, ``"multi_hot"``, ``"count"`` (int64) or
            ``"tf_idf"`` (float32).
        pad_to_max_tokens: encode to ``max_tokens`` wide vectors whatever the vocabulary size.
        sparse: must be False: lamina returns dense tensors.
        encoding: the text encoding of ``bytes`` inputs.
        salt: key the OOV hashing with SipHash (an int or two).

    >>> layer = StringLookup()
    >>> layer.adapt([["a", "c", "d"], ["d", "z", "b"]])
    >>> layer.get_vocabulary()
    ['[UNK]', 'd', 'z', 'c', 'b', 'a']
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False, sparse: bool = False,
                 encoding: str = "utf-8", name: str | None = None, salt: Any = None, **kwargs: Any):
        self.encoding = encoding
        kwargs.pop("vocabulary_dtype", None)
        kwargs.pop("oov_method", None)
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name,
                         salt=salt, vocabulary_dtype="string", **kwargs)

    takes_tensors = False  # a tensor can only hold indices (invert=True): handled on the host as well

    def _token(self, value: Any) -> Any:
        return to_text(value, self.encoding)

    def _sort_key(self, token: Any) -> Any:
        return token.encode("utf-8")  # Keras breaks ties by the tokens' bytes

    def get_config(self) -> dict:
        config = super().get_config()
        del config["vocabulary_dtype"]
        return {**config, "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Map integers to contiguous indices of a vocabulary (given, or learnt by ``adapt``), as Keras's
    ``IntegerLookup``.

    Arguments as ``StringLookup`` (``mask_token`` and ``oov_token`` are integers; ``oov_token`` defaults to -1),
    plus ``vocabulary_dtype`` (``"int64"`` only) and ``oov_method``: ``"floormod"`` (an OOV value ``v`` goes to
    slot ``v % num_oov_indices``) or ``"farmhash"`` (its decimal string is hashed). ``invert=True`` returns an
    int64 tensor of tokens.

    >>> import numpy as np
    >>> IntegerLookup(vocabulary=[12, 36, 1138, 42])(np.array([[12, 1138, 42], [42, 1000, 36]]))
    tensor([[1, 3, 4],
            [4, 0, 2]])
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int = -1, vocabulary: Any = None, vocabulary_dtype: str = "int64",
                 idf_weights: Any = None, invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, oov_method: str = "floormod", salt: Any = None,
                 name: str | None = None, **kwargs: Any):
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError(f"If `max_tokens` is set for `IntegerLookup`, it must be greater than 1. Received: "
                             f"max_tokens={max_tokens}")
        if num_oov_indices < 0:
            raise ValueError(f"The value of `num_oov_indices` argument for `IntegerLookup` must >= 0. Received: "
                             f"num_oov_indices={num_oov_indices}")
        if vocabulary_dtype != "int64":
            raise ValueError(f"Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        super().__init__(max_tokens=max_tokens, num_oov_indices=num_oov_indices, mask_token=mask_token,
                         oov_token=oov_token, vocabulary=vocabulary, vocabulary_dtype=vocabulary_dtype,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode, sparse=sparse,
                         pad_to_max_tokens=pad_to_max_tokens, oov_method=oov_method, salt=salt, name=name,
                         **kwargs)

    def _token(self, value: Any) -> Any:
        if isinstance(value, (str, bytes)):
            return int(to_text(value))  # a vocabulary file's lines
        return int(value)

    def _finish_invert(self, tokens: np.ndarray, device: Any) -> Any:
        out = torch.from_numpy(tokens.astype(np.int64))
        return out.to(device) if device is not None else out

    def get_config(self) -> dict:
        config = super().get_config()
        for key in ("oov_token", "mask_token"):
            if config[key] is not None:
                config[key] = int(config[key])
        if config["vocabulary"] is not None:
            config["vocabulary"] = [int(v) for v in config["vocabulary"]]
        return config
