"""The default feature set on any Yahoo-style file: range-based members where High/Low exist, close-based ones
with one note otherwise; a feature constant on the training span is dropped with a line naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from gan_trader.config import load_config
from gan_trader.features.pipeline import FeaturePipeline
from gan_trader.workflow.prepare import build_context, load_panel

FAST_BUILDERS = {"technical": {"rsi": True, "atr": True, "obv": True}, "volatility": {}, "assets": {}}


def features_for(target: str, prices: Path, builders: dict = FAST_BUILDERS):  # type: ignore[no-untyped-def]
    config = load_config(
        None,
        [
            f"data.target={target}",
            f"data.prices_dir={prices}",
            "data.start=2012-01-01",
            "features.cache_dir=null",
            "data.asset_classes={WTI: commodity}",
        ],
    )
    config.features.builders = dict(builders)
    panel = load_panel(config)
    pipeline = FeaturePipeline(config.features.builders, build_context(config, panel))
    return pipeline.fit_transform(panel.frame, panel.frame.index[600], use_cache=False)


def test_a_yahoo_style_ohlcv_file_gets_the_range_based_members(prices_dir: Path) -> None:
    """SP500.csv is a Yahoo download as it comes (Date, Open, High, Low, Close, Adj Close, Volume)."""
    header = (prices_dir / "SP500.csv").read_text().splitlines()[0]
    assert header == "Date,Open,High,Low,Close,Adj Close,Volume"
    built = features_for("SP500", prices_dir)
    columns = set(built.columns)
    assert {
        "volatility.log_parkinson_22d",
        "volatility.log_garman_klass_1d",
        "technical.atr14_ratio",
    } <= columns
    assert "volatility.log_market_abs_return_5d" in columns
    assert "close" not in columns and not any(c.endswith(".close") for c in columns)
    assert built.notes == []


def test_a_close_only_file_gets_the_close_based_members_and_notes(prices_dir: Path) -> None:
    built = features_for("JPM", prices_dir)
    columns = set(built.columns)
    assert not [c for c in columns if "parkinson" in c or "garman" in c or "atr" in c or "obv" in c]
    assert {"volatility.log_ewma_10d", "volatility.abs_return_lag0", "technical.rsi14"} <= columns
    assert built.notes == [
        "technical: atr left out: the target's file has no High/Low columns",
        "technical: obv left out: the target's file has no Volume column",
        "volatility: parkinson left out: the target's file has no High/Low columns",
        "volatility: garman_klass left out: the target's file has no High/Low columns",
    ]


def test_a_feature_constant_on_the_training_span_is_dropped_with_a_line(
    tmp_path: Path, prices_dir: Path
) -> None:
    for name in ("MSFT", "JPM"):
        (tmp_path / f"{name}.csv").write_text((prices_dir / f"{name}.csv").read_text())
    jpm = pd.read_csv(prices_dir / "JPM.csv")
    frozen = jpm.copy()
    frozen["Adj Close"] = np.where(pd.to_datetime(frozen["Date"]) < "2015-06-01", 40.0, frozen["Adj Close"])
    frozen.to_csv(tmp_path / "FROZEN.csv", index=False)
    built = features_for("MSFT", tmp_path, {"assets": {}})
    dropped = [n for n in built.notes if "constant on the training span" in n]
    assert dropped == [
        "feature 'assets.FROZEN.log_return' is constant on the training span: dropped",
        "feature 'assets.FROZEN.vol20' is constant on the training span: dropped",
    ]
    assert "assets.FROZEN.log_return" not in built.columns and "assets.JPM.log_return" in built.columns
