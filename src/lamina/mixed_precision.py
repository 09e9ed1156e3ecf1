"""Mixed precision (Keras's ``keras.mixed_precision``): float32 weights, half-precision computation.

>>> import lamina
>>> lamina.mixed_precision.set_global_policy("mixed_bfloat16")
>>> layer = lamina.layers.Dense(2)  # layers made from now on
>>> layer.compute_dtype, layer.variable_dtype
('bfloat16', 'float32')
>>> lamina.mixed_precision.set_global_policy("float32")  # (clear_session() resets it too)

Layers made under a mixed policy compute under ``torch.autocast`` in float16 or bfloat16 while their weights
stay float32; a layer given ``dtype="float32"`` computes in full precision inside a mixed model; a model's
outputs come back in float32 for the loss. With ``"mixed_float16"`` training also scales the loss dynamically
(``torch.amp.GradScaler``) so small float16 gradients do not underflow.
"""

from lamina.core.dtype_policy import DTypePolicy, get, global_policy, set_global_policy
from lamina.optimizers.loss_scale import LossScaleOptimizer

Policy = DTypePolicy  # Keras 2's name


def dtype_policy() -> DTypePolicy:
    """The global policy (Keras 3's ``keras.config.dtype_policy``)."""
    return global_policy()


def set_dtype_policy(policy: str | DTypePolicy | None) -> None:
    """Set the global policy (Keras 3's ``keras.config.set_dtype_policy``)."""
    set_global_policy(policy)


__all__ = ["DTypePolicy", "LossScaleOptimizer", "Policy", "dtype_policy", "get", "global_policy", "set_dtype_policy",
           "set_global_policy"]
