"""Dtype policies: the dtype a layer's weights are stored in and the dtype it computes in (Keras's
``DTypePolicy``). ``"mixed_float16"`` and ``"mixed_bfloat16"`` keep float32 weights and compute in half precision.

>>> DTypePolicy("mixed_bfloat16").compute_dtype, DTypePolicy("mixed_bfloat16").variable_dtype
('bfloat16', 'float32')
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import config

_MIXED = {"mixed_float16": "float16", "mixed_bfloat16": "bfloat16"}


class DTypePolicy:
    """A layer's dtypes: ``variable_dtype`` for its weights, ``compute_dtype`` for its computation.

    Args:
        name: ``"float32"``, ``"float64"``, ``"float16"``, ``"bfloat16"`` (both dtypes the same), or
            ``"mixed_float16"`` / ``"mixed_bfloat16"`` (float32 weights, half-precision computation).
            None means the current floatx.
    """

    def __init__(self, name: str | None = None):
        if name is None:
            name = config.floatx()
        if not isinstance(name, str):
            raise TypeError(f"A dtype policy name must be a string such as 'mixed_float16'; received {name!r}.")
        if name in _MIXED:
            compute, variable = _MIXED[name], "float32"
        else:
            try:
                compute = variable = config.dtype_name(config.standardize_dtype(name.replace("torch.", "")))
            except ValueError:
                raise ValueError(
                    f"Unknown dtype policy {name!r}: use 'float32', 'float64', 'float16', 'bfloat16', "
                    "'mixed_float16' or 'mixed_bfloat16'.") from None
        self._name = name
        self._compute_dtype = compute
        self._variable_dtype = variable

    @property
    def name(self) -> str:
        return self._name

    @property
    def compute_dtype(self) -> str:
        return self._compute_dtype

    @property
    def variable_dtype(self) -> str:
        return self._variable_dtype

    @property
    def is_mixed(self) -> bool:
        """Whether weights and computation differ in dtype (computation then runs under ``torch.autocast``)."""
        return self._compute_dtype != self._variable_dtype

    def get_config(self) -> dict:
        return {"name": self._name}

    @classmethod
    def from_config(cls, config_: dict) -> DTypePolicy:
        return cls(**config_)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self._name}">'


def get(identifier: Any) -> DTypePolicy:
    """A policy from None (the global policy), a name, a dtype, a policy, or a ``{"class_name", "config"}`` dict."""
    if identifier is None:
        return global_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        cfg = identifier.get("config", identifier)
        return DTypePolicy(cfg.get("name"))
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    return DTypePolicy(config.dtype_name(config.standardize_dtype(identifier)))


def set_global_policy(policy: str | DTypePolicy | None) -> None:
    """The policy of layers created from now on when they are given no ``dtype`` (None: back to floatx).

    >>> set_global_policy("mixed_bfloat16")  # doctest: +SKIP
    """
    config.set_dtype_policy_setting(None if policy is None else get(policy))


def global_policy() -> DTypePolicy:
    """The policy new layers get by default."""
    policy = config.dtype_policy_setting()
    return policy if policy is not None else DTypePolicy(config.floatx())


def autocast_dtype(policy: DTypePolicy) -> torch.dtype:
    return config.standardize_dtype(policy.compute_dtype)
