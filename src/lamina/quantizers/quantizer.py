"""Quantizer objects (``Quantizer``, ``AbsMaxQuantizer``) and their registry: ``get``, ``serialize``,
``deserialize`` with Keras 3's names and configs.

>>> import torch
>>> quantizer = get("abs_max_quantizer")
>>> quantizer(torch.tensor([[1.0, -2.0]]))[0].tolist()
[[64, -127]]
>>> serialize(AbsMaxQuantizer(axis=-1))["config"]["axis"]
(-1,)
"""

from __future__ import annotations

from typing import Any

from lamina.core.registry import Registry, deserialize_object
from lamina.quantizers.functions import abs_max_quantize

QUANTIZERS = Registry("quantizer")


class Quantizer:
    """Base class: ``quantizer(x)`` returns ``x`` unchanged; subclasses quantize and implement ``get_config``.

    >>> Quantizer()(3.0)
    3.0
    """

    def __init__(self, output_dtype: str = "int8"):
        self.output_dtype = output_dtype

    def __call__(self, x: Any) -> Any:
        return x

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Quantizer:
        return cls(**config)

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"{self} does not implement get_config(); subclasses of Quantizer that are "
                                  "saved must return their constructor arguments.")


@QUANTIZERS("AbsMaxQuantizer", "abs_max_quantizer")
class AbsMaxQuantizer(Quantizer):
    """Symmetric abs-max quantization along ``axis`` (default: the last axis) into ``value_range``; calling it
    returns ``(quantized, scale)`` as ``abs_max_quantize`` does.

    >>> import torch
    >>> AbsMaxQuantizer(axis=0, value_range=(-7, 7))(torch.tensor([[1.0], [-2.0]]))[0].flatten().tolist()
    [4, -7]
    """

    def __init__(self, axis: int | tuple[int, ...] | list[int] | None = None, value_range: tuple = (-127, 127),
                 epsilon: float = 1e-7, output_dtype: str = "int8"):
        super().__init__(output_dtype=output_dtype)
        if isinstance(axis, int):
            axis = (axis,)
        self.axis = tuple(axis) if axis is not None else None
        self.value_range = value_range
        self.epsilon = epsilon

    def __call__(self, x: Any, axis: Any = None, to_numpy: bool = False) -> Any:
        """``(quantized, scale)`` of ``x`` along ``axis`` (as Keras: the call's axis, else the constructor's, else
        the last axis)."""
        if axis is None:
            axis = self.axis if self.axis is not None else (-1,)
        return abs_max_quantize(x, axis, value_range=self.value_range, dtype=self.output_dtype,
                                epsilon=self.epsilon, to_numpy=to_numpy)

    def get_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"value_range": self.value_range, "epsilon": self.epsilon,
                               "output_dtype": self.output_dtype}
        if self.axis is not None:
            cfg["axis"] = self.axis
        return cfg


def serialize(initializer: Quantizer | None) -> dict[str, Any] | None:
    """A quantizer's ``{"module", "class_name", "config", "registered_name"}`` dict (None for None).

    >>> serialize(AbsMaxQuantizer())["class_name"]
    'AbsMaxQuantizer'
    """
    if initializer is None:
        return None
    if not isinstance(initializer, Quantizer):
        raise TypeError(f"quantizers.serialize expects a Quantizer; received {initializer!r}. Subclass "
                        "lamina.quantizers.Quantizer and implement get_config().")
    return {"module": "keras.quantizers", "class_name": type(initializer).__name__,
            "config": initializer.get_config(), "registered_name": None}


def deserialize(config: dict[str, Any] | str, custom_objects: dict[str, Any] | None = None) -> Quantizer:
    """A quantizer from ``serialize``'s dict or a registered name (``custom_objects`` are looked in first).

    >>> deserialize({"class_name": "AbsMaxQuantizer", "config": {"axis": [0]}}).axis
    (0,)
    """
    return deserialize_object(config, custom_objects, get)


def get(identifier: Any, **kwargs: Any) -> Quantizer | None:
    """A quantizer from None, an instance, a name (``kwargs`` go to its constructor), a class, or a config dict.

    >>> type(get("AbsMaxQuantizer", axis=1)).__name__, get(None)
    ('AbsMaxQuantizer', None)
    """
    if identifier is None or isinstance(identifier, Quantizer):
        return identifier
    if isinstance(identifier, str) and identifier in QUANTIZERS:
        return QUANTIZERS.get(identifier)(**kwargs)
    if isinstance(identifier, type) and issubclass(identifier, Quantizer):
        return identifier(**kwargs)
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str) \
            and identifier["class_name"] in QUANTIZERS:
        return QUANTIZERS.get(identifier["class_name"]).from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"Could not interpret quantizer identifier: {identifier!r}. Known quantizers: "
                     f"{', '.join(QUANTIZERS.names())}; or pass a Quantizer instance.")
