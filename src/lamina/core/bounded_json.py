"""JSON read from files, parsed within bounds: its size, nesting depth and number of values are checked in one
linear pass before it is parsed, so a small file cannot exhaust the interpreter's stack (``RecursionError``) or
turn into gigabytes of Python objects. The one parser for every JSON lamina reads from a file;
``lamina.saving.format.parse_json`` gives its refusals lamina's saving error types.

>>> loads(b'{"a": [1, 2]}', "example.json")
{'a': [1, 2]}
>>> loads("[" * 1000 + "]" * 1000, "deep.json")
Traceback (most recent call last):
lamina.core.bounded_json.JSONLimitError: deep.json nests 1000 levels deep, over the limit of 128: refused ...
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

MAX_BYTES = 64 << 20
MAX_DEPTH = 128
MAX_ELEMENTS = 4_000_000

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


class JSONLimitError(ValueError):
    """The JSON text is over a limit (size, depth, number of values): refused before parsing."""


def json_shape(data: bytes) -> tuple[int, int]:
    """``(depth, elements)`` of JSON text, counted in one linear pass without parsing (so without recursion):
    the deepest nesting of arrays/objects, and an upper bound of the number of values it holds (the commas and
    opening brackets outside strings, plus one)."""
    stripped = _STRINGS.sub(b'""', data)
    brackets = np.frombuffer(stripped, dtype=np.uint8)
    opens = (brackets == ord("[")) | (brackets == ord("{"))
    closes = (brackets == ord("]")) | (brackets == ord("}"))
    steps = opens.astype(np.int64) - closes.astype(np.int64)
    depth = int(np.cumsum(steps).max()) if steps.size else 0
    # a document holds 1 + (items in all its containers) values, and a container of k items has k - 1 commas
    elements = 1 + int(np.count_nonzero(opens)) + int(np.count_nonzero(brackets == ord(",")))
    return max(depth, 0), elements


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise ValueError(f"duplicate key {key!r}")
    return out


def loads(data: bytes | str, what: str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH,
          max_elements: int = MAX_ELEMENTS) -> Any:
    """Parse JSON text ``what`` (named in errors) after checking its size, depth and number of values:
    ``JSONLimitError`` over a limit, ``ValueError`` for malformed text or a key given twice."""
    if isinstance(data, str):
        if len(data) > max_bytes:  # checked before encoding, which would copy it
            raise JSONLimitError(f"{what} has {len(data)} characters, over the limit of {max_bytes}.")
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"{what} is not valid JSON text: {error}.") from None
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValueError(f"{what} must be JSON text; received a {type(data).__name__}.")
    data = bytes(data)
    if len(data) > max_bytes:
        raise JSONLimitError(f"{what} has {len(data)} bytes, over the limit of {max_bytes}.")
    depth, elements = json_shape(data)
    if depth > max_depth:
        raise JSONLimitError(f"{what} nests {depth} levels deep, over the limit of {max_depth}: refused (deeply "
                             "nested JSON can exhaust the interpreter's stack).")
    if elements > max_elements:
        raise JSONLimitError(f"{what} holds about {elements} values, over the limit of {max_elements}.")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise ValueError(f"{what} is not valid JSON: {error}.") from None
