"""Muon (MomentUm Orthogonalized by Newton-Schulz), Keras 3's formula: 2-D weights take a momentum step whose
direction is orthogonalised by a few Newton-Schulz iterations; every other weight (not 2-D, an embedding, or a
path matching ``exclude_layers``) takes a Keras AdamW step. Runs on ``KerasMuon`` (matmuls per weight, foreach
ops elsewhere, nothing read back to the host).

>>> Muon().get_config()["ns_steps"]
5
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from lamina.optimizers.base import OPTIMIZERS, LearningRate, Optimizer
from lamina.optimizers.foreach import ForeachOptimizer

# Guards Newton-Schulz's normalisation; Keras's is fixed (measured: its result does not follow `epsilon`).
_NS_EPSILON = 1e-7


def newton_schulz(x: torch.Tensor, a: float, b: float, c: float, steps: int, epsilon: float) -> torch.Tensor:
    """An approximately orthogonal matrix with ``x``'s singular vectors: ``steps`` iterations of
    ``X = a X + (b A + c A^2) X``, ``A = X X^T``, from ``x / (||x|| + epsilon)`` (on the wide orientation).

    >>> q = newton_schulz(torch.eye(2) * 3.0, 3.4445, -4.775, 2.0315, 5, 1e-7)
    >>> bool((q.diagonal() > 0.6).all())
    True
    """
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    x = x / (torch.linalg.matrix_norm(x) + epsilon)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * (gram @ gram)) @ x
    return x.mT if tall else x


class KerasMuon(ForeachOptimizer):
    """Muon weights: ``m = mu m + g``; ``o = NS(g + mu m)`` (Nesterov) or ``NS(m)``; ``w -= lr * s * o`` with
    ``s = rms_rate * sqrt(max(rows, cols))`` (1 without ``rms_rate``). Others: Keras's Adam at ``lr * ratio``."""

    def __init__(self, params: Any, lr: float, muon_ids: frozenset, momentum: float, nesterov: bool,
                 abc: tuple, ns_steps: int, rms_rate: float | None, beta_1: float, beta_2: float, epsilon: float,
                 adam_lr_ratio: float):
        super().__init__(params, {"lr": lr, "momentum": momentum, "nesterov": nesterov, "abc": abc,
                                  "ns_steps": ns_steps, "rms_rate": rms_rate, "beta_1": beta_1, "beta_2": beta_2,
                                  "epsilon": epsilon, "adam_lr_ratio": adam_lr_ratio})
        self.muon_ids = muon_ids

    def init_state(self, param: torch.Tensor, group: dict) -> dict:
        state = {"momentum": torch.zeros_like(param, memory_format=torch.preserve_format)}
        if id(param) not in self.muon_ids:
            state["velocity"] = torch.zeros_like(param, memory_format=torch.preserve_format)
        return state

    def update(self, group: dict, params: list, grads: list, states: list[dict]) -> None:
        muon = [i for i, s in enumerate(states) if "velocity" not in s]
        adam = [i for i, s in enumerate(states) if "velocity" in s]
        if muon:
            self._muon([params[i] for i in muon], [grads[i] for i in muon], [states[i] for i in muon], group)
        if adam:
            self._adam([params[i] for i in adam], [grads[i] for i in adam], [states[i] for i in adam], group)

    @staticmethod
    def _muon(params: list, grads: list, states: list[dict], group: dict) -> None:
        mu = group["momentum"]
        m = [s["momentum"] for s in states]
        torch._foreach_mul_(m, mu)
        torch._foreach_add_(m, grads)
        directions = torch._foreach_add(grads, m, alpha=mu) if group["nesterov"] else m
        for p, d in zip(params, directions, strict=True):
            o = newton_schulz(d, *group["abc"], group["ns_steps"], _NS_EPSILON)
            scale = group["lr"]
            if group["rms_rate"] is not None:
                scale *= group["rms_rate"] * math.sqrt(max(p.shape))
            p.sub_(o, alpha=scale)

    @staticmethod
    def _adam(params: list, grads: list, states: list[dict], group: dict) -> None:
        b1, b2, t = group["beta_1"], group["beta_2"], group["step"]
        lr = group["lr"] * group["adam_lr_ratio"]
        m, v = [s["momentum"] for s in states], [s["velocity"] for s in states]
        torch._foreach_lerp_(m, grads, 1.0 - b1)
        torch._foreach_mul_(v, b2)
        torch._foreach_addcmul_(v, grads, grads, value=1.0 - b2)
        denominators = torch._foreach_sqrt(v)
        torch._foreach_add_(denominators, group["epsilon"])
        # The bias corrections in float32, as Keras computes them (1 - float32(0.999) is 1.3e-5 off 0.001).
        correction_1, correction_2 = (1.0 - float(np.float32(b) ** np.float32(t)) for b in (b1, b2))
        torch._foreach_addcdiv_(params, m, denominators, value=-lr * math.sqrt(correction_2) / correction_1)


