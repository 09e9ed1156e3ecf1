"""Training scripts for Keras's ``keras.distribution`` names under ``torchrun`` (ModelParallel, DataParallel's
Keras arguments), and in one process as their oracle.

Usage: ``model_parallel_worker.py MODE OUT_DIR``. Rank 0 (and rank 1) write ``rank{r}.npz``/``rank{r}.json``.
With ``LAMINA_SINGLE_PROCESS=1`` the same script runs in one process without any distribution.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
from torch.distributed.tensor import DTensor

import lamina as keras
from lamina import distribution
from lamina.distribution import DataParallel, DeviceMesh, LayoutMap, ModelParallel, list_devices
from lamina.utils import set_random_seed

SAMPLES, FEATURES, CLASSES = 2499, 12, 3  # 20 global batches of 128; the last has 67 samples (34 + 33)
SINGLE = os.environ.get("LAMINA_SINGLE_PROCESS") == "1"


def linear_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    y = (x[:, :CLASSES].argmax(1) + (x[:, 5] > 1)).clip(0, CLASSES - 1).astype("int64")
    return x, y


def mlp(seed: int = 1) -> keras.Model:
    set_random_seed(seed)
    return keras.Sequential([keras.Input(shape=(FEATURES,)), keras.layers.Dense(16, activation="relu"),
                             keras.layers.Dense(CLASSES, activation="softmax")], name="sequential")


def full_weights(model: keras.Model) -> dict[str, np.ndarray]:
    return {k: (v.full_tensor() if isinstance(v, DTensor) else v).detach().cpu().numpy()
            for k, v in model.state_dict().items()}


def placements(model: keras.Model) -> dict[str, str]:
    return {k: str(tuple(v.placements)) if isinstance(v, DTensor) else "plain" for k, v in model.state_dict().items()}


def model_parallel(mesh_shape: tuple[int, ...], names: list[str], layouts: dict[str, tuple]) -> ModelParallel:
    mesh = DeviceMesh(mesh_shape, names, devices=list_devices())
    layout_map = LayoutMap(mesh)
    for key, axes in layouts.items():
        layout_map[key] = axes
    return ModelParallel(layout_map=layout_map)


def train(out: str, epochs: int = 1, optimizer: str = "sgd") -> dict:
    """SGD, no shuffle: 20 steps of global batch 128 (the last uneven); evaluate, predict and save."""
    x, y = linear_data()
    model = mlp()
    opt = keras.optimizers.SGD(0.1) if optimizer == "sgd" else keras.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=epochs, shuffle=False, verbose=0)
    result = model.evaluate(x, y, batch_size=100, verbose=0, return_dict=True)
    pred = model.predict(x[:1001], batch_size=64, verbose=0)
    model.save_weights(os.path.join(out, "mp.weights.safetensors"))  # collective: full weights, rank 0 writes
    model.load_weights(os.path.join(out, "mp.weights.safetensors"))  # each process takes its part back
    again = model.predict(x[:1001], batch_size=64, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), pred=pred, again=again, **full_weights(model))
    return {"history": history.history, "evaluate": result, "placements": placements(model)}


def tensor_parallel(out: str) -> dict:
    """Mesh (1, 2) ("batch", "model"): the first Dense's kernel split by columns, its bias with it."""
    if not SINGLE:
        distribution.set_distribution(model_parallel((1, 2), ["batch", "model"], {
            "sequential/dense/kernel": (None, "model"), "sequential/dense/bias": ("model",)}))
    return train(out)


def batch_and_weights(out: str) -> dict:
    """Mesh (2,) ("batch",): the data split along it, and the second Dense's kernel split by rows on it too."""
    if not SINGLE:
        distribution.set_distribution(model_parallel((2,), ["batch"], {".*dense_1.*kernel": ("batch", None)}))
    return train(out, epochs=2, optimizer="adam")


