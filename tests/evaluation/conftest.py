"""A tiny real task (bundled MSFT, 2009-2011) and a way to perturb its future rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
import torch

from gan_trader.config import SplitConfig, load_config
from gan_trader.data.panel import Panel
from gan_trader.evaluation.splits import make_split
from gan_trader.experiment import load_panel
from gan_trader.models.base import ForecastTask


@pytest.fixture(scope="session")
def small_panel() -> Panel:
    config = load_config(
        None,
        ["features.builders={}", "features.cache_dir=null", "data.start=2009-01-01", "data.end=2011-12-31"],
    )
    return load_panel(config)


def task_from_panel(panel: Panel, seed: int = 0) -> ForecastTask:
    features = panel.frame[["close"]]
    split = make_split(features.index, SplitConfig(), min_rows=40)
    return ForecastTask(panel=panel, features=features, split=split, seed=seed)


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
def one_thread() -> Iterator[None]:
    """Tiny networks run fastest single-threaded on the shared test machine; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
