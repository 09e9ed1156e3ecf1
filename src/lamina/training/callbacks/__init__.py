"""Callbacks: hooks the trainer fires during fit, evaluate and predict, with Keras 3's names and rules."""

from lamina.training.callbacks.backup import BackupAndRestore
from lamina.training.callbacks.base import (
    BATCH_HOOKS,
    HOOKS,
    Callback,
    CallbackList,
    History,
    LambdaCallback,
    ProgbarLogger,
)
from lamina.training.callbacks.checkpoint import ModelCheckpoint
from lamina.training.callbacks.csv_logger import CSVLogger
from lamina.training.callbacks.early_stopping import EarlyStopping
from lamina.training.callbacks.ema import SwapEMAWeights
from lamina.training.callbacks.health import TrainingMonitor
from lamina.training.callbacks.lr import LearningRateScheduler, ReduceLROnPlateau
from lamina.training.callbacks.monitor import MonitorCallback
from lamina.training.callbacks.nan import TerminateOnNaN
from lamina.training.callbacks.remote import RemoteMonitor
from lamina.training.callbacks.report import Report
from lamina.training.callbacks.tensorboard import TensorBoard

__all__ = ["BATCH_HOOKS", "HOOKS", "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping",
           "History", "LambdaCallback", "LearningRateScheduler", "ModelCheckpoint", "MonitorCallback",
           "ProgbarLogger", "ReduceLROnPlateau", "RemoteMonitor", "Report", "SwapEMAWeights", "TensorBoard",
           "TerminateOnNaN", "TrainingMonitor"]
