"""Numerical faults end one episode FAILED with its reason; the same seed reproduces a run exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from reliability_helpers import runs_of, write_tiny_cli_experiment

from gan_trader.config import load_config
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeSpec, run_episode
from gan_trader.workflow.prepare import prepare

ROOT = Path(__file__).resolve().parents[2]


def _episode(in_tmp: Path, hyperparameters: dict, corrupt_input: bool = False) -> object:
    config = load_config(write_tiny_cli_experiment(in_tmp), [])
    prepared = prepare(config)
    task = prepared.task
    if corrupt_input:
        features = task.features.copy()
        features.iloc[5, 0] = np.inf
        task.features = features
    recorder = open_recorder(config.tracking, config.experiment_name)
    session = recorder.start_session("faults")
    spec = EpisodeSpec(0, hyperparameters, 2, config.seed, in_tmp / "checkpoints")
    return run_episode(config, task, recorder, session, spec)


def test_infinite_input_fails_the_episode_with_its_reason(in_tmp: Path) -> None:
    result = _episode(in_tmp, {}, corrupt_input=True)
    assert result.status == "FAILED"
    assert "not finite" in result.reason
    [run] = [r for r in runs_of(in_tmp) if r.data.tags.get("gan_trader.kind") == "episode"]
    assert run.info.status == "FAILED" and "not finite" in run.data.tags["gan_trader.failure"]


@pytest.mark.slow
def test_absurd_learning_rate_fails_the_episode(in_tmp: Path) -> None:
    result = _episode(in_tmp, {"gan.lr_g": 1e6, "gan.lr_d": 1e6})
    assert result.status == "FAILED"
    assert "not finite" in result.reason


def _run(folder: Path, *overrides: str) -> subprocess.CompletedProcess[str]:
    (folder / "data").symlink_to(ROOT / "data")
    config = write_tiny_cli_experiment(folder, episodes=1)
    env = {**os.environ, "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "PYTHONPATH": str(ROOT)}
    sets = [arg for item in overrides for arg in ("--set", item)]
    done = subprocess.run(
        [sys.executable, "-m", "gan_trader.cli", "run", str(config), "--quiet", *sets],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr
    return done


def _results(folder: Path) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    # The tuning session's episode (the refits of the selected set per fold and seed have indices >= 1000).
    [episode] = [
        r
        for r in runs_of(folder)
        if r.data.tags.get("gan_trader.kind") == "episode" and int(r.data.tags["gan_trader.episode"]) < 1000
    ]
    metrics = {k: v for k, v in episode.data.metrics.items() if k.startswith(("test/", "val/"))}
    forecasts = {}
    for path in sorted(folder.glob("runs/sessions/*/forecasts/*.npz")):
        with np.load(path, allow_pickle=False) as data:
            forecasts.update({f"{path.stem}.{key}": data[key] for key in data.files})
    return metrics, forecasts


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_same_seed_same_results_other_seed_differs(tmp_path: Path) -> None:
    folders = [tmp_path / name for name in ("a", "b", "c")]
    for folder in folders:
        folder.mkdir()
    _run(folders[0])
    _run(folders[1])
    _run(folders[2], "seed=8")
    (metrics_a, forecasts_a), (metrics_b, forecasts_b), (metrics_c, forecasts_c) = map(_results, folders)
    assert metrics_a and metrics_a == metrics_b
    assert forecasts_a.keys() == forecasts_b.keys() and "gan.log_return" in forecasts_a
    for key in forecasts_a:
        np.testing.assert_array_equal(forecasts_a[key], forecasts_b[key], err_msg=key)
    assert metrics_c["test/relmae"] != metrics_a["test/relmae"]
    assert not np.array_equal(forecasts_c["gan.log_return"], forecasts_a["gan.log_return"])


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_every_episode_failing_still_reports(tmp_path: Path) -> None:
    done = _run(tmp_path, "gan.lr_g=1e6", "gan.lr_d=1e6", "tuning.episodes=2")
    assert "episode 0 FAILED" in done.stderr and "episode 1 FAILED" in done.stderr  # --quiet keeps warnings
    report = (tmp_path / "runs" / "reports" / "tiny.html").read_text()
    assert "2 of 2 episodes did not finish" in report
