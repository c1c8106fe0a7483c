"""The same-information models (har_t, lstm_skewt), garch_t's innovations, and the location-scale generator's
start: each recovers a distribution planted in simulated data, so that a broken fit cannot pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from arch.univariate import SkewStudent
from gan_fixtures import tiny_gan
from scipy import stats

from gan_trader.config import SplitConfig
from gan_trader.data.panel import Panel
from gan_trader.data.splits import make_split
from gan_trader.models.base import ForecastTask
from gan_trader.models.baselines.distributions import GarchT
from gan_trader.models.baselines.har_t import HarT, fit_har_t
from gan_trader.models.baselines.lstm_skewt import LstmSkewT, skewt_log_density, skewt_quantile
from gan_trader.models.wgan import GanForecaster

TRUE_INTERCEPT, TRUE_SLOPES, TRUE_NU = -4.5, np.array([0.6, -0.3]), 5.0


def synthetic_task(returns: np.ndarray, features: dict[str, np.ndarray], seq_len: int = 8) -> ForecastTask:
    """A task whose feature row t is known at t and whose target at origin t is returns[t + 1]."""
    days = len(returns)
    index = pd.bdate_range("2001-01-01", periods=days, name="date")
    close = 50.0 * np.exp(np.cumsum(returns))
    panel = Panel(target="SYN", frame=pd.DataFrame({"close": close}, index=index), assets=(), sources={})
    frame = pd.DataFrame(features, index=index)
    split = make_split(index, SplitConfig.model_validate({"train_end": 0.6, "val_end": 0.8}), min_rows=19)
    return ForecastTask(panel=panel, features=frame, split=split, seed=0, seq_len=seq_len)


def log_linear_task(days: int = 4000, seed: int = 0) -> tuple[ForecastTask, np.ndarray]:
    """r[t+1] = s_t e, log s_t = -4.5 + 0.6 x1_t - 0.3 x2_t, e ~ t(5); returns the task and log s by day."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(days, 2))
    log_scale = TRUE_INTERCEPT + x @ TRUE_SLOPES
    returns = np.zeros(days)
    returns[1:] = np.exp(log_scale[:-1]) * rng.standard_t(TRUE_NU, size=days - 1)
    task = synthetic_task(
        returns, {"volatility.x1": x[:, 0], "volatility.x2": x[:, 1], "other": rng.normal(size=days)}
    )
    return task, log_scale


def test_har_t_recovers_a_known_log_linear_scale() -> None:
    task, _ = log_linear_task()
    model = HarT(seed=0).fit(task)
    assert model.columns == ["volatility.x1", "volatility.x2"]  # the volatility group only
    intercept, slopes = model.fit_result.raw_coefficients()
    assert intercept == pytest.approx(TRUE_INTERCEPT, abs=0.06)
    np.testing.assert_allclose(slopes, TRUE_SLOPES, atol=0.06)
    assert model.fit_result.nu == pytest.approx(TRUE_NU, abs=1.5)
    # Its draws are Student-t with that scale: the scaled draws of a day follow t(nu).
    origins = task.origins("test")[:3]
    draws = model.predict(task, origins).samples
    standard = (draws - model.fit_result.mu) / model.scale(task, origins)[:, None]
    assert stats.kstest(standard.ravel(), "t", args=(model.fit_result.nu,)).pvalue > 0.01


def test_har_t_needs_the_volatility_group() -> None:
    task, _ = log_linear_task(days=300)
    plain = synthetic_task(np.zeros(300), {"other": np.ones(300)})
    with pytest.raises(Exception, match="list the volatility builder"):
        HarT().fit(plain)
    assert fit_har_t(np.empty((200, 0)), np.random.default_rng(0).standard_t(5, 200) * 0.01).coef.size == 0
    HarT().fit(task)


