"""``keras.dtype_policies`` for lamina: layers' dtype policies, quantized ones and policies by layer path.

>>> get("mixed_bfloat16").compute_dtype, get("int8_from_float32").quantization_mode
('bfloat16', 'int8')
>>> serialize(DTypePolicy("float32"))["class_name"]
'DTypePolicy'
"""

from __future__ import annotations

from typing import Any

from lamina.core.dtype_policy import DTypePolicy
from lamina.core.dtype_policy import get as _float_policy
from lamina.dtype_policies.policy_map import DTypePolicyMap, describe
from lamina.layers.quantization import QuantizedDTypePolicy, QuantizedFloat8DTypePolicy, policy_from

FloatDTypePolicy = DTypePolicy  # Keras's name for a policy of floating dtypes

_CLASSES = {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": DTypePolicy, "DTypePolicyMap": DTypePolicyMap,
            "QuantizedDTypePolicy": QuantizedDTypePolicy, "QuantizedFloat8DTypePolicy": QuantizedFloat8DTypePolicy}


def serialize(dtype_policy: DTypePolicy) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` description of a policy."""
    if not isinstance(dtype_policy, DTypePolicy):
        raise TypeError(f"serialize expects a DTypePolicy; received {dtype_policy!r}.")
    return describe(dtype_policy)


def deserialize(config: dict, custom_objects: Any = None) -> DTypePolicy:
    """The policy ``serialize`` described (only lamina's policy classes are ever built)."""
    if not isinstance(config, dict) or config.get("class_name") not in _CLASSES:
        raise ValueError(f"Unknown dtype policy description {config!r}: expected one of {sorted(_CLASSES)}.")
    cls = _CLASSES[config["class_name"]]
    if cls in (QuantizedDTypePolicy, QuantizedFloat8DTypePolicy):
        return policy_from(config)
    return cls.from_config(dict(config.get("config") or {}))


def get(identifier: Any) -> DTypePolicy:
    """A policy from a name (``"float32"``, ``"mixed_float16"``, ``"int8_from_float32"``), a description or a
    policy (None: the global policy)."""
    if isinstance(identifier, dict):
        return deserialize(identifier)
    resolved = policy_from(identifier)
    if isinstance(resolved, DTypePolicy):
        return resolved
    return _float_policy(resolved)


__all__ = ["DTypePolicy", "DTypePolicyMap", "FloatDTypePolicy", "QuantizedDTypePolicy", "QuantizedFloat8DTypePolicy",
           "deserialize", "get", "serialize"]


def __dir__() -> list[str]:
    """The public names only (as ``dir(keras.dtype_policies)``): not the tools this module imports."""
    return sorted(__all__)