def stateful_layers(out: str) -> dict:
    """Mesh (1, 2): a split Dense with an L2 penalty, then a replicated BatchNormalization (its moving statistics
    updated in place), Adam with global_clipnorm."""
    if not SINGLE:
        distribution.set_distribution(model_parallel((1, 2), ["batch", "model"], {
            ".*dense/kernel": (None, "model"), ".*dense/bias": ("model",)}))
    x, y = linear_data()
    set_random_seed(1)
    model = keras.Sequential([keras.Input(shape=(FEATURES,)),
                              keras.layers.Dense(16, activation="relu", kernel_regularizer="l2"),
                              keras.layers.BatchNormalization(), keras.layers.Dense(CLASSES, activation="softmax")],
                             name="sequential")
    model.compile(optimizer=keras.optimizers.Adam(0.01, global_clipnorm=1.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **full_weights(model))
    return {"history": history.history, "placements": placements(model)}


def embedding_and_conv(out: str) -> dict:
    """Mesh (1, 2): an Embedding split by columns, then a replicated Conv1D (its input gathered whole: DTensor
    cannot split a convolution), integer inputs, Adam."""
    if not SINGLE:
        distribution.set_distribution(model_parallel((1, 2), ["batch", "model"], {
            ".*embedding/embeddings": (None, "model")}))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 50, size=(600, 10))
    y = (x[:, 0] % 3).astype("int64")
    set_random_seed(2)
    model = keras.Sequential([keras.Input((10,), dtype="int32"), keras.layers.Embedding(50, 8),
                              keras.layers.Conv1D(6, 3, activation="relu"), keras.layers.GlobalAveragePooling1D(),
                              keras.layers.Dense(3, activation="softmax")], name="sequential")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
    pred = model.predict(x[:100], verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), pred=pred, **full_weights(model))
    return {"history": history.history, "placements": placements(model)}


def keras_data_parallel(out: str) -> dict:
    """DataParallel(devices=list_devices()) as in Keras, and auto_shard_dataset=False with each rank's own half."""
    x, y = linear_data()
    x, y = x[:2048], y[:2048]
    info: dict = {}
    if not SINGLE:
        dp = DataParallel(devices=list_devices(), auto_shard_dataset=False)
        distribution.set_distribution(dp)
        info = {"mesh": repr(dp.device_mesh), "batch_dim_name": dp.batch_dim_name, "devices": list_devices(),
                "num_processes": dp.num_processes, "data_shard_id": dp.data_shard_id}
        # rank r's own data: rows [64 r, 64 r + 64) of every global batch of 128
        rank = distribution.rank()
        x = x.reshape(16, 2, 64, FEATURES)[:, rank].reshape(-1, FEATURES)
        y = y.reshape(16, 2, 64)[:, rank].reshape(-1)
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=128 if SINGLE else 64, epochs=1, shuffle=False, verbose=0)
    np.savez(os.path.join(out, f"rank{distribution.rank()}.npz"), **full_weights(model))
    return {"history": history.history, **info}


def keras_initialize(out: str) -> dict:
    """Started twice with plain python: Keras's initialize() joins the job from KERAS_DISTRIBUTION_* variables."""
    distribution.initialize()
    devices = list_devices()
    x, y = linear_data()
    model = mlp()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
    with DataParallel(devices=devices).scope():  # Keras's way to make a distribution current for a while
        history = model.fit(x, y, batch_size=128, epochs=1, shuffle=False, verbose=0)
        rank = distribution.rank()
    return {"devices": devices, "rank": rank, "history": history.history, "after": repr(distribution.distribution())}


MODES = {"tensor_parallel": tensor_parallel, "batch_and_weights": batch_and_weights,
         "stateful_layers": stateful_layers, "embedding_and_conv": embedding_and_conv,
         "keras_data_parallel": keras_data_parallel,
         "keras_initialize": keras_initialize}

if __name__ == "__main__":
    mode, out_dir = sys.argv[1], sys.argv[2]
    report = MODES[mode](out_dir)
    rank = int(os.environ.get("RANK", os.environ.get("KERAS_DISTRIBUTION_PROCESS_ID", "0")))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(report, f)
    distribution.shutdown()
