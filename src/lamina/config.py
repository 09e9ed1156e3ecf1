"""``lamina.config``: Keras's ``keras.config``, the settings that change how lamina behaves.

>>> import lamina as keras
>>> keras.config.backend(), keras.config.floatx(), keras.config.image_data_format()
('torch', 'float32', 'channels_last')

The settings themselves live in ``lamina.core.config`` (the one place for global state). What each one does
on PyTorch:

- ``set_image_data_format("channels_first")``: layers given ``data_format=None`` (convolution, pooling,
  upsampling, padding, cropping, spatial dropout, Flatten, image preprocessing) use channels-first.
- ``disable_flash_attention()``: attention layers created afterwards run ``scaled_dot_product_attention`` on
  PyTorch's math kernel; enabled (the default) means PyTorch picks the kernel.
- ``disable_interactive_logging()``: progress goes as plain lines to Python's ``logging`` (logger
  ``"lamina"``, level INFO) instead of stdout, as Keras sends it to absl's logging.
- ``set_max_epochs`` / ``set_max_steps_per_epoch``: cap ``fit``'s epochs, and the steps of one epoch of
  ``fit``/``evaluate``/``predict``, with a warning when a cap applies (also set by ``KERAS_MAX_EPOCHS`` /
  ``KERAS_MAX_STEPS_PER_EPOCH`` in the environment).
- traceback filtering: a flag only; lamina raises its errors close to the user's call and hides no frames.
- ``enable_unsafe_deserialization()``: nothing to enable: lamina never runs code from a file (it warns once
  and says how to register custom objects instead).
- ``set_backend``: lamina runs on PyTorch only; ``"torch"`` is accepted, other backends raise.
"""

import typing as _t
import warnings as _warnings

from lamina.core import config as _config
from lamina.core import dtype_policy as _dtype_policy
from lamina.core.config import (
    disable_flash_attention,
    disable_interactive_logging,
    disable_traceback_filtering,
    enable_flash_attention,
    enable_interactive_logging,
    enable_traceback_filtering,
    epsilon,
    floatx,
    image_data_format,
    is_flash_attention_enabled,
    is_interactive_logging_enabled,
    is_traceback_filtering_enabled,
    max_epochs,
    max_steps_per_epoch,
    set_epsilon,
    set_floatx,
    set_image_data_format,
    set_max_epochs,
    set_max_steps_per_epoch,
)

__all__ = [
    "backend", "disable_flash_attention", "disable_interactive_logging", "disable_traceback_filtering",
    "dtype_policy", "enable_flash_attention", "enable_interactive_logging", "enable_traceback_filtering",
    "enable_unsafe_deserialization", "epsilon", "floatx", "image_data_format", "is_flash_attention_enabled",
    "is_interactive_logging_enabled", "is_nnx_enabled", "is_traceback_filtering_enabled", "max_epochs",
    "max_steps_per_epoch", "set_backend", "set_dtype_policy", "set_epsilon", "set_floatx", "set_image_data_format",
    "set_max_epochs", "set_max_steps_per_epoch",
]


def backend() -> str:
    """The backend's name: always ``"torch"``."""
    return "torch"


def set_backend(backend: str) -> None:
    """Keras's backend switch: lamina runs on PyTorch only, so ``"torch"`` is accepted (nothing changes) and any
    other name raises ``ValueError``."""
    if str(backend).lower() != "torch":
        raise ValueError(f"lamina runs on PyTorch only; set_backend({backend!r}) is not possible. Use "
                         "set_backend('torch') (or leave it out), or Keras itself for the other backends.")


def is_nnx_enabled() -> bool:
    """Whether Flax NNX features are on: always False (they belong to Keras's JAX backend)."""
    return False


def dtype_policy() -> _dtype_policy.DTypePolicy:
    """The global dtype policy: what layers made without a ``dtype`` use (``float32`` unless changed)."""
    return _dtype_policy.global_policy()


def set_dtype_policy(policy: _t.Any) -> None:
    """Set the global dtype policy from a name (``"mixed_float16"``, ``"mixed_bfloat16"``, ``"float32"``, ...)
    or a ``DTypePolicy``; layers created afterwards use it (``lamina.mixed_precision`` explains the mixed ones).

    >>> set_dtype_policy("mixed_bfloat16")  # doctest: +SKIP
    """
    if not isinstance(policy, (str, _dtype_policy.DTypePolicy)):
        raise ValueError("set_dtype_policy expects the name of a policy (such as 'mixed_float16' or 'float32') "
                         f"or a DTypePolicy; received {policy!r} (of type {type(policy).__name__}).")
    _dtype_policy.set_global_policy(policy)


def enable_unsafe_deserialization() -> None:
    """Keras's switch for loading lambdas from files. lamina never runs code from a file (a file holds data
    only), so there is nothing to enable: this does nothing, and warns once with the way to load custom code."""
    if _config._UNSAFE_DESERIALIZATION_WARNED:
        return
    _config._UNSAFE_DESERIALIZATION_WARNED = True
    _warnings.warn(
        "enable_unsafe_deserialization() has no effect in lamina: model files hold data only, and no code is ever "
        "loaded from them. Give your own functions and classes (a Lambda layer's function included) to the loader "
        "instead: decorate them with @lamina.saving.register_serializable(), or pass "
        "custom_objects={'name': obj} to load_model.", UserWarning, stacklevel=2)
