"""``ParquetDataset``: train from Parquet files larger than memory, each process reading its own row groups.

Parquet (what Spark, pandas, Ray and most data lakes write) stores a table as row groups, each with its row count
in the file footer. ``ParquetDataset`` reads one row group at a time (memory bounded by a row group plus one
batch), turns the chosen columns into batches, and under a distribution gives each process its own row groups,
with step counts taken from the footers (no pass over the data, no communication to count them).

>>> import os, tempfile
>>> import numpy as np, pyarrow as pa, pyarrow.parquet as pq
>>> path = os.path.join(tempfile.mkdtemp(), "train.parquet")
>>> pq.write_table(pa.table({"a": np.arange(10.0), "b": np.ones(10), "label": np.arange(10) % 2}), path,
...                row_group_size=4)
>>> data = ParquetDataset(path, x=["a", "b"], y="label", batch_size=4)
>>> len(data), [tuple(x.shape) for x, y in data]
(3, [(4, 2), (4, 2), (2, 2)])

Columns become arrays as follows: a numeric column gives ``(rows,)`` (several numeric columns named in a list are
stacked into ``(rows, columns)``); a fixed-size list column gives ``(rows, size)``; a binary column (e.g. raw image
bytes) gives ``uint8`` ``(rows, bytes)``; ``x_shape``/``y_shape`` reshape the result per row (``(28, 28, 1)``);
a string column gives a NumPy array of ``str`` for string preprocessing layers. ``x`` may also be a dict
``{input name: column(s)}`` for a model with named inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

ColumnSpec = str | Sequence[str] | dict[str, Any]


class ParquetDataset:
    """Batches from Parquet files, one row group in memory at a time, sharded by process.

    Args:
        source: a file, a directory of files (read recursively, Hive partitions included), a list of files, or a
            ``pyarrow.dataset.Dataset``. URIs such as ``s3://...``/``hdfs://...`` work where pyarrow (or the
            given ``filesystem``) has a driver for them.
        x, y, sample_weight: the columns for the inputs, targets and sample weights (see the module's docs).
        batch_size: the global batch size: under a distribution of ``N`` processes each reads ``batch_size / N``
            rows per step from its own row groups.
        shuffle: shuffle the order of the row groups and the rows inside each, anew every epoch, with ``seed``
            (every process uses the same seed, so the row groups are split between them without overlap).
        seed: the shuffling seed; by default one drawn from ``torch``'s global generator (under a distribution,
            process 0's is shared with the others once, a collective at the first ``len()`` or iteration, which
            every process must make, as ``fit`` does; pass ``seed`` to avoid it).
        x_shape, y_shape: per-row shapes to reshape list or binary columns to (e.g. ``(28, 28, 1)``).
        dtype: the dtype of floating-point columns (integer and binary columns keep theirs).
        drop_remainder: drop each process's last, short batch of an epoch.
        shard: under a ``torch.distributed`` process group, give each process its share of the row groups
            (``False``: every process reads everything).
        filesystem: a ``pyarrow.fs.FileSystem`` or an fsspec filesystem for ``source``.

    With row groups of ``batch_size / N`` rows, ``N`` processes train on exactly the global batches one process
    does; with other sizes every row is still used once per epoch, in other batches. Exact resume with
    ``BackupAndRestore`` restores the epoch's order and skips the row groups already trained on by their counts.
    """

    def __init__(self, source: Any, x: ColumnSpec, y: ColumnSpec | None = None, sample_weight: str | None = None,
                 *, batch_size: int = 32, shuffle: bool = False, seed: int | None = None,
                 x_shape: Sequence[int] | None = None, y_shape: Sequence[int] | None = None, dtype: str = "float32",
                 drop_remainder: bool = False, shard: bool = True, filesystem: Any = None):
        import pyarrow.dataset as pads  # optional dependency: lamina[parquet]

        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; received {batch_size!r}.")
        self._dataset = source if isinstance(source, pads.Dataset) else pads.dataset(
            source, format="parquet", filesystem=filesystem)
        names = set(self._dataset.schema.names)
        self.x, self.y, self.sample_weight = x, y, sample_weight
        wanted = _columns_of(x) + _columns_of(y) + _columns_of(sample_weight)
        missing = [c for c in wanted if c not in names]
        if missing:
            raise ValueError(f"ParquetDataset: the columns {missing} are not in the data; its columns are "
                             f"{sorted(names)}.")
        if not _columns_of(x):
            raise ValueError("ParquetDataset needs x: the column (or columns) holding the inputs.")
        self._columns = list(dict.fromkeys(wanted))
        self.batch_size, self.shuffle, self.drop_remainder, self.shard = batch_size, bool(shuffle), \
            bool(drop_remainder), bool(shard)
        self.x_shape = tuple(x_shape) if x_shape is not None else None
        self.y_shape = tuple(y_shape) if y_shape is not None else None
        self.dtype = np.dtype(dtype)
        self._seed = seed
        self._epoch = 0  # the epoch the next iterator reads (its shuffle order)
        self._skip = 0  # batches the next iterator skips (an exact resume)
        # Every row group, with its row count from the footer (read once; no data is read here).
        self._units = [(fragment, rg.id, rg.num_rows)
                       for fragment in self._dataset.get_fragments()
                       for rg in fragment.row_groups]
        if not self._units or not sum(n for _, _, n in self._units):
            raise ValueError(f"ParquetDataset: {source!r} holds no rows.")

    # -------------------------------------------------------------- who reads what
    def _world(self) -> tuple[int, int]:
        dist = torch.distributed
        if self.shard and dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def _shared_seed(self) -> int:
        if self._seed is None:
            seed = [int(torch.randint(0, 2**31 - 1, (1,)).item())]
            rank, world = self._world()
            if world > 1:  # once: every process must shuffle the row groups the same way
                torch.distributed.broadcast_object_list(seed, src=0)
            self._seed = seed[0]
        return self._seed

    def _local_batch(self, world: int) -> int:
        if self.batch_size % world:
            raise ValueError(f"ParquetDataset: the global batch_size {self.batch_size} does not split evenly over "
                             f"{world} processes; use a multiple of {world}.")
        return self.batch_size // world

    def _order(self, epoch: int) -> list[int]:
        order = list(range(len(self._units)))
        if self.shuffle:
            order = [int(i) for i in np.random.default_rng([self._shared_seed(), epoch]).permutation(len(order))]
        return order

    def _my_units(self, epoch: int) -> list[int]:
        rank, world = self._world()
        return self._order(epoch)[rank::world]

    def _steps(self, rows: int, batch: int) -> int:
        return rows // batch if self.drop_remainder else math.ceil(rows / batch)

    def __len__(self) -> int:
        """This process's steps per epoch, from the row counts in the footers."""
        rank, world = self._world()
        rows = sum(self._units[i][2] for i in self._my_units(self._epoch))
        return self._steps(rows, self._local_batch(world))

    # -------------------------------------------------------------- exact resume (IterableAdapter's protocol)
    def state_dict(self) -> dict:
        """Where the next pass starts: its epoch (its shuffle order) and the seed."""
        return {"epoch": self._epoch, "seed": self._shared_seed() if self.shuffle else self._seed, "skip": 0}

    def load_state_dict(self, state: dict) -> None:
        """Make the next pass the one ``state`` describes (its epoch's order, and ``state["skip"]`` batches
        skipped by the footers' row counts: skipped row groups are not read)."""
        self._epoch, self._seed = int(state["epoch"]), state["seed"]
        self._skip = int(state.get("skip", 0))

    def resume_at(self, state: dict, batches: int) -> None:
        """``IterableAdapter``'s exact resume: the next pass is ``state``'s, after its first ``batches``."""
        self.load_state_dict({**state, "skip": batches})

    # -------------------------------------------------------------- reading
    def __iter__(self) -> Iterator[Any]:
        epoch, skip = self._epoch, self._skip
        self._epoch, self._skip = epoch + 1, 0
        _, world = self._world()
        batch = self._local_batch(world)
        units = self._my_units(epoch)
        total_steps = self._steps(sum(self._units[i][2] for i in units), batch)
        rng = np.random.default_rng([self._shared_seed(), epoch, 1]) if self.shuffle else None
        return self._batches(units, batch, total_steps, skip, rng)

    def _batches(self, units: list[int], batch: int, total_steps: int, skip: int,
                 rng: np.random.Generator | None) -> Iterator[Any]:
        buffer: dict[str, np.ndarray] | None = None  # rows read and not yet batched: buffer[k][offset:]
        offset = held = 0
        first_row = skip * batch  # rows of this pass already trained on (an exact resume)
        step = skip
        for index in units:
            fragment, group, rows = self._units[index]
            order = rng.permutation(rows) if rng is not None else None  # drawn for every group, read or not
            if first_row >= rows:
                first_row -= rows  # skipped by its footer count: not read
                continue
            table = fragment.subset(row_group_ids=[group]).to_table(columns=self._columns)
            columns = {name: _to_numpy(table.column(name)) for name in self._columns}
            if order is not None:
                columns = {k: v[order] for k, v in columns.items()}
            if first_row:
                columns = {k: v[first_row:] for k, v in columns.items()}
                first_row = 0
            if buffer is not None and offset < held:
                columns = {k: np.concatenate([buffer[k][offset:], v]) for k, v in columns.items()}
            buffer, offset, held = columns, 0, len(next(iter(columns.values())))
            while held - offset >= batch and step < total_steps:
                yield self._batch({k: v[offset:offset + batch] for k, v in buffer.items()})
                offset += batch
                step += 1
        if buffer is not None and offset < held and step < total_steps:
            yield self._batch({k: v[offset:] for k, v in buffer.items()})

    def _batch(self, columns: dict[str, np.ndarray]) -> Any:
        x = _select(columns, self.x, self.x_shape, self.dtype)
        if self.y is None:
            return x
        y = _select(columns, self.y, self.y_shape, self.dtype)
        if self.sample_weight is None:
            return x, y
        return x, y, columns[self.sample_weight].astype(self.dtype)

    def __repr__(self) -> str:
        rows = sum(n for _, _, n in self._units)
        return (f"ParquetDataset({rows} rows in {len(self._units)} row groups, x={self.x!r}, y={self.y!r}, "
                f"batch_size={self.batch_size})")


