"""Download daily prices from Yahoo Finance as Yahoo-style CSV files (`gan-trader data fetch`).

Needs the optional `online` extra (yfinance) and a network connection; without either, one line says so.
Every ticker is downloaded and checked with the loaders' own validation before any file is written, so a
refused fetch writes nothing. Files are `<out>/<TICKER>.csv` with `Date, Open, High, Low, Close, Adj Close,
Volume` (dates in the exchange's calendar), ready for `data.prices_dir`.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from gan_trader.data.loaders import frame_from_table, normalise_column
from gan_trader.errors import DataError
from gan_trader.io import write_text

YAHOO_COLUMNS = ("Open", "High", "Low", "Close", "Adj Close", "Volume")
EXTRA_HINT = "pip install 'gan-trader[online]'"

# (ticker, start, end) -> yfinance's history frame: a Date index (exchange time zone) and YAHOO_COLUMNS.
Downloader = Callable[[str, str | None, str | None], pd.DataFrame]


@contextlib.contextmanager
def _captured(logger_name: str) -> Iterator[list[str]]:
    """Collect what a library logs at ERROR instead of letting it reach stderr (the CLI prints one line)."""
    messages: list[str] = []

    class Collector(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger(logger_name)
    handler, propagate = Collector(logging.ERROR), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def yfinance_history(ticker: str, start: str | None, end: str | None) -> pd.DataFrame:
    """Daily bars of `ticker` from Yahoo Finance through yfinance (unadjusted OHLC plus Adj Close)."""
    try:
        import yfinance
    except ImportError:
        raise DataError(f"data fetch needs the optional `online` extra: {EXTRA_HINT}") from None
    span = {"period": "max"} if start is None and end is None else {"start": start, "end": end}
    with _captured("yfinance") as errors:
        try:
            history = yfinance.Ticker(ticker).history(interval="1d", auto_adjust=False, actions=False, **span)
        except Exception as exc:  # network, rate-limit and parsing errors of yfinance and its HTTP client
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"{ticker}: the download from Yahoo Finance failed ({reason[:200]}); check the network "
                "connection and the ticker"
            ) from None
    if history is None or history.empty:
        reason = errors[-1].strip().splitlines()[0][:200] if errors else "no rows"
        raise DataError(
            f"{ticker}: Yahoo Finance returned no daily prices ({reason}); check the network connection, "
            "the ticker and the dates"
        )
    return history


def yahoo_frame(history: pd.DataFrame, ticker: str) -> pd.DataFrame:
    """yfinance's history frame as the rows of a Yahoo CSV file: one row per exchange date, YAHOO_COLUMNS;
    checked by the loaders' own validation (DataError naming the ticker)."""
    missing = [c for c in ("Open", "High", "Low", "Close") if c not in history.columns]
    if missing:
        raise DataError(f"{ticker}: Yahoo Finance's answer has no column {missing[0]!r}")
    index = pd.DatetimeIndex(history.index)
    if index.tz is not None:  # midnight in the exchange's zone: that wall-clock date is the trading day
        index = index.tz_localize(None)
    frame = history.reindex(columns=[c for c in YAHOO_COLUMNS if c in history.columns])
    frame.index = pd.DatetimeIndex(index.normalize(), name="Date")
    frame = frame.dropna(how="all")
    table = frame.reset_index().astype({"Date": str})
    table.columns = [normalise_column(c) for c in table.columns]
    frame_from_table(table.astype(str), f"{ticker} (from Yahoo Finance)")
    return frame


def fetch_prices(
    tickers: list[str],
    out: str | Path,
    start: str | None = None,
    end: str | None = None,
    download: Downloader = yfinance_history,
) -> list[Path]:
    """Download every ticker, check it, then write `<out>/<TICKER>.csv` for each (atomically)."""
    frames = {ticker: yahoo_frame(download(ticker, start, end), ticker) for ticker in dict.fromkeys(tickers)}
    written = []
    for ticker, frame in frames.items():
        path = Path(out) / f"{ticker.replace('/', '-')}.csv"
        buffer = io.StringIO()
        frame.to_csv(buffer, date_format="%Y-%m-%d")
        write_text(path, buffer.getvalue())
        written.append(path)
    return written
