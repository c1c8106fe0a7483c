"""Two runs in one folder, as two real processes, sharing a file: a cache entry, a saved policy, the
embedding chunks. A lock (io.file_lock) makes the second wait for the first instead of racing it, and every
write is an atomic replace, so neither ever reads half a file or loses what the other wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ENTRY = Path(__file__).with_name("concurrency_entry.py")
ROWS = 150  # concurrency_entry.ROWS
ROOT = Path(__file__).resolve().parents[2]


def run_pair(mode: str, folder: Path, timeout: float = 240) -> list[dict[str, Any]]:
    """Start two processes of concurrency_entry.py, let them go together, return what each printed (its
    warnings, such as a chunk that vanished while it was read, are under "stderr")."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLFLOW_LOGGING_LEVEL": "WARNING", "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, str(ENTRY), mode, str(folder), name],
            env=env,
            cwd=ROOT,  # the bundled data (relative paths of the default config)
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    try:
        deadline = time.monotonic() + timeout
        while not all((folder / f"ready-{name}").exists() for name in ("a", "b")):
            failed = [p for p in processes if p.poll() not in (None, 0)]
            assert not failed, failed[0].communicate()[1]
            assert time.monotonic() < deadline, "the processes never got ready"
            time.sleep(0.05)
        (folder / "go").touch()
        outputs = [p.communicate(timeout=timeout) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err
    return [{**json.loads(out.strip().splitlines()[-1]), "stderr": err} for out, err in outputs]


def test_lock_serialises_two_processes(tmp_path: Path) -> None:
    run_pair("lock", tmp_path)
    assert (tmp_path / "counter.txt").read_text() == "400"  # no increment lost to the other process


def test_two_runs_build_a_feature_cache_entry_once(tmp_path: Path) -> None:
    results = run_pair("features", tmp_path)
    assert sorted(r["from_cache"] for r in results) == [False, True]  # the second read the first's entry
    assert results[0]["rows"] == results[1]["rows"] and results[0]["columns"] == results[1]["columns"]
    assert len(list((tmp_path / "cache").glob("*.parquet"))) == 1
    assert not list((tmp_path / "cache").glob(".*.tmp"))


def test_two_runs_share_one_saved_policy(tmp_path: Path) -> None:
    from gan_trader.tuning.agents import Policy

    results = run_pair("policy", tmp_path)
    assert (tmp_path / "trained.txt").read_text().count("\n") == 1  # trained once, loaded by the other
    assert results[0]["observations"] == results[1]["observations"]
    [saved] = (tmp_path / "runs" / "policies").glob("*.zip")
    assert Policy.load("ppo", saved, results[0]["observations"]) is not None


def test_two_runs_share_the_embedding_cache(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from gan_trader.sentiment.cache import EmbeddingCache

    results = run_pair("embeddings", tmp_path)
    assert not [r["stderr"] for r in results if "damaged" in r["stderr"]]  # no chunk read half-merged
    with caplog.at_level("WARNING", logger="gan_trader.sentiment.cache"):
        merged = EmbeddingCache(tmp_path / "embeddings", "model")
        assert len(merged) == 2 * ROWS  # every row of both processes survived their merges
    assert not caplog.records
