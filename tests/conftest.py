"""Shared fixtures: the bundled panel (whole and a small slice), the small task, a working folder, the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from cli_runner import CliRunner

from gan_trader.config import SplitConfig, load_config
from gan_trader.data.panel import Panel
from gan_trader.data.splits import make_split
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.models.base import ForecastTask
from gan_trader.workflow.prepare import load_panel

matplotlib.use("Agg")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def prices_dir() -> Path:
    return DATA / "prices"


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder (runs/ lands there) with the bundled data linked in."""
    (tmp_path / "data").symlink_to(DATA)
    (tmp_path / "experiments").symlink_to(ROOT / "experiments")
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="session")
def real_panel() -> Panel:
    """The whole bundled panel (MSFT and its related assets), no feature builders."""
    return load_panel(load_config(None, ["features.builders={}", "features.cache_dir=null"]))


# A small real task (bundled MSFT, 2009-2011, the close alone) and a way to perturb its future rows: used by
# the baseline and evaluation tests.


@pytest.fixture(scope="session")
def small_panel() -> Panel:
    config = load_config(
        None,
        ["features.builders={}", "features.cache_dir=null", "data.start=2009-01-01", "data.end=2011-12-31"],
    )
    return load_panel(config)


def task_from_panel(panel: Panel, seed: int = 0) -> ForecastTask:
    """The close and the volatility builder's columns (har_t reads them), fitted on the task's training span
    and trimmed to the rows where every column is defined, as the feature pipeline does."""
    context = BuildContext(target=panel.target, equity_assets=tuple(panel.assets_of_class("equity")))
    first = create_builder("volatility", {}, context).fit_transform(panel.frame, panel.frame.index[-1])
    rows = first.dropna().index
    split = make_split(rows, SplitConfig(), min_rows=40)
    volatility = create_builder("volatility", {}, context).fit_transform(panel.frame, split.train_end)
    features = pd.concat([panel.frame[["close"]], volatility], axis=1).loc[rows]
    return ForecastTask(panel=panel, features=features, split=split, seed=seed)


@pytest.fixture
def small_task_from() -> Callable[[Panel], ForecastTask]:
    """Build the small task from any (e.g. perturbed) panel."""
    return task_from_panel


@pytest.fixture
def small_task(small_panel: Panel) -> ForecastTask:
    return task_from_panel(small_panel)


@pytest.fixture
def perturb_after() -> Callable[[Panel, pd.Timestamp], Panel]:
    """A copy of the panel whose prices and volumes after `cut` are scrambled (what a leak would see)."""

    def perturb(panel: Panel, cut: pd.Timestamp) -> Panel:
        frame = panel.frame.copy()
        later = frame.index > cut
        rng = np.random.default_rng(1)
        for column in ("open", "high", "low", "close"):
            frame.loc[later, column] = frame.loc[later, column] * rng.uniform(0.5, 1.5, later.sum())
        frame.loc[later, "volume"] = frame.loc[later, "volume"] * 3.0
        return Panel(panel.target, frame, panel.assets, panel.sources)

    return perturb


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> CliRunner:
    """Run `gan-trader ARGV` in this process: (exit code, stdout, stderr)."""
    from gan_trader.cli import main

    def run(argv: list[str]) -> tuple[int, str, str]:
        old = sys.argv
        sys.argv = ["gan-trader", *argv]
        try:
            with pytest.raises(SystemExit) as info:
                main()
        finally:
            sys.argv = old
        captured = capsys.readouterr()
        return int(info.value.code or 0), captured.out, captured.err

    return run


@pytest.fixture(autouse=True)
def no_shipped_policy(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests train or build their own policies: the pre-trained one shipped for the default search space
    (gan_trader/tuning/pretrained/) is tested on its own, in tests/tuning/test_agents_learning.py."""
    monkeypatch.setattr(
        "gan_trader.tuning.agents.PRETRAINED_DIR", tmp_path_factory.getbasetemp() / "no-shipped-policy"
    )
