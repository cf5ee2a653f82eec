"""The package layering holds: no import cycles between collector packages, protobuf only at the edge.

Imports are read from the source (every ``import`` statement, including ones inside
functions), so a lazy import that closes a cycle counts as much as a top-level one.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WIRE_PREFIXES = ("grpc", "google.protobuf", "caseguard.v1")


def _modules(top: str) -> Iterator[tuple[Path, tuple[str, ...]]]:
    for path in sorted((ROOT / top).rglob("*.py")):
        if "_pb2" in path.name:
            continue
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, parts[:-1] if parts[-1] == "__init__" else parts


def _imports(path: Path, module: tuple[str, ...]) -> Iterator[str]:
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module if is_package else module[:-1]
                base = base[: len(base) - (node.level - 1)]
                yield ".".join(base + ((node.module,) if node.module else ()))
            elif node.module:
                yield node.module


def package_graph(top: str) -> dict[str, set[str]]:
    """Which first-level packages of ``top`` import which others (``collector.store`` -> ``collector.domain``)."""
    graph: dict[str, set[str]] = {}
    for path, module in _modules(top):
        package = ".".join(module[:2])
        graph.setdefault(package, set())
        for name in _imports(path, module):
            parts = name.split(".")
            if parts[0] == top and len(parts) > 1:
                target = ".".join(parts[:2])
                if target != package:
                    graph[package].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_collector_packages_import_each_other_without_cycles() -> None:
    graph = package_graph("collector")
    assert "collector.store" in graph and "collector.workflow" in graph  # the walk saw the real tree
    cycle = find_cycle(graph)
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def test_agent_packages_import_each_other_without_cycles() -> None:
    cycle = find_cycle(package_graph("agent"))
    assert cycle is None, "package import cycle: " + " -> ".join(cycle or [])


def _wire_importers(top: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path, module in _modules(top):
        names = [n for n in _imports(path, module) if any(n == p or n.startswith(p + ".") for p in WIRE_PREFIXES)]
        if names:
            found[str(path.relative_to(ROOT))] = sorted(set(names))
    return found


def test_only_agent_transport_imports_grpc_and_protobuf() -> None:
    found = _wire_importers("agent")
    assert "agent/transport/client.py" in found  # the scan does see real imports
    outside = {path: names for path, names in found.items() if not path.startswith("agent/transport/")}
    assert outside == {}


def test_only_collector_api_and_wire_import_grpc_and_protobuf() -> None:
    found = _wire_importers("collector")
    assert "collector/wire/event_codec.py" in found
    outside = {p: n for p, n in found.items() if not p.startswith(("collector/api/", "collector/wire/"))}
    assert outside == {}


def test_enrolment_is_transport() -> None:
    assert (ROOT / "agent/transport/enrollment.py").is_file()
    assert not (ROOT / "agent/enrollment.py").exists()
