"""The house is one-way: imports between the top-level packages form no cycle, and the domain knows no transport."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The product's packages and what sits beside them in the repository (tests, benchmarks and their harness).
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file())
# What the business rules and the storage must never reach: the ways in and out (SPEC's one domain package).
TRANSPORTS = {"aiogram", "aiohttp", "aiohttp_jinja2", "jinja2", "bot", "handlers", "inbox", "delivery", "providers",
              "jobs", "closer", "webio", "telegram_emulator", "harness", "bench", "tests"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Top-level module name -> the files of `package` importing it (lazy imports inside functions included)."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found[name.split(".")[0]].add(str(path.relative_to(ROOT)))
    return found


def package_graph() -> dict[str, set[str]]:
    return {p: {t for t in imports_of(p) if t in PACKAGES and t != p} for p in PACKAGES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as the list of packages along it, or None (depth-first search with the path on a stack)."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        state[node] = "done"
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_cycle_finder_finds_a_cycle_and_accepts_a_chain():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_cycle_between_top_level_packages():
    graph = package_graph()
    assert {"sales", "storage", "bot", "inbox", "closer"} <= set(graph)  # the walk sees the real packages
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"


def test_the_domain_and_the_storage_import_no_transport():
    for package in ("sales", "storage"):
        imported = imports_of(package)
        assert imported, package
        leaks = {name: sorted(files) for name, files in imported.items() if name in TRANSPORTS}
        assert not leaks, f"{package} imports a transport: {leaks}"


def test_storage_is_the_floor():
    inward = set(imports_of("storage")) & set(PACKAGES)
    assert inward <= {"storage"}, inward


def test_only_the_composition_root_imports_the_bots_handlers():
    importers = {f for f in imports_of_everywhere("handlers") if not f.startswith(("handlers/", "tests/"))}
    assert importers == {"closer/app.py"}, importers


def imports_of_everywhere(name: str) -> set[str]:
    return {f for package in PACKAGES for f in imports_of(package).get(name, set())}
