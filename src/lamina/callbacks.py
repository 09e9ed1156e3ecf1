"""Public callbacks module: ``lamina.callbacks.EarlyStopping`` and friends."""

from lamina.training.callbacks import (
    Callback,
    CallbackList,
    EarlyStopping,
    History,
    LambdaCallback,
    ModelCheckpoint,
    TerminateOnNaN,
)

__all__ = ["Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint",
           "TerminateOnNaN"]
