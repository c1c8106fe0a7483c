"""Regenerate the bundled real dataset under `data/` from the PyPI packages that ship it.

Experiments read the committed files; only this command needs the `sample` extra (pmdarima, arch, skfolio).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gan_trader.errors import DataError
from gan_trader.io import atomic_path

START = dt.date(1999, 1, 4)
END = dt.date(2017, 11, 10)
TARGET = "MSFT"
# Loaded from skfolio's adjusted closes; MSFT is excluded there because pmdarima's OHLCV is the target.
LARGE_CAPS = (
    "AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO",
    "LLY", "MRK", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM",
)  # fmt: skip


def _import(module: str) -> object:
    try:
        return __import__(module, fromlist=["_"])
    except ImportError:
        raise DataError(
            f"data build-sample needs the package that ships '{module}': pip install -e '.[sample]'"
        ) from None


def _msft() -> pd.DataFrame:
    datasets = _import("pmdarima.datasets")
    frame = datasets.load_msft()  # type: ignore[attr-defined]
    frame = frame.drop(columns=["OpenInt"]).set_index("Date")
    frame.index = pd.to_datetime(frame.index)
    return frame


def _arch(name: str) -> pd.DataFrame:
    module = _import(f"arch.data.{name}")
    frame = module.load()  # type: ignore[attr-defined]
    frame.index = pd.to_datetime(frame.index)
    frame.index.name = "Date"
    return frame


def _close_only(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.iloc[:, :1].rename(columns={frame.columns[0]: "Close"}).dropna()


def _large_caps() -> dict[str, pd.DataFrame]:
    datasets = _import("skfolio.datasets")
    prices = datasets.load_sp500_dataset()  # type: ignore[attr-defined]
    prices.index = pd.to_datetime(prices.index)
    prices.index.name = "Date"
    return {ticker: prices[[ticker]].rename(columns={ticker: "Adj Close"}) for ticker in LARGE_CAPS}


SOURCES: dict[str, Callable[[], dict[str, pd.DataFrame]]] = {
    "pmdarima": lambda: {TARGET: _msft()},
    "arch": lambda: {
        "SP500": _arch("sp500"),
        "NASDAQ": _arch("nasdaq"),
        "WTI": _close_only(_arch("wti")),
    },
    "skfolio": _large_caps,
}


def build_sample(
    out_dir: str | Path = "data/prices", start: dt.date = START, end: dt.date = END
) -> list[Path]:
    """Write one CSV per asset (Yahoo-style columns), clipped to the common span; returns the paths."""
    out = Path(out_dir)
    frames: dict[str, pd.DataFrame] = {}
    for loader in SOURCES.values():
        frames.update(loader())
    written = []
    for name, frame in sorted(frames.items()):
        clipped = frame.loc[pd.Timestamp(start) : pd.Timestamp(end)]
        path = out / f"{name}.csv"
        with atomic_path(path) as tmp:
            clipped.to_csv(tmp, index_label="Date", date_format="%Y-%m-%d", float_format="%.6g")
        written.append(path)
    return written


def build_core_cpi(out_dir: str | Path = "data/macro", end: dt.date = END) -> Path:
    """US core CPI (monthly, FRED via arch): an example low-frequency series, stamped by period start."""
    frame = _close_only(_arch("core_cpi")).loc[: pd.Timestamp(end)]
    path = Path(out_dir) / "CORE_CPI.csv"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index_label="Date", date_format="%Y-%m-%d")
    return path
