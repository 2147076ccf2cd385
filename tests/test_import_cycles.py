"""No import cycles between eokit's modules (lazy imports inside functions count too).

A cycle is a group of modules that import each other, directly or through others (a package
``__init__`` that imports a submodule which imports the package back is one). Registries load
their built-in modules by name (:mod:`eokit.registry`), so a catalogue never needs one.
"""

from __future__ import annotations

import grimp
import pytest

# Cycles that another part of the work owns; a group listed here may shrink or vanish, never grow.
KNOWN_CYCLES: list[frozenset[str]] = []


def import_cycles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def test_import_cycles_finder_sees_direct_and_indirect_cycles() -> None:
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.d", "p.a"), ("p.e", "p.f"), ("p.f", "p.e")]:
        graph.add_import(importer=a, imported=b)
    graph.add_module("p.g")
    assert sorted(map(sorted, import_cycles(graph))) == [["p.a", "p.b", "p.c"], ["p.e", "p.f"]]


@pytest.fixture(scope="module")
def eokit_graph() -> grimp.ImportGraph:
    return grimp.build_graph("eokit", cache_dir=None)


def test_no_import_cycles_in_eokit(eokit_graph: grimp.ImportGraph) -> None:
    new = [g for g in import_cycles(eokit_graph) if not any(g <= known for known in KNOWN_CYCLES)]
    lines = []
    for group in new:
        for importer in sorted(group):
            for imported in sorted(eokit_graph.find_modules_directly_imported_by(importer) & group):
                for detail in eokit_graph.get_import_details(importer=importer, imported=imported):
                    lines.append(f"  {importer}:{detail['line_number']} {detail['line_contents']}")
    assert not new, (
        "import cycles between eokit modules (move the shared piece to a lower module, or load "
        "built-ins through eokit.registry):\n" + "\n".join(lines)
    )


def test_catalogues_load_through_the_registry_only(eokit_graph: grimp.ImportGraph) -> None:
    """The broken cycles stay broken, and no module imports a built-in catalogue for its side effect."""
    for importer, imported in [
        ("eokit.datasets.download", "eokit.datasets.base"),
        ("eokit.models.registry", "eokit.models.zoo"),
        ("eokit.tasks.base", "eokit.tasks"),
    ]:
        assert not eokit_graph.direct_import_exists(importer=importer, imported=imported), (importer, imported)
    for catalogue in ("eokit.datasets.catalog", "eokit.models.zoo"):
        assert eokit_graph.find_modules_that_directly_import(catalogue) == set(), catalogue
