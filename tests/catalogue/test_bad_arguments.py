"""The catalogue of bad command lines: exit code 2, one line naming the command or option, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_checks import assert_cli_refuses
from cli_runner import CliRunner

BAD_ARGUMENTS: dict[str, tuple[list[str], str]] = {
    "unknown command": (["nosuch"], "No such command"),
    "missing argument": (["data", "validate"], "Missing argument"),
    "episodes not a number": (["tune", "experiments/default.yaml", "--episodes", "many"], "--episodes"),
    "zero episodes": (["tune", "experiments/default.yaml", "--episodes", "0"], "--episodes"),
    "config file not found": (["run", "experiments/nope.yaml"], "config file not found"),
    "missing option": (["features", "build", "experiments/default.yaml"], "Missing option '--out'"),
    "unknown benchmark": (["bench", "--only", "nosuch"], "unknown benchmark"),
}


@pytest.mark.parametrize("case", sorted(BAD_ARGUMENTS))
def test_cli_exits_2_with_one_line(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    argv, expected = BAD_ARGUMENTS[case]
    assert_cli_refuses(run_cli, in_tmp, argv, expected)
