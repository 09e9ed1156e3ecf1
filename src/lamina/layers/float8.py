"""float8 training of a Dense layer with delayed scaling, as Keras 3's ``quantize("float8")``: the inputs and the
kernel are rounded to ``float8_e4m3fn`` and the gradient of the product to ``float8_e5m2``, each with its own
scale taken from a history of absolute maxima.

The state (``inputs_scale``, ``inputs_amax_history``, ``kernel_scale``, ``kernel_amax_history``,
``outputs_grad_scale``, ``outputs_grad_amax_history``) is updated by each training step: the scale from the
largest value of the history so far, then the history with this step's absolute maximum. Keras lists these
variables as trainable and has the optimizer overwrite them; lamina keeps them as non-trainable state and updates
them during the training step (the inputs and kernel ones in the forward pass, the gradient ones in the backward
pass), to the same values. The step is told by the layer's training mode (``model.train()``, which ``fit`` and
``train_on_batch`` set); a custom training loop calls ``model.train()`` for the state to advance.

>>> import torch
>>> from lamina import layers
>>> dense = layers.Dense(2)
>>> dense.build((None, 3))
>>> dense.quantize("float8")
>>> [name for name, _ in dense.named_buffers()][:2]
['inputs_scale', 'inputs_amax_history']
"""

from __future__ import annotations

from typing import Any

import torch

from lamina.quantizers.functions import compute_float8_amax_history, compute_float8_scale, quantize_and_dequantize

FORWARD = torch.float8_e4m3fn
BACKWARD = torch.float8_e5m2
ROLES = ("inputs", "kernel", "outputs_grad")


def add_state(layer: Any, history_length: int) -> None:
    """Add the six scaling variables, in Keras's order."""
    for role in ROLES:
        layer.add_weight(shape=(), initializer="ones", dtype="float32", trainable=False, name=f"{role}_scale")
        layer.add_weight(shape=(history_length,), initializer="zeros", dtype="float32", trainable=False,
                         name=f"{role}_amax_history")


def _update(layer: Any, role: str, value: torch.Tensor, dtype: torch.dtype) -> None:
    scale, history = getattr(layer, f"{role}_scale"), getattr(layer, f"{role}_amax_history")
    with torch.no_grad():
        new_scale = compute_float8_scale(history.max(), scale, torch.finfo(dtype).max)
        new_history = compute_float8_amax_history(value.detach(), history)
        scale.copy_(new_scale)
        history.copy_(new_history)


class _RoundTrip(torch.autograd.Function):
    """Quantize-dequantize in the forward pass, the gradient passing straight through."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
        return quantize_and_dequantize(x, scale, FORWARD, x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        return grad, None


class _GradRoundTrip(torch.autograd.Function):
    """Identity in the forward pass; the gradient is rounded to float8_e5m2 with the layer's
    ``outputs_grad_scale`` (and, when training, the gradient's scaling state is updated)."""

    @staticmethod
    def forward(ctx: Any, y: torch.Tensor, layer: Any, update: bool) -> torch.Tensor:
        ctx.layer, ctx.update = layer, update
        return y.view_as(y)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        layer = ctx.layer
        rounded = quantize_and_dequantize(grad, layer.outputs_grad_scale, BACKWARD, grad.dtype)
        if ctx.update:
            _update(layer, "outputs_grad", grad, BACKWARD)
        return rounded, None, None


def dense_output(layer: Any, inputs: torch.Tensor, kernel: torch.Tensor, bias: torch.Tensor | None,
                 product: Any = torch.matmul) -> torch.Tensor:
    """``product(inputs, kernel) + bias`` through float8 (before the activation; EinsumDense's product is its
    einsum). A training step (the layer in training
    mode, as ``fit`` and ``train_on_batch`` set it, with gradients on) advances the scaling state. As Keras 3.15
    does (observed on its torch backend), a float32 layer adds its bias rounded to bfloat16."""
    x = _RoundTrip.apply(inputs, layer.inputs_scale.to(inputs.dtype))
    k = _RoundTrip.apply(kernel.to(inputs.dtype), layer.kernel_scale.to(inputs.dtype))
    update = layer.training is True and torch.is_grad_enabled()
    y = product(x, k)
    if update:
        _update(layer, "inputs", inputs, FORWARD)
        _update(layer, "kernel", kernel, FORWARD)
    if torch.is_grad_enabled():
        y = _GradRoundTrip.apply(y, layer, update)
    if bias is None:
        return y
    return y + (bias.to(torch.bfloat16).to(y.dtype) if y.dtype == torch.float32 else bias.to(y.dtype))
