"""Choice of device: CUDA when present, else CPU, overridable.

>>> import torch
>>> set_device("cpu")
>>> get_device()
device(type='cpu')
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import os
import re
from collections.abc import Iterator

import torch

from lamina.core import config


def set_device(device: str | torch.device | None) -> None:
    """Choose where models train and predict (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``; None = auto)."""
    if device is None:
        config.DEVICE = None
        return
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"set_device({str(device)!r}): CUDA is not available on this machine; use 'cpu'.")
    config.DEVICE = dev


def get_device() -> torch.device:
    """The device lamina uses: the one chosen with set_device, else CUDA if available, else CPU."""
    if config.DEVICE is not None:
        return config.DEVICE
    if torch.cuda.is_available():
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _torch_device_name(name: str | torch.device) -> torch.device:
    """Keras's device names (``"cpu"``, ``"gpu:0"``, ``"cuda:1"``; any case) as a torch device."""
    if isinstance(name, torch.device):
        return name
    if not isinstance(name, str) or not name:
        raise ValueError(f"device() needs a device name such as 'cpu', 'gpu:0' or 'cuda:1'; received {name!r}.")
    kind, _, index = name.lower().partition(":")
    kind = "cuda" if kind == "gpu" else kind
    return torch.device(f"{kind}:{index}" if index else kind)


@contextlib.contextmanager
def device(device_name: str | torch.device) -> Iterator[torch.device]:
    """Inside, models run on ``device_name`` and tensors are created there (Keras's ``keras.device`` scope).

    >>> import lamina
    >>> with lamina.device("cpu"):
    ...     lamina.ops.zeros((2,)).device.type
    'cpu'
    """
    dev = _torch_device_name(device_name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device({device_name!r}): CUDA is not available on this machine; use 'cpu'.")
    previous = config.DEVICE
    config.DEVICE = dev
    try:
        with dev:
            yield dev
    finally:
        config.DEVICE = previous


# ------------------------------------------------------------------------------------------ denormal floats
def set_flush_denormal(enabled: bool) -> None:
    """Whether ``fit``/``evaluate``/``predict`` on the CPU flush denormal floats to zero (default: True).

    Values below ~1.2e-38 (float32) are "denormal", and x86 CPUs compute with them tens of times slower. Training
    makes them: Adam's first moment decays by 0.9 a step wherever a gradient is zero (a dead ReLU unit), and
    after a few hundred steps the optimizer step runs several times slower. TensorFlow flushes them to zero by
    default, and so does lamina while it trains or predicts on the CPU (PyTorch's ``torch.set_flush_denormal``),
    restoring the previous mode afterwards. Results differ from exact IEEE arithmetic only below 1.2e-38.

    >>> set_flush_denormal(False)  # exact IEEE denormals in fit/evaluate/predict
    >>> set_flush_denormal(True)
    """
    if not isinstance(enabled, bool):
        raise TypeError(f"set_flush_denormal expects True or False; received {enabled!r}.")
    config.FLUSH_DENORMAL = enabled


_DENORMAL_BITS = 0x000AE398  # the float32 1e-39, written as bits: made without arithmetic, so never flushed


def flushing_denormals(all_threads: bool = False) -> bool:
    """Whether this thread flushes denormal floats to zero (probed with one denormal product); with
    ``all_threads``, whether every thread of PyTorch's CPU pool does (a product large enough to be split over
    them all comes out all zeros)."""
    if not all_threads:
        return float(_ONE_DENORMAL.mul(1.0)) == 0.0
    size = 65536 * max(torch.get_num_threads(), 1)
    product = torch.full((size,), _DENORMAL_BITS, dtype=torch.int32).view(torch.float32).mul_(1.0)
    return bool((product == 0).all())


_ONE_DENORMAL = torch.tensor([_DENORMAL_BITS], dtype=torch.int32).view(torch.float32)


def _share_float_mode() -> bool:
    """Give every thread of PyTorch's CPU pool this thread's floating-point mode (its flush-to-zero bits).

    ``torch.set_flush_denormal`` sets the mode of the calling thread only, while PyTorch computes on a pool of
    OpenMP threads (its kernels and MKL's): the other threads would go on computing with slow denormals. The
    OpenMP runtime's ``GOMP_parallel`` (libgomp's, also provided by Intel's runtime) runs the C library's
    ``fesetenv`` with this thread's environment on each thread of the pool. False where that is not possible
    (no OpenMP runtime found, not a glibc system): then only this thread's mode changed.
    """
    runtime = _openmp_runtime()
    if runtime is None:
        return False
    run_on_pool, libm, fesetenv = runtime
    environment = ctypes.create_string_buffer(256)  # larger than any fenv_t
    if libm.fegetenv(environment) != 0:
        return False
    run_on_pool(fesetenv, environment, torch.get_num_threads(), 0)
    return True


@functools.cache  # looked up once per process: the loaded libraries do not change (a memo, not state)
def _openmp_runtime() -> tuple | None:
    """(GOMP_parallel, libm, address of fesetenv), or None where they cannot be found."""
    try:
        with open("/proc/self/maps") as maps:  # the OpenMP library PyTorch loaded (Linux)
            paths = sorted(set(re.findall(r"/\S*lib(?:gomp|iomp5)\S*\.so\S*", maps.read())))
        # PyTorch's own copy first (torch/lib or torch.libs beside the package), should others be loaded too
        ours = os.path.join(os.path.dirname(os.path.dirname(torch.__file__)), "torch")
        paths.sort(key=lambda path: not path.startswith(ours))
        libm_name = ctypes.util.find_library("m")
        if not paths or libm_name is None:
            return None
        runtime = ctypes.CDLL(paths[0])  # the already loaded copy: the same pool PyTorch uses
        libm = ctypes.CDLL(libm_name)
        run_on_pool = runtime.GOMP_parallel  # void GOMP_parallel(void (*fn)(void *), void *data, unsigned, unsigned)
        run_on_pool.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
        run_on_pool.restype = None
        libm.fegetenv.argtypes = [ctypes.c_void_p]
        return run_on_pool, libm, ctypes.cast(libm.fesetenv, ctypes.c_void_p)
    except (OSError, AttributeError):
        return None


@contextlib.contextmanager
def denormals_flushed(device: torch.device) -> Iterator[None]:
    """Inside: denormals flushed to zero, on every thread PyTorch computes on, when ``device`` is the CPU and
    ``set_flush_denormal`` allows it; the previous mode afterwards."""
    if device.type != "cpu" or not config.FLUSH_DENORMAL:
        yield
        return
    if flushing_denormals():  # the user's own choice on this thread: make the pool follow it, keep it after
        _share_float_mode()
        yield
        return
    changed = torch.set_flush_denormal(True)  # False on CPUs without the DAZ/FTZ bits: then nothing changed
    if changed:
        _share_float_mode()
    try:
        yield
    finally:
        if changed:
            torch.set_flush_denormal(False)
            _share_float_mode()
