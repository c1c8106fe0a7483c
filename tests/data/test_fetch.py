"""`gan-trader data fetch`: Yahoo Finance through the optional `online` extra (yfinance), tested without
a network on a recorded answer.

The recording (recorded/yfinance_history_MSFT.csv) is what `yfinance.Ticker("MSFT").history(interval="1d",
auto_adjust=False, actions=False)` returns, written out with `DataFrame.to_csv`: a Date index at midnight in
the exchange's time zone (-04:00 before the 2017-11-05 clock change, -05:00 after), the unadjusted OHLC, Adj
Close and Volume. Its prices are the bundled MSFT file's, as this machine has no network to record a live
answer.
"""

from __future__ import annotations

import logging
import sys
import types
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from cli_runner import CliRunner

from gan_trader.data.loaders import load_asset_file

RECORDED = Path(__file__).with_name("recorded") / "yfinance_history_MSFT.csv"


def recorded_history() -> pd.DataFrame:
    frame = pd.read_csv(RECORDED, index_col="Date")
    frame.index = pd.DatetimeIndex(pd.to_datetime(frame.index, utc=True)).tz_convert("America/New_York")
    frame.index.name = "Date"
    return frame


def fake_yfinance(history: Any) -> types.ModuleType:
    """A stand-in for the yfinance module: `history` gives each call's answer (or raises)."""
    module = types.ModuleType("yfinance")
    calls: list[dict[str, Any]] = []

    class Ticker:
        def __init__(self, ticker: str) -> None:
            self.ticker = ticker

        def history(self, **kwargs: Any) -> pd.DataFrame:
            calls.append({"ticker": self.ticker, **kwargs})
            return history(self.ticker)

    module.Ticker = Ticker  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    return module


def unreachable(ticker: str) -> pd.DataFrame:
    """What yfinance does without a network: it logs the failure and answers an empty frame."""
    logging.getLogger("yfinance").error(
        "%s: Failed to get ticker '%s' reason: Could not resolve host", ticker, ticker
    )
    return pd.DataFrame()


def refused(ticker: str) -> pd.DataFrame:
    raise ConnectionError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")


def test_recorded_answer_becomes_a_file_the_loaders_accept(
    in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = fake_yfinance(lambda ticker: recorded_history())
    monkeypatch.setitem(sys.modules, "yfinance", module)
    code, out, err = run_cli(["data", "fetch", "MSFT", "--out", "prices"])
    assert code == 0, err
    assert "ok" in out and "MSFT" in out and "rows=10" in out
    assert module.calls == [
        {"ticker": "MSFT", "interval": "1d", "auto_adjust": False, "actions": False, "period": "max"}
    ]
    written = (in_tmp / "prices" / "MSFT.csv").read_text().splitlines()
    assert written[0] == "Date,Open,High,Low,Close,Adj Close,Volume"
    assert written[5].startswith("2017-11-03,") and written[6].startswith("2017-11-06,")  # exchange dates
    series = load_asset_file(in_tmp / "prices" / "MSFT.csv")
    assert series.frame.index[0] == pd.Timestamp("2017-10-30") and len(series.frame) == 10
    assert series.frame["close"].iloc[0] == pytest.approx(81.919424)  # Adj Close replaces Close


def test_dates_are_passed_on(in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    module = fake_yfinance(lambda ticker: recorded_history())
    monkeypatch.setitem(sys.modules, "yfinance", module)
    code, _out, err = run_cli(
        ["data", "fetch", "MSFT", "--out", "p", "--start", "2017-10-30", "--end", "2017-11-11"]
    )
    assert code == 0, err
    assert module.calls[0]["start"] == "2017-10-30" and module.calls[0]["end"] == "2017-11-11"
    assert "period" not in module.calls[0]


def _refuses(run_cli: CliRunner, workdir: Path, argv: list[str], *parts: str) -> None:
    before = sorted(p.name for p in workdir.iterdir())
    code, _out, err = run_cli(argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    for part in parts:
        assert part in lines[0], lines[0]
    assert sorted(p.name for p in workdir.iterdir()) == before, "a refused fetch wrote files"


def test_without_the_extra_one_line(
    in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", None)  # import fails, as without the extra
    _refuses(run_cli, in_tmp, ["data", "fetch", "MSFT", "--out", "prices"], "online", "pip install")


@pytest.mark.parametrize("answer", [unreachable, refused], ids=["empty answer", "connection error"])
def test_without_a_network_one_line(
    answer: Any, in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "yfinance", fake_yfinance(answer))
    _refuses(run_cli, in_tmp, ["data", "fetch", "MSFT", "--out", "prices"], "MSFT", "network", "resolve host")


def test_one_bad_ticker_writes_nothing(
    in_tmp: Path, run_cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers = {"MSFT": recorded_history, "NOSUCH": lambda: pd.DataFrame()}
    monkeypatch.setitem(sys.modules, "yfinance", fake_yfinance(lambda ticker: answers[ticker]()))
    _refuses(
        run_cli, in_tmp, ["data", "fetch", "MSFT", "NOSUCH", "--out", "prices"], "NOSUCH", "no daily prices"
    )


def test_bad_date_is_one_line(in_tmp: Path, run_cli: CliRunner) -> None:
    _refuses(
        run_cli,
        in_tmp,
        ["data", "fetch", "MSFT", "--out", "p", "--start", "someday"],
        "--start",
        "not a date",
    )
