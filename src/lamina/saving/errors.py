"""The errors a model file can raise when read: one base class, two kinds.

>>> issubclass(UnsafeFileError, SavingError) and issubclass(FileFormatError, SavingError)
True
"""

from __future__ import annotations


class SavingError(ValueError):
    """Base of every error about a malformed, hostile, tampered or mismatched model file."""


class FileFormatError(SavingError):
    """The file is not a valid lamina model file: truncated, malformed, or not matching its own config."""


class UnsafeFileError(SavingError):
    """The file asks for something lamina refuses to do (run code, import a module, exceed a size limit), or its
    signature, checksums or encryption do not verify."""
