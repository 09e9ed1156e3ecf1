"""``EinsumDense``: a dense layer whose contraction is an einsum equation (any number of axes in and out).

>>> import torch
>>> layer = EinsumDense("abc,cde->abde", output_shape=(None, 2, 8), bias_axes="de")
>>> layer(torch.ones(4, 5, 16)).shape, tuple(layer.kernel.shape), tuple(layer.bias.shape)
(torch.Size([4, 5, 2, 8]), (16, 2, 8), (2, 8))
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from lamina import activations, constraints, initializers, regularizers
from lamina.layers.layer import Layer, format_shape

__all__ = ["EinsumDense"]

_FORMS = (  # (pattern, where the input's elided axes go)
    (re.compile(r"^([a-zA-Z]+),([a-zA-Z]+)->([a-zA-Z]+)$"), None),
    (re.compile(r"^\.\.\.([a-zA-Z]+),([a-zA-Z]+)->\.\.\.([a-zA-Z]+)$"), "left"),
    (re.compile(r"^([a-zA-Z]+)\.\.\.,([a-zA-Z]+)->([a-zA-Z]+)\.\.\.$"), "right"),
)


def parse_equation(equation: str) -> tuple[str, str, str, str | None]:
    """``(input spec, kernel spec, output spec, ellipsis side)`` of an EinsumDense equation.

    >>> parse_equation("...b,bc->...c")
    ('b', 'bc', 'c', 'left')
    """
    if isinstance(equation, str):
        for pattern, side in _FORMS:
            match = pattern.match(equation.replace(" ", ""))
            if match:
                return match.group(1), match.group(2), match.group(3), side
    raise ValueError(f"EinsumDense: invalid einsum equation {equation!r}. Equations must be in the form "
                     "'[X],[Y]->[Z]', '...[X],[Y]->...[Z]' or '[X]...,[Y]->[Z]...' (letters only).")


class _AsMatrix:
    """An initializer applied to the kernel seen as a matrix ``(fan_in, fan_out)``: its input axes (the letters
    shared with the input) against the rest, so that fan-based initializers (Glorot, He...) scale as Keras's do,
    whatever the kernel's rank and axis order."""

    def __init__(self, initializer: Any, fan_in: int, fan_out: int):
        self.initializer, self.fan_in, self.fan_out = initializer, fan_in, fan_out

    def __call__(self, shape: tuple, dtype: Any = None) -> torch.Tensor:
        matrix = torch.as_tensor(self.initializer((self.fan_in, self.fan_out), dtype=dtype))
        return matrix.reshape(shape)