@OPTIMIZERS("muon", "Muon")
class Muon(Optimizer):
    """Muon, with AdamW for the weights Muon does not suit (Keras's arguments and defaults).

    A weight takes the AdamW step if it is not 2-D, if ``exclude_embeddings`` and its ``path`` contains
    "embedding", or if its ``path`` matches one of the regular expressions in ``exclude_layers`` (pass the
    output layer's name, e.g. ``exclude_layers=["output_dense"]``); every other weight takes the Muon step.

    Args:
        learning_rate: the rate (Muon's; AdamW's is ``learning_rate * adam_lr_ratio``).
        adam_beta_1 / adam_beta_2 / epsilon: AdamW's moments and epsilon.
        weight_decay / adam_weight_decay: decoupled decay of the Muon / AdamW weights (both default 0.004).
        momentum / nesterov: Muon's momentum (0.95) and its Nesterov form (True).
        muon_a / muon_b / muon_c / ns_steps: the Newton-Schulz polynomial and its iterations (5).
        rms_rate: scales a Muon update by ``rms_rate * sqrt(max(rows, cols))`` (0.2, Liu et al. 2025), so that
            Muon can share AdamW's rate and decay; None: no scaling.

    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2, 2))
    >>> Muon(learning_rate=0.1, weight_decay=None, rms_rate=None).apply([torch.eye(2)], [w])
    >>> bool((w.diagonal() < -0.05).all())
    True
    """

    torch_class = KerasMuon

    def __init__(self, learning_rate: LearningRate = 0.001, adam_beta_1: float = 0.9, adam_beta_2: float = 0.999,
                 adam_weight_decay: float | None = 0.004, epsilon: float = 1e-7,
                 weight_decay: float | None = 0.004, exclude_layers: Iterable[str] | None = None,
                 exclude_embeddings: bool = True, muon_a: float = 3.4445, muon_b: float = -4.775,
                 muon_c: float = 2.0315, adam_lr_ratio: float = 1, momentum: float = 0.95, ns_steps: int = 5,
                 nesterov: bool = True, rms_rate: float | None = 0.2, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay, **kwargs)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 0:
            raise ValueError(f"Muon: `ns_steps` must be an int >= 0; received ns_steps={ns_steps!r}.")
        if adam_weight_decay is not None and not adam_weight_decay >= 0:
            raise ValueError(f"Muon: `adam_weight_decay` must be >= 0 or None; received {adam_weight_decay!r}.")
        self.adam_beta_1, self.adam_beta_2, self.epsilon = adam_beta_1, adam_beta_2, epsilon
        self.adam_weight_decay, self.adam_lr_ratio = adam_weight_decay, adam_lr_ratio
        self.exclude_layers = list(exclude_layers or [])
        self.exclude_embeddings = exclude_embeddings
        self.muon_a, self.muon_b, self.muon_c, self.ns_steps = muon_a, muon_b, muon_c, ns_steps
        self.momentum, self.nesterov, self.rms_rate = momentum, nesterov, rms_rate

    def uses_muon(self, variable: torch.Tensor) -> bool:
        """Whether ``variable`` takes the Muon step (else AdamW's), by its rank and ``path`` (see the class doc).

        >>> import torch
        >>> Muon().uses_muon(torch.zeros(3, 4)), Muon().uses_muon(torch.zeros(4))
        (True, False)
        """
        if variable.ndim != 2:
            return False
        path = getattr(variable, "path", None) or getattr(variable, "name", None) or ""
        if self.exclude_embeddings and "embedding" in path.lower():
            return False
        return not any(re.search(pattern, path) for pattern in self.exclude_layers)

    def _torch_kwargs(self) -> dict:
        return {"muon_ids": frozenset(id(p) for p in self._params if self.uses_muon(p)),
                "momentum": self.momentum, "nesterov": bool(self.nesterov),
                "abc": (self.muon_a, self.muon_b, self.muon_c), "ns_steps": self.ns_steps,
                "rms_rate": self.rms_rate, "beta_1": self.adam_beta_1, "beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "adam_lr_ratio": self.adam_lr_ratio}

    def _apply_weight_decay(self, params: list[torch.Tensor], lr: float) -> None:
        """``weight_decay`` on the Muon weights, ``adam_weight_decay`` on the others, both at the full rate."""
        for rate, muon in ((self.weight_decay, True), (self.adam_weight_decay, False)):
            muon_ids = self.torch_optimizer.muon_ids
            decayed = [p for p in params if (id(p) in muon_ids) == muon and self._use_weight_decay(p)]
            if rate and decayed:
                torch._foreach_mul_(decayed, 1.0 - rate * lr)

    def get_config(self) -> dict:
        return {**super().get_config(), "adam_beta_1": self.adam_beta_1, "adam_beta_2": self.adam_beta_2,
                "epsilon": self.epsilon, "exclude_layers": list(self.exclude_layers), "muon_a": self.muon_a,
                "muon_b": self.muon_b, "muon_c": self.muon_c, "adam_lr_ratio": self.adam_lr_ratio,
                "momentum": self.momentum, "ns_steps": self.ns_steps, "nesterov": self.nesterov,
                "exclude_embeddings": self.exclude_embeddings, "adam_weight_decay": self.adam_weight_decay,
                "rms_rate": self.rms_rate}
