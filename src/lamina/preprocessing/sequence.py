"""``keras.preprocessing.sequence``: ``pad_sequences``.

>>> pad_sequences([[1]], maxlen=2, padding="post").tolist()
[[1, 0]]
"""

from lamina.utils.encoding import pad_sequences

__all__ = ["pad_sequences"]
