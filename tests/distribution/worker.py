"""The training scripts the distribution tests start under ``torchrun`` (and, for the launch error, plainly).

Usage: ``worker.py MODE OUT_DIR [extra]``. Each mode is an ordinary Keras-style script plus one
``set_distribution(...)`` line; rank 0 writes what the test checks into OUT_DIR as ``.npz``/``.json``.
"""

from __future__ import annotations

import json
import os
import signal
import sys

import numpy as np

import lamina as keras
from lamina import distribution
from lamina.utils import set_random_seed

SAMPLES, FEATURES, CLASSES = 2499, 12, 3  # 20 global batches of 128; the last has 67 samples (34 + 33)


def linear_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = (x[:, :CLASSES].argmax(1) + (x[:, 5] > 1)).clip(0, CLASSES - 1).astype("int64")
    return x, y


def mlp(seed: int = 1) -> keras.Model:
    set_random_seed(seed)
    return keras.Sequential([keras.Input(shape=(FEATURES,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(CLASSES, activation="softmax")])


def weights_of(model: keras.Model) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in model.state_dict().items()}


def equivalence(out: str) -> dict:
    """SGD, no shuffle: 20 steps of global batch 128; then evaluate and predict on all the data."""
    x, y = linear_data()
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=2)
    result = model.evaluate(x, y, batch_size=100, verbose=0, return_dict=True)
    pred = model.predict(x[:1001], batch_size=64, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), pred=pred, **weights_of(model))
    return {"history": history.history, "evaluate": result}


def fashion(out: str) -> dict:
    """Adam with shuffling on a Fashion-MNIST subset; the printed epoch lines come from rank 0."""
    from lamina.datasets import fashion_mnist

    (x, y), (xt, yt) = fashion_mnist.load_data()
    n = int(os.environ.get("LAMINA_TEST_SAMPLES", "6000"))
    x, y, xt, yt = x[:n] / 255.0, y[:n], xt[:2000] / 255.0, yt[:2000]
    set_random_seed(3)
    model = keras.Sequential([keras.Input(shape=(28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(64, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=2, validation_data=(xt, yt), verbose=2)
    result = model.evaluate(xt, yt, batch_size=256, verbose=0, return_dict=True)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **weights_of(model))
    return {"history": history.history, "evaluate": result}


def fsdp(out: str) -> dict:
    """FSDP2: train, save the full weights (rank 0 writes), predict."""
    x, y = linear_data()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=2, verbose=0)
    model.save_weights(os.path.join(out, "fsdp.weights.safetensors"))
    model.save(os.path.join(out, "fsdp.lamina"))  # the whole model: full weights gathered, written by rank 0
    pred = model.predict(x[:500], batch_size=50, verbose=0)
    model.load_weights(os.path.join(out, "fsdp.weights.safetensors"))  # loading into the sharded model
    again = model.predict(x[:500], batch_size=50, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), pred=pred, again=again)
    return {"history": history.history,
            "sharded": [type(p).__name__ for p in model.parameters()]}


class KillRank1(keras.callbacks.Callback):
    """Rank 1 dies (SIGKILL: no clean-up, like an out-of-memory kill) at global step ``step`` of epoch 1."""

    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if distribution.rank() == 1 and self.epoch == 1 and batch == self.step:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch


class CountSteps(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps: list[list[int]] = []

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.steps.append([self.epoch, batch])

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch


def backup(out: str, kill_step: str = "-1") -> dict:
    """BackupAndRestore every 5 steps; with kill_step >= 0, rank 1 dies at that step of the second epoch."""
    x, y = linear_data()
    model = mlp()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    counter = CountSteps()
    callbacks = [keras.callbacks.BackupAndRestore(os.path.join(out, "backup"), save_freq=5), counter,
                 KillRank1(int(kill_step))]
    history = model.fit(x, y, batch_size=128, epochs=3, shuffle=True, verbose=0, callbacks=callbacks)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **weights_of(model))
    return {"steps": counter.steps, "history": history.history}


class RankBatches:
    """A re-iterable source of per-process batches: ``sizes[r][i]`` rows for process ``r`` at step ``i``, cut in
    order from ``x``/``y``. Under a distribution process ``r`` yields its own parts; in one process (the oracle)
    step ``i`` yields the concatenation of every process's part, so both see the same global batches. With
    ``drop``, the single process stops at the first step where some process has no part."""

    def __init__(self, x: np.ndarray, y: np.ndarray, sizes: list[list[int]], drop: bool = False):
        self.parts: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in sizes]
        offset = 0
        for i in range(max(len(s) for s in sizes)):
            for r, s in enumerate(sizes):
                if i < len(s):
                    self.parts[r].append((x[offset:offset + s[i]], y[offset:offset + s[i]]))
                    offset += s[i]
        self.drop = drop

    def __iter__(self):
        if distribution.distribution() is not None:
            yield from self.parts[distribution.rank()]
            return
        steps = (min if self.drop else max)(len(p) for p in self.parts)
        for i in range(steps):
            here = [p[i] for p in self.parts if i < len(p)]
            yield np.concatenate([a for a, _ in here]), np.concatenate([b for _, b in here])


