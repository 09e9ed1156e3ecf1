"""Keras's recurrent cells: ``SimpleRNNCell``, ``LSTMCell``, ``GRUCell`` (one time step each) and
``StackedRNNCells``; ``lamina.layers.RNN`` runs any of them, or a user's own cell, over a sequence.

A cell's ``call(inputs, states, training=False)`` takes one step's input ``(batch, features)`` and the states,
and returns ``(output, new_states)``. Weights have Keras's names, shapes and order (``kernel``,
``recurrent_kernel``, ``bias``), the same as the ``SimpleRNN``/``LSTM``/``GRU`` layers, with which they share
the step math (``rnn_math.py``).

>>> import torch
>>> cell = LSTMCell(4)
>>> out, (h, c) = cell(torch.ones(2, 3), [torch.zeros(2, 4), torch.zeros(2, 4)])
>>> tuple(out.shape), cell.state_size
((2, 4), [4, 4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lamina import activations, constraints, initializers, regularizers
from lamina.core import serialization
from lamina.layers import rnn_math
from lamina.layers.layer import Layer


class _Cell(Layer):
    """What the three cells share: arguments, weights, dropout masks, initial states and config."""

    _gates = 1
    _n_states = 1
    _step: Callable[..., tuple] = staticmethod(rnn_math.simple_step)

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        name = type(self).__name__
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{name}: `units` must be a positive int; received {units!r}.")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name}: `{arg}` must be in [0, 1); received {rate!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self._masks: dict[str, torch.Tensor | None] = {"input": None, "recurrent": None}

    # ------------------------------------------------------------------ sizes and states
    @property
    def state_size(self) -> int | list[int]:
        return [self.units] * self._n_states if self._n_states > 1 else self.units

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size: int | None = None) -> list[torch.Tensor]:
        """Zeros for every state, ``(batch_size, units)`` each, in the layer's dtype."""
        return [torch.zeros(batch_size or 1, self.units, dtype=self._dtype) for _ in range(self._n_states)]

    # ------------------------------------------------------------------ weights
    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def _bias_init(self) -> Any:
        return self.bias_initializer

    def build(self, input_shape: Any) -> None:
        rnn_math.add_cell_weights(self, tuple(input_shape)[-1], input_shape)
        self.built = True

    # ------------------------------------------------------------------ dropout (one mask per sequence)
    def reset_dropout_mask(self) -> None:
        """Forget the dropout masks: ``RNN`` calls this at the start of every sequence."""
        self._masks = {"input": None, "recurrent": None}

    reset_recurrent_dropout_mask = reset_dropout_mask

    def _mask(self, which: str, like: torch.Tensor, rate: float) -> torch.Tensor | None:
        if rate <= 0:
            return None
        if self._masks.get(which) is None or self._masks[which].shape != like.shape:
            self._masks[which] = rnn_math.dropout_mask(like, rate)
        return self._masks[which]

    # ------------------------------------------------------------------ one step
    def call(self, sequence: torch.Tensor, states: Any, training: bool = False) -> tuple:
        as_list = isinstance(states, (list, tuple))
        state_list = list(states) if as_list else [states]
        if len(state_list) != self._n_states:
            raise ValueError(f"{type(self).__name__} '{self.name}' takes {self._n_states} state tensor(s) of shape "
                             f"(batch, {self.units}); received {len(state_list)}.")
        x, rec_mask = sequence, None
        if training:
            input_mask = self._mask("input", sequence, self.dropout)
            x = x if input_mask is None else x * input_mask
            rec_mask = self._mask("recurrent", state_list[0], self.recurrent_dropout)
        output, new_states = type(self)._step(self, rnn_math.project(self, x), state_list, rec_mask)
        return output, (new_states if as_list else new_states[0])

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, **rnn_math.weight_settings_config(self)}


class SimpleRNNCell(_Cell):
    """One step of ``SimpleRNN``: ``h = activation(x @ kernel + h @ recurrent_kernel + bias)``.

    >>> import torch
    >>> out, states = SimpleRNNCell(2)(torch.ones(1, 3), [torch.zeros(1, 2)])
    >>> tuple(out.shape), len(states)
    ((1, 2), 1)
    """


