"""The lag diagnostic flags a yesterday-repeater; backtest figures on a toy series computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.evaluation.backtest import positions_from_signal, run_backtest, summarise
from gan_trader.evaluation.lag import lag_correlations, lag_diagnostic
from gan_trader.models.base import Forecast


def test_lag_flags_a_model_that_returns_yesterdays_value(small_task):
    origins = small_task.origins("test")
    close = small_task.close
    yesterday = Forecast.from_prices("yesterday", small_task, origins, close.loc[origins].to_numpy())
    diagnostic = lag_diagnostic(small_task, yesterday, "price")
    assert diagnostic.peak_lag == 1 and diagnostic.repeats_yesterday and diagnostic.lags_behind
    assert diagnostic.correlations.loc[1] == pytest.approx(1.0)


def test_lag_does_not_flag_a_forecast_of_the_right_day(small_task):
    origins = small_task.origins("test")
    close = small_task.close
    targets = close.index[close.index.get_indexer(origins) + 1]
    oracle = Forecast.from_prices("oracle", small_task, origins, close.loc[targets].to_numpy())
    for space in ("price", "return"):
        diagnostic = lag_diagnostic(small_task, oracle, space)
        assert diagnostic.peak_lag == 0 and not diagnostic.repeats_yesterday and not diagnostic.lags_behind


def test_lag_in_return_space_flags_an_echo_of_yesterdays_return(small_task):
    """A return model echoing the known return lags behind and has no skill; "repeats yesterday" is kept
    for price-level models."""
    origins = small_task.origins("test")
    returns = np.log(small_task.close / small_task.close.shift(1))
    echo = Forecast.from_returns("echo", small_task, origins, returns.loc[origins].to_numpy())
    diagnostic = lag_diagnostic(small_task, echo, "return")
    assert diagnostic.peak_lag == 1 and diagnostic.lags_behind and diagnostic.no_skill
    assert (
        not diagnostic.repeats_yesterday and not lag_diagnostic(small_task, echo, "price").repeats_yesterday
    )


def test_lag_correlations_of_a_constant_are_undefined():
    index = pd.bdate_range("2020-01-01", periods=30)
    actual = pd.Series(np.random.default_rng(0).normal(size=30), index=index)
    profile = lag_correlations(pd.Series(0.0, index=index[10:20]), actual)
    assert profile.isna().all() and list(profile.index) == list(range(-5, 6))


# backtest -------------------------------------------------------------------------------------------

SIMPLE = np.array([0.10, -0.05, 0.02, -0.01])
LOG = np.log1p(SIMPLE)
SIGNAL = np.array([1.0, -1.0, 1.0, 1.0])


def test_positions_by_mode_and_holding_period():
    np.testing.assert_array_equal(positions_from_signal(SIGNAL, "long_flat"), [1, 0, 1, 1])
    np.testing.assert_array_equal(positions_from_signal(SIGNAL, "long_short"), [1, -1, 1, 1])
    np.testing.assert_array_equal(positions_from_signal(SIGNAL, "long_flat", hold_days=2), [1, 1, 1, 1])
    np.testing.assert_array_equal(
        positions_from_signal(np.array([-1, 1, 1, -1.0]), "long_flat", 3), [0, 0, 0, 0]
    )
    np.testing.assert_array_equal(positions_from_signal(SIGNAL, "buy_hold"), [1, 1, 1, 1])


def test_long_flat_backtest_by_hand():
    result = run_backtest(SIGNAL, LOG, "long_flat", cost_bps=10)
    # positions 1, 0, 1, 1; position changes 1, 1, 1, 0 at 10 bps each
    expected = np.array([0.10 - 0.001, 0.0 - 0.001, 0.02 - 0.001, -0.01])
    np.testing.assert_allclose(result.returns.to_numpy(), expected)
    equity = np.prod(1 + expected)
    assert result.summary["total_return"] == pytest.approx(equity - 1)
    assert result.summary["cagr"] == pytest.approx(equity ** (252 / 4) - 1)
    assert result.summary["turnover"] == pytest.approx(3 / 4)
    assert result.summary["hit_rate"] == pytest.approx(2 / 3)  # invested days 1, 3, 4: two gained
    sharpe = expected.mean() / expected.std(ddof=1) * np.sqrt(252)
    assert result.summary["sharpe"] == pytest.approx(sharpe)
    curve = np.cumprod(1 + expected)
    assert result.summary["max_drawdown"] == pytest.approx(min(curve / np.maximum.accumulate(curve) - 1))


def test_long_short_backtest_by_hand():
    result = run_backtest(SIGNAL, LOG, "long_short", cost_bps=10)
    # positions 1, -1, 1, 1; changes 1, 2, 2, 0
    expected = np.array([0.10 - 0.001, 0.05 - 0.002, 0.02 - 0.002, -0.01])
    np.testing.assert_allclose(result.returns.to_numpy(), expected)
    assert result.summary["turnover"] == pytest.approx(5 / 4)


def test_max_drawdown_from_the_first_peak():
    summary = summarise(np.array([0.1, -0.5, 0.2]), np.ones(3))
    assert summary["max_drawdown"] == pytest.approx(-0.5)
    losing = summarise(np.array([-0.1, -0.1]), np.ones(2))
    assert losing["max_drawdown"] == pytest.approx(0.9 * 0.9 - 1)
