"""int8 quantization of an ``EinsumDense`` kernel of any rank, as Keras 3 does it.

The kernel is quantized with abs-max over its *reduced* axes (the kernel letters missing from the output), so
there is one scale per output position the kernel reaches; a call quantizes its inputs over their reduced axes
too, contracts the integers exactly and divides by both scales. A scale is kept laid out to broadcast against the
output: the operand's kept axes in output order, size 1 where the output has a letter the operand lacks. That is
the layout of Keras's ``kernel_scale`` wherever Keras's own bookkeeping (``_analyze_quantization_info``) gives a
valid one; for the equations where it does not (an operand with more reduced axes than it lacks output letters,
with the extra axes misplaced, e.g. ``"abc,c->ab"``, whose Keras output is ``(batch, batch, 4)``), lamina's is
still the broadcastable one. Equations with ``...`` are spelled out (Keras 3.15 cannot quantize them).

>>> info = QuantInfo.of("abc,cde->abde", 3)
>>> info.kernel.reduced, info.input.reduced, info.gradient_equation
([0], [2], 'abde,cde->abc')
>>> scale_shape(info, (16, 2, 8))
(1, 1, 2, 8)
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

import torch

from lamina.layers import lora
from lamina.layers.quantization import add_int8_weights, stored
from lamina.quantizers import AbsMaxQuantizer, QuantizationConfig
from lamina.quantizers.functions import abs_max_quantize


@dataclass
class ScaleLayout:
    """How the keep-dims abs-max scale of one operand (letters ``spec``) is laid out against the output."""

    spec: str
    output: str

    @property
    def reduced(self) -> list[int]:
        """The operand's axes its quantizer reduces: the letters the output lacks."""
        return [i for i, c in enumerate(self.spec) if c not in self.output]

    def _kept(self) -> str:
        return "".join(c for c in self.output if c in self.spec)  # the operand's kept letters, in output order

    def forward(self, scale: torch.Tensor) -> torch.Tensor:
        """A keep-dims scale of the operand -> its layout against the output."""
        kept = [c for c in self.spec if c in self.output]  # the operand's own order
        scale = scale.reshape([scale.shape[i] for i, c in enumerate(self.spec) if c in self.output])
        scale = scale.permute(*[kept.index(c) for c in self._kept()]) if kept else scale
        return scale.reshape([scale.shape[self._kept().index(c)] if c in self.spec else 1 for c in self.output])

    def backward(self, scale: torch.Tensor) -> torch.Tensor:
        """The inverse of ``forward``: the stored scale back along the operand's axes (keep-dims)."""
        ordered = self._kept()
        scale = scale.reshape([scale.shape[i] for i, c in enumerate(self.output) if c in self.spec])
        kept = [c for c in self.spec if c in self.output]
        scale = scale.permute(*[ordered.index(c) for c in kept]) if kept else scale
        return scale.reshape([scale.shape[kept.index(c)] if c in self.output else 1 for c in self.spec])


@dataclass
class QuantInfo:
    """The scale layouts of an equation's inputs and kernel, and the equation of the inputs' gradient."""

    input: ScaleLayout
    kernel: ScaleLayout
    gradient_equation: str

    @classmethod
    def of(cls, equation: str, input_ndim: int) -> QuantInfo:
        """The layouts for ``equation`` on inputs of rank ``input_ndim`` (``...`` becomes explicit letters)."""
        in_spec, k_spec, out_spec = _explicit_specs(equation, input_ndim)
        return cls(ScaleLayout(in_spec, out_spec), ScaleLayout(k_spec, out_spec), f"{out_spec},{k_spec}->{in_spec}")


def _explicit_specs(equation: str, input_ndim: int) -> tuple[str, str, str]:
    """The three letter specs with ``...`` replaced by unused letters (as many as the input's elided axes)."""
    left, output = equation.replace(" ", "").split("->")
    inputs, kernel = left.split(",")
    if "..." not in inputs:
        return inputs, kernel, output
    used = set(inputs + kernel + output) - {"."}
    own = inputs.replace("...", "")
    free = "".join(c for c in sorted(string.ascii_letters) if c not in used)[:input_ndim - len(own)]
    return inputs.replace("...", free), kernel, output.replace("...", free)


def scale_shape(info: QuantInfo, kernel_shape: tuple) -> tuple:
    """The shape of the stored ``kernel_scale`` for a kernel of ``kernel_shape``."""
    keep = [1 if i in info.kernel.reduced else int(d) for i, d in enumerate(kernel_shape)]
    return tuple(info.kernel.forward(torch.empty(keep, device="meta")).shape)


