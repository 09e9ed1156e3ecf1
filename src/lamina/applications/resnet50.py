"""``keras.applications.resnet50``: Keras's older module name for ResNet50 and ResNet's preprocessing.

>>> from lamina.applications.resnet50 import ResNet50, preprocess_input
>>> ResNet50 is __import__("lamina.applications.resnet", fromlist=["ResNet50"]).ResNet50
True
"""

from lamina.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
