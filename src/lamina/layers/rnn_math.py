"""Keras's recurrent cell math, one step at a time, shared by the sequence layers (``SimpleRNN``, ``LSTM``,
``GRU``) and the cells (``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``).

Each function reads the weights and settings from ``owner`` (a layer or a cell with ``kernel``,
``recurrent_kernel``, ``bias``, ``units``, ``activation``, ``recurrent_activation``, ``reset_after``) and works
on the input already projected by the kernel (``project``), so a sequence layer projects all its steps in one
matrix product. Gate orders are Keras's: LSTM ``i, f, c, o``; GRU ``z, r, h``.

>>> import torch
>>> class Owner:  # what a layer or cell holds
...     units, activation = 2, torch.tanh
...     recurrent_kernel = torch.zeros(2, 2)
>>> out, states = simple_step(Owner(), torch.ones(1, 2), [torch.zeros(1, 2)], None)
>>> [round(v, 4) for v in out[0].tolist()]
[0.7616, 0.7616]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lamina import constraints, initializers, regularizers


def dropout_mask(like: torch.Tensor, rate: float) -> torch.Tensor:
    """One inverted-dropout mask, reused at every step of a sequence (as Keras does)."""
    keep = torch.empty_like(like).bernoulli_(1.0 - rate)
    return keep / (1.0 - rate)


def project(owner: Any, x: torch.Tensor) -> torch.Tensor:
    """``x @ kernel + input bias``: a GRU with ``reset_after`` adds the first row of its two-row bias here."""
    proj = x @ owner.kernel
    bias = owner.bias
    if bias is None:
        return proj
    return proj + (bias[0] if getattr(owner, "reset_after", False) and bias.ndim == 2 else bias)


def simple_step(owner: Any, proj_t: torch.Tensor, states: list, rec_mask: Any) -> tuple:
    """``h = activation(x W + h U + b)``."""
    h = states[0] if rec_mask is None else states[0] * rec_mask
    out = owner.activation(proj_t + h @ owner.recurrent_kernel)
    return out, [out]


def lstm_step(owner: Any, proj_t: torch.Tensor, states: list, rec_mask: Any) -> tuple:
    """Keras's LSTM step; states ``[h, c]``."""
    h, c = states
    h_in = h if rec_mask is None else h * rec_mask
    z = proj_t + h_in @ owner.recurrent_kernel  # (batch, 4 * units)
    zi, zf, zc, zo = z.chunk(4, dim=-1)
    act, rec = owner.activation, owner.recurrent_activation
    i, f, o = rec(zi), rec(zf), rec(zo)
    c = f * c + i * act(zc)
    h = o * act(c)
    return h, [h, c]


def gru_step(owner: Any, proj_t: torch.Tensor, states: list, rec_mask: Any) -> tuple:
    """Keras's GRU step (``reset_after`` True: the reset gate after the recurrent product, cuDNN's form)."""
    h = states[0]
    h_in = h if rec_mask is None else h * rec_mask
    xz, xr, xh = proj_t.chunk(3, dim=-1)
    act, rec, units = owner.activation, owner.recurrent_activation, owner.units
    if owner.reset_after:
        inner = h_in @ owner.recurrent_kernel
        if owner.bias is not None:
            inner = inner + owner.bias[1]
        rz, rr, rh = inner.chunk(3, dim=-1)
        z, r = rec(xz + rz), rec(xr + rr)
        hh = act(xh + r * rh)
    else:
        u_zr, u_h = owner.recurrent_kernel[:, : 2 * units], owner.recurrent_kernel[:, 2 * units:]
        rz, rr = (h_in @ u_zr).chunk(2, dim=-1)
        z, r = rec(xz + rz), rec(xr + rr)
        hh = act(xh + (r * h_in) @ u_h)
    h = z * h + (1 - z) * hh
    return h, [h]


def add_cell_weights(owner: Any, in_dim: int | None, input_shape: Any) -> None:
    """Create ``kernel (in_dim, gates * units)``, ``recurrent_kernel (units, gates * units)`` and (with
    ``use_bias``) ``bias`` on ``owner`` (a sequence layer or a cell), in Keras's order, with its initializers,
    regularizers and constraints; ``owner._bias_shape()``/``_bias_init()`` give the bias's."""
    if in_dim is None:
        raise ValueError(f"{type(owner).__name__} layer '{owner.name}' needs the feature axis (last) of its input "
                         f"to be known, but received input shape {tuple(input_shape)}.")
    width = owner._gates * owner.units
    owner.kernel = owner.add_weight(shape=(in_dim, width), initializer=owner.kernel_initializer,
                                    regularizer=owner.kernel_regularizer, constraint=owner.kernel_constraint,
                                    name="kernel")
    owner.recurrent_kernel = owner.add_weight(shape=(owner.units, width), initializer=owner.recurrent_initializer,
                                              regularizer=owner.recurrent_regularizer,
                                              constraint=owner.recurrent_constraint, name="recurrent_kernel")
    owner.bias = None
    if owner.use_bias:
        owner.bias = owner.add_weight(shape=owner._bias_shape(), initializer=owner._bias_init(),
                                      regularizer=owner.bias_regularizer, constraint=owner.bias_constraint,
                                      name="bias")


def weight_settings_config(owner: Any) -> dict:
    """The config entries of a recurrent layer's or cell's weights: the kernel's, recurrent kernel's and bias's
    initializers, regularizers and constraints, and ``dropout``, ``recurrent_dropout``, ``seed``."""
    out = {}
    for part in ("kernel", "recurrent", "bias"):
        out[f"{part}_initializer"] = initializers.serialize(getattr(owner, f"{part}_initializer"))
    for part in ("kernel", "recurrent", "bias"):
        out[f"{part}_regularizer"] = regularizers.serialize(getattr(owner, f"{part}_regularizer"))
    for part in ("kernel", "recurrent", "bias"):
        out[f"{part}_constraint"] = constraints.serialize(getattr(owner, f"{part}_constraint"))
    return {**out, "dropout": owner.dropout, "recurrent_dropout": owner.recurrent_dropout, "seed": owner.seed}


def forget_bias_initializer(base: Callable[..., Any], units: int) -> Callable[..., torch.Tensor]:
    """LSTM's ``unit_forget_bias``: the forget gate's bias starts at 1, the others from ``base``."""

    def init(shape: tuple, dtype: Any = None) -> torch.Tensor:
        parts = [torch.as_tensor(base((units,), dtype=dtype)), torch.ones(units, dtype=dtype),
                 torch.as_tensor(base((2 * units,), dtype=dtype))]
        return torch.cat(parts)

    return init
