"""The leaderboard's statistics are wired the right way round: known sign, known significance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.config import EvaluationConfig
from gan_trader.data.panel import Panel
from gan_trader.data.splits import Split
from gan_trader.evaluation.lag import lag_diagnostic
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.models.base import Forecast, ForecastTask


def synthetic_task(n: int = 1500, seed: int = 5) -> ForecastTask:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0, 0.01, n)
    dates = pd.bdate_range("2001-01-02", periods=n + 1)
    close = 50 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    frame = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=dates
    )
    split = Split(train_end=dates[700], val_end=dates[900], test_end=dates[-1])
    return ForecastTask(panel=Panel("SYN", frame, (), {}), features=frame[["close"]], split=split)


def scaled_truth(task: ForecastTask, scale: float, noise: float = 0.002, seed: int = 0) -> Forecast:
    """A forecast of scale x the realised next-day return, plus noise: skill when scale > 0."""
    origins = task.origins("test")
    truth = task.next_day_returns().loc[origins].to_numpy()
    values = scale * truth + np.random.default_rng(seed).normal(0, noise, len(origins))
    return Forecast.from_returns(f"scale{scale:+g}", task, origins, values)


@pytest.fixture(scope="module")
def board():
    task = synthetic_task()
    forecasts = [scaled_truth(task, 0.3), scaled_truth(task, -0.3)]
    return task, evaluate(task, forecasts, EvaluationConfig(baselines=["persistence"]))


def test_a_skilled_forecast_beats_persistence_significantly(board) -> None:
    _, leaderboard = board
    row = leaderboard.table.loc["scale+0.3"]
    assert row["relmae"] < 1
    assert row["dm_stat"] < 0 and row["dm_pvalue"] < 1e-6  # negative: the model's losses are smaller
    assert row["pt_stat"] > 0 and row["pt_pvalue"] < 1e-6  # its signs agree with the realised ones
    assert "beats persistence on relMAE: yes" in leaderboard.verdicts["scale+0.3"]


def test_an_anti_skilled_forecast_loses_and_has_no_direction(board) -> None:
    _, leaderboard = board
    row = leaderboard.table.loc["scale-0.3"]
    assert row["relmae"] > 1
    assert row["dm_stat"] > 0 and row["dm_pvalue"] < 1e-6
    assert row["pt_stat"] < 0 and row["pt_pvalue"] > 0.999  # one-sided: wrong signs are no skill


def test_lag_diagnostic_on_skilled_no_skill_and_lagging_forecasts(board) -> None:
    task, _ = board
    skilled = lag_diagnostic(task, scaled_truth(task, 0.3), "return")
    assert skilled.peak_lag == 0 and not skilled.no_skill
    noise = scaled_truth(task, 0.0, noise=0.01, seed=3)
    assert lag_diagnostic(task, noise, "return").no_skill
    origins = task.origins("test")
    yesterday = task.next_day_returns().shift(1).loc[origins].to_numpy()  # the return known at t
    lagging = Forecast.from_returns("lagging", task, origins, yesterday)
    diagnostic = lag_diagnostic(task, lagging, "return")
    assert diagnostic.peak_lag == 1 and diagnostic.no_skill
    # "Repeats yesterday" is a price-level flag: return models are never given it.
    assert not diagnostic.repeats_yesterday


def test_the_model_comparisons_name_the_skilled_model(board) -> None:
    _, leaderboard = board
    assert leaderboard.table.loc["scale+0.3", "in_mcs"] and not leaderboard.table.loc["persistence", "in_mcs"]
    spa = leaderboard.comparisons["spa_points"]
    assert spa.spa_pvalue < 0.01 and spa.better == ("scale+0.3",)
    assert any("model confidence set: scale+0.3" in line for line in leaderboard.comparison_lines())


def sampled(task: ForecastTask, name: str, sd_factor: float, seed: int) -> Forecast:
    """A Gaussian forecast distribution whose sd is sd_factor x the true 0.01 (1 is the truth)."""
    origins = task.origins("test")
    draws = np.random.default_rng(seed).normal(0.0, 0.01 * sd_factor, (len(origins), 400))
    return Forecast.from_returns(name, task, origins, np.zeros(len(origins)), draws)


def test_the_named_references_and_the_benchmark_columns_run_the_right_way() -> None:
    """A calibrated distribution is better than one twice too wide: the one-sided p-value against the wide
    one is small, the reverse is near 1; the CRPS DM statistic against the best simple baseline carries the
    sign of (model - benchmark)."""
    task = synthetic_task()
    forecasts = [
        sampled(task, "calibrated", 1.0, 1),
        sampled(task, "garch_t", 2.0, 2),  # a reference by name, and a simple baseline
        sampled(task, "har_t", 1.0, 3),
    ]
    config = EvaluationConfig(baselines=["persistence"], references=["garch_t", "har_t", "not_run"])
    leaderboard = evaluate(task, forecasts, config)
    table = leaderboard.table
    assert leaderboard.references == ["garch_t", "har_t"]
    assert "p_better_not_run" not in table
    assert table.loc["calibrated", "p_better_garch_t"] < 1e-6
    assert table.loc["garch_t", "p_better_har_t"] > 1 - 1e-6
    assert 0.01 < table.loc["calibrated", "p_better_har_t"] < 0.99  # the same distribution: no verdict
    assert np.isnan(table.loc["garch_t", "p_better_garch_t"])
    # garch_t is the only simple baseline: the benchmark. The calibrated model's CRPS is lower: DM < 0.
    assert leaderboard.crps_benchmark == "garch_t"
    assert table.loc["calibrated", "crps_dm_stat"] < 0 and table.loc["calibrated", "crps_dm_pvalue"] < 1e-6
