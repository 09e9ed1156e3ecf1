"""Models: Sequential, functional (``Model(inputs, outputs)``) and subclassed."""

from lamina import activations as _activations
from lamina import constraints as _constraints
from lamina import initializers as _initializers
from lamina import losses as _losses
from lamina import metrics as _metrics
from lamina import optimizers as _optimizers
from lamina import regularizers as _regularizers
from lamina.core import serialization as _serialization
from lamina.models.cloning import clone_model
from lamina.models.model import Model, load_model, model_from_json, save_model
from lamina.models.sequential import Sequential
from lamina.optimizers import schedules as _schedules

__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json", "save_model"]

# A model's config names activations, initializers, ..., optimizers and schedules: their packages' catalogues
# enter the one registry here, once (layers enter it from lamina.layers, Model and Sequential from their modules).
for _kind, _package, _exclude in (
        ("activations", _activations, ()), ("initializers", _initializers, ()), ("regularizers", _regularizers, ()),
        ("constraints", _constraints, ()), ("losses", _losses, ()), ("metrics", _metrics, ()),
        ("optimizers", _optimizers, (_schedules.__name__,)), ("schedules", _schedules, ())):
    _serialization.register_package(_kind, vars(_package), exclude=_exclude)
del _kind, _package, _exclude
