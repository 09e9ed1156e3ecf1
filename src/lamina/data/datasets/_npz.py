"""Read ``.npz`` dataset files as data only: numeric arrays with ``allow_pickle=False``, object arrays (IMDB's
and Reuters' lists of word indexes) through :mod:`lamina.data.safe_pickle`, which runs no code.

>>> import io, numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "d.npz")
>>> seqs = np.empty(2, dtype=object); seqs[0] = [1, 2]; seqs[1] = [3]
>>> np.savez(path, x=seqs, y=np.array([0, 1]))
>>> arrays = load_npz(path)
>>> arrays["x"].tolist(), arrays["y"].tolist()
([[1, 2], [3]], [0, 1])
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from lamina.data.datasets._files import DatasetIntegrityError
from lamina.data.safe_pickle import UnsafePickleError, loads


def _read_npy(raw: bytes, where: str) -> np.ndarray:
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            stream.seek(0)
            return np.lib.format.read_array(stream, allow_pickle=False)
        if not dtype.hasobject:
            stream.seek(0)
            return np.lib.format.read_array(stream, allow_pickle=False)
    except ValueError as exc:
        raise DatasetIntegrityError(f"{where} is not a readable .npy array ({exc})") from exc
    if dtype != np.dtype(object):
        raise DatasetIntegrityError(f"{where} has a structured dtype with objects ({dtype}); not supported")
    try:
        array = loads(raw[stream.tell() :])
    except UnsafePickleError as exc:
        raise DatasetIntegrityError(f"{where} holds a pickle that is not plain data: {exc}") from exc
    if not isinstance(array, np.ndarray) or array.dtype != object or array.shape != tuple(shape):
        raise DatasetIntegrityError(f"{where} should pickle an object array of shape {tuple(shape)}")
    return np.asfortranarray(array) if fortran else array


def load_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """All arrays in the ``.npz`` at ``path``, by name; object arrays are read without running code.

    Raises:
        DatasetIntegrityError: not a zip of ``.npy`` files, or an object array's pickle is not plain data.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            return {
                name[: -len(".npy")]: _read_npy(archive.read(name), f"{path}:{name}")
                for name in archive.namelist()
                if name.endswith(".npy")
            }
    except zipfile.BadZipFile as exc:
        raise DatasetIntegrityError(f"{path} is not a readable .npz file ({exc}); delete it to download again") from exc


def require(arrays: dict[str, np.ndarray], names: tuple[str, ...], path: str | os.PathLike[str]) -> list[np.ndarray]:
    """The arrays called ``names``; raises :class:`DatasetIntegrityError` naming the missing ones."""
    missing = [name for name in names if name not in arrays]
    if missing:
        raise DatasetIntegrityError(f"{path} lacks the arrays {missing} (it holds {sorted(arrays)})")
    return [arrays[name] for name in names]
