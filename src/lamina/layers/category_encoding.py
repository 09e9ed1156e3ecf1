"""``CategoryEncoding``: integer ids to one-hot, multi-hot or count vectors, and the encoding every categorical
layer shares (``Hashing``, ``StringLookup``, ``IntegerLookup``, ``TextVectorization``).

>>> import torch
>>> CategoryEncoding(num_tokens=4, output_mode="multi_hot")(torch.tensor([[0, 1], [3, 3]]))
tensor([[1., 1., 0., 0.],
        [0., 0., 0., 1.]])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.core import config
from lamina.layers.layer import Layer

ENCODED_MODES = ("one_hot", "multi_hot", "count")


def refuse_sparse(sparse: bool, layer: str) -> None:
    """lamina has no sparse tensors for these layers: say so at construction."""
    if sparse:
        raise ValueError(f"`{layer}(sparse=True)` is not supported in lamina: PyTorch has no sparse output for "
                         "this layer. Use sparse=False (the default) for a dense tensor.")


def as_int_tensor(x: Any) -> torch.Tensor:
    """Numbers (a tensor, array, list or scalar) as an int64 tensor; floats are truncated as Keras casts them."""
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t if t.dtype == torch.int64 else t.to(torch.int64)


def encode(ids: torch.Tensor, output_mode: str, depth: int, dtype: Any,
           count_weights: torch.Tensor | None = None, drop_negative: bool = False) -> torch.Tensor:
    """Encode integer ``ids`` in ``[0, depth)`` as Keras's ``encode_categorical_inputs`` does.

    ``"int"`` casts; ``"one_hot"`` adds a ``depth`` axis (replacing a trailing axis of 1); ``"multi_hot"`` and
    ``"count"`` reduce the sample axis (the last one of a 1-D or 2-D input; axis 1 of a deeper input, as Keras's
    own encoding does) into a ``depth`` axis. A scalar counts as one sample.

    >>> encode(torch.tensor([0, 2, 2]), "count", 3, "float32")
    tensor([1., 0., 2.])
    """
    torch_dtype = config.standardize_dtype(dtype)
    if output_mode == "int":
        return ids.to(torch_dtype)
    if ids.ndim == 0:
        ids = ids.reshape(1)
    if ids.numel() and ((int(ids.min()) < 0 and not drop_negative) or int(ids.max()) >= depth):
        raise ValueError(f"Categorical ids must lie in [0, {depth}) for output_mode={output_mode!r}; received ids "
                         f"from {int(ids.min())} to {int(ids.max())}.")
    if output_mode not in ("one_hot", "multi_hot", "count"):
        raise ValueError(f"Unknown output_mode {output_mode!r}; expected 'int', 'one_hot', 'multi_hot' or 'count'.")
    if output_mode == "one_hot" and ids.ndim > 1 and ids.shape[-1] == 1:
        ids = ids.squeeze(-1)
    hot = torch.nn.functional.one_hot(ids.long().clamp(min=0), depth)
    if drop_negative:
        hot = hot * (ids >= 0).unsqueeze(-1).to(hot.dtype)
    if output_mode == "one_hot":
        return hot.to(torch_dtype)
    axis = 1 if ids.ndim > 1 else 0
    if output_mode == "multi_hot":
        return hot.amax(dim=axis).to(torch_dtype)
    if count_weights is not None:
        weights = torch.as_tensor(count_weights)
        return (hot.to(weights.dtype) * weights.unsqueeze(-1)).sum(dim=axis)
    return hot.sum(dim=axis).to(torch_dtype)


def encoded_shape(input_shape: tuple, output_mode: str, depth: int) -> tuple:
    """The output shape ``encode`` gives for ``input_shape`` (Keras's ``compute_output_shape``)."""
    input_shape = tuple(input_shape)
    if output_mode == "int":
        return input_shape
    if len(input_shape) == 0:
        return (depth,)  # (Keras says so even for one_hot, whose scalar output is (1, depth))
    if output_mode == "one_hot":
        if input_shape[-1] != 1 or len(input_shape) == 1:
            return input_shape + (depth,)
        return input_shape[:-1] + (depth,)
    return input_shape[:-1] + (depth,)


class CategoryEncoding(Layer):
    """Encode integer features as one-hot, multi-hot or count vectors of length ``num_tokens``.

    Args:
        num_tokens: the number of categories; inputs must lie in ``[0, num_tokens)``.
        output_mode: ``"multi_hot"`` (default; ``"binary"`` is its old name), ``"one_hot"`` or ``"count"``.
        sparse: must be False: lamina returns dense tensors.

    Call with ``count_weights`` (same shape as the input) in ``"count"`` mode to sum weights instead of ones.

    >>> import torch
    >>> CategoryEncoding(num_tokens=3, output_mode="one_hot")(torch.tensor([2, 0]))
    tensor([[0., 0., 1.],
            [1., 0., 0.]])
    """

    def __init__(self, num_tokens: int | None = None, output_mode: str = "multi_hot", sparse: bool = False,
                 **kwargs: Any):
        super().__init__(**kwargs)
        if output_mode == "binary":
            output_mode = "multi_hot"
        if output_mode not in ("count", "one_hot", "multi_hot"):
            raise ValueError(f"Unknown arg for output_mode: {output_mode}")
        if num_tokens is None:
            raise ValueError("num_tokens must be set to use this layer. If the number of tokens is not known "
                             "beforehand, use the IntegerLookup layer instead.")
        if num_tokens < 1:
            raise ValueError(f"`num_tokens` must be >= 1. Received: num_tokens={num_tokens}.")
        refuse_sparse(sparse, "CategoryEncoding")
        self.num_tokens = num_tokens
        self.output_mode = output_mode
        self.sparse = sparse

    def call(self, inputs: Any, count_weights: Any = None) -> torch.Tensor:
        if count_weights is not None:
            if self.output_mode != "count":
                raise ValueError("`count_weights` is not used when `output_mode` is not `'count'`. "
                                 f"Received `count_weights={count_weights}`.")
            count_weights = torch.as_tensor(np.asarray(count_weights) if not isinstance(
                count_weights, torch.Tensor) else count_weights, dtype=config.standardize_dtype(self.compute_dtype))
        return encode(as_int_tensor(inputs), self.output_mode, self.num_tokens, self.dtype, count_weights)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        return encoded_shape(input_shape, self.output_mode, self.num_tokens)

    def get_config(self) -> dict:
        return {**super().get_config(), "num_tokens": self.num_tokens, "output_mode": self.output_mode}
