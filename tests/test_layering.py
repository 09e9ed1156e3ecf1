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

Cycles: the graph of module-level imports has none (so ``import lamina`` imports no cycle), and neither has the
graph of all imports, local ones included, once the allowed upward edges (call-time seams into a higher level,
which imports the lower one back by design) are taken out. A node is the module named by the import: importing
``lamina.layers.core`` also runs ``lamina/layers/__init__.py`` first, but a package importing its own submodules
is how packages work, not a cycle, so that implicit edge to the parent package is not drawn.

Local imports (inside a function) hide a dependency from the reader of the module's head: each one must be an
allowed upward edge or be listed in ALLOWED_LOCAL with its reason.
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
    "optimizers": 1, "schedules": 1, "data": 1, "datasets": 1, "mixed_precision": 1, "quantizers": 1,
    "ops": 1, "random": 1, "tree": 1, "config": 1, "backend": 1,
    "layers": 2,
    "training": 3, "callbacks": 3,
    "models": 4,
    "saving": 5, "distribution": 5, "export": 5,
    "distillation": 5,
    "doctor": 5,
    "report": 5,
    # keras.utils's façade: it gathers functions from every level (get_source_inputs reads symbolic tensors of
    # layers) and nothing inside lamina imports it.
    "utils": 5, "preprocessing": 5, "dtype_policies": 5,
    "wrappers": 5,
    "visualization": 5,
    # the model zoo builds models (L4) and loads Keras's published weight files through saving (L5)
    "applications": 6,
}

# (importer, imported package or module) -> why the upward edge is allowed. Each must be a local import.
ALLOWED_UPWARD = {
    ("lamina.models.model", "lamina.saving"):
        "the one upward seam (DESIGN.md): Model.save/save_weights/load_weights/export and models.load_model "
        "call lamina.saving at call time, so that `model.save(...)` works while saving (L5) builds on models "
        "(L4), importing Model and reading layer configs through core.serialization.",
    ("lamina.models.model", "lamina.doctor"):
        "Model.lr_find/Model.diagnose are thin methods over lamina.doctor (L5), which trains copies of models "
        "through the trainer; the methods import it at call time, as Model.save does lamina.saving.",
    ("lamina.models.model", "lamina.report"):
        "Model.report is a thin method over lamina.report (L5), which draws the graph through lamina.utils and "
        "writes the HTML file; it imports it at call time, as Model.save does lamina.saving.",
}
# (No edge to lamina.distribution: the trainer calls training/strategy.py's Strategy, which lamina.distribution
# implements and installs with set_distribution.)

# (importer, imported module) -> why it is imported inside a function rather than at the top of the module.
ALLOWED_LOCAL = {
    ("lamina.utils.feature_space", "lamina.utils.feature_space_file"):
        "optional dependency: FeatureSpace.save/load_keras_file write and read .keras files through h5py "
        "(lamina[keras-import]); the feature space itself works without it.",
    ("lamina", "lamina.wrappers"):
        "optional dependency: the scikit-learn wrappers import sklearn (0.5-1 s); `lamina.wrappers` is imported "
        "when first asked for, so that `import lamina` stays fast and works without scikit-learn.",
    ("lamina.saving", "lamina.saving.keras_import"):
        "optional dependency: the Keras 3 importer needs h5py (lamina[keras-import]); lamina.saving imports it "
        "when load_keras_model/load_keras_weights is first asked for, so that saving works without h5py.",
    ("lamina.saving", "lamina.saving.keras_export"):
        "optional dependency: the Keras 3 exporter needs h5py; lamina.saving imports it when save_keras_model/"
        "save_keras_weights is first asked for.",
    ("lamina.saving", "lamina.saving.file_editor"):
        "optional dependency: KerasFileEditor reads and writes Keras's HDF5 weights through h5py; lamina.saving "
        "imports it when lamina.saving.KerasFileEditor is first asked for.",
    ("lamina.saving.weights", "lamina.saving.keras_import"):
        "optional dependency: only a Keras '.weights.h5' file needs the importer (and h5py).",
    ("lamina.saving.weights", "lamina.saving.keras_export"):
        "optional dependency: only writing a Keras '.weights.h5' file needs the exporter (and h5py).",
    ("lamina.saving.model_file", "lamina.saving.keras_export"):
        "optional dependency: only writing a Keras '.keras' file needs the exporter (and h5py).",
    ("lamina.saving.model_file", "lamina.saving.keras_export.legacy"):
        "optional dependency: only writing a legacy '.h5' model file needs the exporter (and h5py).",
    ("lamina.saving.model_file", "lamina.saving.keras_import"):
        "optional dependency: only reading a Keras '.keras'/'.h5' file needs the importer (and h5py).",
}

