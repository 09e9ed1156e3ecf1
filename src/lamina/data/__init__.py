"""Data plumbing: adapters from arrays, loaders and generators to device batches, dataset builders from
directories, and ``ParquetDataset``/``dict_batches`` for tables larger than memory and dict-yielding sources."""

from lamina.data.parquet import DictBatches, ParquetDataset, dict_batches

__all__ = ["DictBatches", "ParquetDataset", "dict_batches"]
