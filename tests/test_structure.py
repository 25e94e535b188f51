"""The layout's rules, read from the code's own imports (docs/architecture.md, "Rules"):

- no import circle inside `service/`;
- nothing but the entry points imports the composition root, `service.app`;
- no platform module imports a provider module: the platform reads the provider catalog it is
  handed, and only the composition roots (`service.app`, `service.cli`) assemble it.

Imports inside functions count (a circle held open by a late import is still a circle); imports
under `if TYPE_CHECKING:` do not, since they never run.
"""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from service.config import PROJECT_ROOT

SERVICE = PROJECT_ROOT / "service"
ENTRY_POINTS = {"service.cli", "service.server"}
COMPOSITION_ROOTS = {"service.app", "service.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in SERVICE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _import_nodes(child))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        yield from _import_nodes(node)


def imports_of(name: str) -> set[str]:
    """The service modules `name` imports (a `from package import module` names the module)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = package.split(".")
            if node.level:
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join([*base, node.module] if node.module else base)
            else:
                stem = node.module or ""
            targets = [f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in MODULES else stem for alias in node.names]
        found.update(target for target in targets if target in MODULES)
    found.discard(name)
    return found


GRAPH = {name: imports_of(name) for name in MODULES}


def cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def is_provider_module(name: str) -> bool:
    return name == "service.providers" or name.startswith("service.providers.")


def test_the_graph_is_read() -> None:
    # A resolver that found nothing would pass every rule below.
    assert "service.context" in GRAPH["service.system"]
    assert "service.integrations.records" in GRAPH["service.providers.shopify.oauth"]
    assert "service.providers" in GRAPH["service.app"]


def test_no_import_circle_inside_the_service() -> None:
    assert cycles() == []


def test_only_the_entry_points_import_the_app_factory() -> None:
    importers = sorted(name for name, targets in GRAPH.items() if "service.app" in targets)
    assert set(importers) <= ENTRY_POINTS, importers


def test_no_platform_module_imports_a_provider_module() -> None:
    offenders = sorted(f"{name} -> {target}" for name, targets in GRAPH.items()
                       if not is_provider_module(name) and name not in COMPOSITION_ROOTS
                       for target in targets if is_provider_module(target))
    assert offenders == []


def test_the_checks_catch_what_they_look_for(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(GRAPH, "service.context", GRAPH["service.context"] | {"service.system"})
    assert any("service.context" in cycle for cycle in cycles())
