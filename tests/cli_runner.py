"""The type of the `run_cli` fixture in tests/conftest.py, for annotations (conftests are not imported)."""

from __future__ import annotations

from collections.abc import Callable

# run_cli(argv) -> (exit code, stdout, stderr) of `gan-trader ARGV` run in this process.
CliRunner = Callable[[list[str]], tuple[int, str, str]]
