"""(being written) part of lamina.ops."""

from __future__ import annotations

__all__: list[str] = []
