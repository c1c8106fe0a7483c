"""Every registered baseline fits on a tiny real slice, forecasts the test days, and is causal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gan_fixtures import tiny_gan

from gan_trader.errors import ConfigError
from gan_trader.models.base import Forecaster
from gan_trader.models.baselines import BASELINES, create_baseline, run_baselines
from gan_trader.models.scoring import forecast_metrics


def small(name: str, seed: int = 0) -> Forecaster:
    """A baseline small enough for the fast path; the defaults are exercised by the experiments."""
    gan = tiny_gan(seq_len=8, early_stopping_patience=None, plot_epochs=[], mh={"enabled": False})
    model = create_baseline(name, seed, gan=gan)
    if hasattr(model, "epochs"):
        model.epochs = 2  # type: ignore[attr-defined]
    return model


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_forecasts_the_test_days(name, small_task, single_thread):
    origins = small_task.origins("test")
    forecast = small(name).fit(small_task).predict(small_task, origins)
    assert forecast.model == name
    assert len(forecast.log_return) == len(origins) and np.isfinite(forecast.log_return).all()
    assert np.isfinite(forecast.price).all() and (forecast.price > 0).all()
    assert (forecast.target_dates > small_task.split.val_end).all()
    metrics = forecast_metrics(small_task, forecast)
    assert np.isfinite(metrics["relmae"]) and np.isfinite(metrics["price_relmae"])


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_is_causal(name, small_panel, perturb_after, small_task_from, single_thread):
    """Forecasts made at origins <= t are unchanged when every row after t is scrambled."""
    task = small_task_from(small_panel)
    test_origins = task.origins("test")
    cut = test_origins[len(test_origins) // 2]
    early = test_origins[test_origins <= cut]
    before = small(name).fit(task).predict(task, early)
    scrambled = small_task_from(perturb_after(small_panel, cut))
    after = small(name).fit(scrambled).predict(scrambled, early)
    np.testing.assert_allclose(after.log_return, before.log_return, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(after.price, before.price, rtol=1e-6)
    # The scrambling did reach the later origins (so the check above could have failed).
    late = test_origins[test_origins > cut][:5]
    assert not np.allclose(scrambled.close.loc[late], task.close.loc[late])


@pytest.mark.parametrize("name", ["price_lstm", "return_lstm", "xgboost"])
def test_fitted_baselines_are_deterministic_per_seed(name, small_task, single_thread):
    origins = small_task.origins("test")[:30]
    first = small(name, seed=3).fit(small_task).predict(small_task, origins)
    second = small(name, seed=3).fit(small_task).predict(small_task, origins)
    np.testing.assert_array_equal(first.log_return, second.log_return)


def test_persistence_and_drift_values(small_task):
    origins = small_task.origins("test")
    persistence, drift = run_baselines(["persistence", "drift"], small_task, seed=0)
    np.testing.assert_array_equal(persistence.log_return, 0.0)
    np.testing.assert_allclose(persistence.price, small_task.close.loc[origins].to_numpy())
    train_mean = small_task.next_day_returns().loc[small_task.origins("train")].mean()
    np.testing.assert_allclose(drift.log_return, train_mean)


def test_arima_uses_training_parameters_only(small_panel, perturb_after, small_task_from):
    """ARIMA's parameters come from the training span: scrambling validation and test rows leaves them."""
    task = small_task_from(small_panel)
    fitted = small("arima").fit(task)
    scrambled = small_task_from(perturb_after(small_panel, task.split.train_end))
    refitted = small("arima").fit(scrambled)
    np.testing.assert_allclose(fitted.result.params, refitted.result.params)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name, horizon", [("return_lstm_5d", 5), ("return_lstm", 1)])
def test_return_lstm_targets_and_signal(name, horizon, small_task, single_thread):
    """Each variant is trained on the horizon it trades: the notes' 5-day one, and the next-day one the
    leaderboard scores."""
    model = small(name).fit(small_task)
    origins = small_task.origins("train")[40:45]
    close = small_task.close
    positions = close.index.get_indexer(origins)
    expected = (
        np.clip(close.to_numpy()[positions + horizon] / close.to_numpy()[positions] - 1, -0.2, 0.2) * 10
    )
    np.testing.assert_allclose(model._targets(small_task, origins), expected)
    windows = model._windows(small_task, origins)
    assert windows.shape == (5, 30, 6)
    np.testing.assert_allclose(windows.mean(axis=1), 0.0, atol=1e-5)  # each window z-scored on its own
    # No training target reaches past train_end.
    train = model._fit_origins(small_task, small_task.split.train_end, None)
    last = close.index.get_indexer(train).max() + horizon
    assert close.index[last] <= small_task.split.train_end
    forecast = model.predict(small_task, small_task.origins("test"))
    assert forecast.extra["hold_days"] == horizon
    np.testing.assert_allclose(forecast.log_return, np.log1p(forecast.extra["signal"]) / horizon)


def test_recurrent_dropout_is_active_in_training_only():
    import torch

    from gan_trader.models.baselines.return_lstm import RecurrentDropoutLSTM

    torch.manual_seed(0)
    cell = RecurrentDropoutLSTM(6, 16, dropout=0.0, recurrent_dropout=0.5)
    x = torch.randn(4, 10, 6)
    cell.eval()
    assert torch.equal(cell(x), cell(x))
    cell.train()
    assert not torch.equal(cell(x), cell(x))


def test_unknown_baseline_names_the_config_key(small_task):
    with pytest.raises(ConfigError, match=r"evaluation\.baselines: unknown baseline 'naive'"):
        run_baselines(["persistence", "naive"], small_task, seed=0)


def test_run_baselines_accepts_given_origins(small_task):
    origins = pd.DatetimeIndex(small_task.origins("val")[:10])
    (forecast,) = run_baselines(["drift"], small_task, seed=0, origins=origins)
    assert forecast.origins.equals(origins)


def test_xgboost_forecasts_vary_in_size_and_sign(small_task, single_thread):
    """Not the training mean in disguise: its forecasts spread and take both signs on the test days."""
    origins = small_task.origins("test")
    forecast = small("xgboost").fit(small_task).predict(small_task, origins)
    realised = small_task.next_day_returns().loc[origins]
    assert forecast.log_return.std() > 0.1 * realised.std()
    assert 0.1 < np.mean(forecast.log_return > 0) < 0.9