def stale(out: str) -> dict:
    """A fit on arrays whose last global batch has one sample (rank 1 gets none), then a fit of another model on
    per-process generator batches: the second must not inherit the first's gradient weights."""
    x, y = linear_data()
    first = mlp()
    first.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    first.fit(x[:1801], y[:1801], batch_size=100, shuffle=False, verbose=0)  # 18 batches of 100, then 1 sample
    model = mlp(seed=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    source = RankBatches(x[1801:], y[1801:], [[64] * 5, [64] * 5])
    history = model.fit(iter(source), epochs=1, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **weights_of(model))
    return {"history": history.history}


def uneven(out: str) -> dict:
    """Generators whose processes yield different numbers of batches (10 and 9) of different sizes (150 and
    50 rows), two epochs, SGD and Adam's second moments both sensitive to the weighting; then evaluate."""
    x, y = linear_data()
    drop = os.environ.get("LAMINA_TEST_UNEVEN", "pad") == "drop"
    source = RankBatches(x, y, [[150] * 10, [50] * 9], drop=drop)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1, momentum=0.5), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(source, epochs=2, verbose=0)
    everything = RankBatches(x, y, [[150] * 10, [50] * 9])  # evaluation uses every batch of every process
    result = model.evaluate(everything, verbose=0, return_dict=True)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **weights_of(model))
    return {"history": history.history, "evaluate": result}


def parquet(out: str) -> dict:
    """The README's classifier (its /255 scaling as a Rescaling layer) trained from Fashion-MNIST images in a
    Parquet file with row groups of 64 rows, global batch 128, shuffled with a shared seed: each process reads its
    own row groups; two processes train on the same global batches as one."""
    from lamina.data.parquet import ParquetDataset

    data = ParquetDataset(os.environ["LAMINA_TEST_PARQUET"], x="image", y="label", x_shape=(28, 28, 1),
                          batch_size=128, shuffle=True, seed=11)
    set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(28, 28, 1)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(data, epochs=2, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **weights_of(model))
    return {"history": history.history, "steps": len(data)}


def frozen(out: str) -> dict:
    """Rank 1 freezes (sleeps) at step 3 while rank 0 goes on: rank 0 must fail within its timeout plus the probe,
    naming rank 1."""
    import time

    x, y = linear_data()
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")

    class Freeze(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3 and distribution.rank() == 1:
                time.sleep(float(os.environ.get("LAMINA_TEST_FREEZE", "120")))

    started = time.monotonic()
    try:
        model.fit(x, y, batch_size=128, epochs=1, verbose=0, callbacks=[Freeze()])
    except distribution.DistributedError as error:
        with open(os.path.join(out, f"error{distribution.rank()}.txt"), "w") as f:
            f.write(f"{time.monotonic() - started:.1f}\n{error}")
        os._exit(3)  # what an unhandled error does, without waiting for the frozen peer at exit
    return {}


def mismatch(out: str) -> dict:
    """Rank 1 compiled with an extra metric: the end-of-epoch reduction must name what each process has."""
    x, y = linear_data()
    model = mlp()
    metrics = ["accuracy"] if distribution.rank() == 1 else []
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=metrics)
    try:
        model.fit(x, y, batch_size=128, epochs=1, verbose=0)
    except distribution.DistributedError as error:
        with open(os.path.join(out, f"error{distribution.rank()}.txt"), "w") as f:
            f.write(str(error))
        raise
    return {}


MODES = {"equivalence": (equivalence, distribution.DataParallel), "fashion": (fashion, distribution.DataParallel),
         "fsdp": (fsdp, distribution.FullyShardedDataParallel), "backup": (backup, distribution.DataParallel),
         "stale": (stale, distribution.DataParallel), "uneven": (uneven, distribution.DataParallel),
         "parquet": (parquet, distribution.DataParallel), "frozen": (frozen, distribution.DataParallel),
         "mismatch": (mismatch, distribution.DataParallel)}

if __name__ == "__main__":
    mode, out, *extra = sys.argv[1:]
    run, kind = MODES[mode]
    if "LAMINA_TEST_ADOPT_RANK" in os.environ:  # a user's own process group, no torchrun variables at all
        import torch.distributed

        torch.distributed.init_process_group("gloo", init_method=f"file://{os.path.join(out, 'rendezvous')}",
                                             rank=int(os.environ["LAMINA_TEST_ADOPT_RANK"]), world_size=2)
    if os.environ.get("LAMINA_SINGLE_PROCESS") != "1":
        options = {"uneven_batches": os.environ["LAMINA_TEST_UNEVEN"]} if "LAMINA_TEST_UNEVEN" in os.environ else {}
        distribution.set_distribution(kind(timeout=float(os.environ.get("LAMINA_TEST_TIMEOUT", "60")), **options))
    report = run(out, *extra)
    with open(os.path.join(out, f"rank{distribution.rank()}.json"), "w") as f:
        json.dump(report, f)
