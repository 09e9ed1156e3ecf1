"""``text_dataset_from_directory``: batches of texts (and labels) read from class folders, as Keras's.

Keras returns a ``tf.data.Dataset`` of ``tf.string`` batches; lamina returns a ``TextDirectoryDataset``: a
``PyDataset`` whose texts come as 1-D NumPy object arrays of ``str`` (UTF-8 decoded).

>>> import os, tempfile
>>> root = tempfile.mkdtemp()
>>> for name, text in [("neg/a.txt", "awful"), ("pos/b.txt", "great fun"), ("pos/c.txt", "fine")]:
...     os.makedirs(os.path.join(root, os.path.dirname(name)), exist_ok=True)
...     with open(os.path.join(root, name), "w") as f:
...         _ = f.write(text)
>>> ds = text_dataset_from_directory(root, batch_size=2, shuffle=False, max_length=5)
Found 3 files belonging to 2 classes.
>>> texts, labels = ds[0]
>>> texts.tolist(), labels.tolist()
(['awful', 'great'], [0, 1])
"""

from __future__ import annotations

from typing import Any

from lamina.data.directory_index import IndexedSplit, encode_labels, indexed_splits
from lamina.data.sample_batches import FileBatches

TEXT_FORMATS = (".txt",)


class TextDirectoryDataset(FileBatches):
    """The texts of ``file_paths`` as object arrays of ``str``, with their labels (``(texts, labels)``; texts
    alone without labels). ``max_length`` cuts each file to its first ``max_length`` bytes (as Keras's
    ``tf.strings.substr``; a character cut in two is dropped)."""

    def __init__(self, split: IndexedSplit, batch_size: int | None, max_length: int | None):
        index = split.index
        labels = None if index.labels is None else encode_labels(index.labels, split.label_mode,
                                                                 len(index.class_names or []))
        super().__init__(index.paths, labels, index.class_names, batch_size, shuffle=split.shuffle,
                         seed=split.seed)
        self.max_length = max_length

    def read(self, path: str) -> str:
        with open(path, "rb") as f:
            data = f.read()
        if self.max_length is not None:
            return data[:self.max_length].decode("utf-8", errors="ignore")
        return data.decode("utf-8", errors="replace")


def text_dataset_from_directory(
    directory: str,
    labels: Any = "inferred",
    label_mode: str | None = "int",
    class_names: list[str] | None = None,
    batch_size: int | None = 32,
    max_length: int | None = None,
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    follow_links: bool = False,
    format: str = "tf",
    verbose: bool = True,
) -> TextDirectoryDataset | list[TextDirectoryDataset]:
    """Batches of the ``.txt`` files in ``directory``, as ``keras.utils.text_dataset_from_directory``.

    Files, classes, labels, shuffle and split follow ``image_dataset_from_directory`` (and Keras): subfolders
    are the classes with ``labels="inferred"``; ``validation_split``/``subset`` (``"training"``,
    ``"validation"`` or ``"both"``) split the seeded order; ``label_mode`` is ``"int"``, ``"categorical"``,
    ``"binary"`` or None. ``max_length`` keeps the first ``max_length`` bytes of each file. ``format`` is
    accepted for Keras compatibility.

    Returns:
        A ``TextDirectoryDataset`` (a ``PyDataset`` of ``(texts, labels)`` NumPy batches, texts as an object
        array of ``str``) with ``class_names`` and ``file_paths``; a list of two for ``subset="both"``.
    """
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ValueError(f"`max_length` must be a positive integer or None; received {max_length!r}.")
    splits = indexed_splits(directory, labels, label_mode, class_names, TEXT_FORMATS, "text files", shuffle, seed,
                            validation_split, subset, follow_links, verbose)
    datasets = [TextDirectoryDataset(s, batch_size, max_length) for s in splits]
    return datasets if subset == "both" else datasets[0]
