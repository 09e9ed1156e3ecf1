"""Turn what users pass to fit/evaluate/predict into batches on the device.

In-memory data (NumPy arrays, tensors, and lists/dicts of them) moves to the device once; batches are
gathered there by index. ``Dataset``/``DataLoader`` and Python generators are iterated and their batches moved.

>>> import numpy as np
>>> adapter = make_adapter(np.zeros((10, 3)), np.arange(10), batch_size=4, device="cpu")
>>> [tuple(x.shape) for x, y in adapter.epoch()]  # (x, y): no sample weights were given
[(4, 3), (4, 3), (2, 3)]
"""

from __future__ import annotations

import math
import sys
import types
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from lamina.core import config, tree
from lamina.data.prefetch import prefetch
from lamina.data.py_dataset import EpochBatches, PyDataset

Batch = tuple[Any, Any, Any]  # (x, y, sample_weight), each possibly None or nested


class DataError(ValueError):
    """Input data that lamina cannot train on, with what was wrong and how to fix it."""


def unpack_x_y_sample_weight(data: Any) -> Batch:
    """Split a batch into ``(x, y, sample_weight)`` as Keras does: a tuple of 1-3 items, or x alone."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise DataError(
        f"A batch must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of {len(data)} items. "
        "Wrap multiple inputs in a list or dict: ((x1, x2), y)."
    )


def pack_x_y_sample_weight(x: Any, y: Any = None, sample_weight: Any = None) -> Any:
    """A batch as Keras hands it to ``train_step``: ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)``."""
    if y is None:
        return (x,)
    return (x, y) if sample_weight is None else (x, y, sample_weight)


class HostArray:
    """A NumPy array of strings among in-memory data: PyTorch has no string tensors, so it stays on the host and
    its batches are NumPy arrays, for a first layer that takes strings (``TextVectorization``, ``StringLookup``,
    ``Hashing``) to turn into tensors. It answers what the adapter asks of a tensor (shape, slicing, gathering).

    >>> batch = HostArray(np.array(["a b", "c", "d e f"])).index_select(0, torch.tensor([2, 0]))
    >>> batch.tolist()
    ['d e f', 'a b']
    """

    def __init__(self, array: np.ndarray):
        self.array = array
        self.shape = array.shape
        self.ndim = array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.array[key]

    def index_select(self, dim: int, index: torch.Tensor) -> np.ndarray:
        return np.take(self.array, index.cpu().numpy(), axis=dim)

    def to(self, *args: Any, **kwargs: Any) -> HostArray:
        return self  # strings stay on the host

    def is_floating_point(self) -> bool:
        return False

    def numel(self) -> int:
        return int(self.array.size)

    def element_size(self) -> int:
        return 0  # takes no device memory


def _is_strings(arr: np.ndarray) -> bool:
    """An array of str/bytes (or an object array holding only str/bytes)."""
    if arr.dtype.kind in "US":
        return True
    return arr.dtype == object and arr.size > 0 and all(isinstance(v, (str, bytes)) for v in arr.reshape(-1).tolist())


def _to_tensor(value: Any, name: str, is_label: bool = False, convert: bool = True) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        if value.device.type == "meta":
            raise DataError(
                f"{name} is a tensor on PyTorch's 'meta' device, of shape {tuple(value.shape)}: it has a shape but "
                "no values, so nothing can be trained or predicted on it. Pass data with values: create it on a "
                "real device (torch.randn(..., device='cpu')), or give a meta tensor storage with "
                "tensor.to_empty(device='cpu') and fill it.")
        t = value
    else:
        arr = np.asarray(value)
        if name == "x" and arr.ndim and _is_strings(arr):
            return HostArray(arr)  # type: ignore[return-value]  # strings stay NumPy arrays (see HostArray)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
            raise DataError(
                f"{name} must hold numbers, but it is an array of dtype {arr.dtype!r}"
                f"{' (Python objects: mixed types or ragged rows)' if arr.dtype == object else ''}. "
                "Convert it to a numeric array first, e.g. np.asarray(data, dtype='float32'), and pad ragged "
                "sequences to one length."
            )
        t = torch.from_numpy(np.ascontiguousarray(arr)) if arr.ndim else torch.tensor(arr)
    return _standard_dtype(t, is_label) if convert else t


def _standard_dtype(t: torch.Tensor, is_label: bool) -> torch.Tensor:
    """Inputs as floatx (from float64/half, uint8, bool); integer labels as int64."""
    small_ints = (torch.uint8, torch.bool)
    if t.dtype in (torch.float64, torch.float16, torch.bfloat16) or (not is_label and t.dtype in small_ints):
        t = t.to(config.standardize_dtype(None))
    elif is_label and t.dtype in (torch.uint8, torch.int8, torch.int16, torch.int32):
        t = t.long()
    return t


def _check_finite(t: torch.Tensor, name: str) -> None:
    if not t.is_floating_point() or not t.numel():
        return
    # A sum is finite exactly when no element is NaN/Inf, unless finite values overflow it: only then look closer.
    if bool(torch.isfinite(t.sum())):
        return
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise DataError(
            f"{name} contains {bad} NaN or infinite value(s). Remove or impute them before training "
            "(e.g. np.nan_to_num), or the loss will be NaN from the first step."
        )


def _leaf_names(name: str, v: Any) -> list[str]:
    """The name of each leaf of ``v`` in ``tree.flatten`` order: ``x``, ``x[0]``, ``x['image']``..."""
    if isinstance(v, dict):
        return [n for k in sorted(v) for n in _leaf_names(f"{name}[{k!r}]", v[k])]
    if isinstance(v, (list, tuple)):
        return [n for i, item in enumerate(v) for n in _leaf_names(f"{name}[{i}]", item)]
    return [name]


def _structure_len(leaves: list[torch.Tensor], names: list[str], x: Any = None) -> int:
    """The number of samples all ``leaves`` (named ``names``) share; ``x`` (the inputs) only words the error."""
    lengths = [(n, int(t.shape[0]) if t.ndim else None) for t, n in zip(leaves, names, strict=True)]
    for n, length in lengths:
        if length is None:
            raise DataError(f"{n} is a scalar; data needs a first (batch) dimension.")
    distinct = {length for _, length in lengths}
    if len(distinct) > 1:
        runs: list[list] = []  # consecutive arrays of one structure with one length are shown as one run
        for n, length in lengths:
            root = n.split("[", 1)[0]
            if runs and runs[-1][0] == root and runs[-1][3] == length and "[" in n:
                runs[-1][2] = n
                runs[-1][4] += 1
            else:
                runs.append([root, n, n, length, 1])
        detail = ", ".join(f"{first}: {length}" if count == 1 else f"{first} .. {last}: {length} each"
                           for _, first, last, length, count in runs)
        hint = ""
        others = {length for n, length in lengths if not n.startswith("x[")}
        if isinstance(x, (list, tuple)) and len(x) > 1 and len(x) in others:
            ragged = len({length for n, length in lengths if n.startswith("x[")}) > 1
            hint = (f" x is a list of {len(x)} arrays, which fit() reads as {len(x)} separate inputs (as Keras "
                    f"does); if they are {len(x)} samples, make them one array first: " + (
                        "they differ in length, so pad them to one, e.g. lamina.utils.pad_sequences(x)." if ragged
                        else "np.stack(x)."))
        raise DataError(
            f"All inputs, targets and sample weights must have the same number of samples (first dimension), "
            f"but got {detail}.{hint or ' Check that x and y come from the same split and are not transposed.'}"
        )
    return distinct.pop() if distinct else 0


class ArrayAdapter:
    """In-memory arrays/tensors: moved to ``device`` once, batches gathered there by index."""

    def __init__(self, x: Any, y: Any = None, sample_weight: Any = None, batch_size: int | None = 32,
                 shuffle: bool | str = False, device: Any = "cpu", class_weight: dict | None = None,
                 steps_per_epoch: int | None = None, check_finite: bool = True, stream: bool | None = None,
                 one_batch: bool = False):
        # one_batch: the arrays are one batch (train_on_batch), not a data set: a class_weight class absent from
        # them is no news
        self.device = torch.device(device)
        # Streaming data keeps its own dtype (uint8 images stay small) and is converted batch by batch.
        lazy = bool(stream)
        x = tree.map_structure(lambda v: _to_tensor(v, "x", convert=not lazy), x)
        y = None if y is None else tree.map_structure(lambda v: _to_tensor(v, "y", True, convert=not lazy), y)
        sw = None if sample_weight is None else tree.map_structure(
            lambda v: _to_tensor(v, "sample_weight").float(), sample_weight)
        parts = [(name, v) for name, v in (("x", x), ("y", y), ("sample_weight", sw)) if v is not None]
        leaves = [t for _, v in parts for t in tree.flatten(v)]
        names = [n for name, v in parts for n in _leaf_names(name, v)]
        self.num_samples = _structure_len(leaves, names, x)
        if self.num_samples == 0:
            raise DataError("The data is empty (0 samples). Pass at least one sample.")
        if check_finite:
            for t, n in zip(leaves, names, strict=True):
                _check_finite(t, n)
        if class_weight is not None:
            sw = _combine_class_weight(y, sw, class_weight, warn_absent=not one_batch)
        # In-memory data goes to the device once; data too big for the device's free memory stays on the host
        # and streams, one gathered batch at a time (pinned, non-blocking copies).
        self.streaming = _too_big(leaves, self.device) if stream is None else bool(stream)
        home = torch.device("cpu") if self.streaming else self.device
        self.x, self.y, self.sample_weight = (
            None if v is None else tree.map_structure(lambda t: t.to(home), v) for v in (x, y, sw))
        if batch_size is None:
            batch_size = 32
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise DataError(f"batch_size must be a positive int; received {batch_size!r}.")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps_per_epoch = steps_per_epoch
        self._stream: Iterator[Batch] = iter(())
        # Shuffling draws its seed from the global generator (so torch.manual_seed fixes the order); data read
        # in order draws nothing: evaluate and predict leave the global random state as they found it, and
        # make no generator of their own unless a checkpoint asks for its state.
        self._seed = int(torch.randint(0, 2**62, (1,)).item()) if shuffle else 0
        self._rng: torch.Generator | None = None
        self._pass_rng: torch.Tensor | None = None  # where the current pass's shuffle started (None: not yet)
        self._pass_batches = 0  # batches of the current pass handed out so far
        self._skip_steps = 0  # steps of the next epoch already done before a resume

    @property
    def _generator(self) -> torch.Generator:
        if self._rng is None:
            self._rng = torch.Generator().manual_seed(self._seed)
        return self._rng

    @property
    def num_batches(self) -> int:
        """Batches per epoch: ``steps_per_epoch`` when set, else one pass over the data."""
        return self.steps_per_epoch or math.ceil(self.num_samples / self.batch_size)

    @property
    def _streams(self) -> bool:
        """Whether epochs take ``steps_per_epoch`` batches from passes that go on across epochs. When one pass
        is shorter than ``steps_per_epoch``, each epoch is one whole pass instead, cut short as Keras cuts it (the
        trainer warns that the input ran out of data)."""
        return self.steps_per_epoch is not None and self.steps_per_epoch <= math.ceil(
            self.num_samples / self.batch_size)

    def _slices(self) -> list[tuple[int, int]]:
        """(start, stop) of each batch; with shuffle="batch" the whole batches come in a new order each pass."""
        bounds = [(a, min(a + self.batch_size, self.num_samples)) for a in range(0, self.num_samples, self.batch_size)]
        if self.shuffle == "batch":
            bounds = [bounds[i] for i in torch.randperm(len(bounds), generator=self._generator).tolist()]
        return bounds

    def epoch(self) -> Iterator[Batch]:
        """The batches of one epoch: one pass over the data (reshuffled each pass when shuffle is on), or
        ``steps_per_epoch`` batches taken from an endless stream of passes that continues across epochs."""
        skip, self._skip_steps = self._skip_steps, 0
        if not self._streams:
            yield from self._one_pass(skip)
            return
        for _ in range(self.steps_per_epoch - skip):
            batch = next(self._stream, None)
            if batch is None:
                self._stream = self._one_pass()
                batch = next(self._stream)
            yield batch

    def position(self, epoch_steps: int) -> dict:
        """Where the data stands after ``epoch_steps`` steps of the current epoch (for an exact resume)."""
        if not self._streams and epoch_steps == 0:  # between epochs: the next pass starts afresh
            return {"pass_rng": self._generator.get_state(), "pass_batches": 0, "epoch_steps": 0}
        # no pass started yet, or an unshuffled one: the generator has not moved, its state now is the start
        start = self._pass_rng if self._pass_rng is not None else self._generator.get_state()
        return {"pass_rng": start.clone(), "pass_batches": self._pass_batches, "epoch_steps": epoch_steps}

    def resume(self, position: dict) -> None:
        """Continue from ``position``: the next ``epoch()`` yields the rest of that epoch, in the same order."""
        self._generator.set_state(position["pass_rng"])
        self._skip_steps = int(position["epoch_steps"])
        if self._streams:
            self._stream = self._one_pass(int(position["pass_batches"]))

    def _one_pass(self, skip: int = 0) -> Iterator[Batch]:
        self._pass_rng = self._generator.get_state() if self.shuffle else None
        self._pass_batches = skip
        order = None
        if self.shuffle and self.shuffle != "batch":
            order = torch.randperm(self.num_samples, generator=self._generator)
            if not self.streaming:
                order = order.to(self.device, non_blocking=True)
        x, y = self.x, self.y
        if type(x) is torch.Tensor and (y is None or type(y) is torch.Tensor) and self.sample_weight is None:
            # the common case, without a closure per batch: one array of inputs (and one of targets); streamed
            # batches are converted and moved only when the array is not in the right dtype on the device
            fetch_x = self.streaming and self._needs_fetch(x, False)
            fetch_y = self.streaming and y is not None and self._needs_fetch(y, True)
            for start, stop in self._slices()[skip:]:
                self._pass_batches += 1
                if order is None:  # views, no copy
                    xb, yb = x[start:stop], None if y is None else y[start:stop]
                else:
                    idx = order[start:stop]
                    xb, yb = x.index_select(0, idx), None if y is None else y.index_select(0, idx)
                if fetch_x:
                    xb = self._fetch(xb, False)
                if fetch_y:
                    yb = self._fetch(yb, True)
                yield (xb,) if yb is None else (xb, yb)
            return
        for start, stop in self._slices()[skip:]:
            if order is None:
                take = lambda t, a=start, b=stop: t[a:b]  # noqa: E731  (views, no copy)
            else:
                idx = order[start:stop]
                take = lambda t, i=idx: t.index_select(0, i)  # noqa: E731
            self._pass_batches += 1
            yield self._batch(take)

    def _batch(self, take: Any) -> Any:
        if not self.streaming:
            x, y, sw = self.x, self.y, self.sample_weight
            if type(x) is torch.Tensor and type(y) is torch.Tensor and sw is None:  # the common case, no walks
                return take(x), take(y)
            return pack_x_y_sample_weight(*(None if v is None else tree.map_structure(take, v) for v in (x, y, sw)))

        def fetch(v: Any, is_label: bool) -> Any:
            return None if v is None else tree.map_structure(lambda t: self._fetch(take(t), is_label), v)

        return pack_x_y_sample_weight(fetch(self.x, False), fetch(self.y, True), fetch(self.sample_weight, False))

    def _needs_fetch(self, t: torch.Tensor, is_label: bool) -> bool:
        return t.device != self.device or _standard_dtype(t[:0], is_label).dtype != t.dtype

    def _fetch(self, t: torch.Tensor, is_label: bool) -> torch.Tensor:
        """A streamed batch in its standard dtype on the device (pinned, non-blocking copies to a GPU)."""
        if isinstance(t, np.ndarray):  # a batch of a HostArray: strings stay on the host
            return t
        t = _standard_dtype(t, is_label)
        return t if t.device == self.device else _to_device(t, self.device, self.device.type == "cuda")

    def first_batch(self) -> Batch:
        stop = min(self.batch_size, self.num_samples)
        return self._batch(lambda t: t[:stop])


def _user_level() -> int:
    """The ``stacklevel`` that points a warning at the user's line: the first caller outside lamina."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("lamina."):
        frame, level = frame.f_back, level + 1
    return level


