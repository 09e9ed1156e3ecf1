"""Convolutional LSTMs: ``ConvLSTM1D``, ``ConvLSTM2D``, ``ConvLSTM3D`` (Shi et al., 2015), as in Keras 3.

An LSTM whose input and recurrent transforms are convolutions: the states ``h`` and ``c`` are feature maps
``(batch, *spatial, filters)``. Inputs are ``(batch, time, *spatial, channels)`` (``data_format='channels_last'``)
or ``(batch, time, channels, *spatial)``. Weights keep Keras's names, layouts and gate order ``i, f, c, o``:
``kernel (*kernel_size, channels, 4 * filters)``, ``recurrent_kernel (*kernel_size, filters, 4 * filters)``,
``bias (4 * filters,)``, so ``get_weights``/``set_weights`` are interchangeable with Keras's.

The input convolution uses ``strides``, ``padding`` and ``dilation_rate`` and runs on all time steps at once;
the recurrent one always runs with stride 1 and 'same' padding (so the state keeps its size).

>>> import torch
>>> layer = ConvLSTM2D(4, 3, padding="same", return_sequences=True)
>>> tuple(layer(torch.zeros(2, 5, 8, 8, 3)).shape)
(2, 5, 8, 8, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lamina import activations, constraints, initializers, regularizers
from lamina.core import config
from lamina.layers import rnn_math
from lamina.layers.layer import Layer
from lamina.layers.spatial import pad_same, standardize_padding, standardize_tuple
from lamina.layers.spec import InputSpec, format_shape

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def _torch_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """Keras's ``(*k, in, out)`` kernel as PyTorch's ``(out, in, *k)`` (a view)."""
    rank = kernel.ndim - 2
    return kernel.permute(rank + 1, rank, *range(rank))


def _conv_out_size(n: int | None, kernel: int, stride: int, dilation: int, padding: str) -> int | None:
    if n is None:
        return None
    if padding == "same":
        return -(-n // stride)
    return (n - (kernel - 1) * dilation - 1) // stride + 1


class _ConvLSTM(Layer):
    """What ``ConvLSTM1D/2D/3D`` share (``rank`` is set by each): arguments, weights, the step loop, config."""

    rank = 2

    def __init__(self, filters: int, kernel_size: int | Sequence[int], strides: int | Sequence[int] = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | Sequence[int] = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, unroll: bool = False, zero_output_for_mask: bool = False, **kwargs: Any):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        name = type(self).__name__
        if not isinstance(filters, int) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{name}: `filters` must be a positive int; received filters={filters!r}.")
        if stateful:
            raise ValueError(f"{name}: stateful=True is not supported by lamina; pass the state explicitly with "
                             "`initial_state=` and `return_state=True` instead.")
        for arg, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0 <= rate < 1:
                raise ValueError(f"{name}: `{arg}` must be in [0, 1); received {rate!r}.")
        self.filters = filters
        self.kernel_size = standardize_tuple(kernel_size, self.rank, "kernel_size", name)
        self.strides = standardize_tuple(strides, self.rank, "strides", name)
        self.dilation_rate = standardize_tuple(dilation_rate, self.rank, "dilation_rate", name)
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ValueError(f"{name}: strides > 1 cannot be combined with dilation_rate > 1; received "
                             f"strides={self.strides} and dilation_rate={self.dilation_rate}.")
        self.padding = standardize_padding(padding, name)
        self.data_format = config.standardize_data_format(data_format, name)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.unit_forget_bias = unit_forget_bias
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.recurrent_constraint = constraints.get(recurrent_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
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
        self.input_spec = InputSpec(ndim=self.rank + 3)

    # ------------------------------------------------------------------------------------------- shapes
    @property
    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 2

    def _spatial(self, shape: Sequence[Any]) -> tuple:
        """The spatial sizes of a ``(batch, time, ...)`` input shape."""
        return tuple(shape[2:-1]) if self.data_format == "channels_last" else tuple(shape[3:])

    def _state_spatial(self, spatial: Sequence[int | None]) -> tuple:
        return tuple(_conv_out_size(n, k, s, d, self.padding) for n, k, s, d in
                     zip(spatial, self.kernel_size, self.strides, self.dilation_rate, strict=True))

    # ------------------------------------------------------------------------------------------- weights
    def build(self, input_shape: tuple) -> None:
        shape = tuple(input_shape)
        name = type(self).__name__
        if len(shape) != self.rank + 3:
            raise ValueError(f"{name} layer '{self.name}' expects inputs of rank {self.rank + 3} (batch, time, "
                             f"{self.rank} spatial axes, channels); received input shape {format_shape(shape)}.")
        channels = shape[self._channel_axis]
        if channels is None:
            raise ValueError(f"{name} layer '{self.name}' needs the channel axis of its input to be known; "
                             f"received input shape {format_shape(shape)}.")
        for n in self._state_spatial(self._spatial(shape)):
            if n is not None and n <= 0:
                raise ValueError(f"{name} layer '{self.name}' received input of shape {format_shape(shape)}, "
                                 f"too small for its kernel of size {self.kernel_size} with padding='valid'.")
        width = 4 * self.filters
        self.kernel = self.add_weight(shape=(*self.kernel_size, channels, width), initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(*self.kernel_size, self.filters, width),
                                                initializer=self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint, name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            init = self.bias_initializer
            if self.unit_forget_bias:
                init = rnn_math.forget_bias_initializer(self.bias_initializer, self.filters)
            self.bias = self.add_weight(shape=(width,), initializer=init, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")
        axes = {self._channel_axis: channels}
        self.input_spec = InputSpec(ndim=self.rank + 3, axes=axes)
        self.built = True

    # ------------------------------------------------------------------------------------------- call
    def _conv(self, x: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None, strides: tuple,
              padding: str, dilation: tuple) -> torch.Tensor:
        """A channels-first convolution with a Keras-layout kernel under Keras's padding rule."""
        pad: Any = 0
        if padding == "same":
            x, pad = pad_same(x, self.kernel_size, strides, dilation)
        return _CONV[self.rank](x, _torch_kernel(kernel), bias, strides, pad, dilation)

    def _to_channels_first(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, time, ...)`` in the layer's format -> ``(batch, time, channels, *spatial)``."""
        return x.movedim(-1, 2) if self.data_format == "channels_last" else x

    def _from_channels_first(self, y: torch.Tensor, time_axis: bool) -> torch.Tensor:
        if self.data_format == "channels_first":
            return y
        return y.movedim(2 if time_axis else 1, -1)

    def get_initial_state(self, batch_size: int, input_shape: Sequence[int] | None = None) -> list[torch.Tensor]:
        """Zero states ``[h, c]`` for inputs of ``input_shape`` ``(batch, time, ...)`` in the layer's format."""
        if input_shape is None:
            raise ValueError(f"{type(self).__name__}.get_initial_state needs the input shape: the states' "
                             "spatial size depends on it.")
        spatial = self._state_spatial(self._spatial(input_shape))
        shape = (batch_size, *spatial, self.filters) if self.data_format == "channels_last" else \
            (batch_size, self.filters, *spatial)
        return [torch.zeros(shape, dtype=self._dtype) for _ in range(2)]

    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: Any = None,
             training: bool | None = None) -> Any:
        x = self._to_channels_first(sequences)  # (batch, time, channels, *spatial)
        batch, steps = x.shape[0], x.shape[1]
        spatial = self._state_spatial(tuple(x.shape[3:]))
        if initial_state is None:
            h = x.new_zeros(batch, self.filters, *spatial)
            states = [h, h]
        else:
            given = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(given) != 2:
                raise ValueError(f"{type(self).__name__} layer '{self.name}' has 2 state tensors [h, c]; "
                                 f"received {len(given)} in `initial_state`.")
            states = [self._from_channels_first_state(torch.as_tensor(s).to(x.device, x.dtype)) for s in given]
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device).bool()
            mask = mask.reshape(mask.shape[0], mask.shape[1], -1).any(-1) if mask.ndim > 2 else mask
        if self.go_backwards:
            x = x.flip(1)
            mask = None if mask is None else mask.flip(1)
        dropping = bool(training)
        if dropping and self.dropout > 0:
            x = x * rnn_math.dropout_mask(x[:, 0], self.dropout).unsqueeze(1)
        rec_mask = None
        if dropping and self.recurrent_dropout > 0:
            rec_mask = rnn_math.dropout_mask(states[0], self.recurrent_dropout)
        # the input convolution of every step at once: (batch * time, channels, *spatial)
        flat = x.reshape(batch * steps, *x.shape[2:])
        proj = self._conv(flat, self.kernel, self.bias, self.strides, self.padding, self.dilation_rate)
        proj = proj.reshape(batch, steps, *proj.shape[1:])  # (batch, time, 4 * filters, *state_spatial)
        ones = (1,) * self.rank
        outputs: list[torch.Tensor] = []
        prev = None
        for t in range(steps):
            h, c = states
            h_in = h if rec_mask is None else h * rec_mask
            z = proj[:, t] + self._conv(h_in, self.recurrent_kernel, None, ones, "same", ones)
            zi, zf, zc, zo = z.chunk(4, dim=1)
            act, rec = self.activation, self.recurrent_activation
            c_new = rec(zf) * c + rec(zi) * act(zc)
            h_new = rec(zo) * act(c_new)
            out = h_new
            if mask is not None:
                keep = mask[:, t].reshape(batch, *(1,) * (self.rank + 1))
                if prev is None:
                    prev = torch.zeros_like(out)
                out = torch.where(keep, out, torch.zeros_like(out) if self.zero_output_for_mask else prev)
                h_new, c_new = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            outputs.append(out)
            prev, states = out, [h_new, c_new]
        if self.return_sequences:
            output = self._from_channels_first(torch.stack(outputs, 1), time_axis=True)
        else:
            output = self._from_channels_first(outputs[-1], time_axis=False)
        if self.return_state:
            return [output, *(self._from_channels_first(s, time_axis=False) for s in states)]
        return output

    def _from_channels_first_state(self, state: torch.Tensor) -> torch.Tensor:
        """A given state, in the layer's data format, as ``(batch, filters, *spatial)``."""
        return state.movedim(-1, 1) if self.data_format == "channels_last" else state

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask, None, None]
        return out_mask

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        spatial = self._state_spatial(self._spatial(shape))
        step = (shape[0], *spatial, self.filters) if self.data_format == "channels_last" else \
            (shape[0], self.filters, *spatial)
        output = (step[0], shape[1], *step[1:]) if self.return_sequences else step
        if self.return_state:
            return [output, step, step]
        return output

    # ------------------------------------------------------------------------------------------- config
    def get_config(self) -> dict:
        return {**super().get_config(), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": False,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask, "filters": self.filters,
                "kernel_size": self.kernel_size, "strides": self.strides, "padding": self.padding,
                "data_format": self.data_format, "dilation_rate": self.dilation_rate,
                "activation": activations.serialize(self.activation),
                "recurrent_activation": activations.serialize(self.recurrent_activation),
                "use_bias": self.use_bias, "unit_forget_bias": self.unit_forget_bias,
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                **rnn_math.weight_settings_config(self)}


