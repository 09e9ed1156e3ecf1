"""``Discretization``: bucket continuous values by boundaries, given or learnt from data by ``adapt``.

``adapt`` keeps an approximate quantile summary (sorted values with weights, compressed to about
``1 / epsilon`` entries) as Keras does, and reads ``num_bins - 1`` boundaries off it, so the boundaries equal
Keras's on the same data.

>>> import torch
>>> Discretization(bin_boundaries=[0.0, 1.0])(torch.tensor([[-1.0, 0.5, 2.0]]))
tensor([[0, 1, 2]], dtype=torch.int32)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lamina.layers.category_encoding import encode, refuse_sparse
from lamina.layers.layer import Layer

_MODES = ("int", "one_hot", "multi_hot", "count")


def _summary_of(values: np.ndarray, epsilon: float) -> np.ndarray:
    """A (2, k) summary of one batch: every step-th sorted value, each weighing ``step`` values."""
    ordered = np.sort(np.reshape(values, [-1]))
    step = max(ordered.size * epsilon, 1)  # values per summary entry, for about 1/epsilon entries
    picked = ordered[int(step - 1)::int(step)]
    return np.stack([picked, np.full_like(picked, step)])


def _compress(summary: np.ndarray, epsilon: float) -> np.ndarray:
    """Resample a summary at cumulative-weight fractions epsilon, 2*epsilon, ..., 1 (when it is larger)."""
    if summary.shape[1] * epsilon < 1:
        return summary
    targets = np.arange(0.0, 1.0, epsilon) + epsilon
    cumulative = np.cumsum(summary[1])
    fractions = cumulative / cumulative[-1]
    values = np.interp(targets, fractions, summary[0])
    new_cumulative = np.interp(targets, fractions, cumulative)
    weights = np.diff(new_cumulative, prepend=0.0)
    return np.stack((values, weights)).astype("float32")


def _merge(a: np.ndarray, b: np.ndarray, epsilon: float) -> np.ndarray:
    both = np.concatenate((a, b), axis=1)
    both = both[:, np.argsort(both[0])]
    return _compress(both, epsilon)


class Discretization(Layer):
    """Bucket numbers into ``len(bin_boundaries) + 1`` bins: bin ``i`` holds ``boundaries[i-1] <= x <
    boundaries[i]``.

    Args:
        bin_boundaries: sorted boundaries; or None and ``num_bins`` with ``adapt``.
        num_bins: the number of bins ``adapt`` learns (quantiles of the data).
        epsilon: the error tolerance of ``adapt``'s quantiles (about ``1 / epsilon`` summary entries).
        output_mode: ``"int"`` (int32 ids), ``"one_hot"``, ``"multi_hot"`` or ``"count"``.
        sparse: must be False: lamina returns dense tensors.

    >>> import numpy as np
    >>> layer = Discretization(num_bins=4, epsilon=0.01)
    >>> layer.adapt(np.array([[-1.5, 1.0, 3.4, 0.5], [0.0, 3.0, 1.3, 0.0]]))
    >>> [round(b, 4) for b in layer.bin_boundaries]
    [0.0, 0.5, 1.3]
    """

    def __init__(self, bin_boundaries: Any = None, num_bins: int | None = None, epsilon: float = 0.01,
                 output_mode: str = "int", sparse: bool = False, dtype: Any = None, name: str | None = None):
        super().__init__(name=name, dtype=dtype)
        if sparse and output_mode == "int":
            raise ValueError("`sparse=True` may only be used if `output_mode` is `'one_hot'`, `'multi_hot'`, or "
                             f"`'count'`. Received: sparse={sparse} and output_mode={output_mode}")
        refuse_sparse(sparse, "Discretization")
        if output_mode not in _MODES:
            raise ValueError(f"The `output_mode` argument of Discretization must be one of {_MODES}. Received: "
                             f"output_mode={output_mode}")
        if num_bins is not None and num_bins < 0:
            raise ValueError(f"`num_bins` must be greater than or equal to 0. Received: `num_bins={num_bins}`")
        if num_bins is not None and bin_boundaries is not None:
            raise ValueError(f"Both `num_bins` and `bin_boundaries` should not be set. Received: "
                             f"`num_bins={num_bins}` and `bin_boundaries={bin_boundaries}`")
        if num_bins is None and bin_boundaries is None:
            raise ValueError("You need to set either `num_bins` or `bin_boundaries`.")
        self.bin_boundaries = list(bin_boundaries) if bin_boundaries is not None else None
        self.num_bins = num_bins
        self.epsilon = epsilon
        self.output_mode = output_mode
        self.sparse = sparse
        self.summary = None if self.bin_boundaries else np.array([[], []], dtype="float32")

    @property
    def output_dtype(self) -> str:
        return self.compute_dtype if self.output_mode != "int" else "int32"

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn ``num_bins - 1`` quantile boundaries from ``data``: an array, a tensor, or an iterable of
        batches (a list of arrays, a generator, a DataLoader); ``steps`` limits how many batches are read."""
        if self.num_bins is None:
            raise ValueError("Cannot adapt a Discretization layer that has been initialized with "
                             "`bin_boundaries`, use `num_bins` instead.")
        self.reset_state()
        if isinstance(data, (np.ndarray, torch.Tensor)) or not hasattr(data, "__iter__"):
            self.update_state(data)
        else:
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                if isinstance(batch, tuple) and len(batch) in (2, 3):
                    batch = batch[0]
                self.update_state(batch)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        if isinstance(data, torch.Tensor):
            data = data.detach().cpu().numpy()
        self.summary = _merge(_summary_of(np.array(data).astype("float32"), self.epsilon), self.summary,
                              self.epsilon)

    def finalize_state(self) -> None:
        if self.num_bins is not None:
            self.bin_boundaries = _compress(self.summary, 1.0 / self.num_bins)[0, :-1].tolist()

    def reset_state(self) -> None:
        if self.num_bins is not None:
            self.summary = np.array([[], []], dtype="float32")

    def call(self, inputs: Any) -> torch.Tensor:
        if self.bin_boundaries is None:
            raise ValueError("You need to either pass the `bin_boundaries` argument at construction time or call "
                             "`adapt(dataset)` before you can start using the `Discretization` layer.")
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs))
        x = x.to(torch.float32) if not x.is_floating_point() else x
        boundaries = torch.tensor(self.bin_boundaries, dtype=x.dtype, device=x.device)
        ids = torch.bucketize(x, boundaries, right=True)
        return encode(ids, self.output_mode, len(self.bin_boundaries) + 1, self.output_dtype)

    def compute_output_shape(self, input_shape: Any) -> tuple:
        input_shape = tuple(input_shape)
        if self.output_mode == "int":
            return input_shape
        depth = len(self.bin_boundaries) + 1 if self.bin_boundaries is not None else self.num_bins
        if self.output_mode == "one_hot":
            if input_shape and input_shape[-1] == 1 and len(input_shape) > 1:
                return input_shape[:-1] + (depth,)
            return input_shape + (depth,)
        if len(input_shape) >= 2:
            return (input_shape[0],) + input_shape[2:] + (depth,)
        return (depth,)

    def get_config(self) -> dict:
        return {"bin_boundaries": self.bin_boundaries, "num_bins": self.num_bins, "epsilon": self.epsilon,
                "output_mode": self.output_mode, "sparse": self.sparse, "name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict) -> Discretization:
        if config.get("bin_boundaries") is not None and config.get("num_bins") is not None:
            config = dict(config)
            boundaries = config.pop("bin_boundaries")
            layer = cls(**config)
            layer.bin_boundaries = boundaries  # an adapted layer: its learnt boundaries come back
            return layer
        return cls(**config)
