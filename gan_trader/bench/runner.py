"""Run the benchmark entries, print a table and write runs/bench.json with the machine they ran on."""

from __future__ import annotations

import datetime as dt
import os
import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gan_trader.bench import BenchResult
from gan_trader.io import write_json
from gan_trader.registry import resolve

# entry name -> "module:function"; each function takes quick: bool and returns list[BenchResult]
ENTRIES: dict[str, str] = {
    "gan_step": "gan_trader.bench.gan:bench_gan_steps",
    "features": "gan_trader.bench.features:bench_pipeline",
    "arima": "gan_trader.bench.features:bench_arima",
    "sentiment": "gan_trader.bench.sentiment:bench_sentiment",
    "experiment": "gan_trader.bench.experiment:bench_default_experiment",
    "study": "gan_trader.bench.study:bench_study",
    "ray": "gan_trader.bench.executor:bench_ray",
}

SCHEMA_KEYS = ("name", "value", "unit", "target", "ratio", "passed", "details")


def machine_info() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _entry(name: str) -> Callable[[bool], list[BenchResult]]:
    return resolve(ENTRIES, name, f"--only {name}: unknown benchmark")  # type: ignore[no-any-return]


def run_benchmarks(
    quick: bool = False,
    json_path: Path | None = None,
    only: list[str] | None = None,
    console: Console | None = None,
) -> dict[str, Any]:
    """Run every entry (or `only` those), each isolated: a failing entry is reported, not fatal."""
    console = console or Console()
    names = only or list(ENTRIES)
    for name in names:
        _entry(name)  # every name is checked before anything runs
    results: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for name in names:
        console.print(f"[bold]bench[/bold] {name} ...")
        started = time.perf_counter()
        try:
            entries = _entry(name)(quick)
        except Exception as exc:  # one broken entry must not hide the others' figures
            errors[name] = f"{type(exc).__name__}: {exc}"
            console.print(f"[red]{name} failed[/red]: {errors[name]}")
            console.print(traceback.format_exc(limit=3), markup=False)
            continue
        for result in entries:
            row = result.to_dict()
            row["entry"] = name
            row["seconds"] = round(time.perf_counter() - started, 2)
            results.append(row)
    payload = {"quick": quick, "machine": machine_info(), "results": results, "errors": errors}
    _print_table(results, console)
    if json_path is not None:
        write_json(json_path, payload)
        console.print(f"wrote {json_path}")
    return payload


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _print_table(results: list[dict[str, Any]], console: Console) -> None:
    table = Table(title="gan-trader benchmarks (each figure beside its target)")
    for column in ("figure", "value", "unit", "target", "ratio", "meets target"):
        table.add_column(column)
    for row in results:
        passed = row.get("passed")
        verdict = "-" if passed is None else ("[green]yes[/green]" if passed else "[red]no[/red]")
        table.add_row(
            row["name"], _fmt(row["value"]), row["unit"], row["target"], _fmt(row.get("ratio")), verdict
        )
    console.print(table)
