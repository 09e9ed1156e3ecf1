"""``lamina.optimizers.legacy``: Keras 3's stand-ins for the Keras 2 optimizers. As in Keras 3, creating one raises
an ``ImportError`` that names the optimizer to use instead (``lamina.optimizers.Adam`` for ``legacy.Adam``).

>>> try:
...     Adam()
... except ImportError as error:
...     print(str(error).split(":")[0])
lamina.optimizers.legacy.Adam is not supported (as in Keras 3)
"""

from __future__ import annotations

from typing import Any


class _Legacy:
    """Refuses to be created, pointing at the current optimizer of the same name."""

    def __init__(self, *args: Any, **kwargs: Any):
        name = type(self).__name__
        raise ImportError(f"lamina.optimizers.legacy.{name} is not supported (as in Keras 3): use "
                          f"lamina.optimizers.{name} instead; its arguments are Keras 3's.")


class Optimizer(_Legacy):
    """Keras 2's optimizer base; use ``lamina.optimizers.Optimizer``."""


class Adagrad(_Legacy):
    """Keras 2's Adagrad; use ``lamina.optimizers.Adagrad``."""


class Adam(_Legacy):
    """Keras 2's Adam; use ``lamina.optimizers.Adam``."""


class Ftrl(_Legacy):
    """Keras 2's Ftrl; use ``lamina.optimizers.Ftrl``."""


class RMSprop(_Legacy):
    """Keras 2's RMSprop; use ``lamina.optimizers.RMSprop``."""


class SGD(_Legacy):
    """Keras 2's SGD; use ``lamina.optimizers.SGD``."""
