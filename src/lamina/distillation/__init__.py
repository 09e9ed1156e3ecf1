"""Knowledge distillation, as Keras 3's ``keras.distillation``: a ``Distiller`` model that trains a student from a
frozen teacher with the student's own loss plus distillation losses (``LogitsDistillation``,
``FeatureDistillation``, or subclasses of ``DistillationLoss``).

>>> import lamina as keras
>>> loss = keras.distillation.LogitsDistillation(temperature=3.0)
>>> loss.get_config()["loss"]["config"]
'kl_divergence'
"""

from lamina.core import serialization as _serialization
from lamina.distillation.distiller import Distiller
from lamina.distillation.losses import DistillationLoss, FeatureDistillation, LogitsDistillation

__all__ = ["DistillationLoss", "Distiller", "FeatureDistillation", "LogitsDistillation"]

for _cls in (DistillationLoss, LogitsDistillation, FeatureDistillation):
    _serialization.register_builtin("distillation", _cls.__name__, _cls)
_serialization.register_builtin("layers", "Distiller", Distiller)
del _cls
