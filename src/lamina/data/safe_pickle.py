"""Read the pickled *data* inside dataset files without running any code the file names.

Why not :mod:`pickle`: unpickling calls whatever callables the stream names (``os.system`` included), so a
tampered download would run code on load. Dataset files only ever hold plain data: the CIFAR batches are a
pickled ``dict`` of bytes, lists and one NumPy array, and an object ``.npy`` (inside IMDB's and Reuters'
``.npz``) is a pickled NumPy array of Python lists of ints. This module interprets the pickle opcodes itself
and builds only those values:

- ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``tuple``, ``list`` and ``dict``;
- NumPy arrays and dtypes, by *recognising* the five names NumPy's pickles use (``_reconstruct``,
  ``ndarray``, ``dtype``, ``scalar``, ``_frombuffer``) and building the array with :func:`numpy.frombuffer` from the raw
  bytes, or from the list of items for an object array; plain (non-structured) dtypes of kinds
  ``b i u f c O`` only;
- ``_codecs.encode(text, "latin1")`` and ``bytes()``, which is how Python 3 writes ``bytes`` in protocol 2.

Nothing named in the stream is ever imported or called; any other name, opcode or shape of call raises
:class:`UnsafePickleError`. Python 2 strings (``STRING``-family opcodes) come back as ``bytes``, as
``pickle.load(f, encoding="bytes")`` returns them.

>>> import pickle
>>> loads(pickle.dumps({"labels": [1, 2], "name": b"batch"}, protocol=2))
{'labels': [1, 2], 'name': b'batch'}
>>> try:
...     loads(b"cos\\nsystem\\n(S'echo hi'\\ntR.")
... except UnsafePickleError as exc:
...     print(str(exc)[:35])
pickle names os.system at byte 0; o
"""

from __future__ import annotations

import math
import struct
from typing import Any

import numpy as np

_RECONSTRUCT, _NDARRAY, _DTYPE, _SCALAR, _ENCODE = "reconstruct", "ndarray", "dtype", "scalar", "encode"
_FROMBUFFER, _BYTES = "frombuffer", "bytes"
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DTYPE,
    ("numpy.core.multiarray", "scalar"): _SCALAR,
    ("numpy._core.multiarray", "scalar"): _SCALAR,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("_codecs", "encode"): _ENCODE,
    ("__builtin__", "bytes"): _BYTES,  # protocol 2 writes b"" as bytes()
    ("builtins", "bytes"): _BYTES,
}
_ALLOWED_TEXT = (
    "only NumPy array reconstruction (numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype, "
    "numpy.core.multiarray.scalar, numpy.core.numeric._frombuffer), _codecs.encode and bytes() are allowed "
    "in data files"
)
_DTYPE_KINDS = "biufcO"


class UnsafePickleError(ValueError):
    """The pickle stream holds something other than plain data (a callable, an unknown opcode) or is malformed."""


class _Global:
    """A recognised global name: a marker, never the object itself."""

    __slots__ = ("role",)

    def __init__(self, role: str) -> None:
        self.role = role


class _Pending:
    """An array or dtype made by REDUCE and waiting for the BUILD that gives it its state."""

    __slots__ = ("kind", "args")

    def __init__(self, kind: str, args: tuple[Any, ...]) -> None:
        self.kind = kind
        self.args = args


class _Mark:
    __slots__ = ()


_MARK = _Mark()


def _text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, str):
        return value
    raise UnsafePickleError(f"{what} should be a string, got {type(value).__name__}")


def _make_dtype(pending: _Pending, state: object) -> np.dtype:
    name = _text(pending.args[0] if pending.args else None, "dtype name")
    if not isinstance(state, tuple) or len(state) < 8:
        raise UnsafePickleError(f"dtype state should be a tuple of 8 or 9 items, got {state!r:.80}")
    endian = _text(state[1], "dtype byte order")
    if any(part is not None for part in state[2:5]):
        raise UnsafePickleError(f"structured dtype {name!r} is not supported in data files")
    if endian not in "<>|=" or len(endian) != 1:
        raise UnsafePickleError(f"dtype byte order {endian!r} is not one of '<', '>', '|', '='")
    try:
        dtype = np.dtype(name if endian in "|=" else endian + name)
    except TypeError as exc:
        raise UnsafePickleError(f"unknown dtype {name!r}") from exc
    if dtype.kind not in _DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise UnsafePickleError(f"dtype {dtype} is not a plain numeric or object dtype")
    return dtype