def dict_batches(source: Any, x: ColumnSpec, y: ColumnSpec | None = None, sample_weight: str | None = None, *,
                 x_shape: Sequence[int] | None = None, y_shape: Sequence[int] | None = None,
                 dtype: str = "float32") -> DictBatches:
    """Turn an iterable of dict batches (Ray Data's ``iter_torch_batches()``/``iter_batches()``, a pandas-chunk
    generator, ...) into ``(x, y)`` batches ``fit`` takes, choosing columns as ``ParquetDataset`` does.

    >>> import numpy as np
    >>> rows = [{"f1": np.ones(2), "f2": np.zeros(2), "label": np.array([0, 1])}]
    >>> [(tuple(x.shape), y.tolist()) for x, y in dict_batches(rows, x=["f1", "f2"], y="label")]
    [((2, 2), [0, 1])]
    """
    return DictBatches(source, x, y, sample_weight, x_shape=x_shape, y_shape=y_shape, dtype=dtype)


class DictBatches:
    """What :func:`dict_batches` returns: re-iterable when its source is (a list, Ray's dataset iterator)."""

    def __init__(self, source: Any, x: ColumnSpec, y: ColumnSpec | None, sample_weight: str | None, *,
                 x_shape: Sequence[int] | None, y_shape: Sequence[int] | None, dtype: str):
        if not _columns_of(x):
            raise ValueError("dict_batches needs x: the key (or keys) of each batch holding the inputs.")
        self.source, self.x, self.y, self.sample_weight = source, x, y, sample_weight
        self.x_shape = tuple(x_shape) if x_shape is not None else None
        self.y_shape = tuple(y_shape) if y_shape is not None else None
        self.dtype = np.dtype(dtype)

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self) -> Iterator[Any]:
        wanted = _columns_of(self.x) + _columns_of(self.y) + _columns_of(self.sample_weight)
        for number, batch in enumerate(self.source):
            if not isinstance(batch, dict):
                raise TypeError(f"dict_batches: batch {number} is a {type(batch).__name__}, not a dict of columns.")
            missing = [c for c in wanted if c not in batch]
            if missing:
                raise KeyError(f"dict_batches: batch {number} has no {missing}; its keys are {sorted(batch)}.")
            columns = {k: _as_numpy(batch[k]) for k in wanted}
            x = _select(columns, self.x, self.x_shape, self.dtype)
            if self.y is None:
                yield x
                continue
            y = _select(columns, self.y, self.y_shape, self.dtype)
            yield (x, y) if self.sample_weight is None else (x, y, columns[self.sample_weight].astype(self.dtype))


