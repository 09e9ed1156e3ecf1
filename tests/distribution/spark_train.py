"""The training function tests/distribution/test_spark.py runs under Spark's TorchDistributor (an importable
module: the processes TorchDistributor starts unpickle it by reference)."""

from __future__ import annotations

import numpy as np

FEATURES = 12


def train(path: str, out: str, distributed: bool) -> dict:
    """What TorchDistributor runs on each process (and the test once in one process)."""
    import lamina
    from lamina.data import ParquetDataset
    from lamina.distribution import DataParallel, rank, set_distribution

    if distributed:
        set_distribution(DataParallel())
    lamina.backend.clear_session()
    lamina.utils.set_random_seed(1)
    model = lamina.Sequential([lamina.Input((FEATURES,)), lamina.layers.Dense(16, activation="relu"),
                               lamina.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=lamina.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    data = ParquetDataset(path, x=[f"f{i}" for i in range(FEATURES)], y="label", batch_size=128, shuffle=True,
                          seed=3)
    history = model.fit(data, epochs=2, verbose=0)
    if not distributed or rank() == 0:
        np.savez(out, *model.get_weights())
    return {"history": history.history, "steps": len(data)}
