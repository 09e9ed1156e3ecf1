"""The few settable globals of lamina, all in one place (``lamina.config`` and ``lamina.backend`` are their
public faces, with Keras's names).

- ``floatx`` / ``epsilon`` / ``image_data_format``: the defaults of new weights, of losses' fuzz factor, and
  of the ``data_format=None`` argument of convolution, pooling and image layers.
- ``max_epochs`` / ``max_steps_per_epoch``: debugging caps on ``fit`` (epochs) and on ``fit``/``evaluate``/
  ``predict`` (steps per epoch); read once from ``KERAS_MAX_EPOCHS`` / ``KERAS_MAX_STEPS_PER_EPOCH``.
- flash attention (None: PyTorch picks the fastest kernel; False: the math kernel), interactive logging (the
  progress bar, or plain lines through Python's ``logging``), traceback filtering (a flag only).
- the global dtype policy (``core.dtype_policy.set_global_policy`` sets it; ``clear_session`` resets it).
- the per-prefix counters behind ``get_uid`` and automatic layer names.
- ``TRAINING``: the one context variable (see below).
- runtime state that lamina's modules read and write as module attributes (their hot paths): ``LOSSES_ADDED``
  (layers/penalties.py), ``MIXED_IN_USE`` (layers with mixed dtype policies), and core/device.py's settings
  ``DEVICE`` and ``FLUSH_DENORMAL`` (set through ``set_device``/``set_flush_denormal``, which check the values),
  and ``STRATEGY``, the distribution strategy runs use (``lamina.distribution.set_distribution`` sets it through
  training/strategy.py; None is the single process; ``clear_session`` keeps it, as it keeps the device).
- fixed wirings, set once when ``lamina.layers`` is imported and never changed (not state):
  core/variable.py's initializer lookup (``lamina.initializers.get``) and ops/dispatch.py's symbolic hook
  (layers/op_layer.py records op nodes), which let lower levels use what a higher level defines.

>>> from lamina.core import config
>>> config.floatx()
'float32'
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import os
import sys
from collections import defaultdict
from typing import Any

import numpy as np
import torch


def _env_limit(name: str) -> int | None:
    value = os.environ.get(name)
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"The environment variable {name} must be a whole number; received {value!r}.") from None


_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_MAX_EPOCHS: int | None = _env_limit("KERAS_MAX_EPOCHS")
_MAX_STEPS_PER_EPOCH: int | None = _env_limit("KERAS_MAX_STEPS_PER_EPOCH")
# Reset by clear_session(), as Keras resets them:
_FLASH_ATTENTION: bool | None = None  # None: PyTorch's choice (Keras's default); False: the math kernel
_INTERACTIVE_LOGGING = True
_TRACEBACK_FILTERING = True
_UNSAFE_DESERIALIZATION_WARNED = False  # enable_unsafe_deserialization() warns once per process
# The global dtype policy (a core.dtype_policy.DTypePolicy, which reads and writes it); None: floatx.
_DTYPE_POLICY: Any = None
# The distribution strategy (a training.strategy.Strategy, which reads and writes it); None: one process.
STRATEGY: Any = None

# Per-prefix counters (Keras's get_uid); automatic layer names come from them ("dense", "dense_1", ...).
_NAME_COUNTERS: defaultdict[str, int] = defaultdict(int)

# The one context variable: the `training` flag of the outermost layer call, seen by nested calls
# that were not given `training` explicitly.
TRAINING: contextvars.ContextVar[bool | None] = contextvars.ContextVar("lamina_training", default=None)

# Counts the losses layers add (add_loss, activity regularizers): a top-level layer call clears the previous
# call's losses, and the trainer collects the layers' losses, only when it moved since their last look.
# clear_session() moves it too (so every reader looks again; a reset to 0 could meet a reader's old count).
LOSSES_ADDED = 0
# True once a layer has a mixed dtype policy (set again when such a layer is called after clear_session()):
# only then do layers look for an enclosing autocast region and do float32 models cast outputs to float32.
MIXED_IN_USE = False
# core/device.py's settings, kept by clear_session() like floatx (user choices, not session state): the device
# set_device chose (None: CUDA when present, else CPU); whether fit/evaluate/predict on the CPU flush denormals.
DEVICE: torch.device | None = None
FLUSH_DENORMAL = True

_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
    "int8": torch.int8,
    "uint8": torch.uint8,
    "int16": torch.int16,
    "int32": torch.int32,
    "int64": torch.int64,
    "bool": torch.bool,
}


def floatx() -> str:
    """The default float type of new weights and inputs (``'float32'`` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: one of ``'float16'``, ``'bfloat16'``, ``'float32'``, ``'float64'``."""
    global _FLOATX
    if value not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"set_floatx expects 'float16', 'bfloat16', 'float32' or 'float64'; received {value!r}.")
    _FLOATX = value


def epsilon() -> float:
    """The fuzz factor used by losses and metrics (Keras's ``1e-7``)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor used by losses and metrics."""
    global _EPSILON
    _EPSILON = float(value)


def standardize_dtype(dtype: str | torch.dtype | None) -> torch.dtype:
    """Turn a Keras dtype name (or a torch dtype, or None for floatx) into a torch dtype."""
    if dtype is None:
        return _DTYPES[_FLOATX]
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, type) or type(dtype).__module__.startswith("numpy"):  # np.float32, np.dtype("int8")
        with contextlib.suppress(TypeError):
            dtype = np.dtype(dtype).name
    name = str(dtype).replace("torch.", "")
    if name not in _DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}; expected one of {sorted(_DTYPES)}.")
    return _DTYPES[name]


