"""``lamina.quantizers``: Keras 3's ``keras.quantizers`` on PyTorch (quantizers, quantization configs and the
quantization arithmetic that ``layer.quantize("int8" | "float8")`` uses).

GPTQ and AWQ (``GPTQConfig``, ``AWQConfig``: calibration on a dataset through a tokenizer) are not provided.

>>> import torch
>>> from lamina import quantizers
>>> quantizers.abs_max_quantize(torch.tensor([[0.5, -1.0]]), axis=-1)[0].tolist()
[[63, -127]]
"""

from lamina.quantizers.config import (
    Float8QuantizationConfig,
    Int4QuantizationConfig,
    Int8QuantizationConfig,
    QuantizationConfig,
)
from lamina.quantizers.fake_quant import fake_quant_with_min_max_vars
from lamina.quantizers.functions import (
    abs_max_quantize,
    abs_max_quantize_grouped_with_zero_point,
    compute_float8_amax_history,
    compute_float8_scale,
    quantize_and_dequantize,
)
from lamina.quantizers.int4 import pack_int4, unpack_int4
from lamina.quantizers.quantizer import AbsMaxQuantizer, Quantizer, deserialize, get, serialize

__all__ = [
    "AbsMaxQuantizer", "Float8QuantizationConfig", "Int4QuantizationConfig", "Int8QuantizationConfig",
    "QuantizationConfig", "Quantizer", "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
    "compute_float8_amax_history", "compute_float8_scale", "deserialize", "fake_quant_with_min_max_vars", "get",
    "pack_int4", "quantize_and_dequantize", "serialize", "unpack_int4",
]
