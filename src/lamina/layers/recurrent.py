"""Recurrent layers: SimpleRNN, LSTM, GRU, and the wrappers Bidirectional and TimeDistributed.

Weights keep Keras's layout and order: ``kernel (input_dim, k * units)``, ``recurrent_kernel (units, k * units)``,
``bias`` with Keras's gate order (LSTM ``i, f, c, o``; GRU ``z, r, h``). When the math is exactly PyTorch's
(default activations, no mask, no dropout, GRU ``reset_after=True``) the layers run PyTorch's fused kernels
(cuDNN on GPUs) with the weights translated on the fly; otherwise a step loop in Python computes Keras's math.

>>> import torch
>>> lstm = LSTM(8, return_sequences=True, return_state=True)
>>> seq, h, c = lstm(torch.zeros(2, 5, 3))
>>> tuple(seq.shape), tuple(h.shape), tuple(c.shape)
((2, 5, 8), (2, 8), (2, 8))
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any

import torch

from lamina import activations, initializers, regularizers
from lamina.core import serialization
from lamina.layers import rnn_math
from lamina.layers.layer import InputSpec, Layer

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@contextlib.contextmanager
def _fused_context(x: torch.Tensor) -> Any:
    """cuDNN warns that weights not packed in one buffer get compacted at every call; that copy is the price of
    keeping Keras's layout (small next to the recurrence itself), so silence that one warning."""
    if x.device.type != "cuda":
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="RNN module weights are not part of single contiguous")
        yield


