"""``keras.utils`` for lamina: datasets from directories and arrays, images, label encoding, model plots, a
progress bar, seeds and the serialization registry's names.

>>> to_categorical([0, 2], num_classes=3)
array([[1., 0., 0.],
       [0., 0., 1.]], dtype=float32)
"""

from lamina.backend import clear_session, standardize_dtype
from lamina.config import disable_interactive_logging, enable_interactive_logging, is_interactive_logging_enabled
from lamina.core.random import set_random_seed
from lamina.core.serialization import (
    custom_object_scope,
    deserialize,
    deserialize_keras_object,
    find_registered_object,
    get_custom_objects,
    get_registered_name,
    register_serializable,
    serialize,
)
from lamina.data.adapters import pack_x_y_sample_weight, unpack_x_y_sample_weight
from lamina.data.audio_dataset import audio_dataset_from_directory
from lamina.data.download import get_file
from lamina.data.image_dataset import image_dataset_from_directory
from lamina.data.images import array_to_img, img_to_array, load_img, save_img
from lamina.data.py_dataset import PyDataset, Sequence
from lamina.data.split import split_dataset
from lamina.data.text_dataset import text_dataset_from_directory
from lamina.data.timeseries_dataset import timeseries_dataset_from_array
from lamina.utils import bounding_boxes
from lamina.utils.config_dict import Config
from lamina.utils.encoding import normalize, pad_sequences, to_categorical
from lamina.utils.feature_space import FeatureSpace
from lamina.utils.graph_sources import get_source_inputs, is_keras_tensor
from lamina.utils.plot import model_to_dot, plot_model
from lamina.utils.progbar import Progbar

# Keras's names for the registry (``keras.utils`` and ``keras.saving`` carry them).
register_keras_serializable = register_serializable
serialize_keras_object = serialize

get_registered_object = find_registered_object
CustomObjectScope = custom_object_scope

__all__ = [
    "Config", "CustomObjectScope", "FeatureSpace", "clear_session", "disable_interactive_logging",
    "enable_interactive_logging", "get_file", "get_source_inputs", "is_interactive_logging_enabled", "is_keras_tensor",
    "standardize_dtype",
    "Progbar", "PyDataset", "Sequence", "array_to_img", "audio_dataset_from_directory", "custom_object_scope",
    "deserialize_keras_object", "get_custom_objects", "get_registered_name", "get_registered_object",
    "image_dataset_from_directory", "img_to_array", "load_img", "model_to_dot", "normalize",
    "pack_x_y_sample_weight", "pad_sequences", "plot_model", "register_keras_serializable", "save_img",
    "serialize_keras_object", "set_random_seed", "split_dataset", "text_dataset_from_directory",
    "timeseries_dataset_from_array", "to_categorical", "unpack_x_y_sample_weight", "bounding_boxes",
]
