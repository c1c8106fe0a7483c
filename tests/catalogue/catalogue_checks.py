"""What every bad input must get: one line naming the culprit; from the CLI, exit code 2 and nothing written.

A plain module (conftest modules are not imported): the catalogue test modules import it.
"""

from __future__ import annotations

import enum
from pathlib import Path

from cli_runner import CliRunner


class NotAFile(enum.Enum):
    """Content for a path that is not a readable file."""

    MISSING = "nothing at that path"
    DIRECTORY = "a folder at that path"


Content = str | bytes | NotAFile


def write_input(folder: Path, name: str, content: Content) -> Path:
    """Put `content` at folder/name (text as UTF-8, bytes as they are) and return the path."""
    path = folder / name
    if content is NotAFile.DIRECTORY:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    return path


def assert_cli_refuses(run_cli: CliRunner, workdir: Path, argv: list[str], *parts: str) -> str:
    """`gan-trader ARGV` exits 2 with one line on stderr naming every part, no traceback, nothing written."""
    before = sorted(path.name for path in workdir.iterdir())
    code, _out, err = run_cli(argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for part in parts:
        assert part in lines[0], lines[0]
    assert sorted(path.name for path in workdir.iterdir()) == before, "a refused command wrote files"
    return lines[0]
