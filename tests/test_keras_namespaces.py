"""Every public name of Keras's ops, random, config, backend and tree namespaces exists in lamina.

The names come from the installed Keras (the oracle), so a newer Keras with new names fails here until lamina
has them or they are listed in ``NOT_ON_PYTORCH`` with the reason (mirrored in docs/keras-compatibility.md).
"""

from __future__ import annotations

import importlib
import types

import pytest

import lamina

NAMESPACES = ["ops", "ops.numpy", "ops.nn", "ops.linalg", "ops.image", "random", "config", "backend", "tree"]

#: (namespace, name) -> why lamina does not have it. Keep this short and in sync with the docs.
NOT_ON_PYTORCH: dict[tuple[str, str], str] = {}


def _public(module) -> set[str]:
    return {n for n in dir(module) if not n.startswith("_")}


def _resolve(root, dotted: str):
    target = root
    for part in dotted.split("."):
        target = getattr(target, part)
    return target


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_keras_name_exists_in_lamina(keras, namespace):
    theirs = _resolve(keras, namespace)
    ours = _resolve(lamina, namespace)
    missing = sorted(n for n in _public(theirs) - _public(ours) if (namespace, n) not in NOT_ON_PYTORCH)
    assert not missing, f"lamina.{namespace} lacks {len(missing)} of Keras's names: {missing}"


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_callables_take_keras_argument_names(keras, namespace):
    """Same parameter names (and order) as Keras, so keyword calls written for Keras work."""
    import inspect

    theirs, ours = _resolve(keras, namespace), _resolve(lamina, namespace)
    different = []
    for name in sorted(_public(theirs) & _public(ours)):
        a, b = getattr(theirs, name), getattr(ours, name)
        if isinstance(a, (type, types.ModuleType)) or not callable(a) or not callable(b):
            continue
        try:
            pa = [p for p in inspect.signature(a).parameters.values()]
            pb = [p for p in inspect.signature(b).parameters.values()]
        except (TypeError, ValueError):
            continue
        names_a = [p.name for p in pa if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        names_b = [p.name for p in pb if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        if names_b[: len(names_a)] != names_a:
            different.append(f"{name}{inspect.signature(b)} vs Keras {name}{inspect.signature(a)}")
    assert not different, "\n".join(different)


def test_the_exclusion_list_is_documented():
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "keras-compatibility.md").read_text(encoding="utf-8")
    for (namespace, name), _reason in NOT_ON_PYTORCH.items():
        assert f"{namespace}.{name}" in doc


def test_namespaces_are_importable_as_modules():
    for namespace in NAMESPACES:
        module = importlib.import_module(f"lamina.{namespace}")
        assert isinstance(module, types.ModuleType)