def quantize_kernel(layer: Any, config: Any) -> None:
    """Swap the layer's float kernel for an int8 one and its scale (``layer.quantize("int8")``)."""
    info = layer._quant_info()
    weight = stored(layer, "kernel").detach()
    quantizer = QuantizationConfig.weight_quantizer_or_default(config, AbsMaxQuantizer(axis=info.kernel.reduced))
    quantized, scale = quantizer(weight)
    scale = info.kernel.forward(scale)
    build_int8(layer, tuple(weight.shape))
    with torch.no_grad():
        stored(layer, "kernel").copy_(quantized)
        stored(layer, "kernel_scale").copy_(scale)


def build_int8(layer: Any, kernel_shape: tuple) -> None:
    """The int8 kernel and its scale in place of the float kernel (zeros and ones until set or loaded)."""
    add_int8_weights(layer, "kernel", tuple(kernel_shape), scale_shape(layer._quant_info(), kernel_shape))


def dequantized(layer: Any, dtype: torch.dtype) -> torch.Tensor:
    """The int8 kernel as floats: divided by its scale laid back out along the kernel's axes."""
    scale = layer._quant_info().kernel.backward(stored(layer, "kernel_scale"))
    return stored(layer, "kernel").to(dtype) / scale.to(dtype)


def requantized_with_lora(layer: Any) -> dict[str, torch.Tensor]:
    """What Keras saves for an int8 layer with LoRA: the kernel dequantized, the update added, quantized again."""
    info = layer._quant_info()
    merged = dequantized(layer, torch.float32).detach() + lora.delta(layer).detach()
    quantized, scale = abs_max_quantize(merged, axis=info.kernel.reduced)
    return {"kernel": quantized, "kernel_scale": info.kernel.forward(scale)}


class _Int8Einsum(torch.autograd.Function):
    """The int8 contraction divided by both scales; the inputs' gradient goes through the dequantized kernel (the
    int8 kernel is not trained), as Keras's custom gradient."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, layer: Any, quantizer: Any) -> torch.Tensor:
        info = layer._quant_info()
        kernel, kernel_scale = stored(layer, "kernel"), stored(layer, "kernel_scale").to(x.dtype)
        ctx.layer, ctx.dtype = layer, x.dtype
        if quantizer is None:  # weight-only quantization: a float contraction with the dequantized kernel
            return torch.einsum(layer.equation, x, dequantized(layer, x.dtype))
        x_q, x_scale = quantizer(x, axis=info.input.reduced)
        # float32 holds every integer sum of up to 1040 products of int8s exactly; float64 beyond that
        terms = kernel.numel() // max(kernel_scale.numel(), 1)
        exact = torch.float32 if terms <= 1040 else torch.float64
        product = torch.einsum(layer.equation, x_q.to(exact), kernel.to(exact)).to(x.dtype)
        return product / (info.input.forward(x_scale).to(x.dtype) * kernel_scale)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        layer = ctx.layer
        kernel = dequantized(layer, ctx.dtype)
        return torch.einsum(layer._quant_info().gradient_equation, grad, kernel), None, None


def int8_output(layer: Any, inputs: torch.Tensor) -> torch.Tensor:
    """``einsum(equation, inputs, kernel)`` of an int8 layer, LoRA's update included (before bias and
    activation)."""
    config = getattr(layer, "_quantization_config", None)
    quantizer = QuantizationConfig.activation_quantizer_or_default(config, AbsMaxQuantizer())
    x = _Int8Einsum.apply(inputs.to(layer._compute_dtype), layer, quantizer)
    if getattr(layer, "lora_enabled", False):
        _, a_name, b_name = lora.names(layer)
        kernel_spec, output_spec = layer._kernel_spec, layer._output_spec
        if kernel_spec[-1] in output_spec and output_spec.endswith(kernel_spec[-1]):  # Keras's order: A, then B
            low = torch.einsum(layer.equation, inputs.to(torch.float32), layer._parameters[a_name])
            update = (layer.lora_alpha / layer.lora_rank) * torch.matmul(low, layer._parameters[b_name])
        else:  # (where Keras's order does not apply, e.g. 'abc,dc->abd', Keras fails): the same update at once
            update = torch.einsum(layer.equation, inputs.to(torch.float32), lora.delta(layer))
        x = x + update.to(x.dtype)
    return x