class _RNN(Layer):
    """What SimpleRNN, LSTM and GRU share: arguments, weights, masks, the step loop and the fused fast path.

    A subclass sets ``_gates`` (k in ``k * units``) and ``_n_states``, and implements ``_step`` (one step of
    Keras's cell math on the input already projected by the kernel) and ``_fused`` (PyTorch's kernel).
    """

    _gates = 1
    _n_states = 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, zero_output_for_mask: bool = False, use_cudnn: bool | str = "auto",
                 **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False; received {use_cudnn!r}.")
        # Keras's switch for the fused kernel: lamina's is PyTorch's (cuDNN on CUDA, its own on the CPU).
        # "auto": fused whenever the configuration allows; False: always the step loop; True: fused or an error.
        self.use_cudnn = use_cudnn
        name = type(self).__name__
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{name}: `units` must be a positive int; received {units!r}.")
        if stateful:
            raise ValueError(f"{name}: stateful=True is not supported by lamina; pass the state explicitly with "
                             "`initial_state=` and `return_state=True` instead.")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name}: `{arg}` must be in [0, 1); received {rate!r}.")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = kernel_regularizer
        self.recurrent_regularizer = recurrent_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.recurrent_constraint = recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = False
        self.unroll = unroll  # accepted for compatibility; the loop is the same either way
        self.zero_output_for_mask = zero_output_for_mask
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)

    # ------------------------------------------------------------------------------------------- weights
    def _bias_shape(self) -> tuple:
        return (self._gates * self.units,)

    def build(self, input_shape: tuple) -> None:
        in_dim = input_shape[-1]
        rnn_math.add_cell_weights(self, in_dim, input_shape)
        self.input_spec = InputSpec(ndim=3, axes={-1: in_dim})
        self.built = True

    def _bias_init(self) -> Any:
        return self.bias_initializer

    # ------------------------------------------------------------------------------------------- call
    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        batch = sequences.shape[0]
        if initial_state is None:
            states = [sequences.new_zeros(batch, self.units) for _ in range(self._n_states)]
        else:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self._n_states:
                raise ValueError(
                    f"{type(self).__name__} layer '{self.name}' has {self._n_states} state tensor(s) of shape "
                    f"(batch, {self.units}); received {len(states)} in `initial_state`."
                )
            states = [torch.as_tensor(s).to(device=sequences.device, dtype=sequences.dtype) for s in states]
        if mask is not None:
            mask = torch.as_tensor(mask, device=sequences.device).bool()
            if mask.ndim == 3:
                mask = mask.any(-1)
        x = sequences.flip(1) if self.go_backwards else sequences  # (batch, steps, in)
        m = None if mask is None else (mask.flip(1) if self.go_backwards else mask)
        dropping = bool(training) and (self.dropout > 0 or self.recurrent_dropout > 0)
        fusable = m is None and not dropping and self._can_fuse()
        if self.use_cudnn is True and not fusable:
            raise ValueError(
                f"{type(self).__name__}(use_cudnn=True) needs the fused kernel, which this call cannot use: it needs "
                "the default activations, no mask, and no dropout while training. Pass use_cudnn='auto' to fall "
                "back to the step-by-step computation.")
        if fusable and self.use_cudnn is not False and not x.is_meta:
            with _fused_context(x):
                outputs, states = self._fused(x, states)
        else:
            outputs, states = self._loop(x, states, m, dropping)
        output = outputs if self.return_sequences else outputs[:, -1]
        if self.return_state:
            return [output, *states]
        return output

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * self._n_states
        return out_mask

    def _can_fuse(self) -> bool:
        return False

    def _fused(self, x: torch.Tensor, states: list) -> tuple:
        raise NotImplementedError("abstract: subclasses whose _can_fuse() is True implement _fused")

    def _fused_weights(self, order: list[int] | None = None) -> tuple:
        """(w_ih, w_hh) in PyTorch's (k * units, in) layout, gate blocks reordered by ``order``."""
        w_ih, w_hh = self.kernel.T, self.recurrent_kernel.T
        if order is not None:
            w_ih, w_hh = (torch.cat([w.chunk(self._gates, 0)[i] for i in order]) for w in (w_ih, w_hh))
        return w_ih.contiguous(), w_hh.contiguous()

    def _loop(self, x: torch.Tensor, states: list, mask: Any, dropping: bool) -> tuple:
        """Keras's cell math one step at a time; masked steps keep the previous state and output."""
        if dropping and self.dropout > 0:
            x = x * rnn_math.dropout_mask(x[:, 0], self.dropout).unsqueeze(1)
        rec_mask = None
        if dropping and self.recurrent_dropout:
            rec_mask = rnn_math.dropout_mask(states[0], self.recurrent_dropout)
        projected = self._project_inputs(x)  # (batch, steps, k * units), all steps in one matmul
        outputs = []
        prev_out = states[0].new_zeros(states[0].shape)
        for t in range(x.shape[1]):
            out, new_states = self._step(projected[:, t], states, rec_mask)
            if mask is not None:
                keep = mask[:, t].unsqueeze(-1)  # (batch, 1)
                out = torch.where(keep, out, torch.zeros_like(out) if self.zero_output_for_mask else prev_out)
                new_states = [torch.where(keep, n, s) for n, s in zip(new_states, states, strict=True)]
            outputs.append(out)
            prev_out, states = out, new_states
        return torch.stack(outputs, 1), states  # (batch, steps, units)

    def _project_inputs(self, x: torch.Tensor) -> torch.Tensor:
        return rnn_math.project(self, x)

    def _step(self, proj_t: torch.Tensor, states: list, rec_mask: Any) -> tuple:
        return type(self)._cell_step(self, proj_t, states, rec_mask)

    _cell_step = staticmethod(rnn_math.simple_step)

    # ------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": False,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask, "units": self.units,
                "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                **rnn_math.weight_settings_config(self)}


