"""Quantization configs (``QuantizationConfig`` and its int8, int4 and float8 kinds), as Keras 3 names them:
which quantizer a layer's ``quantize(mode, config=...)`` uses for its weights and its inputs.

>>> cfg = Int8QuantizationConfig()
>>> cfg.mode, type(cfg.activation_quantizer).__name__
('int8', 'AbsMaxQuantizer')
"""

from __future__ import annotations

from typing import Any

from lamina.quantizers.quantizer import AbsMaxQuantizer, Quantizer, get, serialize

DEFAULT = "default"


class QuantizationConfig:
    """Base class of quantization configs: a weight quantizer and an activation quantizer (either may be None,
    meaning the layer's default). Subclasses define ``mode``.

    >>> QuantizationConfig().get_config()
    {'weight_quantizer': None, 'activation_quantizer': None}
    """

    def __init__(self, weight_quantizer: Any = None, activation_quantizer: Any = None):
        self.weight_quantizer = get(weight_quantizer)
        self.activation_quantizer = get(activation_quantizer)

    @property
    def mode(self) -> str:
        raise NotImplementedError("Subclasses must implement this property. Do not instantiate QuantizationConfig "
                                  "directly; use Int8QuantizationConfig, Int4QuantizationConfig or "
                                  "Float8QuantizationConfig.")

    def get_config(self) -> dict[str, Any]:
        return {"weight_quantizer": serialize(self.weight_quantizer),
                "activation_quantizer": serialize(self.activation_quantizer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> QuantizationConfig:
        return cls(**config)

    @staticmethod
    def weight_quantizer_or_default(config: QuantizationConfig | None, default: Quantizer | None) -> Any:
        """The config's weight quantizer, or ``default`` when there is no config or it names none."""
        return default if config is None or config.weight_quantizer is None else config.weight_quantizer

    @staticmethod
    def activation_quantizer_or_default(config: QuantizationConfig | None, default: Quantizer | None) -> Any:
        """The config's activation quantizer, or ``default`` when there is no config (a config that names
        None means: do not quantize the inputs)."""
        return default if config is None else config.activation_quantizer


def _activation(activation_quantizer: Any) -> Quantizer | None:
    return AbsMaxQuantizer() if activation_quantizer == DEFAULT else get(activation_quantizer)


class Int8QuantizationConfig(QuantizationConfig):
    """int8 weights; inputs quantized by ``activation_quantizer`` (``"default"``: an ``AbsMaxQuantizer`` over the
    last axis; None: inputs stay floats).

    >>> Int8QuantizationConfig(activation_quantizer=None).get_config()["activation_quantizer"] is None
    True
    """

    def __init__(self, weight_quantizer: Any = None, activation_quantizer: Any = DEFAULT):
        super().__init__(weight_quantizer, _activation(activation_quantizer))
        for what, quantizer in (("weight_quantizer", self.weight_quantizer),
                                ("activation_quantizer", self.activation_quantizer)):
            if quantizer is not None and getattr(quantizer, "output_dtype", "int8") != "int8":
                raise ValueError(f"Int8QuantizationConfig: {what} must produce int8; its output_dtype is "
                                 f"{quantizer.output_dtype!r}.")

    @property
    def mode(self) -> str:
        return "int8"


class Int4QuantizationConfig(QuantizationConfig):
    """int4 weights in groups of ``block_size`` input rows (None or -1: one scale per output channel).

    >>> Int4QuantizationConfig(block_size=64).get_config()["block_size"]
    64
    """

    def __init__(self, weight_quantizer: Any = None, activation_quantizer: Any = DEFAULT,
                 block_size: int | None = 128):
        super().__init__(weight_quantizer, None if activation_quantizer == DEFAULT else activation_quantizer)
        if block_size is not None and block_size != -1 and (not isinstance(block_size, int) or block_size <= 0):
            raise ValueError(f"Int4QuantizationConfig: block_size must be a positive int, -1 or None; received "
                             f"{block_size!r}.")
        self.block_size = block_size

    @property
    def mode(self) -> str:
        return "int4"

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "block_size": self.block_size}


class Float8QuantizationConfig(QuantizationConfig):
    """float8 training (delayed scaling); it takes no quantizers.

    >>> Float8QuantizationConfig().get_config()
    {}
    """

    def __init__(self) -> None:
        super().__init__(None, None)

    @property
    def mode(self) -> str:
        return "float8"

    def get_config(self) -> dict[str, Any]:
        return {}


CONFIGS = {cls.__name__: cls for cls in (Int8QuantizationConfig, Int4QuantizationConfig, Float8QuantizationConfig)}


def serialize_config(config: QuantizationConfig | None) -> dict[str, Any] | None:
    """A config's ``{"module", "class_name", "config", "registered_name"}`` dict (None for None)."""
    if config is None:
        return None
    return {"module": "keras.quantizers", "class_name": type(config).__name__, "config": config.get_config(),
            "registered_name": None}


def get_config_object(identifier: Any) -> QuantizationConfig | None:
    """A quantization config from None, an instance, or ``serialize_config``'s dict.

    >>> get_config_object({"class_name": "Float8QuantizationConfig", "config": {}}).mode
    'float8'
    """
    if identifier is None or isinstance(identifier, QuantizationConfig):
        return identifier
    if isinstance(identifier, dict) and identifier.get("class_name") in CONFIGS:
        return CONFIGS[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret quantization config {identifier!r}: pass an Int8QuantizationConfig, "
                     f"Int4QuantizationConfig or Float8QuantizationConfig (or its serialized dict).")