def _combine_class_weight(y: Any, sw: Any, class_weight: dict, warn_absent: bool = True) -> torch.Tensor:
    if y is None or len(tree.flatten(y)) != 1:
        raise DataError("class_weight needs a single target array y; for several outputs use sample_weight.")
    labels = tree.flatten(y)[0]
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(-1)  # one-hot
    labels = labels.reshape(labels.shape[0], -1)[:, 0].long()
    counts = torch.bincount(labels.clamp(min=0)).tolist()  # one host sync per fit: which classes occur
    top = max(len(counts), max((int(c) for c in class_weight), default=-1) + 1)
    table = torch.ones(top)
    absent = []
    for cls, w in class_weight.items():
        if int(cls) < 0 or int(cls) >= len(counts) or not counts[int(cls)]:
            absent.append(cls)  # (a negative key is no class: it must not index the table from its end)
        else:
            table[int(cls)] = float(w)
    if absent and warn_absent:
        present = [c for c, n in enumerate(counts) if n]
        shown = present if len(present) <= 20 else f"{present[:20]} ... ({len(present)} classes)"
        warnings.warn(f"class_weight names class(es) {sorted(absent)} that never occur in y (its classes: {shown}); "
                      "their weights change nothing. Check that class_weight's keys are the class indices in y "
                      "(for one-hot y, the column index).", UserWarning, stacklevel=_user_level())
    weights = table[labels]
    return weights if sw is None else weights * tree.flatten(sw)[0].reshape(-1)