# L1 registries of plain torch code: they import only lamina.core, NumPy, PyTorch and the standard library.
CORE_ONLY_L1 = ["lamina.losses", "lamina.metrics", "lamina.activations", "lamina.initializers", "lamina.optimizers",
                "lamina.ops"]
CORE_ONLY_THIRD_PARTY = {"numpy", "torch"}

# Keras 3 and friends are test oracles and import formats, never runtime dependencies of lamina.
FORBIDDEN_THIRD_PARTY = {"keras", "tensorflow", "tf_keras", "jax", "flax"}

MAX_MODULE_LINES = 600
MAX_INIT_LINES = 90  # Keras's top level alone has 54 names (keras.version(), keras.Operation, ...); re-exports only


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str  # the lamina module (or package) imported
    lineno: int
    local: bool  # inside a function body (deferred until called)
    typing_only: bool = False  # under `if TYPE_CHECKING:`: read by type checkers, never run

    def __str__(self) -> str:
        where = "local import" if self.local else "module-level import"
        if self.typing_only:
            where += " for type checking only"
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
        self._typing = 0

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.attr if isinstance(test, ast.Attribute) else test.id if isinstance(test, ast.Name) else ""
        if name != "TYPE_CHECKING":
            self.generic_visit(node)
            return
        self.visit(node.test)
        self._typing += 1
        for child in node.body:
            self.visit(child)
        self._typing -= 1
        for child in node.orelse:
            self.visit(child)

    def _function(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, target: str, lineno: int) -> None:
        root = target.split(".")[0]
        if root == TOP:
            self.edges.append(Edge(self.module, target, lineno, self._depth > 0, self._typing > 0))
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


def _listed(edge: Edge, table: dict) -> str | None:
    """The reason ``table`` gives for ``edge`` (an entry's target covers its submodules), or None."""
    for (importer, target), reason in table.items():
        if edge.importer == importer and (edge.target == target or edge.target.startswith(target + ".")):
            return reason
    return None


def _is_allowed_upward(edge: Edge) -> str | None:
    return _listed(edge, ALLOWED_UPWARD)


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


def find_cycles(edges: list[Edge]) -> list[list[Edge]]:
    """One cycle (as its edges, in order) for each strongly connected group of modules that import one another,
    found with Tarjan's algorithm; [] when the graph is acyclic. A module importing itself is ignored, and so are
    imports under ``if TYPE_CHECKING:`` (annotations only: nothing is imported when the code runs)."""
    graph: dict[str, dict[str, Edge]] = {}
    for edge in edges:
        if edge.importer != edge.target and not edge.typing_only:
            graph.setdefault(edge.importer, {}).setdefault(edge.target, edge)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # recursion depth is bounded by the number of modules (a few hundred)
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for group in groups:
        members, start = set(group), group[0]
        # shortest way back to start, breadth first inside the group
        parent: dict[str, Edge] = {}
        frontier, seen = [start], {start}
        found = None
        while frontier and found is None:
            nxt_frontier = []
            for node in frontier:
                for target, edge in sorted(graph.get(node, {}).items()):
                    if target == start:
                        found = edge
                        break
                    if target in members and target not in seen:
                        seen.add(target)
                        parent[target] = edge
                        nxt_frontier.append(target)
                if found is not None:
                    break
            frontier = nxt_frontier
        path = [found]
        while path[0].importer != start:
            path.insert(0, parent[path[0].importer])
        cycles.append(path)
    return cycles