class SimpleRNN(_RNN):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + bias)``.

    >>> tuple(SimpleRNN(4)(torch.zeros(2, 5, 3)).shape)
    (2, 4)
    """

    def _can_fuse(self) -> bool:
        return self.activation is activations.tanh

    def _fused(self, x: torch.Tensor, states: list) -> tuple:
        w_ih, w_hh = self._fused_weights()
        params = [w_ih, w_hh]
        if self.bias is not None:
            params += [self.bias, torch.zeros_like(self.bias)]
        out, h = torch._VF.rnn_tanh(x, states[0].unsqueeze(0).contiguous(), params, self.bias is not None,
                                    1, 0.0, False, False, True)
        return out, [h[0]]



class LSTM(_RNN):
    """Long Short-Term Memory (Hochreiter & Schmidhuber, 1997) with Keras's gate order ``i, f, c, o``.

    States are ``[h, c]``; ``unit_forget_bias=True`` starts the forget-gate bias at 1.

    >>> tuple(LSTM(4, return_sequences=True)(torch.zeros(2, 5, 3)).shape)
    (2, 5, 4)
    """

    _gates = 4
    _n_states = 2

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, use_cudnn: bool | str = "auto", **kwargs: Any):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, use_cudnn=use_cudnn, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = unit_forget_bias

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        return rnn_math.forget_bias_initializer(self.bias_initializer, self.units)

    def _can_fuse(self) -> bool:
        return self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid

    def _fused(self, x: torch.Tensor, states: list) -> tuple:
        w_ih, w_hh = self._fused_weights()  # PyTorch's gate order i, f, g, o is Keras's
        params = [w_ih, w_hh]
        if self.bias is not None:
            params += [self.bias, torch.zeros_like(self.bias)]
        hx = (states[0].unsqueeze(0).contiguous(), states[1].unsqueeze(0).contiguous())
        out, h, c = torch._VF.lstm(x, hx, params, self.bias is not None, 1, 0.0, False, False, True)
        return out, [h[0], c[0]]

    _cell_step = staticmethod(rnn_math.lstm_step)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        cfg["unit_forget_bias"] = self.unit_forget_bias
        return cfg


class GRU(_RNN):
    """Gated Recurrent Unit (Cho et al., 2014) with Keras's gate order ``z, r, h``.

    ``reset_after=True`` (the default, cuDNN's form) applies the reset gate after the recurrent matmul and keeps
    separate input and recurrent biases: ``bias`` has shape ``(2, 3 * units)``.

    >>> tuple(GRU(4)(torch.zeros(2, 5, 3)).shape)
    (2, 4)
    """

    _gates = 3

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, reset_after: bool = True, use_cudnn: bool | str = "auto", **kwargs: Any):
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, use_cudnn=use_cudnn, **kwargs)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = reset_after

    def _bias_shape(self) -> tuple:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _can_fuse(self) -> bool:
        return (self.reset_after and self.activation is activations.tanh
                and self.recurrent_activation is activations.sigmoid)

    def _fused(self, x: torch.Tensor, states: list) -> tuple:
        order = [1, 0, 2]  # Keras z, r, h -> PyTorch r, z, n
        w_ih, w_hh = self._fused_weights(order)
        params = [w_ih, w_hh]
        if self.bias is not None:
            params += [torch.cat([self.bias[row].chunk(3)[i] for i in order]) for row in (0, 1)]
        out, h = torch._VF.gru(x, states[0].unsqueeze(0).contiguous(), params, self.bias is not None,
                               1, 0.0, False, False, True)
        return out, [h[0]]

    _cell_step = staticmethod(rnn_math.gru_step)

    def get_config(self) -> dict:
        cfg = super().get_config()
        cfg["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        cfg["reset_after"] = self.reset_after
        return cfg


# ----------------------------------------------------------------------------------------------- wrappers
def _serialize_layer(layer: Layer) -> dict:
    return serialization.serialize(layer)


def _deserialize_layer(spec: Any) -> Any:
    """A wrapped layer from its config, resolved through the registry only (never by importing a name)."""
    if not isinstance(spec, dict):
        return spec
    return serialization.deserialize({k: v for k, v in spec.items() if k in serialization.OBJECT_KEYS},
                                     kind="layers")


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards over the sequence and merges the two.

    ``merge_mode`` is ``'concat'`` (default), ``'sum'``, ``'mul'``, ``'ave'`` or ``None`` (a list of both).
    With ``return_state=True`` the states of the forward layer follow the output, then those of the backward one.

    >>> tuple(Bidirectional(LSTM(4))(torch.zeros(2, 5, 3)).shape)
    (2, 8)
    """

    def __init__(self, layer: Any, merge_mode: str | None = "concat", weights: Any = None,
                 backward_layer: Any = None, **kwargs: Any):
        layer = _deserialize_layer(layer)
        backward_layer = _deserialize_layer(backward_layer)
        if not isinstance(layer, _RNN):
            raise ValueError(f"Bidirectional wraps a SimpleRNN, LSTM or GRU layer; received {layer!r}.")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: `merge_mode` must be one of {_MERGE_MODES}; received {merge_mode!r}.")
        if weights is not None:
            raise ValueError("Bidirectional: pass weights with set_weights() after the first call, not `weights=`.")
        super().__init__(**kwargs)
        if backward_layer is None:
            cfg = {**layer.get_config(), "name": "backward_" + layer.name, "go_backwards": not layer.go_backwards}
            backward_layer = type(layer).from_config(cfg)
        for attr in ("return_sequences", "return_state"):
            if getattr(layer, attr) != getattr(backward_layer, attr):
                raise ValueError(f"Bidirectional: forward and backward layers must agree on `{attr}`.")
        self.forward_layer = layer
        self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        for sub in (layer, backward_layer):  # Keras: masked steps of returned sequences are zeros
            sub.zero_output_for_mask = sub.return_sequences
        self.supports_masking = True

    def build(self, input_shape: tuple) -> None:
        self.built = True

    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        fwd = self.forward_layer(sequences, initial_state=fwd_state, mask=mask, training=training)
        bwd = self.backward_layer(sequences, initial_state=bwd_state, mask=mask, training=training)
        states: list = []
        if self.return_state:
            states = [*fwd[1:], *bwd[1:]]
            fwd, bwd = fwd[0], bwd[0]
        if self.return_sequences:
            bwd = bwd.flip(1)  # back to the forward order of time
        if self.merge_mode == "concat":
            out = torch.cat([fwd, bwd], dim=-1)
        elif self.merge_mode == "sum":
            out = fwd + bwd
        elif self.merge_mode == "mul":
            out = fwd * bwd
        elif self.merge_mode == "ave":
            out = (fwd + bwd) / 2
        else:
            return [fwd, bwd, *states]
        return [out, *states] if self.return_state else out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        outs = [out_mask, out_mask] if self.merge_mode is None else [out_mask]
        if self.return_state:
            outs += [None] * (2 * self.forward_layer._n_states)
        return outs if len(outs) > 1 else outs[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": _serialize_layer(self.forward_layer), "backward_layer": _serialize_layer(self.backward_layer)}


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step (axis 1) of its input independently.

    >>> from lamina.layers.core import Dense
    >>> tuple(TimeDistributed(Dense(4))(torch.zeros(2, 5, 3)).shape)
    (2, 5, 4)
    """

    def __init__(self, layer: Any, **kwargs: Any):
        layer = _deserialize_layer(layer)
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed wraps a lamina Layer; received {layer!r}.")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True
        self.input_spec = InputSpec(min_ndim=3)

    def build(self, input_shape: tuple) -> None:
        if not self.layer.built:
            self.layer.build((None, *tuple(input_shape)[2:]))
            self.layer.built = True
        self.built = True

    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        batch, steps = inputs.shape[:2]
        flat = inputs.reshape(batch * steps, *inputs.shape[2:])  # (batch * steps, ...)
        out = self.layer(flat, training=training)
        return out.reshape(batch, steps, *out.shape[1:])  # (batch, steps, ...)

    def get_config(self) -> dict:
        return {**super().get_config(), "layer": _serialize_layer(self.layer)}