def _data_state(data: Any) -> dict | None:
    """A stateful source's state (``state_dict``, with ``load_state_dict`` to restore it), else ``None``."""
    if hasattr(data, "state_dict") and hasattr(data, "load_state_dict") and not isinstance(data, torch.nn.Module):
        return data.state_dict()
    return None


class IterableAdapter:
    """``DataLoader``s, ``Dataset``s and Python iterables/generators of batches, moved to ``device`` per batch."""

    def __init__(self, data: Any, batch_size: int | None = None, shuffle: bool = False, device: Any = "cpu",
                 steps_per_epoch: int | None = None, for_training: bool = True, prefetch_depth: int | None = None):
        self.device = torch.device(device)
        # On CUDA a background thread reads the next batches and copies them from pinned memory while the GPU
        # computes. On CPU there is no copy to hide, and a thread drawing from a dataset's random transforms
        # would make runs irreproducible, so batches are read in the training thread.
        self.prefetch_depth = prefetch_depth if prefetch_depth is not None else (
            2 if self.device.type == "cuda" else 0)
        if isinstance(data, Dataset) and not isinstance(data, DataLoader):
            data = DataLoader(data, batch_size=batch_size or 32, shuffle=bool(shuffle))
        # A DataLoader, PyDataset or generator yields whole batches already: batch_size is ignored, as in Keras.
        self.data = data
        self.steps_per_epoch = steps_per_epoch
        self.one_shot = isinstance(data, (types.GeneratorType, Iterator)) and not isinstance(data, DataLoader)
        self._iterator: Iterator | None = None
        self.exhausted = False
        self._peeked: list = []
        self._iterator_rng = torch.get_rng_state()  # the global RNG when the current iterator was made
        self._drawn = 0  # batches taken from the current iterator
        self._consumed: int | None = None  # with prefetching: batches of it trained on so far
        self._skip_steps = 0
        self._data_state: dict | None = None  # a stateful source's state when the current iterator was made
        try:
            self.num_batches = steps_per_epoch or len(data)
        except TypeError:
            self.num_batches = None

    def _move(self, batch: Any) -> Any:
        x, y, sw = unpack_x_y_sample_weight(batch)
        non_blocking = self.device.type == "cuda"

        def move(v: Any, is_label: bool = False) -> Any:
            if v is None:
                return None
            return tree.map_structure(lambda t: _to_device(_to_tensor(t, "batch", is_label), self.device,
                                                           non_blocking), v)

        return pack_x_y_sample_weight(move(x), move(y, True), move(sw))

    def _next_raw(self) -> Any:
        if self._peeked:
            raw = self._peeked.pop()
        else:
            if self._iterator is None:
                self._iterator_rng = torch.get_rng_state()  # a DataLoader draws its shuffle seed from it
                self._data_state = _data_state(self.data)
                self._iterator = iter(self.data)
                self._drawn = 0
            raw = next(self._iterator)
        self._drawn += 1
        return raw

    def first_batch(self) -> Batch:
        try:
            raw = self._next_raw()
        except StopIteration:
            raise DataError("The data is empty: the DataLoader/generator yielded no batch.") from None
        self._peeked.append(raw)
        self._drawn -= 1
        return self._move(raw)

    def position(self, epoch_steps: int) -> dict:
        """Where the data stands after ``epoch_steps`` steps of the current epoch (for an exact resume)."""
        if self._consumed is not None:  # prefetching, mid-epoch: what was trained on, not what was read ahead
            drawn = self._consumed
        else:
            drawn = self._drawn if self._iterator is not None else 0  # between passes the next iterator is new
        state = self._data_state if self._iterator is not None else _data_state(self.data)
        return {"iterator_rng": self._iterator_rng.clone(), "drawn": drawn, "epoch_steps": epoch_steps,
                **({"data_state": state} if state is not None else {})}

    def resume(self, position: dict) -> None:
        """Continue from ``position`` by replaying: a new iterator made under the same global RNG state (so a
        shuffling DataLoader repeats its order) skips the batches already trained on. A one-shot generator
        cannot be rewound: it skips that many of the batches it yields from where it now stands. Data with
        ``state_dict``/``load_state_dict`` gets its pass's state back first; data with ``resume_at`` (such as
        ``ParquetDataset``) skips the batches itself, without reading them."""
        now = torch.get_rng_state()
        torch.set_rng_state(position["iterator_rng"])
        self._peeked.clear()
        self._iterator = None
        if position.get("data_state") is not None and hasattr(self.data, "resume_at"):
            self.data.resume_at(position["data_state"], int(position["drawn"]))
            torch.set_rng_state(now)
            self._iterator_rng = position["iterator_rng"].clone()
            self._data_state = _data_state(self.data)
            self._iterator = iter(self.data)
            self._drawn = int(position["drawn"])
            self._skip_steps = int(position["epoch_steps"])
            return
        if position.get("data_state") is not None and hasattr(self.data, "load_state_dict"):
            self.data.load_state_dict(position["data_state"])
        try:
            for _ in range(int(position["drawn"])):
                self._next_raw()
        except StopIteration:
            raise DataError("BackupAndRestore: the data yields fewer batches than before the interruption; "
                            "resume with the same data.") from None
        finally:
            torch.set_rng_state(now)
        self._iterator_rng = position["iterator_rng"].clone()
        self._skip_steps = int(position["epoch_steps"])

    def end_pass(self) -> None:
        """Drop what is left of the current pass: the next epoch starts a new one (a one-shot generator, which
        cannot restart, goes on where it stands)."""
        self._iterator = None
        self._peeked.clear()
        self._consumed = None

    def epoch(self) -> Iterator[Batch]:
        if not self.prefetch_depth:
            yield from self._epoch()
            return
        if self._iterator is None and not self._peeked:  # made here: a DataLoader draws its shuffle seed now
            self._iterator_rng = torch.get_rng_state()
            self._data_state = _data_state(self.data)
            self._iterator = iter(self.data)
            self._drawn = 0
        for drawn, batch in prefetch(self._epoch(tagged=True), self.prefetch_depth):
            self._consumed = drawn  # the position of the batch trained on, not of those read ahead
            yield batch
        self._consumed = None

    def _epoch(self, tagged: bool = False) -> Iterator[Any]:
        steps, self._skip_steps = self._skip_steps, 0
        # Whether the current pass began in this epoch (an iterator carried over from the last one has drawn more
        # batches than this epoch took). steps_per_epoch takes batches from passes that go on across epochs, as
        # in Keras; a pass begun in this epoch that runs out before steps_per_epoch ends the epoch there, as Keras
        # does (the trainer warns that the input ran out of data), rather than cycling through the data again.
        began = self._iterator is None or self._drawn <= steps
        while self.steps_per_epoch is None or steps < self.steps_per_epoch:
            try:
                raw = self._next_raw()
            except StopIteration:
                self._iterator = None
                if self.one_shot:
                    self.exhausted = True  # the trainer warns if epochs or steps were still to come
                if self.steps_per_epoch is None or self.one_shot or began:
                    return
                began = True
                continue
            steps += 1
            yield (self._drawn, self._move(raw)) if tagged else self._move(raw)


