"""The package's layout rules (DESIGN.md, "Layout"), checked statically with ``ast``.

Levels, lowest first; a module may import its own level or lower, never higher:

    L0  lamina.core.*
    L1  activations initializers regularizers constraints losses metrics optimizers schedules
        lamina.data.*  lamina.datasets  lamina.utils
    L2  lamina.layers.*
    L3  lamina.training.*, lamina.callbacks (the public re-export of training.callbacks)
    L4  lamina.models.*
    L5  lamina.saving.*, lamina.distribution
        lamina/__init__.py (the public surface) may import anything.

The only upward edges are listed in ALLOWED_UPWARD with their reason, and they must be local imports.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "lamina"
TOP = "lamina"
TOP_LEVEL = 99  # the top-level package: importing it from inside the package reaches everything

LEVEL_OF_SUBPACKAGE = {
    "core": 0,
    "activations": 1, "initializers": 1, "regularizers": 1, "constraints": 1, "losses": 1, "metrics": 1,
    "optimizers": 1, "schedules": 1, "data": 1, "datasets": 1, "utils": 1, "mixed_precision": 1,
    "ops": 1, "random": 1, "tree": 1, "config": 1, "backend": 1,
    "layers": 2,
    "training": 3, "callbacks": 3,
    "models": 4,
    "saving": 5, "distribution": 5,
}

# (importer, imported package or module) -> why the upward edge is allowed. Each must be a local import.
ALLOWED_UPWARD = {
    ("lamina.models.model", "lamina.saving"):
        "DESIGN.md: Model.save_weights/load_weights/save() reach lamina.saving with one local import, "
        "so that `model.save(...)` works while saving (L5) builds on models (L4).",
    ("lamina.models.model", "lamina.distribution"):
        "DESIGN.md: fit(distribution=...) reaches lamina.distribution with one local import.",
    ("lamina.training.trainer", "lamina.distribution"):
        "DESIGN.md: fit(distribution=...) reaches lamina.distribution with one local import "
        "(the fit loop lives in training/trainer.py).",
}

# L1 registries of plain torch code: they import only lamina.core, NumPy, PyTorch and the standard library.
CORE_ONLY_L1 = ["lamina.losses", "lamina.metrics", "lamina.activations", "lamina.initializers", "lamina.optimizers",
                "lamina.ops"]
CORE_ONLY_THIRD_PARTY = {"numpy", "torch"}

# Keras 3 and friends are test oracles and import formats, never runtime dependencies of lamina.
FORBIDDEN_THIRD_PARTY = {"keras", "tensorflow", "tf_keras", "jax", "flax"}

MAX_MODULE_LINES = 750
MAX_INIT_LINES = 60


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str  # the lamina module (or package) imported
    lineno: int
    local: bool  # inside a function body (deferred until called)

    def __str__(self) -> str:
        where = "local import" if self.local else "module-level import"
        return f"{self.importer} (line {self.lineno}, {where}) -> {self.target}"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def level_of(name: str) -> int | None:
    if name == TOP:
        return TOP_LEVEL
    parts = name.split(".")
    if parts[0] != TOP:
        return None
    return LEVEL_OF_SUBPACKAGE.get(parts[1])


class _ImportCollector(ast.NodeVisitor):
    """Collects lamina import edges (with the function nesting they occur in) and third-party roots."""

    def __init__(self, module: str, is_package: bool, known: set[str]):
        self.module, self.known = module, known
        self.package = module if is_package else module.rpartition(".")[0]
        self.edges: list[Edge] = []
        self.third_party: set[tuple[str, int]] = set()
        self._depth = 0

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, target: str, lineno: int) -> None:
        root = target.split(".")[0]
        if root == TOP:
            self.edges.append(Edge(self.module, target, lineno, self._depth > 0))
        elif root:
            self.third_party.add((root, lineno))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # relative: resolve against this module's package
            base_parts = self.package.split(".")
            base_parts = base_parts[: len(base_parts) - (node.level - 1)]
            base = ".".join(base_parts + ([node.module] if node.module else []))
        else:
            base = node.module or ""
        if base == "__future__":
            return
        for alias in node.names:
            submodule = f"{base}.{alias.name}"
            # `from lamina import metrics` imports the module lamina.metrics; `from lamina.layers import Dense`
            # imports the package lamina.layers.
            self._add(submodule if submodule in self.known else base, node.lineno)

    def visit_Call(self, node: ast.Call) -> None:
        # importlib.import_module("lamina.x") / __import__("lamina.x") with a constant name is an import too.
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in ("import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            self._add(node.args[0].value, node.lineno)
        self.generic_visit(node)


def collect(module: str, source: str, is_package: bool, known: set[str]) -> _ImportCollector:
    collector = _ImportCollector(module, is_package, known)
    collector.visit(ast.parse(source))
    return collector


def _is_allowed_upward(edge: Edge) -> str | None:
    for (importer, target), reason in ALLOWED_UPWARD.items():
        if edge.importer == importer and (edge.target == target or edge.target.startswith(target + ".")):
            return reason
    return None


def upward_violations(edges: list[Edge]) -> list[str]:
    out = []
    for edge in edges:
        if edge.importer == TOP:  # the public surface re-exports everything
            continue
        src, dst = level_of(edge.importer), level_of(edge.target)
        if src is None or dst is None:
            continue  # reported by test_every_module_has_a_level / test_imports_name_existing_modules
        if dst > src and _is_allowed_upward(edge) is None:
            out.append(f"{edge}: L{src} imports L{dst if dst != TOP_LEVEL else ' top-level lamina'}")
    return out


@pytest.fixture(scope="module")
def graph():
    modules = all_modules()
    known = set(modules)
    result = {}
    for name, path in modules.items():
        result[name] = collect(name, path.read_text(encoding="utf-8"), path.name == "__init__.py", known)
    return modules, result


def _all_edges(graph) -> list[Edge]:
    _, collectors = graph
    return [e for c in collectors.values() for e in c.edges]


# ---------------------------------------------------------------------------------------------- the checker itself
def test_checker_sees_violations_relative_imports_and_local_imports():
    known = {"lamina", "lamina.layers", "lamina.layers.foo", "lamina.layers.layer", "lamina.models",
             "lamina.models.model", "lamina.core", "lamina.core.tree", "lamina.saving", "lamina.saving.weights"}
    source = (
        "from lamina.models import Model\n"          # L2 -> L4: violation
        "from . import layer\n"                      # relative -> lamina.layers.layer
        "from ..core import tree\n"                  # relative -> lamina.core.tree
        "import lamina\n"                            # the top-level package: violation
        "def f():\n"
        "    from lamina.saving.weights import save_weights\n"   # local, upward, not allowed from here
        "    importlib.import_module('lamina.models.model')\n"
    )
    c = collect("lamina.layers.foo", source, False, known)
    targets = [(e.target, e.local) for e in c.edges]
    assert targets == [("lamina.models", False), ("lamina.layers.layer", False), ("lamina.core.tree", False),
                       ("lamina", False), ("lamina.saving.weights", True), ("lamina.models.model", True)]
    bad = upward_violations(c.edges)
    assert len(bad) == 4, bad
    # The same local import from models/model.py is the allowed edge.
    allowed = collect("lamina.models.model", "def save(self):\n    from lamina.saving import weights\n", False,
                      known | {"lamina.saving.weights"})
    assert upward_violations(allowed.edges) == []
    assert allowed.edges[0].local


def test_the_import_graph_is_not_empty(graph):
    edges = {(e.importer, e.target) for e in _all_edges(graph)}
    assert ("lamina.layers.core", "lamina.activations") in edges
    assert ("lamina.layers.layer", "lamina.core.config") in edges
    assert len(edges) > 30


# ---------------------------------------------------------------------------------------------- the rules
def test_every_module_has_a_level(graph):
    modules, _ = graph
    unclassified = [name for name in modules if level_of(name) is None]
    assert not unclassified, (
        f"Modules outside the layout of DESIGN.md (give them a level in tests/test_layering.py, or move them): "
        f"{unclassified}"
    )


def test_imports_name_existing_modules(graph):
    modules, _ = graph
    known = set(modules)
    missing = [str(e) for e in _all_edges(graph) if e.target not in known]
    assert not missing, "Imports of lamina modules that do not exist:\n  " + "\n  ".join(missing)


def test_imports_point_down(graph):
    bad = upward_violations(_all_edges(graph))
    assert not bad, (
        "Upward imports (a module may import only its own level or lower; see DESIGN.md 'Layout'):\n  "
        + "\n  ".join(bad)
    )


def test_allowed_upward_edges_are_local_imports(graph):
    bad = []
    for edge in _all_edges(graph):
        src, dst = level_of(edge.importer), level_of(edge.target)
        upward = src is not None and dst is not None and dst > src and edge.importer != TOP
        if upward and _is_allowed_upward(edge) and not edge.local:
            bad.append(str(edge))
    assert not bad, "Allowed upward edges must be local (function-level) imports:\n  " + "\n  ".join(bad)


@pytest.mark.parametrize("module", CORE_ONLY_L1)
def test_function_registries_import_only_core(graph, module):
    modules, collectors = graph
    if module not in modules:
        pytest.skip(f"{module} does not exist yet")
    # A registry may be a package (lamina/metrics/__init__.py re-exporting lamina/metrics/*.py): its modules may
    # import one another and lamina.core, nothing else.
    members = [name for name in modules if name == module or name.startswith(module + ".")]
    allowed = ("lamina.core", module)
    lamina_bad = [str(e) for name in members for e in collectors[name].edges
                  if not any(e.target == a or e.target.startswith(a + ".") for a in allowed)]
    stdlib = set(sys.stdlib_module_names)
    third_bad = sorted(f"{root} (line {line})" for name in members for root, line in collectors[name].third_party
                       if root not in stdlib and root not in CORE_ONLY_THIRD_PARTY)
    assert not lamina_bad, f"{module} may import only lamina.core: {lamina_bad}"
    assert not third_bad, f"{module} may import only numpy, torch and the standard library: {third_bad}"


def test_no_runtime_dependency_on_keras(graph):
    _, collectors = graph
    bad = sorted(f"{name} imports {root} (line {line})" for name, c in collectors.items()
                 for root, line in c.third_party if root in FORBIDDEN_THIRD_PARTY)
    assert not bad, f"Keras/TensorFlow/JAX are test oracles, not dependencies: {bad}"


def test_module_line_budget(graph):
    modules, _ = graph
    long = sorted(((len(p.read_text(encoding="utf-8").splitlines()), name) for name, p in modules.items()),
                  reverse=True)
    offenders = [f"{name}: {n} lines" for n, name in long if n > MAX_MODULE_LINES]
    assert not offenders, f"Modules over {MAX_MODULE_LINES} lines (split them by concern): {offenders}"


def test_public_init_fits_on_one_screen():
    n = len((SRC / "__init__.py").read_text(encoding="utf-8").splitlines())
    assert n < MAX_INIT_LINES, f"src/lamina/__init__.py has {n} lines; the public surface must stay under " \
                               f"{MAX_INIT_LINES} (explicit re-exports only)."
