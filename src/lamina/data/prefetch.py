"""Prefetching on a background thread: the next batches are read (and copied to the GPU, from pinned memory,
without blocking) while the current one trains.

>>> list(prefetch(iter(range(5)), depth=2))
[0, 1, 2, 3, 4]
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

_DONE = object()


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


def prefetch(source: Iterator, depth: int = 2) -> Iterator:
    """Yield the items of ``source``, produced up to ``depth`` items ahead by a daemon thread. Errors raised by
    ``source`` surface in the consumer; a consumer that stops early stops the thread too."""
    if depth < 1:
        raise ValueError(f"prefetch depth must be >= 1; received {depth}.")
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as error:  # noqa: BLE001  (handed to the consumer)
            put(_Failure(error))

    thread = threading.Thread(target=produce, name="lamina-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)
