"""Helpers shared by the model tests (plain functions: conftest.py and the test modules import them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_trader.config import GanConfig, SplitConfig
from gan_trader.data.panel import Panel
from gan_trader.data.splits import make_split
from gan_trader.models.base import ForecastTask


def make_gan_task(
    panel: Panel, rows: int = 200, target_kind: str = "log_return", seed: int = 3
) -> ForecastTask:
    """The last `rows` days of MSFT, three correlated closes as features; 60/20/20 split, 17-day windows."""
    features = panel.frame.iloc[-rows:][["close", "SP500.close", "NASDAQ.close", "AAPL.close"]]
    split = make_split(
        features.index, SplitConfig.model_validate({"train_end": 0.6, "val_end": 0.8}), min_rows=19
    )
    return ForecastTask(
        panel=panel,
        features=features,
        split=split,
        seed=seed,
        target_kind=target_kind,  # type: ignore[arg-type]
        seq_len=17,
    )


def tiny_gan(**overrides: object) -> GanConfig:
    """A GAN small enough for a test to train a few epochs in about a second."""
    base: dict[str, object] = {
        "epochs": 2,
        "batch_size": 32,
        "n_critic": 2,
        "generator": {"hidden": 8, "noise_dim": 2},
        "critic": {"filters": [4, 8, 8], "dense": [16, 16]},
        "mh": {"chains": 16, "candidates": 8},
        "val_samples": 2,
        "plot_epochs": [1],
        "device": "cpu",
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    return GanConfig.model_validate(base)


AR_COEFFICIENT = 0.1


def ar_task(days: int = 1000, seed: int = 0) -> tuple[ForecastTask, pd.DataFrame]:
    """A synthetic task whose next-day distribution is known: r[t+1] = 0.1 r[t] + sigma[t+1] e, e ~ N(0, 1),
    sigma a smooth cycle between 0.003 and 0.017 that the feature `vol` announces a day ahead (a calendar
    effect). Returns the task (60/20/20 split, 17-day windows) and, by origin t, the mean and sd of the
    normal distribution of r[t+1] given what is known at t."""
    rng = np.random.default_rng(seed)
    steps = np.arange(days)
    sigma = 0.01 * (1.0 + 0.7 * np.sin(2.0 * np.pi * steps / 50.0))
    returns = np.zeros(days)
    for t in range(1, days):
        returns[t] = AR_COEFFICIENT * returns[t - 1] + sigma[t] * rng.standard_normal()
    index = pd.bdate_range("2001-01-01", periods=days)
    close = 50.0 * np.exp(np.cumsum(returns))
    frame = pd.DataFrame({"close": close, "volume": 1e6}, index=index)
    panel = Panel(target="SYN", frame=frame, assets=(), sources={"SYN": "synthetic"})
    truth = pd.DataFrame(
        {"mean": AR_COEFFICIENT * returns, "sd": np.append(sigma[1:], np.nan)}, index=index
    ).iloc[:-1]
    features = pd.DataFrame({"close": close[:-1], "vol": truth["sd"]}, index=truth.index)
    split = make_split(
        features.index, SplitConfig.model_validate({"train_end": 0.6, "val_end": 0.8}), min_rows=19
    )
    return ForecastTask(panel=panel, features=features, split=split, seed=seed, seq_len=17), truth
