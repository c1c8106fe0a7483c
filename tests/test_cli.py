"""What a new user meets at the command line: help that cites no document they lack, and `-q` that is
quiet (MLflow's own start-up lines included)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_runner import CliRunner

from gan_trader.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and group of the CLI, as the argv that names it."""
    paths = [path]
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        paths += _command_paths(sub, (*path, name))
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


@pytest.mark.parametrize("command", COMMANDS, ids=[" ".join(c) or "gan-trader" for c in COMMANDS])
def test_help_cites_no_document_users_lack(command: tuple[str, ...], run_cli: CliRunner) -> None:
    code, out, err = run_cli([*command, "--help"])
    assert code == 0, err
    for internal in ("SPEC", "section 11", "ISSUE", "STYLE.md"):
        assert internal not in out, out


def test_quiet_silences_mlflow_before_it_is_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    from gan_trader.cli import _setup_logging

    monkeypatch.delenv("MLFLOW_LOGGING_LEVEL", raising=False)
    _setup_logging(True)
    assert os.environ["MLFLOW_LOGGING_LEVEL"] == "WARNING"  # read by MLflow when it sets up its loggers


@pytest.mark.slow
def test_quiet_run_prints_nothing_but_its_error(tmp_path: Path) -> None:
    """A fresh tracking store under -q: MLflow sets up its own loggers when imported (after the CLI set its
    levels), so its "Creating initial MLflow database tables" lines must be silenced before that."""
    (tmp_path / "data").symlink_to(ROOT / "data")
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_LOGGING_LEVEL"}
    argv = [
        sys.executable,
        "-m",
        "gan_trader.cli",
        "tune",
        str(ROOT / "experiments" / "default.yaml"),
        "--resume",
        "nosuch",
        "-q",
        "--set",
        "features.builders={}",
    ]
    done = subprocess.run(
        argv, cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300
    )
    assert (tmp_path / "runs" / "mlflow.db").exists()  # the store was created in this run
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no saved session state" in lines[0], done.stderr
    assert done.stdout == ""


def test_quiet_run_prints_only_its_result_line(
    in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`-q` printed nothing at all: a script could not learn the session id or where the report went."""
    import importlib.util

    import gan_trader.models.wgan as wgan

    spec = importlib.util.spec_from_file_location(
        "reliability_helpers", ROOT / "tests" / "reliability" / "reliability_helpers.py"
    )
    assert spec is not None and spec.loader is not None
    helpers = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(helpers)
    monkeypatch.setattr(wgan, "GanForecaster", helpers.ScriptedGan)
    config = helpers.write_tiny_cli_experiment(in_tmp, episodes=1)
    for command, report in (("run", True), ("tune", False)):
        code, out, err = run_cli([command, str(config), "-q"])
        assert code == 0, err
        lines = out.splitlines()
        assert len(lines) == 1, out
        session = sorted((in_tmp / "runs" / "sessions").iterdir(), key=lambda p: p.stat().st_mtime)[-1].name
        expected = f"session: {session}"
        if report:
            expected += f"  report: {in_tmp / 'runs' / 'reports' / 'tiny.html'}"
        assert lines[0] == expected
