"""Checks shared by the loss and metric tests: arrays from tensors, closeness, and a guard against host syncs."""

from __future__ import annotations

import contextlib

import numpy as np
import torch


def to_np(x):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def assert_close(a, b, rtol, atol):
    np.testing.assert_allclose(to_np(a), to_np(b), rtol=rtol, atol=atol)


@contextlib.contextmanager
def no_host_sync():
    """Make obvious device-host synchronisations (and tensors built from host data) raise."""

    def refuse(*args, **kwargs):
        raise AssertionError("host sync")

    names = ["item", "tolist", "cpu", "numpy", "__bool__", "nonzero", "__int__", "__float__"]
    saved = {name: getattr(torch.Tensor, name) for name in names}
    functions = {name: getattr(torch, name) for name in ("nonzero", "as_tensor", "tensor")}  # + host copies
    try:
        for name in names:
            setattr(torch.Tensor, name, refuse)
        for name in functions:
            setattr(torch, name, refuse)
        yield
    finally:
        for name, fn in saved.items():
            setattr(torch.Tensor, name, fn)
        for name, fn in functions.items():
            setattr(torch, name, fn)
