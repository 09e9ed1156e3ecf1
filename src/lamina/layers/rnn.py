"""``RNN``: runs a recurrent cell over the time axis (Keras's ``keras.layers.RNN``): a built-in cell
(``SimpleRNNCell``, ``LSTMCell``, ``GRUCell``), a list of cells (stacked), or a user's own cell (a layer with
``state_size`` and ``call(inputs, states)`` returning ``(output, new_states)``).

The sequence layers ``SimpleRNN``/``LSTM``/``GRU`` compute the same numbers (with PyTorch's fused kernels where
they can); ``RNN(LSTMCell(n))`` has the same weights, in the same order, as ``LSTM(n)``.

>>> import torch
>>> from lamina.layers.rnn_cells import GRUCell
>>> layer = RNN(GRUCell(4), return_sequences=True)
>>> tuple(layer(torch.zeros(2, 5, 3)).shape)
(2, 5, 4)
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.core import serialization, tree
from lamina.layers.layer import InputSpec, Layer
from lamina.layers.rnn_cells import StackedRNNCells, call_cell, initial_state


class RNN(Layer):
    """Base recurrent layer: ``cell`` stepped over ``(batch, timesteps, features)`` inputs.

    Args:
        cell: a cell, or a list of cells (run as ``StackedRNNCells``).
        return_sequences: return every step's output ``(batch, timesteps, units)``, not only the last.
        return_state: also return the final states (``[output, *states]``).
        go_backwards: run over the sequence in reverse (outputs then come in that reversed order).
        stateful: not supported by lamina; pass states with ``initial_state=`` and ``return_state=True``.
        unroll: accepted for compatibility (the loop is the same either way).
        zero_output_for_mask: masked steps output zeros instead of the previous output.
    """

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(cell, dict):
            cell = serialization.deserialize_layer(cell)
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not callable(getattr(cell, "call", None)) or not hasattr(cell, "state_size"):
            raise ValueError(f"RNN: `cell` must have a `call(inputs, states)` method and a `state_size` attribute "
                             f"(e.g. lamina.layers.LSTMCell(32)); received {cell!r}.")
        if stateful:
            raise ValueError("RNN: stateful=True is not supported by lamina; pass the state explicitly with "
                             "`initial_state=` and `return_state=True` instead.")
        self.cell = cell
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = False
        self.unroll = unroll
        self.zero_output_for_mask = zero_output_for_mask
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    @property
    def state_size(self) -> Any:
        return self.cell.state_size

    def build(self, sequences_shape: Any, initial_state_shape: Any = None) -> None:
        shape = tuple(sequences_shape)
        step_shape = (shape[0], *shape[2:])
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build(step_shape)
        self.built = True

    def get_initial_state(self, batch_size: int) -> list:
        """Zeros for the cell's states, as a list (one entry per state)."""
        return _as_list(initial_state(self.cell, batch_size, self._dtype))

    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        batch, steps = sequences.shape[0], sequences.shape[1]
        # the states as a list, one entry per state (as Keras hands them to a cell, even when it has one)
        if initial_state is None:
            states = _as_list(initial_state_of(self.cell, batch, sequences))
        else:
            states = tree.map_structure(lambda s: torch.as_tensor(s).to(sequences.device, sequences.dtype),
                                        _as_list(initial_state))
        if hasattr(self.cell, "reset_dropout_mask"):
            self.cell.reset_dropout_mask()
        if mask is not None:
            mask = torch.as_tensor(mask, device=sequences.device).bool()
            mask = mask.any(-1) if mask.ndim == 3 else mask
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, prev = [], None
        for t in order:
            out, new_states = call_cell(self.cell, sequences[:, t], states, bool(training))
            new_states = _as_list(new_states)
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)
                if prev is None:
                    prev = torch.zeros_like(out)
                out = torch.where(keep, out, torch.zeros_like(out) if self.zero_output_for_mask else prev)
                new_states = _keep_where(keep, new_states, states)
            outputs.append(out)
            prev, states = out, new_states
        output = torch.stack(outputs, 1) if self.return_sequences else outputs[-1]
        if self.return_state:
            return [output, *states]
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            size = self.cell.state_size
            return [out_mask] + [None] * (len(size) if isinstance(size, (list, tuple)) else 1)
        return out_mask

    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": False,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                "cell": serialization.serialize_layer(self.cell)}

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> RNN:
        config = dict(config)
        cell = config.pop("cell")
        if isinstance(cell, dict):
            cell = serialization.deserialize(cell, custom_objects, kind="layers")
        return cls(cell, **config)


def initial_state_of(cell: Any, batch: int, like: torch.Tensor) -> Any:
    """The cell's zero states for ``batch`` sequences like ``like`` (its dtype and device)."""
    return initial_state(cell, batch, like.dtype, like.device)


def _keep_where(keep: torch.Tensor, new: Any, old: Any) -> Any:
    """The new states where ``keep`` (a masked step keeps the old ones), through nested lists of states."""
    if isinstance(new, (list, tuple)):
        return [_keep_where(keep, n, o) for n, o in zip(new, old, strict=True)]
    return torch.where(keep, new, old)


def _as_list(states: Any) -> list:
    return list(states) if isinstance(states, (list, tuple)) else [states]