class LSTMCell(_Cell):
    """One step of ``LSTM`` (gates ``i, f, c, o``; states ``[h, c]``; ``unit_forget_bias`` starts the forget
    gate's bias at 1).

    >>> LSTMCell(3).state_size
    [3, 3]
    """

    _gates = 4
    _n_states = 2
    _step = staticmethod(rnn_math.lstm_step)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        return rnn_math.forget_bias_initializer(self.bias_initializer, self.units)

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_Cell):
    """One step of ``GRU`` (gates ``z, r, h``; ``reset_after=True``, cuDNN's form, keeps a bias of shape
    ``(2, 3 * units)``).

    >>> GRUCell(3).state_size
    3
    """

    _gates = 3
    _step = staticmethod(rnn_math.gru_step)

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, reset_after: bool = True,
                 seed: int | None = None, **kwargs: Any):
        super().__init__(units, activation, use_bias, kernel_initializer, recurrent_initializer, bias_initializer,
                         kernel_regularizer, recurrent_regularizer, bias_regularizer, kernel_constraint,
                         recurrent_constraint, bias_constraint, dropout, recurrent_dropout, seed, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def get_config(self) -> dict:
        return {**super().get_config(), "recurrent_activation": activations.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


class StackedRNNCells(Layer):
    """Several cells run one after the other at each step, as one cell (its states: each cell's, in order).

    >>> import torch
    >>> stack = StackedRNNCells([LSTMCell(3), GRUCell(2)])
    >>> stack.state_size, stack.output_size
    ([[3, 3], 2], 2)
    """

    def __init__(self, cells: Sequence[Any], **kwargs: Any):
        super().__init__(**kwargs)
        cells = [serialization.deserialize_layer(c) if isinstance(c, dict) else c for c in cells]
        for cell in cells:
            if not hasattr(cell, "call") or not hasattr(cell, "state_size"):
                raise ValueError(f"StackedRNNCells: every cell needs `call(inputs, states)` and `state_size`; "
                                 f"received {cell!r}.")
        self.cells = list(cells)

    @property
    def state_size(self) -> list:
        return [cell.state_size for cell in self.cells]

    @property
    def output_size(self) -> int:
        last = self.cells[-1]
        size = getattr(last, "output_size", None)
        if size is not None:
            return size
        state = last.state_size
        return state[0] if isinstance(state, (list, tuple)) else state

    def get_initial_state(self, batch_size: int | None = None) -> list:
        return [initial_state(cell, batch_size, torch.float32) for cell in self.cells]

    def reset_dropout_mask(self) -> None:
        for cell in self.cells:
            if hasattr(cell, "reset_dropout_mask"):
                cell.reset_dropout_mask()

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell.build(shape)
            size = getattr(cell, "output_size", None)
            if size is None:
                state = cell.state_size
                size = state[0] if isinstance(state, (list, tuple)) else state
            shape = (*shape[:-1], size)
        self.built = True

    def call(self, inputs: torch.Tensor, states: Sequence[Any], training: bool = False) -> tuple:
        new_states = []
        x = inputs
        for cell, state in zip(self.cells, states, strict=True):
            x, state = call_cell(cell, x, state, training)
            new_states.append(state)
        return x, new_states

    def get_config(self) -> dict:
        return {**super().get_config(), "cells": [serialization.serialize_layer(c) for c in self.cells]}


# ---------------------------------------------------------------------------------------------- helpers for RNN
def initial_state(cell: Any, batch_size: int | None, dtype: torch.dtype, device: Any = None) -> Any:
    """A cell's zero state: the cell's own ``get_initial_state`` when it has one, else zeros of ``state_size``
    (a list when the cell has several states)."""
    getter = getattr(cell, "get_initial_state", None)
    if getter is not None:
        state = getter(batch_size=batch_size)
    else:
        size = cell.state_size
        state = [torch.zeros(batch_size, s) for s in size] if isinstance(size, (list, tuple)) else \
            torch.zeros(batch_size, size)
    return _to(state, dtype, device)


def _to(state: Any, dtype: torch.dtype, device: Any) -> Any:
    if isinstance(state, (list, tuple)):
        return [_to(s, dtype, device) for s in state]
    return torch.as_tensor(state).to(dtype=dtype, device=device)


def call_cell(cell: Any, inputs: torch.Tensor, states: Any, training: bool) -> tuple:
    """One step of any cell: ``training`` is passed when its ``call`` takes it."""
    if getattr(cell, "_call_has_training", False) or isinstance(cell, _Cell):
        return cell(inputs, states, training=training)
    return cell(inputs, states)
