"""The package's layers import downward only, and no two top-level parts import each other.

Every import counts: module level, inside functions, under `TYPE_CHECKING`, `importlib.import_module("...")`
and the registries' "gan_trader.module:Attribute" entries (which `registry.resolve` imports).
The layer order is README's "Architecture" section.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gan_trader"

# Higher layers may import lower ones, never the reverse; parts on one layer do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "io", "registry"),
    ("config",),
    ("data",),
    ("sentiment",),
    ("features", "models"),
    ("evaluation", "tracking"),
    ("tuning",),
    ("workflow",),
    ("bench",),
    ("cli",),
)
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}
BASE = set(LAYERS[0])
REGISTRY_ENTRY = re.compile(r"^gan_trader(\.\w+)+:\w+$")  # "module:Attribute", imported by registry.resolve
IMPORT_CALLS = {"import_module", "__import__"}


def _call_name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def part_of(module: str) -> str:
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def is_part(name: str) -> bool:
    return (PACKAGE / name).is_dir() or (PACKAGE / f"{name}.py").is_file()


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, text: str | None = None) -> list[tuple[str, int]]:
    """Every gan_trader module the file at `path` (with `text` if given) imports, with the line:
    import statements anywhere, import_module calls and registry entries."""
    tree = ast.parse(path.read_text(encoding="utf-8") if text is None else text)
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            # `from gan_trader import workflow` imports the part `workflow`.
            if name == "gan_trader":
                found += [
                    (f"gan_trader.{alias.name}", node.lineno) for alias in node.names if is_part(alias.name)
                ]
        elif isinstance(node, ast.Call) and _call_name(node.func) in IMPORT_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.append((first.value, node.lineno))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and REGISTRY_ENTRY.match(node.value)
        ):
            found.append((node.value.partition(":")[0], node.lineno))
    return [(name, line) for name, line in found if name == "gan_trader" or name.startswith("gan_trader.")]


def part_edges() -> dict[tuple[str, str], list[str]]:
    """(importing part, imported part) -> the places ("file:line") where it happens."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        source = part_of(module_name(path))
        for target, line in imported_modules(path):
            imported = part_of(target)
            if imported != source:
                edges[(source, imported)].append(f"{path.relative_to(PACKAGE.parent)}:{line}")
    return edges


def test_every_top_level_part_has_a_layer() -> None:
    parts = {path.stem if path.is_file() else path.name for path in PACKAGE.iterdir()}
    parts = {p for p in parts if not p.startswith("__pycache__") and not p.endswith(".pyc")} - {"py.typed"}
    assert parts <= set(RANK), f"parts without a layer (add them to README and LAYERS): {parts - set(RANK)}"


def test_no_two_parts_import_each_other() -> None:
    edges = part_edges()
    graph: dict[str, set[str]] = defaultdict(set)
    for source, target in edges:
        graph[source].add(target)
    cycles = []
    for (source, target), places in edges.items():
        # A path back from target to source closes a cycle.
        seen, stack = set(), [target]
        while stack:
            node = stack.pop()
            if node == source:
                cycles.append(f"{source} -> {target} ({places[0]}) closes a cycle")
                break
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])
    assert not cycles, "\n".join(cycles)


def test_layers_import_downward_only() -> None:
    upward = [
        f"{source} -> {target}: {', '.join(places[:3])}"
        for (source, target), places in part_edges().items()
        if not (RANK[target] < RANK[source] or {source, target} <= BASE)
    ]
    assert not upward, "imports against the layer order:\n" + "\n".join(upward)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("from gan_trader.workflow.run import run_experiment", ("tracking", "workflow")),
        ("def f():\n    from gan_trader.workflow import prepare", ("tracking", "workflow")),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import gan_trader.tuning.session",
            ("tracking", "tuning"),
        ),
        ("import importlib\nimportlib.import_module('gan_trader.workflow.run')", ("tracking", "workflow")),
        ("REGISTRY = {'x': 'gan_trader.cli:main'}", ("tracking", "cli")),
        ("from .. import workflow", ("tracking", "workflow")),
    ],
)
def test_the_scan_sees_every_kind_of_import(source: str, expected: tuple[str, str]) -> None:
    """An upward import written any of these ways is found (so the layer test cannot pass by missing it)."""
    probe = PACKAGE / expected[0] / "_import_probe.py"  # never written: parsed as if it lived there
    assert expected[1] in {part_of(name) for name, _ in imported_modules(probe, source)}
