"""split_dataset against keras.utils.split_dataset (torch backend: it returns torch Subsets, which are compared
sample by sample with what lamina returns in the input's own kind).

With ``shuffle=False`` Keras 3.15's torch backend still shuffles (``random_split`` under the global torch
generator); lamina keeps the order, as Keras documents and its TensorFlow backend does, so those cases are
compared with plain slicing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import Subset, TensorDataset

from lamina.data.py_dataset import PyDataset
from lamina.data.timeseries_dataset import timeseries_dataset_from_array
from lamina.utils import split_dataset


def _keras_split(keras, data, **kwargs):
    left, right = keras.utils.split_dataset(data, preferred_backend="torch", **kwargs)
    return [tuple(np.asarray(t) for t in sample) for sample in left], \
        [tuple(np.asarray(t) for t in sample) for sample in right]


SIZES = [dict(left_size=0.35), dict(left_size=0.25), dict(left_size=0.15), dict(right_size=0.35),
         dict(right_size=3), dict(left_size=7), dict(left_size=4, right_size=6), dict(left_size=0.5, right_size=0.5)]


@pytest.mark.parametrize("sizes", SIZES, ids=lambda s: ",".join(f"{k}={v}" for k, v in s.items()))
@pytest.mark.parametrize(("shuffle", "seed"), [(False, None), (True, 1), (True, 42)])
def test_arrays_split_like_keras(keras, sizes, shuffle, seed):
    data = np.arange(30).reshape(10, 3)
    k_left, k_right = _keras_split(keras, data, shuffle=shuffle, seed=seed, **sizes)
    left, right = split_dataset(data, shuffle=shuffle, seed=seed, **sizes)
    assert isinstance(left, np.ndarray) and left.dtype == data.dtype
    assert (len(left), len(right)) == (len(k_left), len(k_right))
    if shuffle:
        np.testing.assert_array_equal(left, np.stack([s[0] for s in k_left]))
        np.testing.assert_array_equal(right, np.stack([s[0] for s in k_right]))
    else:
        np.testing.assert_array_equal(np.concatenate([left, right]), data)


@pytest.mark.parametrize(("shuffle", "seed"), [(False, None), (True, 3)])
def test_tuples_of_arrays_split_alike(keras, shuffle, seed):
    x, y = np.arange(24).reshape(12, 2).astype("float32"), np.arange(12)
    k_left, k_right = _keras_split(keras, (x, y), left_size=0.75, shuffle=shuffle, seed=seed)
    (lx, ly), (rx, ry) = split_dataset((x, y), left_size=0.75, shuffle=shuffle, seed=seed)
    assert rx.dtype == np.float32 and len(lx) == len(k_left) == 9
    if not shuffle:
        np.testing.assert_array_equal(np.concatenate([ly, ry]), y)
        return
    np.testing.assert_array_equal(lx, np.stack([s[0] for s in k_left]))
    np.testing.assert_array_equal(ly, [s[1] for s in k_left])
    np.testing.assert_array_equal(ry, [s[1] for s in k_right])


def test_torch_datasets_give_subsets_like_keras(keras):
    data = TensorDataset(torch.arange(10))
    k_left, _ = keras.utils.split_dataset(data, left_size=4, shuffle=True, seed=1, preferred_backend="torch")
    left, right = split_dataset(data, left_size=4, shuffle=True, seed=1)
    assert isinstance(left, Subset) and list(left.indices) == list(k_left.indices)
    assert sorted(list(left.indices) + list(right.indices)) == list(range(10))


def test_tensors_lists_and_dicts():
    left, right = split_dataset(torch.arange(5), right_size=2)
    assert torch.equal(left, torch.arange(3)) and torch.equal(right, torch.tensor([3, 4]))
    left, right = split_dataset(["a", "b", "c", "d"], left_size=0.5)
    assert left == ["a", "b"] and right == ["c", "d"]
    left, right = split_dataset({"x": np.arange(4), "y": np.arange(4) * 2}, left_size=1)
    assert left["y"].tolist() == [0] and right["x"].tolist() == [1, 2, 3]
    (a, b), _ = split_dataset([np.arange(4), np.arange(4)], left_size=2)
    assert a.tolist() == [0, 1]


def test_lamina_datasets_split_by_sample_and_keep_their_batch_size():
    ds = timeseries_dataset_from_array(np.arange(40), np.arange(40), 5, batch_size=4)
    left, right = split_dataset(ds, left_size=0.75, shuffle=True, seed=0)
    assert left.num_samples == 27 and right.num_samples == 9 and left.batch_size == 4
    firsts = [int(left[i][0][k, 0]) for i in range(len(left)) for k in range(len(left[i][0]))]
    firsts += [int(right[i][0][k, 0]) for i in range(len(right)) for k in range(len(right[i][0]))]
    assert sorted(firsts) == list(range(36))
    order = torch.randperm(36, generator=torch.Generator().manual_seed(0)).tolist()
    assert firsts == order


def test_any_pydataset_is_unbatched_then_split():
    class Batches(PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            x = np.arange(4 * i, 4 * i + 4, dtype="float32")
            return x, x * 2

    left, right = split_dataset(Batches(), left_size=10)
    assert isinstance(left, PyDataset) and left.batch_size == 4 and len(left) == 3 and len(right) == 1
    x, y = right[0]
    assert x.tolist() == [10.0, 11.0] and y.tolist() == [20.0, 22.0]


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    (dict(), ValueError, "At least one of the `left_size` or `right_size`"),
    (dict(left_size=10), ValueError, "positive integer smaller than 10"),
    (dict(left_size=0), ValueError, "positive integer smaller than 10"),
    (dict(left_size=1.0), ValueError, "positive integer smaller than 10"),
    (dict(left_size="a"), TypeError, "Invalid `left_size` Type"),
    (dict(left_size=0.6, right_size=0.6), ValueError, "greater than 1"),
    (dict(left_size=3, right_size=3), ValueError, "add up to the length"),
    (dict(left_size=0.04), ValueError, "left side dataset split will be empty"),
    (dict(left_size=0.96), ValueError, "right side dataset split will be empty"),
])
def test_size_errors_match_keras(keras, kwargs, error, message):
    with pytest.raises(error, match=message):
        split_dataset(np.arange(10), **kwargs)
    if "add up" not in message:  # (Keras's torch backend leaves that one to torch's random_split)
        with pytest.raises(error, match=message.replace("(", r"\(")):
            keras.utils.split_dataset(np.arange(10), preferred_backend="torch", **kwargs)


def test_other_inputs_are_refused():
    with pytest.raises(TypeError, match="split_dataset takes"):
        split_dataset(42, left_size=0.5)
    with pytest.raises(ValueError, match="different lengths"):
        split_dataset((np.arange(3), np.arange(4)), left_size=1)


def test_directory_datasets_split_keep_files_and_labels_together(tmp_path):
    for name in ["a/1.txt", "a/2.txt", "b/3.txt", "b/4.txt", "b/5.txt"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    from lamina.utils import text_dataset_from_directory

    ds = text_dataset_from_directory(tmp_path, batch_size=2, shuffle=False, verbose=False)
    left, right = split_dataset(ds, right_size=2, shuffle=True, seed=4)
    assert sorted(left.file_paths + right.file_paths) == sorted(ds.file_paths)
    order = torch.randperm(5, generator=torch.Generator().manual_seed(4)).tolist()
    assert left.file_paths == [ds.file_paths[i] for i in order[:3]]
    texts, labels = left[0]
    assert [t[0] for t in texts] == ["ab"[int(k)] for k in labels]
    np.testing.assert_array_equal(labels, left.labels[:2])
