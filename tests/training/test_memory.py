"""Memory: thirty epochs of fit keep the process's resident memory flat (no per-step or per-epoch leak: no
retained graphs, logs, batches or metric tensors)."""

import gc
import os

import numpy as np
import pytest

import lamina
from lamina import layers

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
def test_thirty_epochs_keep_resident_memory_flat():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 32)).astype("float32")
    y = rng.integers(0, 4, size=(640,))
    model = lamina.Sequential([layers.Input(shape=(32,)), layers.Dense(64, activation="relu"), layers.Dropout(0.1),
                               layers.Dense(4)])
    model.compile(optimizer="adam", loss=lamina.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    readings = []
    record = lamina.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: readings.append(rss_bytes()))
    gc.collect()
    model.fit(x, y, batch_size=32, epochs=30, verbose=0, validation_split=0.1, callbacks=[record])
    growth = readings[-1] - readings[4]  # after the first epochs' one-off allocations (allocator pools, oneDNN)
    # 25 epochs x 18 steps: a leak of one batch (8 KB) or one small graph per step would exceed this bound
    assert growth < 3 * 2**20, f"resident memory grew by {growth / 2**20:.1f} MiB over 25 epochs: {readings}"
