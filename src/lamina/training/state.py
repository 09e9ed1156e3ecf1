"""Everything that changes while a model trains, captured into one file and restored from it, so that a run
interrupted at any step continues exactly as if it had never stopped (``BackupAndRestore``).

The state: the model's weights and buffers, the optimizer's state and step counter, the metrics' accumulators,
the position in the data (epoch, step, and the shuffle generator as it stood when the pass began), every random
stream (torch's global RNG, CUDA's, NumPy's, Python's, and the private generators of seeded layers), the
``History`` so far and the state of callbacks that keep one (``state_dict``/``load_state_dict``). The file is
safetensors (tensors) with a JSON header entry (everything else): no pickle.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, MutableMapping
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes

from lamina.core import bounded_json
from lamina.core.files import atomic_write_bytes
from lamina.core.random import SeedGenerator

FORMAT = "lamina.backup/1"


# ---------------------------------------------------------------------------------------------- capture
def capture(trainer: Any, adapter: Any, callbacks: list, epoch: int, epoch_steps: int) -> tuple[dict, dict]:
    """``(tensors, meta)`` describing the run after ``epoch_steps`` steps of ``epoch``."""
    model = trainer.model
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"format": FORMAT, "epoch": epoch, "epoch_steps": epoch_steps}

    for name, value in model.state_dict().items():
        tensors[f"model/{name}"] = value
    opt_tensors, meta["optimizer"] = trainer.optimizer.state_dict()
    tensors.update({f"optimizer/{k}": v for k, v in opt_tensors.items()})

    meta["metrics"] = []
    for i, metric in enumerate(model.metrics):
        numbers = {}
        for key, value in _metric_state(metric).items():
            if isinstance(value, torch.Tensor):
                tensors[f"metric/{i}/{key}"] = value
            else:
                numbers[key] = value
        meta["metrics"].append({"name": metric.name, "numbers": numbers})

    position = adapter.position(epoch_steps)
    meta["data"] = {k: v for k, v in position.items() if not isinstance(v, torch.Tensor)}
    tensors.update({f"data/{k}": v for k, v in position.items() if isinstance(v, torch.Tensor)})

    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    meta["numpy_rng"] = [kind, int(pos), int(has_gauss), float(cached)]
    version, internal, gauss = random.getstate()
    meta["python_rng"] = [version, list(internal), gauss]
    for path, generator in _seed_generators(model):
        if generator._generator is not None:
            tensors[f"rng/layer/{path}"] = generator._generator.get_state()
            meta.setdefault("layer_rng_devices", {})[path] = str(generator._generator.device)

    meta["callbacks"] = {}
    for i, cb in enumerate(callbacks):
        if hasattr(cb, "state_dict") and hasattr(cb, "load_state_dict"):
            meta["callbacks"][f"{i}:{type(cb).__name__}"] = cb.state_dict()
        elif _is_history(cb):
            meta["callbacks"][f"{i}:{type(cb).__name__}"] = {"history": cb.history, "epoch": cb.epoch}
    return tensors, meta


def _is_history(cb: Any) -> bool:
    return isinstance(getattr(cb, "history", None), dict) and isinstance(getattr(cb, "epoch", None), list)


def _metric_state(metric: Any) -> dict:
    """A metric's accumulators (a container's: its metrics', see ``compile._ChildStates``) and the variables of
    Keras-style ``add_variable`` state (as ``variable/<index>``)."""
    state = getattr(metric, "_state", None)
    if not isinstance(state, Mapping):
        return {k: v for k, v in vars(metric).items() if isinstance(v, torch.Tensor)}
    out = dict(state)
    out.update({f"variable/{i}": v for i, v in enumerate(getattr(metric, "_variables", ()))})
    return out


def _set_metric_state(metric: Any, values: dict) -> None:
    state = getattr(metric, "_state", None)
    if isinstance(state, MutableMapping):
        variables = getattr(metric, "_variables", ())
        for key, value in values.items():
            index = key.removeprefix("variable/")
            if index != key and index.isdigit() and int(index) < len(variables):
                variables[int(index)].assign(value)  # in place: the metric's attribute is this very variable
            else:
                state[key] = value
    else:
        for key, value in values.items():
            setattr(metric, key, value)


def _seed_generators(model: Any) -> list[tuple[str, SeedGenerator]]:
    found = []
    for module_path, module in model.named_modules():
        for attr, value in vars(module).items():
            if isinstance(value, SeedGenerator):
                found.append((f"{module_path or '.'}:{attr}", value))
    return found


# ---------------------------------------------------------------------------------------------- restore
def restore(trainer: Any, adapter: Any, callbacks: list, tensors: dict, meta: dict) -> tuple[int, int]:
    """Put the run back as ``capture`` described it; returns ``(epoch, steps done in that epoch)``."""
    if meta.get("format") != FORMAT:
        raise ValueError(f"Not a lamina backup (format {meta.get('format')!r}, expected {FORMAT!r}).")
    model = trainer.model
    group = _split(tensors)
    own = model.state_dict()
    if set(group["model"]) != set(own):
        missing, extra = sorted(set(own) - set(group["model"])), sorted(set(group["model"]) - set(own))
        raise ValueError(f"The backup was made for another model: missing {missing[:5]}, unexpected {extra[:5]}. "
                         "Delete the backup folder or train the same model.")
    model.load_state_dict(group["model"])
    if not trainer.optimizer.built:
        trainer.optimizer.build([p for p in model.parameters() if p.requires_grad])
    trainer.optimizer.load_state_dict(group["optimizer"], meta["optimizer"])

    metrics = model.metrics
    if len(metrics) != len(meta["metrics"]):
        raise ValueError(f"The backup holds {len(meta['metrics'])} metrics; this model has {len(metrics)}.")
    for i, (metric, saved) in enumerate(zip(metrics, meta["metrics"], strict=True)):
        values: dict = dict(saved["numbers"])
        values.update({k.split("/", 1)[1]: v for k, v in group["metric"].items() if k.split("/", 1)[0] == str(i)})
        device = trainer.device
        _set_metric_state(metric, {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in values.items()})

    adapter.resume({**meta["data"], **group["data"]})

    cb_states = meta.get("callbacks", {})
    for i, cb in enumerate(callbacks):
        key = f"{i}:{type(cb).__name__}"
        if key in cb_states:
            if hasattr(cb, "load_state_dict"):
                cb.load_state_dict(cb_states[key])
            elif _is_history(cb):
                cb.history, cb.epoch = cb_states[key]["history"], cb_states[key]["epoch"]

    torch.set_rng_state(group["rng"]["torch"])
    cuda = [group["rng"][f"cuda/{i}"] for i in range(len(group["rng"])) if f"cuda/{i}" in group["rng"]]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda)
    kind, pos, has_gauss, cached = meta["numpy_rng"]
    np.random.set_state((kind, group["rng"]["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss = meta["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    devices = meta.get("layer_rng_devices", {})
    for path, generator in _seed_generators(model):
        state = group["rng"].get(f"layer/{path}")
        if state is not None:
            generator.for_device(torch.device(devices[path])).set_state(state)
    return int(meta["epoch"]), int(meta["epoch_steps"])


def _split(tensors: dict) -> dict[str, dict]:
    group: dict[str, dict] = {"model": {}, "optimizer": {}, "metric": {}, "data": {}, "rng": {}}
    for key, value in tensors.items():
        head, _, rest = key.partition("/")
        if head not in group:
            raise ValueError(f"Unexpected entry {key!r} in the backup.")
        group[head][rest] = value
    return group


# ---------------------------------------------------------------------------------------------- the file
def write(path: str, tensors: dict, meta: dict) -> None:
    """Write the state to ``path`` atomically: a temporary file in the same folder, fsync, rename."""
    cpu = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}  # clone: no shared storage
    data = safetensors_bytes(cpu, metadata={"lamina_backup": json.dumps(meta)})
    atomic_write_bytes(path, data)


def read(path: str) -> tuple[dict, dict]:
    """``(tensors, meta)`` from a file written by ``write``."""
    with safe_open(path, framework="pt") as f:
        header = f.metadata() or {}
        if "lamina_backup" not in header:
            raise ValueError(f"{path} is not a lamina backup file.")
        meta = bounded_json.loads(header["lamina_backup"], f"the metadata of {path}")  # size/depth/values capped
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118  (safe_open has no __iter__)
    return tensors, meta
