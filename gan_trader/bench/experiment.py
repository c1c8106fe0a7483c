"""Wall time of the default experiment, as a user runs it (`gan-trader run experiments/default.yaml`)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gan_trader.bench import BenchResult

ROOT = Path(__file__).resolve().parents[2]
TARGET_SECONDS = 300.0
# The quick mode checks the path end to end at a toy size; its time says nothing about the target.
QUICK_OVERRIDES = [
    "gan.epochs=1",
    "gan.mh.candidates=4",
    "data.start=2014-01-02",
    "evaluation.baselines=[persistence,drift]",
    "features.builders={technical: {}, assets: {}}",
]


def bench_default_experiment(quick: bool) -> list[BenchResult]:
    """Run the default experiment in a fresh folder (empty feature cache and tracking store) and time it."""
    config = ROOT / "experiments" / "default.yaml"
    overrides = QUICK_OVERRIDES if quick else []
    with tempfile.TemporaryDirectory(prefix="gan-trader-bench-") as tmp:
        os.symlink(ROOT / "data", Path(tmp) / "data")
        command = [sys.executable, "-m", "gan_trader.cli", "run", str(config), "--quiet"]
        for item in overrides:
            command += ["--set", item]
        started = time.perf_counter()
        completed = subprocess.run(command, cwd=tmp, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - started
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"default experiment failed (exit {completed.returncode}): {' | '.join(tail)}")
    return [
        BenchResult(
            name="default experiment wall time" + (" (quick size)" if quick else ""),
            value=seconds,
            unit="s",
            target=f"<= {TARGET_SECONDS:.0f} s on 2 cores",
            ratio=seconds / TARGET_SECONDS,
            passed=None if quick else seconds <= TARGET_SECONDS,
            details={"overrides": overrides},
        )
    ]
