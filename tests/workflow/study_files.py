"""Synthetic price files and tiny study files for the study tests (a plain module the tests import).

Two targets whose next-day scale is known from today's range: close[t+1] = close[t] exp(s_t e), with
High/Low at close[t] exp(+-0.8 s_t), so the volatility group (Parkinson's range) carries the scale of
tomorrow's return, and s_t switches between a calm and a wild regime. A third series, close-only, is noise
that tells nothing about either target: it is the `assets` group's content (with the other target).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DAYS = 700


def regime_prices(seed: int, days: int = DAYS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    scale = np.empty(days)
    state = 0
    for t in range(days):
        if rng.random() < 1 / 30:  # regimes last about 30 days
            state = 1 - state
        scale[t] = (0.004, 0.03)[state]
    returns = np.concatenate([[0.0], scale[:-1] * rng.standard_t(6, days - 1) / np.sqrt(1.5)])
    close = 50.0 * np.exp(np.cumsum(returns))
    dates = pd.bdate_range("2012-01-02", periods=days)
    return pd.DataFrame(
        {
            "Date": dates.strftime("%Y-%m-%d"),
            "Open": np.concatenate([[close[0]], close[:-1]]),
            "High": close * np.exp(0.8 * scale),
            "Low": close * np.exp(-0.8 * scale),
            "Close": close,
            "Volume": rng.integers(1_000_000, 2_000_000, days),
        }
    )


def noise_prices(seed: int, days: int = DAYS) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 20.0 * np.exp(np.cumsum(0.01 * rng.standard_normal(days)))
    return pd.DataFrame(
        {"Date": pd.bdate_range("2012-01-02", periods=days).strftime("%Y-%m-%d"), "Close": close}
    )


def write_prices(folder: Path, short: bool = False) -> Path:
    """SYN_A, SYN_B (OHLCV with known scales), NOISE (close only); with `short` also SHORT (40 days)."""
    folder.mkdir(parents=True, exist_ok=True)
    regime_prices(1).to_csv(folder / "SYN_A.csv", index=False)
    regime_prices(2).to_csv(folder / "SYN_B.csv", index=False)
    noise_prices(3).to_csv(folder / "NOISE.csv", index=False)
    if short:
        regime_prices(4, days=40).to_csv(folder / "SHORT.csv", index=False)
    return folder


# A tiny experiment: one chronological split (or two folds), the volatility and assets builders, a GAN of
# four units trained for one epoch, few MH chains.
EXPERIMENT = """
name: tiny
seed: 7
data: {{target: SYN_A, prices_dir: {prices}}}
split: {{train_end: 0.6, val_end: 0.8, walk_forward: {{folds: {folds}}}}}
features: {{cache_dir: runs/cache/features, builders: {{volatility: {{}}, assets: {{}}}}}}
gan:
  epochs: 1
  seq_len: 5
  batch_size: 128
  generator: {{hidden: 4, head: 4, noise_dim: 2, conditioning: true, form: location_scale}}
  critic: {{filters: [4], dense: [8], kernel_size: 3, conditioning: false}}
  mh: {{chains: 20, candidates: 2, critic_epochs: 0}}
  val_samples: 8
tracking: {{uri: sqlite:///runs/mlflow.db, artifact_root: runs/artifacts}}
"""


def write_study(folder: Path, study: str, folds: int = 0, prices: str = "prices") -> Path:
    """tiny.yaml (the experiment) and study.yaml (`study`, YAML text that may omit `experiment`)."""
    (folder / "tiny.yaml").write_text(EXPERIMENT.format(prices=prices, folds=folds), encoding="utf-8")
    path = folder / "study.yaml"
    path.write_text("experiment: tiny.yaml\n" + study, encoding="utf-8")
    return path
