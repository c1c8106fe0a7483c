"""The leaderboard: every forecast scored on the same test days, always against persistence.

One row per model: MAE / RMSE / MASE in return space, MAE / RMSE / MAPE / MASE in price space, directional
accuracy with the Pesaran-Timmermann p-value, Diebold-Mariano against persistence (absolute loss, the loss
MASE measures), CRPS and 90 % coverage where the model samples, the lag diagnostic and backtest figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import EvaluationConfig
from gan_trader.evaluation.backtest import BacktestResult, backtest_forecast
from gan_trader.evaluation.lag import LagDiagnostic, lag_diagnostic
from gan_trader.evaluation.stats_tests import diebold_mariano, pesaran_timmermann
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.models.scoring import (
    crps_ensemble,
    directional_accuracy,
    interval_coverage,
    mape,
    mase,
)

PERSISTENCE = "persistence"
COVERAGE_LEVEL = 0.90

# Columns shown by the compact printer, with their headers (all columns stay in `table`).
SUMMARY_COLUMNS = {
    "mase": "MASE",
    "price_mase": "MASE px",
    "price_mape": "MAPE %",
    "directional_accuracy": "DirAcc",
    "pt_pvalue": "PT p",
    "dm_stat": "DM",
    "dm_pvalue": "DM p",
    "crps": "CRPS",
    "coverage_90": "cov90",
    "lag_peak_price": "lag",
    "long_flat_sharpe": "LF Sharpe",
    "long_flat_cagr": "LF CAGR",
}


@dataclass
class Leaderboard:
    """Scores (one row per model), a verdict per model and the backtests / lag profiles behind them."""

    table: pd.DataFrame
    verdicts: dict[str, str]
    backtests: dict[str, dict[str, BacktestResult]] = field(default_factory=dict)
    lags: dict[str, LagDiagnostic] = field(default_factory=dict)
    primary: str | None = None

    @property
    def verdict(self) -> str:
        """The verdict line of the primary model (the first non-persistence forecast given)."""
        if self.primary is None:
            return "no model besides persistence was evaluated"
        return self.verdicts[self.primary]

    def to_rich(self, columns: dict[str, str] | None = None) -> Any:
        """A rich Table of the main columns, best MASE first."""
        from rich.table import Table

        columns = columns or SUMMARY_COLUMNS
        table = Table(title="Leaderboard (test days; MASE < 1 beats persistence)")
        table.add_column("model", style="bold", no_wrap=True)
        shown = [c for c in columns if c in self.table.columns]
        for column in shown:
            table.add_column(columns[column], justify="right")
        for model, row in self.table.sort_values("mase").iterrows():
            style = "green" if row["mase"] < 1 else None
            table.add_row(str(model), *(_format(row[c]) for c in shown), style=style)
        return table

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        console = console or Console()
        console.print(self.to_rich())
        for line in self.verdicts.values():
            console.print(line)


def _format(value: Any) -> str:
    if value is pd.NA:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "-"
        number = float(value)
        return f"{number:.4f}" if abs(number) < 1000 else f"{number:.3g}"
    return str(value)


def verdict_line(model: str, row: pd.Series) -> str:
    """'MODEL beats persistence on MASE: yes/no (MASE x, DM p = y)' in plain words."""
    if model == PERSISTENCE:
        return f"{model}: the reference (MASE 1 by construction)"
    beats = row["mase"] < 1
    significant = beats and row["dm_pvalue"] < 0.05
    note = " — significant at 5 %" if significant else (" — not significant" if beats else "")
    return (
        f"{model} beats persistence on MASE: {'yes' if beats else 'no'} "
        f"(MASE {row['mase']:.4f}, Diebold-Mariano p = {row['dm_pvalue']:.3g}){note}"
    )


def score_forecast(
    task: ForecastTask, forecast: Forecast, config: EvaluationConfig
) -> tuple[dict[str, Any], dict[str, BacktestResult], LagDiagnostic]:
    """Every leaderboard figure of one forecast, with its backtests and lag profile."""
    close = task.close
    anchor = close.loc[forecast.origins].to_numpy(dtype=float)
    actual_price = close.loc[forecast.target_dates].to_numpy(dtype=float)
    actual_return = np.log(actual_price / anchor)
    zero = np.zeros_like(actual_return)
    error = forecast.log_return - actual_return
    price_error = forecast.price - actual_price
    pt = pesaran_timmermann(actual_return, forecast.log_return)
    dm = diebold_mariano(actual_return, forecast.log_return, zero, loss="absolute")
    row: dict[str, Any] = {
        "days": len(actual_return),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "mase": mase(actual_return, forecast.log_return, zero),
        "price_mae": float(np.mean(np.abs(price_error))),
        "price_rmse": float(np.sqrt(np.mean(price_error**2))),
        "price_mape": mape(actual_price, forecast.price),
        "price_mase": mase(actual_price, forecast.price, anchor),
        # A forecast that never leaves zero (persistence) has no direction to score.
        "directional_accuracy": (
            directional_accuracy(actual_return, forecast.log_return)
            if np.any(forecast.log_return != 0)
            else np.nan
        ),
        "pt_stat": pt.statistic,
        "pt_pvalue": pt.pvalue,
        "dm_stat": dm.statistic,
        "dm_pvalue": dm.pvalue,
        "crps": np.nan,
        "coverage_90": np.nan,
    }
    if forecast.samples is not None and np.size(forecast.samples):
        samples = np.asarray(forecast.samples, float)
        tail = (1 - COVERAGE_LEVEL) / 2
        row["crps"] = crps_ensemble(actual_return, samples)
        row["coverage_90"] = interval_coverage(
            actual_return, np.quantile(samples, tail, axis=1), np.quantile(samples, 1 - tail, axis=1)
        )
    lag = lag_diagnostic(task, forecast, "price")
    lag_return = lag_diagnostic(task, forecast, "return")
    row["lag_peak_price"] = lag.peak_lag
    row["repeats_yesterday"] = lag.repeats_yesterday
    row["lags_behind"] = lag.lags_behind
    row["lag_peak_return"] = lag_return.peak_lag
    backtests = backtest_forecast(task, forecast, config.backtest.cost_bps, config.backtest.hold_days)
    for mode, result in backtests.items():
        for key in ("cagr", "sharpe", "max_drawdown", "hit_rate", "turnover"):
            row[f"{mode}_{key}"] = result.summary[key]
    return row, backtests, lag


def persistence_forecast(task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
    return Forecast.from_returns(PERSISTENCE, task, origins, np.zeros(len(origins)))


def evaluate(task: ForecastTask, forecasts: list[Forecast], config: EvaluationConfig) -> Leaderboard:
    """Score forecasts on their test days; persistence is added when it is not among them."""
    if not forecasts:
        raise ValueError("evaluate needs at least one forecast")
    names = [f.model for f in forecasts]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"two forecasts are named {sorted(duplicates)[0]!r}; model names must be unique")
    primary = next((f.model for f in forecasts if f.model != PERSISTENCE), None)
    if PERSISTENCE not in names:
        forecasts = [*forecasts, persistence_forecast(task, forecasts[0].origins)]
    rows, backtests, lags = {}, {}, {}
    for forecast in forecasts:
        rows[forecast.model], backtests[forecast.model], lags[forecast.model] = score_forecast(
            task, forecast, config
        )
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    for column in ("lag_peak_price", "lag_peak_return"):
        table[column] = table[column].astype("Int64")
    verdicts = {model: verdict_line(str(model), row) for model, row in table.iterrows()}
    return Leaderboard(table=table, verdicts=verdicts, backtests=backtests, lags=lags, primary=primary)
