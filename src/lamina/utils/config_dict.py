"""``Config``: a dict whose entries are also attributes, that can be frozen and written as JSON (Keras's
``keras.utils.Config``).

>>> config = Config(learning_rate=0.1)
>>> config.momentum = 0.9
>>> config["learning_rate"], config.momentum, config.to_json()
(0.1, 0.9, '{"learning_rate": 0.1, "momentum": 0.9}')
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any


class Config:
    """Named values, read and set as attributes or items; ``freeze()`` makes it read-only."""

    __slots__ = ("_config", "_frozen")

    def __init__(self, **kwargs: Any):
        object.__setattr__(self, "_config", dict(kwargs))
        object.__setattr__(self, "_frozen", False)

    @property
    def frozen(self) -> bool:
        """Whether changes are refused."""
        return self._frozen

    def freeze(self) -> None:
        """Refuse every change from now on (until ``unfreeze``)."""
        object.__setattr__(self, "_frozen", True)

    def unfreeze(self) -> None:
        object.__setattr__(self, "_frozen", False)

    def _check_not_frozen(self) -> None:
        if self._frozen:
            raise ValueError("Cannot mutate attribute(s) because the config is frozen; call config.unfreeze() "
                             "first if the change is intended.")

    def __getattr__(self, name: str) -> Any:
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        raise AttributeError(f"Unknown attribute: '{name}'; the config has {sorted(config)}.")

    def __setattr__(self, name: str, value: Any) -> None:
        self._check_not_frozen()
        self._config[name] = value

    def __delattr__(self, name: str) -> None:
        self._check_not_frozen()
        del self._config[name]

    def __getitem__(self, key: str) -> Any:
        return self._config[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._check_not_frozen()
        self._config[key] = value

    def __delitem__(self, key: str) -> None:
        self._check_not_frozen()
        del self._config[key]

    def __contains__(self, key: object) -> bool:
        return key in self._config

    def __iter__(self) -> Iterator[str]:
        return iter(self._config)

    def __len__(self) -> int:
        return len(self._config)

    def __repr__(self) -> str:
        return f"<Config {self._config}>"

    def get(self, key: str, default: Any = None) -> Any:
        return self._config.get(key, default)

    def pop(self, *args: Any) -> Any:
        self._check_not_frozen()
        return self._config.pop(*args)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self._check_not_frozen()
        self._config.update(*args, **kwargs)

    def keys(self) -> Any:
        return self._config.keys()

    def values(self) -> Any:
        return self._config.values()

    def items(self) -> Any:
        return self._config.items()

    def as_dict(self) -> dict:
        """A plain (shallow) copy as a dict."""
        return dict(self._config)

    def to_json(self) -> str:
        return json.dumps(self._config)
