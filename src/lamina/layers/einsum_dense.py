"""``EinsumDense``: a dense layer whose contraction is an einsum equation (any number of axes in and out), with
Keras 3's LoRA (``lora_rank``, ``enable_lora``) and quantization (``quantize("int8" | "float8")``).

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
from lamina.layers import einsum_quantization, float8, lora, quantization
from lamina.layers.layer import Layer, format_shape
from lamina.layers.quantizable import QuantizableLayer

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


class EinsumDense(QuantizableLayer, Layer):
    """A dense layer computing ``activation(einsum(equation, inputs, kernel) + bias)``.

    ``equation`` is ``"<input>,<kernel>-><output>"`` in letters, optionally with ``...`` leading both the input
    and the output (or trailing both). ``output_shape`` gives the output's sizes without the batch axis (for a
    leading ``...``, the sizes of the output letters); ``None`` takes a size from the input. The kernel's axes
    take their sizes from the input's or the output's axes of the same letter. ``bias_axes`` names the output
    letters that get a bias: the bias spans the output from the first of them to the end, with size 1 on the
    axes not named. Weights ``kernel`` and ``bias`` are in Keras's layout and order.

    ``enable_lora(rank)`` (or ``lora_rank=``) freezes the kernel and trains ``A`` (``kernel.shape[:-1] + (rank,)``)
    and ``B`` (``(rank, kernel.shape[-1])``); the layer computes with ``kernel + (lora_alpha / rank) * A @ B``.
    ``quantize("int8")`` stores an int8 kernel with one scale per output position (abs-max over the kernel axes
    the output lacks; ``kernel_scale`` laid out as Keras's) and quantizes the inputs on each call;
    ``quantize("float8")`` trains with float8 and delayed scaling, as Dense (layers/float8.py).

    >>> EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c")(torch.ones(2, 3)).shape
    torch.Size([2, 4])
    """

    QUANTIZATION = ("kernel", None, ("int8", "float8"))  # (the kernel's reduced axes follow from the equation)

    def __init__(self, equation: str, output_shape: Any, activation: Any = None, bias_axes: str | None = None,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 bias_constraint: Any = None, lora_rank: int | None = None, lora_alpha: float | None = None,
                 gptq_unpacked_column_size: int | None = None, quantization_config: Any = None, **kwargs: Any):
        kwargs["dtype"] = quantization.policy_from(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self._init_quantizable(lora_rank, lora_alpha, quantization_config)
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
        self.gptq_unpacked_column_size = gptq_unpacked_column_size

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
        self._input_ndim = len(input_shape)
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
        self._build_quantizable()

    @property
    def kernel(self) -> torch.Tensor:
        """The kernel in Keras's layout, with the LoRA update merged in when LoRA is enabled (int8 once quantized
        to int8)."""
        return self._compute_weight()

    # ------------------------------------------------------------------------------------------ call
    def call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        if self.quantization_mode is not None:
            return self.quantized_call(inputs)
        x = torch.einsum(self.equation, inputs, self.kernel.to(inputs.dtype))
        if self.bias is not None:
            x = x + self.bias.to(x.dtype)
        return activations.activate_fresh(self.activation, x)

    def quantized_call(self, inputs: torch.Tensor, training: bool | None = None) -> torch.Tensor:
        """The int8 or float8 forward pass (layers/einsum_quantization.py, layers/float8.py)."""
        if self.quantization_mode == "int8":
            x = einsum_quantization.int8_output(self, inputs)
            if self.bias is not None:
                x = x + self.bias.to(x.dtype)
        else:
            product = lambda x, k: torch.einsum(self.equation, x, k)  # noqa: E731
            x = float8.dense_output(self, inputs, quantization.stored(self, "kernel"), self.bias, product)
        return activations.activate_fresh(self.activation, x)

    # ------------------------------------------------------------------------------------------ LoRA, int8
    def enable_lora(self, rank: int, lora_alpha: float | None = None, a_initializer: Any = "he_uniform",
                    b_initializer: Any = "zeros") -> None:
        """Freeze the kernel and train a low-rank update ``(lora_alpha / rank) * A @ B`` instead, as Keras's
        EinsumDense: ``A`` is ``kernel.shape[:-1] + (rank,)``, ``B`` is ``(rank, kernel.shape[-1])``, both
        regularized by ``kernel_regularizer``; ``lora_alpha`` defaults to ``rank``."""
        if self.kernel_constraint is not None:
            raise ValueError(f"Lora is incompatible with kernel constraints (layer '{self.name}'). In order to enable "
                             "lora on this layer, remove the `kernel_constraint` argument.")
        lora.enable(self, rank, lora_alpha, a_initializer, b_initializer, regularizer=self.kernel_regularizer)

    def _quant_info(self) -> einsum_quantization.QuantInfo:
        info = self.__dict__.get("_quant_info_cache")
        if info is None:
            info = einsum_quantization.QuantInfo.of(self.equation, self._input_ndim)
            self.__dict__["_quant_info_cache"] = info
        return info

    def _quantize_int8_kernel(self, config: Any) -> None:
        einsum_quantization.quantize_kernel(self, config)

    def _build_int8(self, kernel_shape: tuple) -> None:
        einsum_quantization.build_int8(self, kernel_shape)

    def _requantized_with_lora(self) -> dict[str, torch.Tensor]:
        return einsum_quantization.requantized_with_lora(self)

    def get_config(self) -> dict:
        return {**super().get_config(), "output_shape": self.partial_output_shape, "equation": self.equation,
                "activation": activations.serialize(self.activation), "bias_axes": self.bias_axes,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer),
                "activity_regularizer": regularizers.serialize(self.activity_regularizer),
                "kernel_constraint": constraints.serialize(self.kernel_constraint),
                "bias_constraint": constraints.serialize(self.bias_constraint), **self._quantizable_config()}
