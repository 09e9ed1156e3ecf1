"""Public callbacks module: ``lamina.callbacks.EarlyStopping`` and friends, as in ``keras.callbacks``.

>>> from lamina import callbacks
>>> cbs = [callbacks.EarlyStopping(patience=3), callbacks.CSVLogger("log.csv")]
"""

from lamina.training.callbacks import (
    BackupAndRestore,
    Callback,
    CallbackList,
    CSVLogger,
    EarlyStopping,
    History,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    MonitorCallback,
    ProgbarLogger,
    ReduceLROnPlateau,
    RemoteMonitor,
    Report,
    SwapEMAWeights,
    TensorBoard,
    TerminateOnNaN,
    TrainingMonitor,
)

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback", "ProgbarLogger", "ReduceLROnPlateau",
           "RemoteMonitor", "Report", "SwapEMAWeights", "TensorBoard", "TerminateOnNaN",
           "TrainingMonitor"]
