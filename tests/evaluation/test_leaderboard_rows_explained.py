"""Every leaderboard row means what it shows: the reference of CRPS rel scores exactly 1, the `gan` row says
which samples it is (per fold) and carries the diagnostics of those samples, and no verdict prints a p-value
of nan without saying why."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_leaderboard_wiring import scaled_truth, synthetic_task

from gan_trader.config import EvaluationConfig
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.models.base import Forecast, load_forecast, save_forecast
from gan_trader.models.baselines import run_baselines
from gan_trader.workflow.folds import join_forecasts

CONFIG = EvaluationConfig(baselines=["persistence"])


@pytest.fixture(scope="module")
def task():
    return synthetic_task()


def test_the_reference_of_crps_rel_scores_exactly_one(task, tmp_path) -> None:
    """gauss_60d showed 0.9984: its CRPS was estimated from 1000 draws, the reference's in closed form."""
    forecasts = run_baselines(["gauss_60d", "gauss_ewma", "gauss_60d_drift"], task, seed=0)
    table = evaluate(task, forecasts, CONFIG).table
    assert table.loc["gauss_60d", "crps_rel"] == pytest.approx(1.0, abs=1e-12)
    assert table.loc["gauss_60d", "crps_skill"] == pytest.approx(0.0, abs=1e-12)
    # Joined over folds and read back from disk, the Gaussian's sd still travels with it.
    origins = forecasts[0].origins
    half = len(origins) // 2
    parts = [
        dataclasses.replace(
            forecasts[0],
            origins=origins[a:b],
            target_dates=forecasts[0].target_dates[a:b],
            log_return=forecasts[0].log_return[a:b],
            price=forecasts[0].price[a:b],
            samples=forecasts[0].samples[a:b],
            extra={"normal_sd": forecasts[0].extra["normal_sd"][a:b]},
        )
        for a, b in ((0, half), (half, len(origins)))
    ]
    save_forecast(join_forecasts(parts), tmp_path / "g.npz")
    again = evaluate(task, [load_forecast(tmp_path / "g.npz")], CONFIG).table
    assert again.loc["gauss_60d", "crps_rel"] == pytest.approx(1.0, abs=1e-12)


def _gan_fold(task, rows: slice, uses_mh: bool) -> Forecast:
    """One fold's `gan` forecast: MH's samples (with MH's diagnostics) or the raw draws (without)."""
    origins = task.origins("test")[rows]
    rng = np.random.default_rng(rows.start or 0)
    forecast = Forecast.from_returns(
        "gan", task, origins, np.zeros(len(origins)), rng.normal(0, 0.01, (len(origins), 200))
    )
    forecast.extra["uses_mh"] = float(uses_mh)
    if uses_mh:
        forecast.extra.update(mh_acceptance=0.8 if rows.start == 0 else 0.6, critic_auc=0.55, turner_z=0.1)
    return forecast


def test_the_gan_row_says_which_samples_it_is_per_fold(task) -> None:
    """The `gan` row matched neither gan_mh nor gan_raw, and took gan_mh's acceptance even on raw folds."""
    n = len(task.origins("test"))
    third = n // 3
    folds = [slice(0, third), slice(third, 2 * third), slice(2 * third, n)]
    joined = join_forecasts(
        [_gan_fold(task, rows, uses) for rows, uses in zip(folds, (True, False, True), strict=True)]
    )
    assert list(joined.extra["uses_mh"]) == [1.0, 0.0, 1.0]
    assert joined.extra["mh_acceptance"] == pytest.approx(0.7)  # its two MH folds, not a raw one
    board = evaluate(task, [joined], CONFIG)
    note = board.notes["gan"]
    assert "MH's samples on folds 0, 2" in note and "the raw draws on fold 1" in note
    assert "matches neither" in note
    last_raw = join_forecasts(
        [_gan_fold(task, rows, uses) for rows, uses in zip(folds, (True, True, False), strict=True)]
    )
    assert last_raw.extra["mh_acceptance"] == pytest.approx(0.7)  # kept although the last fold is raw
    raw_only = join_forecasts([_gan_fold(task, rows, False) for rows in folds])
    assert "mh_acceptance" not in raw_only.extra
    single = evaluate(task, [_gan_fold(task, slice(0, n), False)], CONFIG)
    assert single.notes["gan"].startswith("gan: the raw draws (no MH step)")
    assert "mh_acceptance" not in single.table.columns


def test_no_verdict_prints_a_nan_p_value_without_saying_why(task) -> None:
    forecasts = [
        *run_baselines(["gauss_60d"], task, seed=0),  # forecasts a zero return: persistence's point forecast
        scaled_truth(task, -0.3),
    ]
    board = evaluate(task, forecasts, CONFIG)
    for line in board.verdicts.values():
        assert "nan" not in line, line
    zero = "no p-value, it forecasts a zero return every day, as persistence does"
    assert zero in board.verdicts["gauss_60d"]
    assert "significantly worse at 5 %" in board.verdicts["scale-0.3"]
