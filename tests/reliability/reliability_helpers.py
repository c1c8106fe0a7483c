"""Shared pieces of the reliability tests: a tiny CLI experiment, a scripted stand-in GAN, store queries."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, ForecastTask

# A whole experiment for the CLI: real technical and asset features, a small GAN, fixed episodes.
TINY_CLI_EXPERIMENT = """\
name: tiny
seed: 7
data:
  target: MSFT
  prices_dir: data/prices
  start: "2015-01-02"
split: {train_end: 0.70, val_end: 0.85}
features:
  cache_dir: runs/cache/features
  builders:
    technical: {}
    assets: {}
gan:
  target: log_return
  seq_len: 17
  epochs: 2
  batch_size: 64
  generator: {hidden: 8, layers: 1, noise_dim: 2}
tuning: {strategy: fixed, episodes: 2}
tracking: {uri: "sqlite:///runs/mlflow.db", artifact_root: runs/artifacts}
evaluation: {baselines: [persistence]}
"""


def write_tiny_cli_experiment(folder: Path, episodes: int = 2, extra: str = "") -> Path:
    path = folder / "tiny.yaml"
    # An absolute store URI: MLflow caches its store per URI, so a relative one reused in the same process
    # (in-process tests in different folders) would keep writing to the first folder's database.
    uri = f"sqlite:///{(folder / 'runs' / 'mlflow.db').resolve()}"
    text = TINY_CLI_EXPERIMENT.replace("episodes: 2", f"episodes: {episodes}").replace(
        "sqlite:///runs/mlflow.db", uri
    )
    path.write_text(text + extra)
    return path


class ScriptedGan:
    """A stand-in for GanForecaster (same constructor, fit, predict) that trains nothing and is fast.

    `behaviour` maps an action to each call of fit: "ok", "nan" (a non-finite loss), "interrupt" (Ctrl-C).
    (The tuning tests' SmoothObjectiveGan is the other stand-in: its score follows the hyperparameters.)
    """

    behaviour: list[str] = []
    fits = 0

    def __init__(
        self,
        gan: Any,
        scaler: str = "standard",
        callback: Any = None,
        checkpoint_dir: Any = None,
        seed: int = 0,
    ) -> None:
        self.gan, self.callback, self.seed = gan, callback, seed

    def fit(self, task: ForecastTask, resume_from: Any = None, epochs: int | None = None) -> None:
        action = (
            ScriptedGan.behaviour[ScriptedGan.fits] if ScriptedGan.fits < len(ScriptedGan.behaviour) else "ok"
        )
        ScriptedGan.fits += 1
        if action == "interrupt":
            raise KeyboardInterrupt
        loss = math.nan if action == "nan" else 0.5
        for epoch in range(1, (epochs or self.gan.epochs) + 1):
            self.callback.on_epoch(epoch, {"train/loss_g": loss, "train/loss_d": 0.1})

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        rng = np.random.default_rng(self.seed)
        return Forecast.from_returns("gan", task, origins, rng.normal(0, 1e-3, len(origins)))


def runs_of(folder: Path) -> list[Any]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{folder / 'runs' / 'mlflow.db'}")
    runs = []
    for experiment in client.search_experiments():
        runs += client.search_runs([experiment.experiment_id], max_results=10000)
    return runs


def episodes_by_index(runs: list[Any], session_id: str) -> dict[int, list[tuple[str, str | None]]]:
    found: dict[int, list[tuple[str, str | None]]] = {}
    for run in runs:
        if run.data.tags.get("gan_trader.session") == session_id:
            index = int(run.data.tags["gan_trader.episode"])
            found.setdefault(index, []).append((run.info.status, run.data.tags.get("gan_trader.failure")))
    return found


def assert_consistent(folder: Path, session_id: str, planned: int) -> None:
    """After a finished (or resumed) session: nothing RUNNING, each index FINISHED once, files read back."""
    runs = runs_of(folder)
    assert not [r for r in runs if r.info.status == "RUNNING"], "a run was left RUNNING"
    session = [r for r in runs if r.info.run_id == session_id]
    assert session and session[0].info.status == "FINISHED"
    episodes = episodes_by_index(runs, session_id)
    # The tuning episodes 0..planned-1; the refits per fold and seed (indices >= 1000) once each.
    assert sorted(i for i in episodes if i < 1000) == list(range(planned)), episodes
    for index, attempts in episodes.items():
        statuses = [s for s, _ in attempts]
        assert statuses.count("FINISHED") == 1, (index, attempts)
        for status, reason in attempts:
            if status != "FINISHED":
                assert status in ("FAILED", "KILLED") and reason, (index, attempts)
    assert_files_read_back(folder / "runs")


def assert_files_read_back(root: Path) -> None:
    leftovers = [p for p in root.rglob("*.tmp")]
    assert not leftovers, leftovers
    for path in root.rglob("*"):
        if path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                list(data.keys())
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".pt":
            import torch

            torch.load(path, map_location="cpu", weights_only=False)