def test_garch_t_draws_student_t_innovations(small_task: ForecastTask) -> None:
    model = GarchT(seed=0).fit(small_task)
    origins = small_task.origins("test")[:4]
    draws = model.predict(small_task, origins).samples
    standard = (draws - model.mean) / model.volatility(small_task, origins)[:, None]
    nu = model.nu
    assert nu < 30, "the fitted tails are heavier than a Gaussian's"
    as_t = stats.kstest(standard.ravel() / np.sqrt((nu - 2) / nu), "t", args=(nu,))
    as_normal = stats.kstest(standard.ravel(), "norm")
    assert as_t.pvalue > 0.01
    assert as_normal.pvalue < as_t.pvalue / 100
    assert stats.kurtosis(standard.ravel()) > 0.5


def test_skewed_t_density_and_quantiles_are_arch_s() -> None:
    distribution = SkewStudent()
    z = np.linspace(-4, 4, 41)
    for eta, lam in ((5.0, -0.4), (12.0, 0.3), (3.0, 0.0)):
        ours = skewt_log_density(
            torch.as_tensor(z), torch.tensor(eta, dtype=torch.float64), torch.tensor(lam, dtype=torch.float64)
        ).numpy()
        theirs = distribution.loglikelihood(np.array([eta, lam]), z, np.ones_like(z), individual=True)
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)
        u = np.linspace(0.01, 0.99, 25)
        np.testing.assert_allclose(
            skewt_quantile(u, eta, lam), distribution.ppf(u, np.array([eta, lam])), rtol=1e-8
        )


def test_lstm_skewt_recovers_a_known_skewed_t() -> None:
    eta, lam, mu, sigma = 6.0, -0.35, 0.0005, 0.012
    rng = np.random.default_rng(4)
    days = 2500
    shocks = SkewStudent(seed=rng).simulate(np.array([eta, lam]))(days)
    returns = mu + sigma * np.asarray(shocks)
    task = synthetic_task(returns, {"volatility.noise": rng.normal(size=days)})
    gan = tiny_gan(
        seq_len=8,
        epochs=25,
        lr_g=0.01,
        batch_size=128,
        early_stopping_patience=6,
        generator={"hidden": 8, "conditioning": False},
    )
    model = LstmSkewT(seed=1, gan=gan).fit(task)
    fitted = model.parameters_for(task, task.origins("test"))
    scaler = model.maker.target_scaler  # type: ignore[union-attr]
    assert fitted["eta"].median() == pytest.approx(eta, abs=2.5)
    assert fitted["lambda"].median() == pytest.approx(lam, abs=0.15)
    assert fitted["sigma"].median() * scaler.std == pytest.approx(sigma, rel=0.1)
    forecast = model.predict(task, task.origins("test")[:5])
    assert forecast.samples is not None and forecast.samples.shape == (5, 1000)
    # Left-skewed draws (lambda < 0): the lower tail is longer than the upper one.
    draws = forecast.samples - np.median(forecast.samples, axis=1, keepdims=True)
    assert np.quantile(draws, 0.01) < -1.1 * np.quantile(draws, 0.99)


def test_location_scale_generator_starts_at_har_t_s_scale() -> None:
    task, _ = log_linear_task(days=1500)
    gan = tiny_gan(seq_len=8, generator={"form": "location_scale", "conditioning": False, "noise_dim": 4})
    model = GanForecaster(gan, seed=0)
    model._setup(task)
    har = HarT().fit(task)
    origins = task.origins("test")[:50]
    windows = model.maker.windows(origins)  # type: ignore[union-attr]
    batch = np.concatenate([windows.x, windows.history[:, :, None]], axis=2)
    draws = model.trainer.sample(torch.as_tensor(batch), 4000, torch.Generator().manual_seed(0))  # type: ignore[union-attr]
    sd = model.maker.target_scaler.unscale(draws.numpy()).std(axis=1)  # type: ignore[union-attr]
    nu = har.fit_result.nu
    expected = har.scale(task, origins) * np.sqrt(nu / (nu - 2))
    np.testing.assert_allclose(sd, expected, rtol=0.03)
    # The scale follows the planted volatility, a factor of several across these days.
    assert expected.max() / expected.min() > 2.5