def dtype_name(dtype: torch.dtype) -> str:
    """The Keras name of a torch dtype (``torch.float32`` -> ``'float32'``)."""
    return str(dtype).replace("torch.", "")


def get_uid(prefix: str = "") -> int:
    """The next number for ``prefix``: 1, 2, 3, ... (Keras's ``backend.get_uid``; layer names count with it)."""
    _NAME_COUNTERS[prefix] += 1
    return _NAME_COUNTERS[prefix]


def unique_name(prefix: str) -> str:
    """The next automatic name for ``prefix``: ``dense``, then ``dense_1``, ``dense_2``, ..."""
    n = get_uid(prefix) - 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session(free_memory: bool = False) -> None:
    """Reset what Keras's ``clear_session`` resets: automatic names and ``get_uid`` counters, the global dtype
    policy, the flash-attention, interactive-logging and traceback-filtering flags, and torch.compile's caches;
    layers' loss bookkeeping and the mixed-precision flag start afresh.
    ``floatx``, ``epsilon``, ``image_data_format`` and the epoch/step caps stay. ``free_memory``: also run
    Python's garbage collector (a full pass: ~0.2 s) and return cached CUDA memory to the device; False here,
    so that calling this before every test stays cheap; ``lamina.backend.clear_session`` defaults to True as
    Keras does.
    """
    global _FLASH_ATTENTION, _INTERACTIVE_LOGGING, _TRACEBACK_FILTERING, _DTYPE_POLICY, LOSSES_ADDED, MIXED_IN_USE
    _NAME_COUNTERS.clear()
    LOSSES_ADDED += 1
    MIXED_IN_USE = False
    _DTYPE_POLICY = None
    _FLASH_ATTENTION, _INTERACTIVE_LOGGING, _TRACEBACK_FILTERING = None, True, True
    if "torch._dynamo" in sys.modules:  # compiled functions and their guards (only if torch.compile was used)
        sys.modules["torch._dynamo"].reset()
    if free_memory:
        gc.collect()
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()


def dtype_policy_setting() -> Any:
    """The global dtype policy object, or None for the default (a policy of floatx). ``core.dtype_policy``'s
    ``global_policy``/``set_global_policy`` are its public faces; it lives here so that ``clear_session`` resets it."""
    return _DTYPE_POLICY


