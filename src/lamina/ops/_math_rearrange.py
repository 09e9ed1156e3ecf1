"""``rearrange``: einops-style axis patterns (``"b h w c -> b (h w) c"``), as one reshape, permute, reshape.

Supported on each side: named axes, groups in parentheses (composed axes; on the left they are split, using
``axes_lengths`` for all but at most one member), ``...`` for the axes not named, and ``1`` or ``()`` for a
unit axis.

>>> import torch
>>> rearrange(torch.zeros(2, 6, 5), "b (h w) c -> b c h w", h=2).shape
torch.Size([2, 5, 2, 3])
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch

from lamina.ops.dispatch import op
from lamina.ops.dispatch import tensor as as_tensor

_ELLIPSIS = "..."
_BARE = "<...>"
_TOKEN = re.compile(r"\.\.\.|\(|\)|[A-Za-z_][A-Za-z0-9_]*|\d+|\S")


def _parse(side: str) -> list[list[str]]:
    """The groups of one side of a pattern: each a list of atoms (names, "1", "..."); a bare atom is a
    group of one, a bare ``...`` the group ``[_BARE]``. A unit axis written ``()`` is an empty group."""
    groups: list[list[str]] = []
    composed: set[int] = set()  # the groups written in parentheses
    current: list[str] | None = None
    for token in _TOKEN.findall(side):
        if token == "(":
            if current is not None:
                raise ValueError(f"Nested parentheses are not supported in a rearrange pattern: {side!r}")
            current = []
        elif token == ")":
            if current is None:
                raise ValueError(f"Unbalanced parentheses in a rearrange pattern: {side!r}")
            groups.append(current)
            composed.add(len(groups) - 1)
            current = None
        elif token == _ELLIPSIS or token.isidentifier() or token.isdigit():
            if token.isdigit() and token != "1":
                raise ValueError(f"Only the unit axis 1 may be written as a number in a rearrange pattern: {side!r}")
            if current is not None:
                current.append(token)
            else:
                groups.append([token])
        else:
            raise ValueError(f"Unexpected {token!r} in a rearrange pattern: {side!r}")
    if current is not None:
        raise ValueError(f"Unbalanced parentheses in a rearrange pattern: {side!r}")
    names = [a for g in groups for a in g if a != "1"]
    if len(names) != len(set(names)):
        raise ValueError(f"An axis appears twice on one side of a rearrange pattern: {side!r}")
    # A bare "..." is marked apart from "(...)" so that only the bare one expands into several groups.
    return [[_BARE] if g == [_ELLIPSIS] and i not in composed else g for i, g in enumerate(groups)]


def _expand_ellipsis(groups: list[list[str]], count: int) -> list[list[str]]:
    """``...`` replaced by ``count`` axes with private names; alone it becomes that many groups, inside
    parentheses it stays one composed group."""
    names = [f"...{i}" for i in range(count)]
    out: list[list[str]] = []
    for group in groups:
        if group == [_BARE]:
            out.extend([n] for n in names)
        elif _ELLIPSIS in group:
            i = group.index(_ELLIPSIS)
            out.append(group[:i] + names + group[i + 1:])
        else:
            out.append(group)
    return out


@op
def rearrange(tensor: Any, pattern: str, **axes_lengths: int) -> torch.Tensor:
    """Rearrange the axes of a tensor by an einops pattern (``"b (h1 h) w -> (b h1) h w"``, ``h1=2``): split,
    transpose and merge axes in one reshape-permute-reshape."""
    x = as_tensor(tensor)
    if "->" not in pattern:
        raise ValueError(f"A rearrange pattern needs '->' between its input and output: {pattern!r}")
    left_text, right_text = pattern.split("->", 1)
    left, right = _parse(left_text), _parse(right_text)
    has_ellipsis = [any(_ELLIPSIS in g or _BARE in g for g in side) for side in (left, right)]
    if has_ellipsis[1] and not has_ellipsis[0]:
        raise ValueError(f"'...' on the right of a rearrange pattern needs '...' on the left: {pattern!r}")
    if has_ellipsis[0]:
        if sum(g == [_BARE] for g in left) != 1 or any(_ELLIPSIS in g for g in left):
            raise ValueError(f"'...' must appear once, outside parentheses, on the left: {pattern!r}")
        count = x.ndim - (len(left) - 1)
        if count < 0:
            raise ValueError(f"The pattern {pattern!r} needs at least {len(left) - 1} axes; the input has {x.ndim}.")
        left, right = _expand_ellipsis(left, count), _expand_ellipsis(right, count)
    if len(left) != x.ndim:
        raise ValueError(f"The pattern {pattern!r} has {len(left)} input axes; the input has shape {tuple(x.shape)}.")
    left_names = [a for g in left for a in g if a != "1"]
    right_names = [a for g in right for a in g if a != "1"]
    if set(left_names) != set(right_names):
        raise ValueError(f"The two sides of a rearrange pattern must name the same axes: {pattern!r} "
                         f"(only left: {sorted(set(left_names) - set(right_names))}, only right: "
                         f"{sorted(set(right_names) - set(left_names))}).")
    unknown = set(axes_lengths) - set(left_names)
    if unknown:
        raise ValueError(f"Axis lengths given for axes not in the pattern {pattern!r}: {sorted(unknown)}")

    sizes: dict[str, int] = {}
    for group, dim in zip(left, x.shape, strict=True):
        members = [a for a in group if a != "1"]
        missing = [a for a in members if a not in axes_lengths]
        known = math.prod(int(axes_lengths[a]) for a in members if a in axes_lengths)
        if len(missing) > 1:
            raise ValueError(f"Cannot infer the lengths of {missing} in {pattern!r}: give all but one of them.")
        if missing:
            if known == 0 or dim % known:
                raise ValueError(f"An axis of length {dim} cannot be split into {group} with {axes_lengths}.")
            sizes[missing[0]] = dim // known
        elif known != dim:
            raise ValueError(f"An axis of length {dim} does not match {group} = {known} in {pattern!r}.")
        for a in members:
            if a in axes_lengths:
                sizes[a] = int(axes_lengths[a])

    split = x.reshape([sizes[a] for a in left_names])
    moved = split.permute([left_names.index(a) for a in right_names])
    return moved.reshape([math.prod(sizes[a] for a in group if a != "1") for group in right])