def _too_big(leaves: list[torch.Tensor], device: torch.device, share: float = 0.5) -> bool:
    """Whether arrays would take more than ``share`` of the accelerator's free memory (never on CPU)."""
    if device.type != "cuda":
        return False
    free, _ = torch.cuda.mem_get_info(device)
    return sum(t.numel() * t.element_size() for t in leaves) > share * free


def _to_device(t: torch.Tensor, device: torch.device, non_blocking: bool) -> torch.Tensor:
    if non_blocking and t.device.type == "cpu" and not t.is_pinned():
        t = t.pin_memory()  # page-locked: the copy to the GPU then runs asynchronously
    return t.to(device, non_blocking=non_blocking)


def make_adapter(x: Any, y: Any = None, sample_weight: Any = None, batch_size: int | None = None,
                 shuffle: bool | str = False, device: Any = "cpu", class_weight: dict | None = None,
                 steps_per_epoch: int | None = None, stream: bool | None = None,
                 check_finite: bool = True) -> ArrayAdapter | IterableAdapter:
    """Pick the adapter for ``x``: arrays/tensors (and structures of them), or an iterable of batches.
    ``stream=True`` keeps arrays where they are and converts/copies them batch by batch (one pass: predict);
    ``check_finite=False`` skips the whole-array NaN/Inf check (predict, as Keras: NaN in, NaN out)."""
    if x is None:
        raise DataError("No data was given: pass x (and y) arrays, a DataLoader or a generator.")
    if isinstance(x, list) and x and all(isinstance(v, (int, float, list)) for v in x):
        x = np.asarray(x)  # a plain nested list of numbers is one array, not a list of inputs
    if isinstance(x, (Dataset, DataLoader, PyDataset)) or (hasattr(x, "__iter__") and not _is_array_like(x)):
        if y is not None or sample_weight is not None:
            raise DataError(
                f"When x is a {type(x).__name__}, it must yield (x, y) batches itself: do not pass y or "
                "sample_weight separately."
            )
        if class_weight is not None:
            raise DataError("class_weight works with in-memory arrays; with a DataLoader, yield sample weights.")
        if isinstance(x, PyDataset):  # Keras shuffles the order of a PyDataset's batches (in fit)
            x = EpochBatches(x, shuffle=bool(shuffle))
        return IterableAdapter(x, batch_size=batch_size, shuffle=bool(shuffle), device=device,
                               steps_per_epoch=steps_per_epoch)
    return ArrayAdapter(x, y, sample_weight, batch_size=batch_size, shuffle=shuffle, device=device,
                        class_weight=class_weight, steps_per_epoch=steps_per_epoch, stream=stream,
                        check_finite=check_finite)


def _is_array_like(x: Any) -> bool:
    if isinstance(x, (np.ndarray, torch.Tensor)):
        return True
    if isinstance(x, dict):
        return all(_is_array_like(v) for v in x.values())
    if isinstance(x, (list, tuple)):
        return len(x) > 0 and (all(_is_array_like(v) for v in x) or all(isinstance(v, (int, float)) for v in x))
    return False