class EinsumDense(Layer):
    """A dense layer computing ``activation(einsum(equation, inputs, kernel) + bias)``.

    ``equation`` is ``"<input>,<kernel>-><output>"`` in letters, optionally with ``...`` leading both the input
    and the output (or trailing both). ``output_shape`` gives the output's sizes without the batch axis (for a
    leading ``...``, the sizes of the output letters); ``None`` takes a size from the input. The kernel's axes
    take their sizes from the input's or the output's axes of the same letter. ``bias_axes`` names the output
    letters that get a bias: the bias spans the output from the first of them to the end, with size 1 on the
    axes not named. Weights ``kernel`` and ``bias`` are in Keras's layout and order.

    lamina's EinsumDense supports neither ``quantize()`` nor LoRA (``lora_rank``): both raise.

    >>> EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")(torch.ones(2, 3)).shape
    torch.Size([2, 4])
    """

    def __init__(self, equation: str, output_shape: Any, activation: Any = None, bias_axes: str | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 gptq_unpacked_column_size: int | None = None, quantization_config: Any = None, **kwargs: Any):
        super().__init__(**kwargs)
        if lora_rank is not None:
            raise NotImplementedError("EinsumDense: LoRA (`lora_rank`) is not supported by lamina's EinsumDense; "
                                      "leave lora_rank=None.")
        if quantization_config is not None:
            raise NotImplementedError("EinsumDense: quantization is not supported by lamina's EinsumDense; leave "
                                      "quantization_config=None.")
        self._input_spec, self._kernel_spec, self._output_spec, self._ellipsis = parse_equation(equation)
        self.equation = equation
        if isinstance(output_shape, int) and not isinstance(output_shape, bool):
            output_shape = (output_shape,)
        try:
            output_shape = tuple(None if d is None else int(d) for d in output_shape)
        except (TypeError, ValueError):
            raise ValueError(f"EinsumDense: `output_shape` must be an int or a tuple of ints (None for a size "
                             f"taken from the input); received output_shape={output_shape!r}.") from None
        expected = len(self._output_spec) - (0 if self._ellipsis == "left" else 1)
        if len(output_shape) != expected:
            raise ValueError(
                f"EinsumDense: equation {equation!r} has {expected} output axes after the batch axis, so "
                f"`output_shape` must have {expected} entries; received output_shape={output_shape!r}.")
        self.partial_output_shape = output_shape
        if bias_axes is not None:
            missing = [c for c in bias_axes if c not in self._output_spec]
            if missing or not bias_axes:
                raise ValueError(f"EinsumDense: bias axis '{''.join(missing)}' was requested, but is not part "
                                 f"of the output spec '{self._output_spec}' of equation {equation!r}.")
        self.bias_axes = bias_axes
        self.activation = activations.get(activation)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self.lora_rank, self.lora_alpha = lora_rank, lora_alpha
        self.gptq_unpacked_column_size = gptq_unpacked_column_size
        self.lora_enabled = False

    # ------------------------------------------------------------------------------------------ shapes
    def _full_output_shape(self, input_shape: tuple) -> tuple:
        """The output's shape (batch included) for ``input_shape``; None where unknown."""
        spec, out_spec = self._input_spec, self._output_spec
        if len(input_shape) < len(spec) or (self._ellipsis is None and len(input_shape) != len(spec)):
            raise ValueError(f"EinsumDense layer '{self.name}': equation {self.equation!r} needs inputs of rank "
                             f"{'at least ' if self._ellipsis else ''}{len(spec)}; received input shape "
                             f"{format_shape(input_shape)}.")
        if self._ellipsis == "left":
            elided, own = input_shape[:len(input_shape) - len(spec)], input_shape[len(input_shape) - len(spec):]
        else:
            own, elided = input_shape[:len(spec)], input_shape[len(spec):]
        sizes = dict(zip(spec, own, strict=True))
        offset = 0 if self._ellipsis == "left" else 1
        dims: list[int | None] = []
        for i, letter in enumerate(out_spec):
            given = None if i < offset else self.partial_output_shape[i - offset]
            known = sizes.get(letter)
            if given is not None and known is not None and given != known:
                raise ValueError(f"EinsumDense layer '{self.name}': input shape and output shape do not match at "
                                 f"shared dimension '{letter}'. Input shape is {known}, and output shape is "
                                 f"{given} (input shape {format_shape(input_shape)}, equation {self.equation!r}).")
            dims.append(known if known is not None else given)
        if self._ellipsis == "left":
            return (*elided, *dims)
        return (*dims, *elided) if self._ellipsis == "right" else tuple(dims)

    def _size(self, letter: str, sizes: dict, what: str, input_shape: tuple) -> int:
        size = sizes.get(letter)
        if size is None:
            raise ValueError(f"EinsumDense layer '{self.name}': the size of {what} axis '{letter}' is unknown for "
                             f"input shape {format_shape(input_shape)} and output_shape "
                             f"{self.partial_output_shape} (equation {self.equation!r}). Fix it in the input or "
                             "in `output_shape`.")
        return int(size)

    def build(self, input_shape: tuple) -> None:
        input_shape = tuple(input_shape)
        full = self._full_output_shape(input_shape)
        spec, out_spec = self._input_spec, self._output_spec
        own_in = input_shape[len(input_shape) - len(spec):] if self._ellipsis == "left" else input_shape[:len(spec)]
        own_out = full[len(full) - len(out_spec):] if self._ellipsis == "left" else full[:len(out_spec)]
        in_sizes = dict(zip(spec, own_in, strict=True))
        out_sizes = dict(zip(out_spec, own_out, strict=True))
        kernel_shape = []
        for letter in self._kernel_spec:
            if letter not in in_sizes and letter not in out_sizes:
                raise ValueError(f"EinsumDense layer '{self.name}': weight dimension '{letter}' did not have a "
                                 f"match in either the input spec '{spec}' or the output spec '{out_spec}'. The "
                                 "kernel must be fully specified by them.")
            sizes = in_sizes if letter in in_sizes else out_sizes
            kernel_shape.append(self._size(letter, sizes, "kernel", input_shape))
        self.full_output_shape = full
        fan_in = math.prod(d for c, d in zip(self._kernel_spec, kernel_shape, strict=True) if c in in_sizes)
        initializer = _AsMatrix(self.kernel_initializer, fan_in, math.prod(kernel_shape) // max(fan_in, 1))
        self.kernel = self.add_weight(shape=tuple(kernel_shape), initializer=initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.bias_axes is not None:
            first = min(out_spec.index(c) for c in self.bias_axes)
            bias_shape = [self._size(c, out_sizes, "bias", input_shape) if c in self.bias_axes else 1
                          for c in out_spec[first:]]
            if self._ellipsis == "right":
                bias_shape += [1] * (len(full) - len(out_spec))
            self.bias = self.add_weight(shape=tuple(bias_shape), initializer=self.bias_initializer,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")
        self.built = True

    # ------------------------------------------------------------------------------------------ call
    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        x = torch.einsum(self.equation, inputs, self.kernel.to(inputs.dtype))
        if self.bias is not None:
            x = x + self.bias.to(x.dtype)
        return activations.activate_fresh(self.activation, x)

    def quantize(self, mode: str | None = None, type_check: bool = True, config: Any = None) -> None:
        """Not supported by lamina's EinsumDense (Keras quantizes it to int8/int4/float8)."""
        raise NotImplementedError(f"EinsumDense layer '{self.name}': quantization is not supported by lamina's "
                                  "EinsumDense (only Dense and Embedding quantize).")

    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Not supported by lamina's EinsumDense."""
        raise NotImplementedError(f"EinsumDense layer '{self.name}': LoRA is not supported by lamina's "
                                  "EinsumDense (only Dense and Embedding support it).")

    def get_config(self) -> dict:
        return {**super().get_config(), "output_shape": self.partial_output_shape, "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), "quantization_config": None}
