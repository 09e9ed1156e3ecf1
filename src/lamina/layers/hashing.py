"""``Hashing`` and ``HashedCrossing``: categorical values (strings or integers) into a fixed number of bins with
Keras's stable hashes (FarmHash ``Fingerprint64``; keyed SipHash-2-4 when salted), so that every value lands in
the same bin as in Keras.

The hashing runs on the host (see ``lamina.layers.host_inputs``): use these layers in the data pipeline or first
in a model; the output is a tensor.

>>> Hashing(num_bins=3)([["A"], ["B"], ["C"], ["D"], ["E"]]).flatten().tolist()
[1, 0, 1, 1, 2]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.layers.category_encoding import encode, refuse_sparse
from lamina.layers.fingerprint import fingerprint64, fingerprint_cat64, siphash24
from lamina.layers.host_inputs import HostLayer, to_bytes, to_host_array

_CROSS_HASH_KEY = 0xDECAFCAFFE  # the default hash key of TensorFlow's sparse cross_hashed, which Keras uses
_INT64_MAX = (1 << 63) - 1


def _default_dtype(kwargs: dict, output_mode: str) -> None:
    if kwargs.get("dtype") is None:
        kwargs["dtype"] = "int64" if output_mode == "int" else "float32"


class Hashing(HostLayer):
    """Hash strings or integers into ``num_bins`` bins, as Keras's ``Hashing``.

    Integers are hashed as their decimal strings (floats are truncated to integers first), so ``1`` and ``"1"``
    share a bin.

    Args:
        num_bins: the number of bins, including the mask bin when ``mask_value`` is set.
        mask_value: a value mapped to bin 0 (the others then go to ``1..num_bins-1``); None: no mask bin.
        salt: None (FarmHash ``Fingerprint64``), an int ``s`` (SipHash-2-4 keyed ``[s, s]``) or two ints.
        output_mode: ``"int"`` (bin ids; int64 by default), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: must be False: lamina returns dense tensors.

    >>> Hashing(num_bins=3, salt=133)([["A"], ["B"], ["C"]]).flatten().tolist()
    [0, 0, 2]
    """

    def __init__(self, num_bins: int, mask_value: Any = None, salt: Any = None, output_mode: str = "int",
                 sparse: bool = False, **kwargs: Any):
        _default_dtype(kwargs, output_mode)
        super().__init__(**kwargs)
        if num_bins is None or num_bins <= 0:
            raise ValueError(f"The `num_bins` for `Hashing` cannot be `None` or non-positive values. Received: "
                             f"num_bins={num_bins}.")
        if output_mode == "int" and self.dtype not in ("int32", "int64"):
            raise ValueError(f'When `output_mode="int"`, `dtype` should be an integer type, \'int32\' or '
                             f"'int64'. Received: dtype={kwargs['dtype']}")
        modes = ("int", "one_hot", "multi_hot", "count")
        if output_mode not in modes:
            raise ValueError(f"Invalid value for argument `output_mode`. Expected one of {modes}. Received: "
                             f"output_mode={output_mode}")
        if sparse and output_mode == "int":
            raise ValueError('`sparse` may only be true if `output_mode` is `"one_hot"`, `"multi_hot"`, or '
                             f'`"count"`. Received: sparse={sparse} and output_mode={output_mode}')
        refuse_sparse(sparse, "Hashing")
        if salt is not None:
            if isinstance(salt, (tuple, list)) and len(salt) == 2 and all(isinstance(s, int) for s in salt):
                salt = list(salt)
            elif isinstance(salt, int) and not isinstance(salt, bool):
                salt = [salt, salt]
            else:
                raise ValueError("The `salt` argument for `Hashing` can only be a tuple of size 2 integers, or a "
                                 f"single integer. Received: salt={salt}.")
        self.num_bins = num_bins
        self.mask_value = mask_value
        self.salt = salt
        self.strong_hash = salt is not None
        self.output_mode = output_mode
        self.sparse = sparse

    def hash_values(self, values: Any) -> np.ndarray:
        """The bin of every element of ``values`` (any shape), as an int64 NumPy array."""
        arr = to_host_array(values)
        bins = self.num_bins
        masked = None
        if self.mask_value is not None and bins > 1:
            bins -= 1
            masked = arr == self.mask_value
            if arr.dtype.kind == "O" and isinstance(self.mask_value, str):  # bytes equal to the str mask too
                masked = np.vectorize(lambda v: to_bytes(v) == self.mask_value.encode(), otypes=[bool])(arr) \
                    if arr.size else np.zeros(arr.shape, bool)
        if self.strong_hash:
            key = (self.salt[0], self.salt[1])
            out = [siphash24(key, to_bytes(v)) % bins for v in arr.reshape(-1).tolist()]
        else:
            out = [fingerprint64(to_bytes(v)) % bins for v in arr.reshape(-1).tolist()]
        ids = np.asarray(out, dtype=np.int64).reshape(arr.shape)
        if masked is not None:
            ids = np.where(masked, 0, ids + 1)
        return ids

    def call(self, inputs: Any) -> torch.Tensor:
        arr = to_host_array(inputs)
        if self.output_mode == "one_hot" and arr.ndim and arr.shape[-1] == 1:
            arr = arr.squeeze(-1)
        ids = torch.from_numpy(self.hash_values(arr))
        out = encode(ids, self.output_mode, self.num_bins, self.dtype)
        return out.to(inputs.device) if isinstance(inputs, torch.Tensor) else out  # a tensor's ids stay with it

    def compute_output_shape(self, input_shape: Any) -> tuple:
        if self.output_mode == "int":
            return tuple(input_shape)
        return tuple(input_shape[:-1]) + (self.num_bins,) if len(input_shape) else (self.num_bins,)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_bins": self.num_bins, "salt": self.salt,
                "mask_value": self.mask_value, "output_mode": self.output_mode, "sparse": self.sparse}


class HashedCrossing(HostLayer):
    """Cross categorical features (strings or integers) by hashing each combination into ``num_bins`` bins,
    as Keras's ``HashedCrossing`` (TensorFlow's ``sparse.cross_hashed``: chained fingerprints).

    Called on a tuple/list of at least two features of equal shape ``()``, ``(batch,)`` or ``(batch, 1)``.

    Args:
        num_bins: the number of bins.
        output_mode: ``"int"`` (int64 by default) or ``"one_hot"``.
        sparse: must be False: lamina returns dense tensors.

    >>> import numpy as np
    >>> HashedCrossing(num_bins=5)((np.array(["A", "B", "A", "B", "A"]), np.array([101, 101, 101, 102, 102])))
    tensor([1, 4, 1, 1, 3])
    """

    takes_tensors = False

    def __init__(self, num_bins: int, output_mode: str = "int", sparse: bool = False, name: str | None = None,
                 dtype: Any = None, **kwargs: Any):
        if output_mode == "int" and dtype is None:
            dtype = "int64"
        super().__init__(name=name, dtype=dtype, **kwargs)
        refuse_sparse(sparse, "HashedCrossing")
        if output_mode not in ("int", "one_hot"):
            raise ValueError(f"The `output_mode` argument of HashedCrossing must be one of 'int', 'one_hot'. "
                             f"Received: output_mode={output_mode}")
        self.num_bins = num_bins
        self.output_mode = output_mode
        self.sparse = sparse

    @staticmethod
    def _feature(value: Any) -> int:
        if isinstance(value, (str, bytes, np.bytes_)):
            return fingerprint64(to_bytes(value))
        return int(value) & ((1 << 64) - 1)

    def call(self, inputs: Any) -> torch.Tensor:
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(f"`HashedCrossing` should be called on a list or tuple of inputs. Received: "
                             f"inputs={inputs}")
        if len(inputs) < 2:
            raise ValueError(f"`HashedCrossing` should be called on at least two inputs. Received: inputs={inputs}")
        arrays = [to_host_array(x) for x in inputs]
        shape = arrays[0].shape
        if len(shape) > 2 or (len(shape) == 2 and shape[-1] != 1):
            raise ValueError(f"All `HashedCrossing` inputs should have shape `()`, `(batch_size)` or "
                             f"`(batch_size, 1)`. Received: inputs={inputs}")
        if not all(a.shape == shape for a in arrays[1:]):
            raise ValueError(f"All `HashedCrossing` inputs should have equal shape. Received: inputs={inputs}")
        for a in arrays:
            if a.dtype.kind == "f" or (a.dtype.kind == "O" and a.size and not all(
                    isinstance(v, (str, bytes, int, np.integer)) for v in a.reshape(-1).tolist())):
                raise ValueError(f"All `HashedCrossing` inputs should have an integer or string dtype. "
                                 f"Received: inputs={inputs}")
        columns = [a.reshape(-1).tolist() for a in arrays]
        out = []
        for row in zip(*columns, strict=True):
            h = _CROSS_HASH_KEY
            for value in row:
                h = fingerprint_cat64(h, self._feature(value))
            out.append(h % self.num_bins if self.num_bins > 0 else h % _INT64_MAX)
        ids = torch.tensor(out, dtype=torch.int64).reshape(shape)
        return encode(ids, self.output_mode, self.num_bins, self.dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        first = tuple(input_shape[0])
        if self.output_mode == "int":
            return first
        if not first:
            return (self.num_bins,)
        return first + (self.num_bins,) if first[-1] != 1 else first[:-1] + (self.num_bins,)

    def get_config(self) -> dict:
        return {"num_bins": self.num_bins, "output_mode": self.output_mode, "sparse": self.sparse,
                "name": self.name, "dtype": self.dtype}

