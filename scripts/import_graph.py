"""Measure the package's internal import graph: modules, edges and import cycles.

Usage: ``python scripts/import_graph.py [--src DIR] [--package NAME] [--json]``.

Every ``import`` statement counts, including imports inside functions and under
``TYPE_CHECKING`` (grimp reads them all), so a cycle hidden behind a lazy import still shows.
A cycle is a strongly connected component of more than one module.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import grimp


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:  # Tarjan's algorithm
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.find_modules_directly_imported_by(v) & modules):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(modules):
        if v not in index:
            visit(v)
    return sorted(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=str(Path(__file__).resolve().parents[1] / "src"))
    parser.add_argument("--package", default="ivig_cds")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.src)
    graph = grimp.build_graph(args.package, cache_dir=None)
    modules = set(graph.modules)
    edges = sorted((a, b) for a in modules for b in graph.find_modules_directly_imported_by(a) if b in modules)
    cycles = _cycles(graph, modules)
    largest = max((len(c) for c in cycles), default=0)
    if args.json:
        print(json.dumps({"modules": len(modules), "edges": len(edges), "cycles": cycles}, indent=2))
    else:
        print(f"{args.package}: {len(modules)} modules, {len(edges)} import edges, {len(cycles)} cycle(s)")
        for c in cycles:
            print(f"  cycle of {len(c)}: {' <-> '.join(c)}")
        if cycles:
            print(f"largest cycle: {largest} modules")
    return 1 if cycles else 0


if __name__ == "__main__":
    raise SystemExit(main())
