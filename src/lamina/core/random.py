"""Seeds: one call makes a CPU run repeatable bit for bit.

>>> set_random_seed(42)
"""

from __future__ import annotations

import os
import random as _py_random

import numpy as np
import torch


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (all devices).

    With ``deterministic=True`` PyTorch also switches to deterministic algorithms, so that GPU runs
    repeat too (at some cost in speed).
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative int; received {seed!r}.")
    _py_random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS repeats itself only with a fixed workspace (read when CUDA starts; harmless on CPU)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def new_generator(device: torch.device | str = "cpu") -> torch.Generator:
    """A generator on ``device`` seeded from PyTorch's global generator, so it follows set_random_seed."""
    g = torch.Generator(device=device)
    g.manual_seed(int(torch.randint(0, 2**62, (1,)).item()))
    return g


class SeedGenerator:
    """A private random stream for one layer: with a seed, the same sequence every run (and separate from the
    global RNG); without one, torch's global RNG (so ``set_random_seed`` governs it).

    >>> gen = SeedGenerator(7)
    >>> torch.rand(2, generator=gen.for_device(torch.device("cpu"))).shape
    torch.Size([2])
    """

    def __init__(self, seed: int | None = None):
        self.seed = seed
        self._generator: torch.Generator | None = None

    def for_device(self, device: torch.device) -> torch.Generator | None:
        """The generator to pass to torch's random functions on ``device`` (None: use the global RNG)."""
        if self.seed is None or device.type == "meta":
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device=device)
            self._generator.manual_seed(self.seed)
        return self._generator