class ConvLSTM1D(_ConvLSTM):
    """Convolutional LSTM over ``(batch, time, steps, channels)``: the states are ``(batch, steps', filters)``.

    >>> import torch
    >>> tuple(ConvLSTM1D(4, 3)(torch.zeros(2, 5, 10, 3)).shape)
    (2, 8, 4)
    """

    rank = 1


class ConvLSTM2D(_ConvLSTM):
    """Convolutional LSTM over ``(batch, time, rows, cols, channels)``; gates ``i, f, c, o`` as in ``LSTM``.

    >>> import torch
    >>> seq, h, c = ConvLSTM2D(2, 3, padding="same", return_sequences=True, return_state=True)(
    ...     torch.zeros(1, 4, 6, 6, 3))
    >>> tuple(seq.shape), tuple(h.shape), tuple(c.shape)
    ((1, 4, 6, 6, 2), (1, 6, 6, 2), (1, 6, 6, 2))
    """

    rank = 2


class ConvLSTM3D(_ConvLSTM):
    """Convolutional LSTM over ``(batch, time, dim1, dim2, dim3, channels)``.

    >>> import torch
    >>> tuple(ConvLSTM3D(2, 3, strides=2)(torch.zeros(1, 3, 7, 7, 7, 1)).shape)
    (1, 3, 3, 3, 2)
    """

    rank = 3
