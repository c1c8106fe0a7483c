"""The leaderboard scores every forecast against persistence; walk-forward refits per fold; seed summaries."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from gan_trader.config import EvaluationConfig, load_config
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.models.base import Forecast
from gan_trader.models.baselines import run_baselines
from gan_trader.tuning.executor import WorkerPool
from gan_trader.workflow.folds import (
    baseline_factories,
    evaluate_folds,
    format_mean_std,
    run_folds,
    seed_summary,
)
from gan_trader.workflow.prepare import fold_splits, load_panel
from gan_trader.workflow.run import BaselineRow


def sampled_forecast(task, origins, seed=0, name="sampler") -> Forecast:
    """A test double of a sampling model: Gaussian samples around a small return forecast."""
    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0005, 0.015, size=(len(origins), 40))
    return Forecast.from_returns(name, task, origins, np.median(samples, axis=1), samples)


def test_leaderboard_rows_columns_and_verdict(small_task):
    forecasts = run_baselines(["drift", "arima"], small_task, seed=0)
    forecasts.append(sampled_forecast(small_task, small_task.origins("test")))
    board = evaluate(small_task, forecasts, EvaluationConfig())
    table = board.table
    assert set(table.index) == {"drift", "arima", "sampler", "persistence"}  # persistence added
    for column in (
        "mae",
        "rmse",
        "relmae",
        "price_mape",
        "price_relmae",
        "directional_accuracy",
        "pt_pvalue",
        "dm_stat",
        "dm_pvalue",
        "crps",
        "coverage_90",
        "lag_peak_price",
        "repeats_yesterday",
        "long_flat_sharpe",
        "long_short_cagr",
        "buy_hold_max_drawdown",
        "long_flat_turnover",
    ):
        assert column in table.columns
    assert table.loc["persistence", "relmae"] == pytest.approx(1.0)
    assert np.isnan(table.loc["drift", "crps"]) and table.loc["sampler", "crps"] > 0
    assert 0 <= table.loc["sampler", "coverage_90"] <= 1
    assert board.primary == "drift"
    relmae = table.loc["drift", "relmae"]
    assert board.verdict.startswith(f"drift beats persistence on relMAE: {'yes' if relmae < 1 else 'no'}")
    assert f"p = {table.loc['drift', 'dm_pvalue']:.3g}" in board.verdict
    assert set(board.backtests["arima"]) == {"long_flat", "long_short", "buy_hold"}


def test_leaderboard_holds_a_model_for_its_own_period(small_task):
    origins = small_task.origins("test")
    flipping = Forecast.from_returns(
        "flip", small_task, origins, np.where(np.arange(len(origins)) % 2, 1.0, -1.0)
    )
    flipping.extra["hold_days"] = 5
    board = evaluate(small_task, [flipping], EvaluationConfig())
    positions = board.backtests["flip"]["long_flat"].positions.to_numpy()
    assert (positions[:5] == positions[0]).all()  # decided once per 5 days, not daily


def test_leaderboard_rich_table_renders(small_task):
    from rich.console import Console

    board = evaluate(small_task, run_baselines(["drift"], small_task, seed=0), EvaluationConfig())
    console = Console(record=True, width=200)
    board.print(console)
    text = console.export_text()
    assert "persistence" in text and "beats persistence on relMAE" in text


def three_fold_config():
    """Four years of the bundled panel, the close alone, three walk-forward folds."""
    return load_config(
        None,
        [
            "features.builders={}",
            "features.cache_dir=null",
            "data.start=2008-01-01",
            "data.end=2011-12-31",
            "split.walk_forward.folds=3",
            "gan.seq_len=8",
        ],
    )


def test_walk_forward_refits_each_fold():
    config = three_fold_config()
    result = run_folds(config, baseline_factories(["drift", "persistence"]))
    assert len(result.folds) == 3
    drift_levels = [fold["drift"].log_return[0] for fold in result.folds]
    assert len(set(np.round(drift_levels, 12))) == 3  # each fold's drift comes from its own training span
    joined = next(f for f in result.forecasts if f.model == "drift")
    assert joined.origins.is_monotonic_increasing and joined.origins.is_unique
    assert len(joined.origins) == sum(len(fold["drift"].origins) for fold in result.folds)
    # Each fold forecasts exactly its own test span.
    for fold, split in zip(result.folds, fold_splits(config, load_panel(config)), strict=True):
        assert fold["drift"].target_dates.min() > split.val_end
        assert fold["drift"].target_dates.max() <= split.test_end
    assert result.leaderboard.table.loc["persistence", "relmae"] == pytest.approx(1.0)


def test_seed_summary_mean_and_std():
    first = pd.DataFrame(
        {"relmae": [1.0, 0.9], "label": ["a", "b"]}, index=pd.Index(["p", "m"], name="model")
    )
    second = pd.DataFrame(
        {"relmae": [1.0, 1.1], "label": ["a", "b"]}, index=pd.Index(["p", "m"], name="model")
    )
    summary = seed_summary([first, second])
    assert summary.loc["m", ("relmae", "mean")] == pytest.approx(1.0)
    assert summary.loc["m", ("relmae", "std")] == pytest.approx(np.std([0.9, 1.1], ddof=1))
    assert summary.loc["p", ("relmae", "std")] == pytest.approx(0.0)
    assert format_mean_std(summary).loc["m", "relmae"] == "1.0000 ± 0.1414"


def test_folds_and_seeds_give_per_fold_pooled_and_mean_std_views():
    config = three_fold_config()
    panel = load_panel(config)

    def rows(prepared, seed):
        task = prepared.task
        origins = task.origins("test")
        noise = np.random.default_rng(seed).normal(0, 0.001, len(origins))
        return [
            lambda: [Forecast.from_returns("noisy", task, origins, noise)],
            lambda: run_baselines(["persistence"], task, seed),
        ]

    result = evaluate_folds(config, panel, rows, seeds=[1, 2])
    assert sorted(result.per_fold) == [(f, s) for f in range(3) for s in (1, 2)]
    table = result.fold_table()
    assert len(table) == 3 * 2 * 2 and set(table["model"]) == {"noisy", "persistence"}
    pooled = result.runs[1].leaderboard.table
    assert pooled.loc["noisy", "days"] == table[(table.seed == 1) & (table.model == "noisy")]["days"].sum()
    # Seeds give different forecasts, so the spread over folds x seeds is not zero.
    summary = result.summary()
    assert summary.loc["noisy", ("relmae", "std")] > 0 and summary.loc["persistence", ("relmae", "std")] == 0
    assert result.leaderboard is result.runs[1].leaderboard


def test_fold_jobs_in_worker_processes_give_the_tables_of_one_process():
    """The experiment's folds in two workers: every job's rows come back to their fold, seed and place."""
    config = three_fold_config()
    panel = load_panel(config)

    def rows(prepared, seed):
        task = prepared.task
        names = ("gauss_ewma", "gauss_60d", "drift")
        return [BaselineRow(name, task, seed, config.gan, "standard") for name in names]

    alone = evaluate_folds(config, panel, rows, seeds=[1, 2])
    pool = WorkerPool(2, torch_threads=1)
    try:
        pooled = evaluate_folds(config, panel, rows, seeds=[1, 2], pool=pool)
        assert pool.running == 0
    finally:
        pool.close()
    pd.testing.assert_frame_equal(pooled.fold_table(), alone.fold_table())
    for seed in (1, 2):
        pd.testing.assert_frame_equal(pooled.runs[seed].leaderboard.table, alone.runs[seed].leaderboard.table)
        assert [f.model for f in pooled.runs[seed].forecasts] == ["gauss_ewma", "gauss_60d", "drift"]
    # Every job ran in a worker (here: in this process), timed: 3 folds x 2 seeds x 3 models.
    assert len(pooled.jobs) == len(alone.jobs) == 18 and (pooled.jobs["seconds"] > 0).all()
    assert set(alone.jobs["process"]) == {os.getpid()} and os.getpid() not in set(pooled.jobs["process"])