# ---------------------------------------------------------------------------------- columns -> arrays
def _columns_of(spec: ColumnSpec | None) -> list[str]:
    if spec is None:
        return []
    if isinstance(spec, str):
        return [spec]
    if isinstance(spec, dict):
        return [c for v in spec.values() for c in _columns_of(v)]
    if isinstance(spec, (list, tuple)) and all(isinstance(c, str) for c in spec):
        return list(spec)
    raise TypeError(f"A column selection is a column name, a list of names or a dict of them; received {spec!r}.")


def _as_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _to_numpy(column: Any) -> np.ndarray:
    """One Arrow column (a chunked array) as a NumPy array: lists become 2-D, binaries ``uint8`` rows."""
    import pyarrow as pa

    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    kind = array.type
    if pa.types.is_fixed_size_list(kind) or pa.types.is_list(kind) or pa.types.is_large_list(kind):
        flat = _to_numpy(array.flatten())
        return flat.reshape(len(array), -1) if len(array) else flat.reshape(0, 0)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        values = array.to_pylist()
        sizes = {len(v) for v in values}
        if len(sizes) > 1:
            raise ValueError(f"ParquetDataset: a binary column's values have different sizes {sorted(sizes)[:5]}; "
                             "only fixed-size binaries (e.g. raw image bytes) become arrays.")
        return np.frombuffer(bytearray(b"".join(values)), dtype=np.uint8).reshape(len(values), -1)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return np.asarray(array.to_pylist(), dtype=object).astype(str)
    values = array.to_numpy(zero_copy_only=False)
    return values if values.flags.writeable else values.copy()  # Arrow's buffers are read-only; torch writes


def _select(columns: dict[str, np.ndarray], spec: ColumnSpec, shape: tuple | None, dtype: np.dtype) -> Any:
    if isinstance(spec, dict):
        return {name: _select(columns, sub, None, dtype) for name, sub in spec.items()}
    if isinstance(spec, str):
        value = columns[spec]
    else:
        parts = [columns[c] for c in spec]
        value = np.stack(parts, axis=1) if all(p.ndim == 1 for p in parts) else np.concatenate(
            [p.reshape(len(p), -1) for p in parts], axis=1)
    if value.dtype.kind == "f" and value.dtype != dtype:
        value = value.astype(dtype)
    if shape is not None:
        try:
            value = value.reshape((len(value), *shape))
        except ValueError:
            raise ValueError(f"ParquetDataset: rows of {value.shape[1:]} values cannot be reshaped to "
                             f"{shape}.") from None
    return value
