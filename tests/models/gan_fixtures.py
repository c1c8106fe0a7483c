"""Helpers shared by the model tests (plain functions: conftest.py and the test modules import them)."""

from __future__ import annotations

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
        "mh": {"candidates": 8},
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
