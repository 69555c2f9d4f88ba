"""A small import-graph checker for ``dex_py`` and ``connectors``: cycles and layer rules.

The graph has one node per module (``dex_py.oauth.login``; a package is its ``__init__``).
Every ``import`` and ``from ... import`` statement counts, wherever it sits: at module level,
inside a function (an import moved into a function to dodge a cycle still is the cycle), and
under ``if TYPE_CHECKING:`` (an annotation-only import is still a dependency the layers must
allow). ``from pkg import name`` points at ``pkg.name`` when that is a module, else at ``pkg``.
Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__`` first, so the graph has those
edges too, except to the importer's own enclosing packages (they are already being imported
when it runs): a heavy package ``__init__`` is where runtime cycles hide. Only edges between
modules of the scanned roots are kept.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Graph = Mapping[str, frozenset[str]]


def module_names(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Every module of ``packages`` (folders under ``root``), by dotted name."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imported(node: ast.AST, module: str, is_package: bool) -> Iterable[tuple[str, ...]]:
    """Candidate targets of one import statement: (module, optional submodule name)."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield (alias.name,)
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join([*base, node.module] if node.module else base)
        else:
            target = node.module or ""
        for alias in node.names:
            yield (target, alias.name)


def _ancestors(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def build_graph(root: Path, packages: Iterable[str]) -> dict[str, frozenset[str]]:
    """The import graph of ``packages`` under ``root``."""
    modules = module_names(root, packages)
    graph: dict[str, frozenset[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for node in ast.walk(tree):
            for candidate in _imported(node, name, path.name == "__init__.py"):
                target = candidate[0]
                if len(candidate) == 2 and f"{target}.{candidate[1]}" in modules:
                    target = f"{target}.{candidate[1]}"
                if target not in modules:
                    continue
                skip = {*_ancestors(name), name}
                edges.update(m for m in _ancestors(target) if m in modules and m not in skip)
                if target != name:
                    edges.add(target)
        graph[name] = frozenset(edges)
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(start: str) -> None:
        nonlocal counter
        # Iterative depth-first search: (node, iterator over its successors).
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    advanced = True
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


@dataclass(frozen=True)
class Rule:
    """Modules matching ``importer`` must not import modules matching any of ``forbidden``.

    A pattern is a dotted prefix: ``dex_py.storage`` matches the package and its modules."""

    importer: str
    forbidden: tuple[str, ...]
    why: str


def _matches(module: str, prefix: str) -> bool:
    """``prefix`` names a package or module and all below it; ``name$`` names only ``name``."""
    if prefix.endswith("$"):
        return module == prefix[:-1]
    return module == prefix or module.startswith(prefix + ".")


def violations(graph: Graph, rules: Iterable[Rule]) -> list[str]:
    """One line per import that breaks a rule."""
    lines = []
    for rule in rules:
        for module in sorted(graph):
            if not _matches(module, rule.importer):
                continue
            for target in sorted(graph[module]):
                if any(_matches(target, bad) for bad in rule.forbidden):
                    lines.append(f"{module} imports {target}: {rule.why}")
    return lines


def layer_of(module: str, layers: Sequence[Sequence[str]]) -> int | None:
    """The index of the layer whose longest prefix matches ``module``, or None."""
    best: tuple[int, int] | None = None  # (prefix length, layer)
    for index, prefixes in enumerate(layers):
        for prefix in prefixes:
            if _matches(module, prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), index)
    return None if best is None else best[1]


def layer_violations(
    graph: Graph,
    layers: Sequence[Sequence[str]],
    allowed: Iterable[tuple[str, str]] = (),
) -> list[str]:
    """One line per module in no layer, and per import of a module in a higher layer (except
    the ``allowed`` (importer, imported) pairs)."""
    exceptions = set(allowed)
    lines = []
    for module in sorted(graph):
        mine = layer_of(module, layers)
        if mine is None:
            lines.append(f"{module} is in no layer (add it to ARCHITECTURE.md and the test)")
            continue
        for target in sorted(graph[module]):
            theirs = layer_of(target, layers)
            if theirs is not None and theirs > mine and (module, target) not in exceptions:
                lines.append(f"{module} (layer {mine}) imports {target} (layer {theirs})")
    return lines
