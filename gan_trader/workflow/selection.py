"""A tuning session's selection, deflated: how many episodes were tried, the deflated Sharpe ratio of the
selected one's backtest and the probability of backtest overfitting over all of them.

The backtests are long/flat on each episode's validation forecast (the days the selection looked at), after
costs, so the statistics ask: is the chosen episode's edge on those days more than the best of N lucky tries?
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from gan_trader.config import ExperimentConfig
from gan_trader.evaluation.backtest import backtest_forecast
from gan_trader.evaluation.overfitting import SelectionReport, selection_report
from gan_trader.models.base import ForecastTask
from gan_trader.tuning.episode import EpisodeResult


def validation_returns(
    task: ForecastTask, episodes: Sequence[EpisodeResult], config: ExperimentConfig
) -> pd.DataFrame:
    """Daily long/flat returns (after costs) on the validation days, one column per finished episode."""
    columns = {}
    for episode in episodes:
        if episode.ok and episode.val_forecast is not None:
            result = backtest_forecast(task, episode.val_forecast, config.evaluation.backtest.cost_bps)
            columns[episode.index] = result["long_flat"].returns
    return pd.DataFrame(columns).dropna()


def session_selection(
    task: ForecastTask,
    episodes: Sequence[EpisodeResult],
    selected: EpisodeResult | None,
    config: ExperimentConfig,
) -> SelectionReport:
    """DSR of the selected episode and PBO over the session's episodes ("n/a" below ten episodes)."""
    returns = validation_returns(task, episodes, config)
    tried = len([e for e in episodes if e.ok])
    if selected is None or selected.index not in returns.columns:
        return SelectionReport(tried, None, None)
    return selection_report(returns.to_numpy(float), list(returns.columns).index(selected.index))
