"""`gan-trader bench --quick` runs every entry and writes the JSON schema (speed is not checked)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gan_trader.bench.runner import ENTRIES, SCHEMA_KEYS
from gan_trader.cli import main


def test_quick_bench_writes_every_entry(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = in_tmp / "bench.json"
    monkeypatch.setattr("sys.argv", ["gan-trader", "bench", "--quick", "--json", str(out)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0
    payload = json.loads(out.read_text())
    assert payload["quick"] is True
    assert payload["errors"] == {}, payload["errors"]
    assert {"cpu", "cores", "torch", "date"} <= set(payload["machine"])
    entries = {row["entry"] for row in payload["results"]}
    assert entries == set(ENTRIES)
    for row in payload["results"]:
        assert set(SCHEMA_KEYS) <= set(row), row
        assert isinstance(row["value"], int | float) and row["value"] == row["value"], row
        assert row["unit"] and row["target"]
    # Every SPEC target appears with the ratio it is stated in.
    targeted = [row for row in payload["results"] if row["ratio"] is not None]
    assert len(targeted) >= len(ENTRIES)