def set_dtype_policy_setting(policy: Any) -> None:
    global _DTYPE_POLICY
    _DTYPE_POLICY = policy


def image_data_format() -> str:
    """Where image layers expect channels when given ``data_format=None``: ``'channels_last'`` (the default,
    ``(batch, height, width, channels)``) or ``'channels_first'``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the ``data_format`` that image layers created from now on use when given ``data_format=None``."""
    global _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_first", "channels_last"):
        raise ValueError("set_image_data_format expects 'channels_first' or 'channels_last'; "
                         f"received {data_format!r}.")
    _IMAGE_DATA_FORMAT = value


def standardize_data_format(data_format: str | None, owner: str = "") -> str:
    """A layer's or op's ``data_format`` argument, checked and lower-cased; None gives ``image_data_format()``."""
    if data_format is None:
        return _IMAGE_DATA_FORMAT
    value = str(data_format).lower()
    if value not in ("channels_last", "channels_first"):
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}`data_format` must be 'channels_last' or 'channels_first'; "
                         f"received data_format={data_format!r}.")
    return value


def _limit(value: int | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} expects a positive int, or None for no limit; received {value!r}.")
    return value


def max_epochs() -> int | None:
    """The cap on the epochs of any ``fit`` (None: no cap)."""
    return _MAX_EPOCHS


def set_max_epochs(max_epochs: int | None) -> None:
    """Cap the epochs of every ``fit`` (a debugging aid; None removes the cap)."""
    global _MAX_EPOCHS
    _MAX_EPOCHS = _limit(max_epochs, "set_max_epochs")


def max_steps_per_epoch() -> int | None:
    """The cap on the steps of one epoch of ``fit``, ``evaluate`` or ``predict`` (None: no cap)."""
    return _MAX_STEPS_PER_EPOCH


def set_max_steps_per_epoch(max_steps_per_epoch: int | None) -> None:
    """Cap the steps per epoch of every ``fit``/``evaluate``/``predict`` (a debugging aid; None: no cap)."""
    global _MAX_STEPS_PER_EPOCH
    _MAX_STEPS_PER_EPOCH = _limit(max_steps_per_epoch, "set_max_steps_per_epoch")


def enable_flash_attention() -> None:
    """Let PyTorch's ``scaled_dot_product_attention`` pick its fastest kernel (flash where it applies)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = None  # as Keras: "enabled" means "automatic"


def disable_flash_attention() -> None:
    """Attention layers created from now on compute with PyTorch's math kernel (no flash/efficient kernels)."""
    global _FLASH_ATTENTION
    _FLASH_ATTENTION = False


def is_flash_attention_enabled() -> bool | None:
    """False once ``disable_flash_attention()`` was called; otherwise None (automatic), as Keras returns."""
    return _FLASH_ATTENTION


def enable_interactive_logging() -> None:
    """Progress goes to stdout (a redrawn bar on a terminal)."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = True


def disable_interactive_logging() -> None:
    """Progress goes to Python's ``logging`` (logger ``"lamina"``, level INFO) as plain lines."""
    global _INTERACTIVE_LOGGING
    _INTERACTIVE_LOGGING = False


def is_interactive_logging_enabled() -> bool:
    """Whether progress goes to stdout (True) or to Python's ``logging`` (False)."""
    return _INTERACTIVE_LOGGING


def enable_traceback_filtering() -> None:
    """Set the traceback-filtering flag (lamina raises its errors from short, direct frames either way)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = True


def disable_traceback_filtering() -> None:
    """Clear the traceback-filtering flag (lamina never hides frames, so tracebacks are the same)."""
    global _TRACEBACK_FILTERING
    _TRACEBACK_FILTERING = False


def is_traceback_filtering_enabled() -> bool:
    """The traceback-filtering flag (True unless disabled)."""
    return _TRACEBACK_FILTERING
