"""MLflow stays behind the Recorder interface: only tracking/ imports it or calls its client, and tag keys
are written only in tags.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gan_trader.tracking import tags

PACKAGE = Path(__file__).resolve().parents[2] / "gan_trader"
TRACKING = PACKAGE / "tracking"
OUTSIDE = sorted(path for path in PACKAGE.rglob("*.py") if TRACKING not in path.parents)


def _imports(tree: ast.AST) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.module, node.lineno))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.args[0].value, node.lineno))
    return found


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{line}"


def test_only_tracking_imports_mlflow() -> None:
    found = [
        _where(path, line)
        for path in OUTSIDE
        for name, line in _imports(ast.parse(path.read_text(encoding="utf-8")))
        if name == "mlflow" or name.startswith("mlflow.")
    ]
    assert not found, f"MLflow imported outside tracking/ (use the Recorder): {found}"


def test_only_tracking_calls_the_mlflow_client() -> None:
    found = [
        _where(path, node.lineno)
        for path in OUTSIDE
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in ("client", "experiment_id")
    ]
    assert not found, f"the MLflow client used outside tracking/ (use the Recorder): {found}"


def test_tag_keys_are_written_only_in_tags_py() -> None:
    keys = {value for name, value in vars(tags).items() if name.endswith("_TAG")}
    found = [
        f"{_where(path, node.lineno)} {node.value}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if path != TRACKING / "tags.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in keys
    ]
    assert not found, f"tag keys as literals (use gan_trader.tracking.tags): {found}"


@pytest.mark.parametrize(
    "source",
    ["import mlflow", "from mlflow.tracking import MlflowClient", "importlib.import_module('mlflow')"],
)
def test_the_scan_sees_every_kind_of_import(source: str) -> None:
    assert any(name.startswith("mlflow") for name, _ in _imports(ast.parse(source)))
