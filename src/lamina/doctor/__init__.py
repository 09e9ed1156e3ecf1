"""The training doctor: ``lr_find`` (a learning-rate sweep), ``diagnose`` (a few seconds of checks before a long
fit). ``Model.lr_find``/``Model.diagnose`` call these; the ``TrainingMonitor`` callback that watches a running
fit lives with the other callbacks (``lamina.callbacks.TrainingMonitor``)."""

from lamina.doctor.checks import Finding
from lamina.doctor.diagnose import Diagnosis, diagnose
from lamina.doctor.lr_find import LRFinderResult, lr_find

__all__ = ["Diagnosis", "Finding", "LRFinderResult", "diagnose", "lr_find"]
