"""Optimizers with Keras 3's names, arguments, defaults and configs, running on ``torch.optim``.

The torch optimizer is created when the weights exist (``build``), so lazily built models just work.
``learning_rate`` is a float or a schedule from ``lamina.optimizers.schedules``.

>>> import torch
>>> opt = Adam(learning_rate=1e-3)
>>> w = torch.nn.Parameter(torch.ones(3))
>>> opt.build([w]); (w.sum() ** 2).backward(); opt.step(); opt.iterations
1
"""

from lamina.optimizers import legacy, schedules
from lamina.optimizers.adafactor import Adafactor
from lamina.optimizers.adam import Adam, Adamax, AdamW, Nadam
from lamina.optimizers.adaptive import Adadelta, Adagrad, RMSprop
from lamina.optimizers.base import OPTIMIZERS, Optimizer, deserialize, get, serialize
from lamina.optimizers.foreach import ForeachOptimizer
from lamina.optimizers.ftrl import Ftrl
from lamina.optimizers.lamb import Lamb
from lamina.optimizers.lion import Lion
from lamina.optimizers.loss_scale import LossScaleOptimizer
from lamina.optimizers.multi import MultiOptimizer, OptimizerMap
from lamina.optimizers.muon import Muon
from lamina.optimizers.schedule_free import ScheduleFreeAdamW
from lamina.optimizers.sgd import SGD

__all__ = [
    "OPTIMIZERS", "SGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "ForeachOptimizer", "Ftrl",
    "Lamb", "Lion", "LossScaleOptimizer", "MultiOptimizer", "Muon", "Nadam", "Optimizer", "OptimizerMap",
    "RMSprop", "ScheduleFreeAdamW", "deserialize", "get", "legacy", "schedules", "serialize",
]