def _make_array(pending: _Pending, state: object) -> np.ndarray:
    if not isinstance(state, tuple) or len(state) != 5:
        raise UnsafePickleError(f"array state should be a tuple of 5 items, got {type(state).__name__}")
    _, shape, dtype, fortran, raw = state
    if not isinstance(dtype, np.dtype):
        raise UnsafePickleError(f"array dtype should be a NumPy dtype, got {type(dtype).__name__}")
    if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise UnsafePickleError(f"array shape should be a tuple of non-negative ints, got {shape!r:.80}")
    size = math.prod(shape)
    order = "F" if fortran else "C"
    if dtype.kind == "O":
        if not isinstance(raw, list) or len(raw) != size:
            raise UnsafePickleError(f"object array of shape {shape} should carry a list of {size} items")
        array = np.empty(size, dtype=object)
        for i, item in enumerate(raw):
            if isinstance(item, (_Pending, _Global)):
                raise UnsafePickleError("an array or dtype is used before its state was given (BUILD)")
            array[i] = item
        return array.reshape(shape, order=order)
    if isinstance(raw, str):
        raw = raw.encode("latin-1")  # a Python 2 string read as text
    if not isinstance(raw, bytes) or len(raw) != size * dtype.itemsize:
        got = len(raw) if isinstance(raw, (bytes, str)) else type(raw).__name__
        need = size * dtype.itemsize
        raise UnsafePickleError(f"array of shape {shape} and dtype {dtype} needs {need} bytes, got {got}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()


def _reduce(func: object, args: object, pos: int) -> object:
    if not isinstance(func, _Global) or not isinstance(args, tuple):
        raise UnsafePickleError(f"REDUCE at byte {pos} calls something that is not an allowed name")
    if func.role == _RECONSTRUCT:
        if len(args) != 3 or not (isinstance(args[0], _Global) and args[0].role == _NDARRAY):
            raise UnsafePickleError(f"_reconstruct at byte {pos} may only make a plain numpy.ndarray")
        return _Pending(_NDARRAY, args)
    if func.role == _DTYPE:
        return _Pending(_DTYPE, args)
    if func.role == _ENCODE:
        if len(args) != 2 or not isinstance(args[0], str) or args[1] not in ("latin1", "latin-1"):
            raise UnsafePickleError(f"_codecs.encode at byte {pos} may only turn text into latin-1 bytes")
        return args[0].encode("latin-1")
    if func.role == _SCALAR:
        if len(args) != 2 or not isinstance(args[0], np.dtype) or not isinstance(args[1], bytes):
            raise UnsafePickleError(f"scalar at byte {pos} should get a dtype and its bytes")
        if args[0].kind == "O" or len(args[1]) != args[0].itemsize:
            raise UnsafePickleError(f"scalar at byte {pos} has the wrong size or an object dtype")
        return np.frombuffer(args[1], dtype=args[0])[0]
    if func.role == _FROMBUFFER:
        return _from_buffer(args, pos)
    if func.role == _BYTES and args == ():
        return b""
    raise UnsafePickleError(f"REDUCE at byte {pos} calls {func.role}, which takes no arguments here")


def _from_buffer(args: tuple[Any, ...], pos: int) -> np.ndarray:
    """``_frombuffer(buffer, dtype, shape, order)``: how protocol 5 pickles a contiguous array."""
    if len(args) != 4 or not isinstance(args[0], bytes) or not isinstance(args[1], np.dtype):
        raise UnsafePickleError(f"_frombuffer at byte {pos} should get bytes, a dtype, a shape and an order")
    _, dtype, shape, order = args
    if dtype.kind == "O" or _text(order, "array order") not in ("C", "F"):
        raise UnsafePickleError(f"_frombuffer at byte {pos} has an object dtype or an unknown order")
    return _make_array(_Pending(_NDARRAY, ()), (1, shape, dtype, _text(order, "order") == "F", args[0]))


def _build(target: object, state: object, pos: int) -> object:
    if isinstance(target, _Pending):
        if target.kind == _DTYPE:
            return _make_dtype(target, state)
        return _make_array(target, state)
    raise UnsafePickleError(
        f"BUILD at byte {pos} sets the state of a {type(target).__name__}; only arrays and dtypes have one"
    )


def _pop_mark(stack: list[object], marks: list[int]) -> list[object]:
    if not marks:
        raise UnsafePickleError("malformed pickle: an item list ends without its MARK")
    start = marks.pop()
    items = stack[start:]
    del stack[start:]
    return items


def loads(data: bytes) -> Any:
    """The plain-data value pickled in ``data`` (protocols 0 binary to 5), without running any code.

    Raises:
        UnsafePickleError: the stream names a callable other than NumPy's array reconstruction, uses an
            opcode data files do not need, or is malformed or truncated.

    >>> import numpy as np, pickle
    >>> loads(pickle.dumps(np.arange(3, dtype=np.uint8)))
    array([0, 1, 2], dtype=uint8)
    """
    try:
        return _Reader(bytes(data)).run()
    except (IndexError, struct.error) as exc:
        raise UnsafePickleError(f"truncated or malformed pickle ({exc})") from exc


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        start = self.pos
        end = start + n
        if end > len(self.data):
            raise UnsafePickleError(f"pickle truncated: {n} bytes needed at byte {start}")
        self.pos = end
        return self.data[start:end]

    def line(self) -> str:
        end = self.data.index(b"\n", self.pos)
        text = self.data[self.pos : end].decode("ascii")
        self.pos = end + 1
        return text

    def run(self) -> Any:  # noqa: C901 - one branch per opcode keeps the dispatch flat and fast
        data = self.data
        stack: list[Any] = []
        marks: list[int] = []
        memo: dict[int, Any] = {}
        unpack_int = struct.Struct("<i").unpack_from
        unpack_uint = struct.Struct("<I").unpack_from
        unpack_u64 = struct.Struct("<Q").unpack_from
        unpack_float = struct.Struct(">d").unpack_from
        while True:
            pos = self.pos
            op = data[pos]
            self.pos = pos + 1
            if op == 0x4B:  # K BININT1
                stack.append(data[pos + 1])
                self.pos = pos + 2
            elif op == 0x4D:  # M BININT2
                stack.append(data[pos + 1] | data[pos + 2] << 8)
                self.pos = pos + 3
            elif op == 0x4A:  # J BININT
                stack.append(unpack_int(data, pos + 1)[0])
                self.pos = pos + 5
            elif op == 0x71:  # q BINPUT
                memo[data[pos + 1]] = stack[-1]
                self.pos = pos + 2
            elif op == 0x72:  # r LONG_BINPUT
                memo[unpack_uint(data, pos + 1)[0]] = stack[-1]
                self.pos = pos + 5
            elif op == 0x94:  # MEMOIZE
                memo[len(memo)] = stack[-1]
            elif op == 0x68:  # h BINGET
                stack.append(self.get(memo, data[pos + 1]))
                self.pos = pos + 2
            elif op == 0x6A:  # j LONG_BINGET
                stack.append(self.get(memo, unpack_uint(data, pos + 1)[0]))
                self.pos = pos + 5
            elif op == 0x28:  # ( MARK
                marks.append(len(stack))
            elif op == 0x5D:  # ] EMPTY_LIST
                stack.append([])
            elif op == 0x65:  # e APPENDS
                items = _pop_mark(stack, marks)
                self.container(stack, list).extend(items)
            elif op == 0x61:  # a APPEND
                item = stack.pop()
                self.container(stack, list).append(item)
            elif op == 0x7D:  # } EMPTY_DICT
                stack.append({})
            elif op == 0x75:  # u SETITEMS
                items = _pop_mark(stack, marks)
                if len(items) % 2:
                    raise UnsafePickleError(f"SETITEMS at byte {pos} has an odd number of items")
                target = self.container(stack, dict)
                for i in range(0, len(items), 2):
                    target[self.key(items[i])] = items[i + 1]
            elif op == 0x73:  # s SETITEM
                value = stack.pop()
                key = stack.pop()
                self.container(stack, dict)[self.key(key)] = value
            elif op == 0x29:  # ) EMPTY_TUPLE
                stack.append(())
            elif op == 0x85:  # TUPLE1
                stack[-1] = (stack[-1],)
            elif op == 0x86:  # TUPLE2
                stack[-2:] = [tuple(stack[-2:])]
            elif op == 0x87:  # TUPLE3
                stack[-3:] = [tuple(stack[-3:])]
            elif op == 0x74:  # t TUPLE
                stack.append(tuple(_pop_mark(stack, marks)))
            elif op == 0x6C:  # l LIST
                stack.append(_pop_mark(stack, marks))
            elif op == 0x64:  # d DICT
                items = _pop_mark(stack, marks)
                stack.append({self.key(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)})
            elif op == 0x4E:  # N NONE
                stack.append(None)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x8A:  # LONG1
                n = data[pos + 1]
                stack.append(int.from_bytes(self.take_at(pos + 2, n), "little", signed=True))
            elif op == 0x8B:  # LONG4
                n = unpack_int(data, pos + 1)[0]
                if n < 0:
                    raise UnsafePickleError(f"LONG4 at byte {pos} has a negative size")
                stack.append(int.from_bytes(self.take_at(pos + 5, n), "little", signed=True))
            elif op == 0x47:  # G BINFLOAT
                stack.append(unpack_float(data, pos + 1)[0])
                self.pos = pos + 9
            elif op in (0x55, 0x43):  # U SHORT_BINSTRING, C SHORT_BINBYTES
                stack.append(self.take_at(pos + 2, data[pos + 1]))
            elif op in (0x54, 0x42):  # T BINSTRING, B BINBYTES
                n = unpack_int(data, pos + 1)[0] if op == 0x54 else unpack_uint(data, pos + 1)[0]
                if n < 0:
                    raise UnsafePickleError(f"BINSTRING at byte {pos} has a negative size")
                stack.append(self.take_at(pos + 5, n))
            elif op in (0x8E, 0x96):  # BINBYTES8, BYTEARRAY8 (read as bytes)
                stack.append(self.take_at(pos + 9, unpack_u64(data, pos + 1)[0]))
            elif op == 0x8C:  # SHORT_BINUNICODE
                stack.append(self.take_at(pos + 2, data[pos + 1]).decode("utf-8", "surrogatepass"))
            elif op == 0x58:  # X BINUNICODE
                n = unpack_uint(data, pos + 1)[0]
                stack.append(self.take_at(pos + 5, n).decode("utf-8", "surrogatepass"))
            elif op == 0x8D:  # BINUNICODE8
                n = unpack_u64(data, pos + 1)[0]
                stack.append(self.take_at(pos + 9, n).decode("utf-8", "surrogatepass"))
            elif op == 0x63:  # c GLOBAL
                module = self.line()
                stack.append(self.global_(module, self.line(), pos))
            elif op == 0x93:  # STACK_GLOBAL
                name = stack.pop()
                module = stack.pop()
                if not (isinstance(module, str) and isinstance(name, str)):
                    raise UnsafePickleError(f"STACK_GLOBAL at byte {pos} needs two strings")
                stack.append(self.global_(module, name, pos))
            elif op == 0x52:  # R REDUCE
                args = stack.pop()
                stack[-1] = _reduce(stack[-1], args, pos)
            elif op == 0x62:  # b BUILD
                state = stack.pop()
                target = stack[-1]
                built = _build(target, state, pos)
                stack[-1] = built
                for key, value in memo.items():
                    if value is target:
                        memo[key] = built
            elif op == 0x80:  # PROTO
                if data[pos + 1] > 5:
                    raise UnsafePickleError(f"pickle protocol {data[pos + 1]} is newer than 5")
                self.pos = pos + 2
            elif op == 0x95:  # FRAME: a length hint only
                self.pos = pos + 9
            elif op == 0x30:  # 0 POP
                if marks and marks[-1] == len(stack):
                    marks.pop()
                else:
                    stack.pop()
            elif op == 0x31:  # 1 POP_MARK
                _pop_mark(stack, marks)
            elif op == 0x32:  # 2 DUP
                stack.append(stack[-1])
            elif op == 0x2E:  # . STOP
                if len(stack) != 1 or marks:
                    raise UnsafePickleError("malformed pickle: the stack does not hold exactly one value at STOP")
                result = stack[0]
                if isinstance(result, (_Pending, _Global)):
                    raise UnsafePickleError("the pickle's value is an unfinished array or a bare name")
                return result
            else:
                raise UnsafePickleError(
                    f"opcode {bytes([op])!r} at byte {pos} is not allowed: data files need only containers, "
                    "numbers, strings and NumPy arrays"
                )

    def take_at(self, start: int, n: int) -> bytes:
        self.pos = start
        return self.take(n)

    @staticmethod
    def get(memo: dict[int, Any], key: int) -> Any:
        try:
            return memo[key]
        except KeyError:
            raise UnsafePickleError(f"malformed pickle: memo entry {key} is read before it is written") from None

    @staticmethod
    def container(stack: list[Any], kind: type) -> Any:
        if not stack or type(stack[-1]) is not kind:
            raise UnsafePickleError(f"malformed pickle: items are added to something that is not a {kind.__name__}")
        return stack[-1]

    @staticmethod
    def key(value: object) -> object:
        if isinstance(value, (list, dict, _Pending, _Global, np.ndarray)):
            raise UnsafePickleError(f"a dict key must be a plain value, got {type(value).__name__}")
        return value

    @staticmethod
    def global_(module: str, name: str, pos: int) -> _Global:
        role = _ALLOWED_GLOBALS.get((module, name))
        if role is None:
            raise UnsafePickleError(f"pickle names {module}.{name} at byte {pos}; {_ALLOWED_TEXT}")
        return _Global(role)