def _describe(cycle: list[Edge]) -> str:
    return " -> ".join([cycle[0].importer] + [e.target for e in cycle]) + "\n      " + "\n      ".join(
        str(e) for e in cycle)


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


def test_checker_finds_cycles_through_local_imports():
    def edge(a: str, b: str, local: bool = False) -> Edge:
        return Edge(a, b, 1, local)

    assert find_cycles([edge("a", "b"), edge("b", "c"), edge("a", "c"), edge("c", "c")]) == []
    assert find_cycles([edge("a", "b"), Edge("b", "a", 1, False, typing_only=True)]) == []
    known = {"lamina.layers.foo", "lamina.layers.layer"}
    typed = collect("lamina.layers.foo", "if TYPE_CHECKING:\n    from lamina.layers.layer import Layer\n", False,
                    known)
    assert [(e.target, e.typing_only) for e in typed.edges] == [("lamina.layers.layer", True)]
    cycles = find_cycles([edge("a", "b"), edge("b", "c"), edge("c", "a", local=True), edge("d", "e"),
                          edge("e", "d"), edge("x", "a")])
    assert [[(e.importer, e.target) for e in c] for c in cycles] in (
        [[("a", "b"), ("b", "c"), ("c", "a")], [("d", "e"), ("e", "d")]],
        [[("d", "e"), ("e", "d")], [("a", "b"), ("b", "c"), ("c", "a")]])
    assert "a -> b -> c -> a" in _describe(cycles[0] if cycles[0][0].importer == "a" else cycles[1])


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
    bad = [str(edge) for edge in _all_edges(graph) if _upward(edge) and _is_allowed_upward(edge) and not edge.local]
    assert not bad, "Allowed upward edges must be local (function-level) imports:\n  " + "\n  ".join(bad)


def test_no_import_cycle_at_import_time(graph):
    """``import lamina`` runs only module-level imports: their graph has no cycle at all."""
    cycles = find_cycles([e for e in _all_edges(graph) if not e.local])
    assert not cycles, "Import cycles among module-level imports:\n  " + "\n  ".join(_describe(c) for c in cycles)


def test_no_import_cycle_hidden_in_local_imports(graph):
    """With local imports too, the only loops are those closed by an allowed upward edge (a call-time seam)."""
    edges = [e for e in _all_edges(graph) if not (_upward(e) and _is_allowed_upward(e))]
    cycles = find_cycles(edges)
    assert not cycles, (
        "Import cycles (local imports included; a local import does not remove a cycle, it hides it). Move the "
        "shared code down a level, or pass it in as an argument:\n  " + "\n  ".join(_describe(c) for c in cycles))


def _upward(edge: Edge) -> bool:
    src, dst = level_of(edge.importer), level_of(edge.target)
    return src is not None and dst is not None and dst > src and edge.importer != TOP


def test_local_imports_are_allowed_upward_edges_or_listed(graph):
    local = [e for e in _all_edges(graph) if e.local]
    hidden = [str(e) for e in local if not (_upward(e) and _is_allowed_upward(e)) and not _listed(e, ALLOWED_LOCAL)]
    assert not hidden, (
        f"{len(hidden)} of the package's {len(local)} local imports of lamina modules are hidden dependencies: "
        "import at the top of the module, or list the edge in ALLOWED_LOCAL with the reason it must wait:\n  "
        + "\n  ".join(hidden))


@pytest.mark.parametrize("table", ["ALLOWED_UPWARD", "ALLOWED_LOCAL"])
def test_every_allowance_has_a_reason_and_is_still_used(graph, table):
    """The allowance lists say why each exception exists, and shrink when an exception goes away."""
    allowed = globals()[table]
    local = [e for e in _all_edges(graph) if e.local]
    for (importer, target), reason in allowed.items():
        assert isinstance(reason, str) and len(reason) > 20, f"{table}[{importer!r}, {target!r}] needs a reason"
        used = [e for e in local if _listed(e, {(importer, target): reason})]
        assert used, f"{table} lists {importer} -> {target}, which no local import uses any more: remove it."


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
