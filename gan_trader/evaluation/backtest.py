"""Trading backtest of a forecast's sign: long/flat and long/short, with costs and a holding period.

At the close of origin t the strategy takes a position from the sign of the forecast for t+1 and earns the
target's return over t -> t+1. With `hold_days = h` a position is re-decided only every h days (at origins
0, h, 2h, ... of the test span) and held in between. Costs: `cost_bps` per unit of position change (entering
from flat at the start counts). Buy-and-hold is the same engine with a constant long position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from gan_trader.models.base import Forecast, ForecastTask

TRADING_DAYS = 252
Mode = Literal["long_flat", "long_short", "buy_hold"]


@dataclass
class BacktestResult:
    """Daily strategy returns and equity (indexed by target day), positions and summary figures."""

    mode: str
    returns: pd.Series
    equity: pd.Series
    positions: pd.Series
    summary: dict[str, float]


def positions_from_signal(signal: np.ndarray, mode: Mode, hold_days: int = 1) -> np.ndarray:
    """Position per origin: sign of the signal (long/flat: 1 or 0; long/short: 1 or -1), held `hold_days`."""
    signal = np.asarray(signal, float)
    if mode == "buy_hold":
        return np.ones(len(signal))
    decided = np.where(signal > 0, 1.0, 0.0 if mode == "long_flat" else -1.0)
    if mode == "long_short":
        decided[signal == 0] = 0.0
    decision_days = np.arange(len(signal)) // hold_days * hold_days
    return decided[decision_days]


def summarise(
    returns: np.ndarray, positions: np.ndarray, periods_per_year: int = TRADING_DAYS
) -> dict[str, float]:
    """CAGR, annualised Sharpe (zero risk-free rate), max drawdown, hit rate and mean daily turnover."""
    returns = np.asarray(returns, float)
    equity = np.cumprod(1.0 + returns)
    years = len(returns) / periods_per_year
    final = float(equity[-1]) if len(equity) else 1.0
    cagr = final ** (1.0 / years) - 1.0 if years > 0 and final > 0 else float("nan")
    std = float(np.std(returns, ddof=1)) if len(returns) > 1 else 0.0
    sharpe = float(np.mean(returns)) / std * np.sqrt(periods_per_year) if std > 0 else float("nan")
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    max_drawdown = float(np.min(equity / peak - 1.0)) if len(equity) else 0.0
    invested = positions != 0
    hit_rate = float(np.mean(returns[invested] > 0)) if invested.any() else float("nan")
    turnover = np.abs(np.diff(np.concatenate([[0.0], positions])))
    return {
        "total_return": final - 1.0,
        "cagr": float(cagr),
        "sharpe": sharpe,
        "max_drawdown": max_drawdown,
        "hit_rate": hit_rate,
        "turnover": float(np.mean(turnover)) if len(turnover) else 0.0,
        "exposure": float(np.mean(invested)) if len(invested) else 0.0,
    }


def run_backtest(
    signal: np.ndarray,
    log_returns: np.ndarray,
    mode: Mode,
    cost_bps: float = 5.0,
    hold_days: int = 1,
    index: pd.DatetimeIndex | None = None,
) -> BacktestResult:
    """Backtest a signal against realised next-day log returns (both aligned by origin)."""
    log_returns = np.asarray(log_returns, float)
    positions = positions_from_signal(signal, mode, hold_days)
    changes = np.abs(np.diff(np.concatenate([[0.0], positions])))
    gross = positions * np.expm1(log_returns)
    net = gross - changes * cost_bps / 1e4
    index = index if index is not None else pd.RangeIndex(len(net))
    returns = pd.Series(net, index=index, name=mode)
    return BacktestResult(
        mode=mode,
        returns=returns,
        equity=(1.0 + returns).cumprod(),
        positions=pd.Series(positions, index=index, name="position"),
        summary=summarise(net, positions),
    )


def backtest_forecast(
    task: ForecastTask, forecast: Forecast, cost_bps: float = 5.0, hold_days: int = 1
) -> dict[str, BacktestResult]:
    """Long/flat, long/short and buy-and-hold on the forecast's test days.

    A model that defines its own holding period (`extra["hold_days"]`, e.g. the return LSTM's 5) keeps it;
    every other forecast is held `hold_days` (evaluation.backtest.hold_days).
    """
    hold = int(forecast.extra.get("hold_days", hold_days))
    close = task.close
    realised = np.log(close.loc[forecast.target_dates].to_numpy() / close.loc[forecast.origins].to_numpy())
    results = {}
    for mode in ("long_flat", "long_short", "buy_hold"):
        results[mode] = run_backtest(
            forecast.log_return,
            realised,
            mode,
            cost_bps,  # type: ignore[arg-type]
            hold,
            forecast.target_dates,
        )
    return results
