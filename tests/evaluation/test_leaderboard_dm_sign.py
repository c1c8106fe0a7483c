"""Which way the leaderboard's Diebold-Mariano tests on per-day CRPS run: against the best simple baseline
(`crps_dm_stat`: negative when the model's CRPS is lower) and against the named references (`p_better_<ref>`:
small when the model is better). Swapping the model's and the benchmark's losses must fail here."""

from __future__ import annotations

import numpy as np
import pytest

from gan_trader.config import EvaluationConfig
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.models.baselines import run_baselines


def sampled(name: str, task: ForecastTask, spread: float, seed: int) -> Forecast:
    """Draws around the realised return with the given spread (an oracle when small, useless when wide)."""
    origins = task.origins("test")
    actual = task.next_day_returns().loc[origins].to_numpy()
    rng = np.random.default_rng(seed)
    samples = actual[:, None] + spread * rng.standard_normal((len(origins), 200))
    return Forecast.from_returns(name, task, origins, samples.mean(axis=1), samples)


@pytest.fixture
def board(small_task: ForecastTask):  # type: ignore[no-untyped-def]
    task = small_task
    baselines = run_baselines(["gauss_60d", "garch_t"], task, seed=0)
    good = sampled("sharp", task, spread=0.002, seed=1)  # far below the daily sd (about 1.5 %)
    bad = sampled("blurred", task, spread=0.2, seed=2)  # ten times too wide
    return evaluate(task, [good, bad, *baselines], EvaluationConfig(references=["garch_t"]), compare=False)


def test_the_best_simple_baseline_is_the_benchmark(board) -> None:  # type: ignore[no-untyped-def]
    table = board.table
    simple = table.loc[["gauss_60d", "garch_t"], "crps"]
    assert board.crps_benchmark == simple.idxmin()


def test_dm_statistic_is_negative_for_a_better_model_and_positive_for_a_worse_one(board) -> None:  # type: ignore[no-untyped-def]
    table = board.table
    benchmark = board.crps_benchmark
    assert table.loc["sharp", "crps"] < table.loc[benchmark, "crps"] < table.loc["blurred", "crps"]
    assert table.loc["sharp", "crps_dm_stat"] < -5
    assert table.loc["blurred", "crps_dm_stat"] > 5
    assert table.loc["sharp", "crps_dm_pvalue"] < 1e-6 and table.loc["blurred", "crps_dm_pvalue"] < 1e-6


def test_one_sided_references_say_is_it_better(board) -> None:  # type: ignore[no-untyped-def]
    table = board.table
    assert table.loc["sharp", "p_better_garch_t"] < 1e-6
    assert table.loc["blurred", "p_better_garch_t"] > 1 - 1e-6
    assert np.isnan(table.loc["garch_t", "p_better_garch_t"])
