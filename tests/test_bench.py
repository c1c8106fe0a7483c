"""`gan-trader bench` writes the JSON schema (speed is not checked).

The fast test runs the command on a stand-in entry; the full `--quick` run of every entry is slow.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from gan_trader.bench import BenchResult
from gan_trader.bench.runner import ENTRIES, SCHEMA_KEYS
from gan_trader.cli import main


def run_bench(out: Path, monkeypatch: pytest.MonkeyPatch, *options: str) -> dict[str, Any]:
    monkeypatch.setattr("sys.argv", ["gan-trader", "bench", "--quick", "--json", str(out), *options])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 0
    payload: dict[str, Any] = json.loads(out.read_text())
    assert payload["quick"] is True
    assert {"cpu", "cores", "torch", "date"} <= set(payload["machine"])
    for row in payload["results"]:
        assert set(SCHEMA_KEYS) <= set(row), row
        assert isinstance(row["value"], int | float) and row["value"] == row["value"], row
        assert row["unit"] and row["target"]
    return payload


def stand_in_entry(quick: bool) -> list[BenchResult]:
    return [
        BenchResult("stand_in.figure", 2.0, "x", ">= 1x", ratio=2.0, passed=True, details={"quick": quick}),
        BenchResult("stand_in.reference", 5.0, "s", "reference"),
    ]


def broken_entry(quick: bool) -> list[BenchResult]:
    raise RuntimeError("the machine is on fire")


@pytest.fixture
def stand_in_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("bench_stand_in")
    module.stand_in_entry = stand_in_entry  # type: ignore[attr-defined]
    module.broken_entry = broken_entry  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench_stand_in", module)
    monkeypatch.setitem(ENTRIES, "stand_in", "bench_stand_in:stand_in_entry")
    monkeypatch.setitem(ENTRIES, "broken", "bench_stand_in:broken_entry")


@pytest.mark.usefixtures("stand_in_entries")
def test_bench_writes_the_schema_and_isolates_a_failing_entry(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = run_bench(in_tmp / "bench.json", monkeypatch, "--only", "stand_in", "--only", "broken")
    assert [row["name"] for row in payload["results"]] == ["stand_in.figure", "stand_in.reference"]
    assert {row["entry"] for row in payload["results"]} == {"stand_in"}
    assert payload["results"][0]["details"] == {"quick": True}
    assert payload["errors"] == {"broken": "RuntimeError: the machine is on fire"}


@pytest.mark.slow
def test_quick_bench_writes_every_entry(in_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = run_bench(in_tmp / "bench.json", monkeypatch)
    assert payload["errors"] == {}, payload["errors"]
    entries = {row["entry"] for row in payload["results"]}
    assert entries == set(ENTRIES)
    # Every SPEC target appears with the ratio it is stated in.
    targeted = [row for row in payload["results"] if row["ratio"] is not None]
    assert len(targeted) >= len(ENTRIES)


def test_the_batched_seeds_entry_times_the_default_generators_shapes() -> None:
    from gan_trader.bench.study import batched_lstm
    from gan_trader.config import load_config

    gan = load_config(Path(__file__).resolve().parents[1] / "experiments" / "default.yaml").gan
    result = batched_lstm(2, quick=True)
    details = result.details
    assert (details["batch"], details["window"], details["hidden"]) == (
        gan.batch_size * gan.train_samples,
        gan.seq_len,
        gan.generator.hidden,
    )
    assert details["separate_ms"] > 0 and details["block_diagonal_ms"] > 0
    assert result.ratio == pytest.approx(details["block_diagonal_ms"] / details["separate_ms"], rel=0.01)
    assert result.passed == (result.ratio < 1)
