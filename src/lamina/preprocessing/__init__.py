"""``keras.preprocessing`` for lamina: the older home of the data utilities, kept for code written against it.

>>> from lamina.preprocessing.sequence import pad_sequences
>>> pad_sequences([[1, 2], [3]], maxlen=3).tolist()
[[0, 1, 2], [0, 0, 3]]
"""

from lamina.data.image_dataset import image_dataset_from_directory
from lamina.data.text_dataset import text_dataset_from_directory
from lamina.data.timeseries_dataset import timeseries_dataset_from_array
from lamina.preprocessing import image, sequence

__all__ = ["image", "image_dataset_from_directory", "sequence", "text_dataset_from_directory",
           "timeseries_dataset_from_array"]
