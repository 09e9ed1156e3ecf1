"""``DTypePolicyMap``: dtype policies by layer path (Keras's ``keras.dtype_policies.DTypePolicyMap``), as used for
models whose layers are quantized differently.

A key is a layer's path or a regular expression over paths; a lookup takes the exact key, else the one key whose
pattern is found in the path (several are an error), else the default policy.

>>> policies = DTypePolicyMap(default_policy="float32")
>>> policies["encoder/.*dense"] = "bfloat16"
>>> policies["encoder/block/dense"].name, policies["decoder/dense"].name
('bfloat16', 'float32')
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

from lamina.core import dtype_policy
from lamina.layers.quantization import policy_from


def describe(policy: dtype_policy.DTypePolicy) -> dict:
    """Keras's ``{"module", "class_name", "config", "registered_name"}`` description of a policy."""
    # (Keras names its module "keras" for the float policy, "keras.dtype_policies" for the others)
    module = "keras" if type(policy) is dtype_policy.DTypePolicy else "keras.dtype_policies"
    return {"module": module, "class_name": type(policy).__name__, "config": policy.get_config(),
            "registered_name": None}


def _policy(value: Any) -> dtype_policy.DTypePolicy:
    value = policy_from(value)
    return value if isinstance(value, dtype_policy.DTypePolicy) else dtype_policy.get(value)


class DTypePolicyMap(dtype_policy.DTypePolicy, MutableMapping):
    """Policies by layer path, with a default for paths no key matches.

    Args:
        default_policy: the policy of every other path (None: the global policy).
        policy_map: ``{path or pattern: policy}`` to start with.
    """

    def __init__(self, default_policy: Any = None, policy_map: Mapping[str, Any] | None = None):
        if isinstance(default_policy, DTypePolicyMap):
            raise ValueError("default_policy cannot be a DTypePolicyMap.")
        if policy_map is not None and not isinstance(policy_map, Mapping):
            raise TypeError(f"policy_map must be a dict of paths to policies; received {type(policy_map).__name__}.")
        self._default = _policy(default_policy)
        super().__init__(self._default.name)
        self._map: dict[str, dtype_policy.DTypePolicy] = {}
        for key, value in (policy_map or {}).items():
            self[key] = value

    @property
    def default_policy(self) -> dtype_policy.DTypePolicy:
        return self._default

    @property
    def name(self) -> str:
        return f"map_{self._default.name}"

    @property
    def compute_dtype(self) -> str:
        return self._default.compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._default.variable_dtype

    @property
    def quantization_mode(self) -> str | None:
        return getattr(self._default, "quantization_mode", None)

    def __getitem__(self, key: str) -> dtype_policy.DTypePolicy:
        if key in self._map:
            return self._map[key]
        matches = [k for k in self._map if re.search(k, key)]
        if len(matches) > 1:
            raise ValueError(f"Path {key!r} matches several keys of the DTypePolicyMap: {matches}; make the keys "
                             "more specific so one matches.")
        return self._map[matches[0]] if matches else self._default

    def __setitem__(self, key: str, value: Any) -> None:
        if key in self._map:
            raise ValueError(f"The DTypePolicyMap already has {key!r}: pop it first to change it.")
        if isinstance(value, DTypePolicyMap):
            raise ValueError("A DTypePolicyMap cannot hold another DTypePolicyMap.")
        self._map[key] = _policy(value)

    def __delitem__(self, key: str) -> None:
        del self._map[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicyMap) and other._default == self._default and other._map == self._map

    __hash__ = None  # type: ignore[assignment]  (a mutable mapping)

    def get_config(self) -> dict:
        return {"default_policy": self._default.name,
                "policy_map": {k: describe(v) for k, v in self._map.items()}}

    @classmethod
    def from_config(cls, config_: dict, custom_objects: Any = None) -> DTypePolicyMap:
        return cls(config_.get("default_policy"), config_.get("policy_map"))

    def __repr__(self) -> str:
        pairs = [(k, v.name) for k, v in self._map.items()]
        return f"<DTypePolicyMap default_policy={self._default.name}, mapping={pairs}>"
