"""Price files load as they come and align into a causal panel (bad price files: tests/catalogue/)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_trader.config import DataConfig
from gan_trader.data.loaders import load_asset_file, load_long_file
from gan_trader.data.panel import build_panel
from gan_trader.errors import DataError

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2020-01-02,10,11,9,10.5,5.25,1000
2020-01-03,10.5,11.5,10,11,5.5,1200
2020-01-06,11,12,10.5,11.5,5.75,null
2020-01-07,11.5,12,11,12,6,900
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_yahoo_file_accepted_as_is(tmp_path: Path) -> None:
    series = load_asset_file(write(tmp_path / "ACME.csv", YAHOO))
    assert series.name == "ACME"
    assert list(series.frame.columns) == ["open", "high", "low", "close", "volume"]
    # Adjusted close replaces close, and OHLC is rescaled by the same factor (here 0.5).
    assert series.frame["close"].tolist() == [5.25, 5.5, 5.75, 6.0]
    assert series.frame["high"].iloc[0] == pytest.approx(5.5)
    assert np.isnan(series.frame["volume"].iloc[2])


def test_bundled_files_load(prices_dir: Path) -> None:
    msft = load_asset_file(prices_dir / "MSFT.csv")
    assert len(msft.frame) > 4700 and msft.frame.index.is_monotonic_increasing
    wti = load_asset_file(prices_dir / "WTI.csv")
    assert wti.close_only


def test_descending_file_is_reversed(tmp_path: Path) -> None:
    lines = YAHOO.strip().splitlines()
    series = load_asset_file(write(tmp_path / "D.csv", "\n".join([lines[0], *lines[:0:-1]]) + "\n"))
    assert series.frame.index.is_monotonic_increasing
    assert series.frame["close"].iloc[0] == 5.25


def test_single_value_column_is_a_close_series(tmp_path: Path) -> None:
    series = load_asset_file(
        write(tmp_path / "CPI.csv", "DATE,CPIAUCSL\n2020-01-01,250.1\n2020-02-01,250.4\n")
    )
    assert series.close_only and series.frame["close"].iloc[1] == 250.4


def test_long_format(tmp_path: Path) -> None:
    rows = ["date,asset,field,value"]
    for day in ("2020-01-02", "2020-01-03", "2020-01-06"):
        rows += [f"{day},AAA,close,10", f"{day},BBB,Adj Close,20"]
    series = {s.name: s for s in load_long_file(write(tmp_path / "long.csv", "\n".join(rows) + "\n"))}
    assert set(series) == {"AAA", "BBB"}
    assert series["BBB"].frame["close"].tolist() == [20.0, 20.0, 20.0]


def test_parquet(tmp_path: Path) -> None:
    frame = pd.read_csv(write(tmp_path / "a.csv", YAHOO))
    frame.to_parquet(tmp_path / "ACME.parquet")
    series = load_asset_file(tmp_path / "ACME.parquet")
    assert series.frame["close"].iloc[-1] == 6.0


def _panel_dir(tmp_path: Path, target: pd.Series, other: pd.Series) -> Path:
    folder = tmp_path / "prices"
    folder.mkdir()
    target.rename("Close").to_csv(folder / "T.csv", index_label="Date")
    other.rename("Close").to_csv(folder / "O.csv", index_label="Date")
    return folder


def test_alignment_is_causal_and_bounded(tmp_path: Path) -> None:
    days = pd.bdate_range("2020-01-01", periods=30)
    target = pd.Series(np.arange(1.0, 31.0), index=days)
    # The other asset misses days 10..12 (3 days) and starts one day late.
    other = pd.Series(np.arange(101.0, 131.0), index=days).drop(days[[0, 10, 11, 12]])
    folder = _panel_dir(tmp_path, target, other)
    panel = build_panel(DataConfig(prices_dir=folder, target="T", max_ffill_days=5))
    frame = panel.frame
    assert frame.index[0] == days[1]  # trimmed to the first day every asset is known; no backfill
    assert frame.loc[days[11], "O.close"] == 110.0  # forward-filled from day 9
    with pytest.raises(DataError, match="allowed forward fill"):
        build_panel(DataConfig(prices_dir=folder, target="T", max_ffill_days=2))


def test_low_frequency_series_aligned_by_release(tmp_path: Path) -> None:
    days = pd.bdate_range("2020-01-01", "2020-06-30")
    target = pd.Series(np.linspace(1, 2, len(days)), index=days)
    monthly = pd.Series(
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], index=pd.date_range("2019-12-01", periods=6, freq="MS")
    )
    folder = _panel_dir(tmp_path, target, target)
    cpi = tmp_path / "CPI.csv"
    monthly.rename("Close").to_csv(cpi, index_label="Date")
    config = DataConfig(
        prices_dir=folder, target="T", assets=["CPI"], files=[{"path": cpi, "release_lag_days": 45}]
    )
    frame = build_panel(config).frame
    # The January value (stamped 2020-01-01) is known from 2020-02-15 on, not before.
    assert frame.loc["2020-02-14", "CPI.close"] == 1.0
    assert frame.loc["2020-02-17", "CPI.close"] == 2.0


def test_target_missing_and_too_few_rows(tmp_path: Path, prices_dir: Path) -> None:
    with pytest.raises(DataError, match="data.target: target 'NOPE'"):
        build_panel(DataConfig(prices_dir=prices_dir, target="NOPE"))
    with pytest.raises(DataError, match="fewer than the 500"):
        build_panel(DataConfig(prices_dir=prices_dir, start="2017-01-02"), min_rows=500)


def test_long_target_gap_is_an_error(tmp_path: Path) -> None:
    days = pd.bdate_range("2020-01-01", periods=40)
    target = pd.Series(np.arange(1.0, 41.0), index=days)
    target.iloc[10:20] = np.nan
    folder = _panel_dir(tmp_path, target, target)
    with pytest.raises(DataError, match="data.max_nan_run=5"):
        build_panel(DataConfig(prices_dir=folder, target="T"))
