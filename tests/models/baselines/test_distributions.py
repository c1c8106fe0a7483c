"""The probabilistic baselines: causal, fitted on the training span only, calibrated where they should be."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from gan_trader.data.panel import Panel
from gan_trader.data.splits import Split
from gan_trader.models import scoring
from gan_trader.models.base import ForecastTask
from gan_trader.models.baselines.distributions import (
    GARCH_SCALE,
    PROBABILISTIC_BASELINES,
    GarchT,
    daily_returns,
)

NAMES = tuple(PROBABILISTIC_BASELINES)


def fitted_state(model) -> list[np.ndarray]:
    """Everything a baseline learned in `fit`, as arrays (what must not depend on rows after train_end)."""
    state = []
    for key, value in sorted(vars(model).items()):
        if key in ("seed", "fitted"):
            continue
        if isinstance(value, list):
            state += [np.asarray(v, float) for v in value]
        elif isinstance(value, pd.Series):
            state.append(value.to_numpy(float))
        elif isinstance(value, int | float | np.ndarray):
            state.append(np.asarray(value, float))
    return state


@pytest.mark.parametrize("name", NAMES)
def test_fit_sees_no_row_after_train_end(name, small_panel, perturb_after, small_task_from) -> None:
    """Scrambling every row after train_end (validation and test) leaves what was fitted unchanged, and
    the scrambling reaches the fit's inputs when it starts one day earlier (so the check could fail)."""
    task = small_task_from(small_panel)
    fitted = PROBABILISTIC_BASELINES[name](seed=0).fit(task)
    scrambled = small_task_from(perturb_after(small_panel, task.split.train_end))
    refitted = PROBABILISTIC_BASELINES[name](seed=0).fit(scrambled)
    state, restate = fitted_state(fitted), fitted_state(refitted)
    assert state, f"{name} exposes no fitted state to compare"
    for before, after in zip(state, restate, strict=True):
        np.testing.assert_allclose(after, before, rtol=1e-9, atol=1e-12)
    earlier = task.close.index[task.close.index.get_loc(task.split.train_end) - 5]
    leaked = small_task_from(perturb_after(small_panel, earlier))
    if name not in ("gauss_60d", "gauss_ewma"):  # zero-mean Gaussians fit nothing from the returns
        changed = fitted_state(PROBABILISTIC_BASELINES[name](seed=0).fit(leaked))
        assert any(not np.allclose(a, b) for a, b in zip(changed, state, strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_forecast_at_t_uses_rows_up_to_t(name, small_panel, perturb_after, small_task_from) -> None:
    task = small_task_from(small_panel)
    origins = task.origins("test")
    cut = origins[len(origins) // 2]
    early = origins[origins <= cut]
    before = PROBABILISTIC_BASELINES[name](seed=3).fit(task).predict(task, early)
    scrambled = small_task_from(perturb_after(small_panel, cut))
    after = PROBABILISTIC_BASELINES[name](seed=3).fit(scrambled).predict(scrambled, early)
    np.testing.assert_allclose(after.samples, before.samples, rtol=1e-9, atol=1e-12)
    assert before.samples.shape == (len(early), scoring.MIN_SAMPLES * 5)
    # The point forecast is the distribution's mean: the draws' mean agrees up to sampling error.
    spread = before.samples.std(axis=1) / np.sqrt(before.samples.shape[1])
    assert np.all(np.abs(before.log_return - before.samples.mean(axis=1)) < 5 * spread + 1e-4)


def test_garch_volatility_is_arch_own_forecast(small_task) -> None:
    """At each origin t: arch's one-step variance forecast from a model of the returns up to t alone,
    with the baseline's training parameters fixed."""
    from arch import arch_model

    baseline = GarchT(seed=0).fit(small_task)
    origins = small_task.origins("test")[[0, 40, 100]]
    sigma = baseline.volatility(small_task, origins)
    returns = daily_returns(small_task)
    for origin, value in zip(origins, sigma, strict=True):
        upto = returns.loc[:origin].to_numpy() * GARCH_SCALE
        model = arch_model(upto, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fix(baseline.params)
        expected = np.sqrt(model.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0]) / GARCH_SCALE
        assert value == pytest.approx(expected, rel=1e-8)


def test_garch_params_are_arch_fit_on_training_returns(small_task) -> None:
    from arch import arch_model

    baseline = GarchT(seed=0).fit(small_task)
    training = daily_returns(small_task).loc[: small_task.split.train_end].to_numpy() * GARCH_SCALE
    expected = arch_model(training, mean="Constant", vol="GARCH", p=1, q=1, dist="t").fit(disp="off")
    np.testing.assert_allclose(baseline.params, expected.params.to_numpy(), rtol=1e-6)


def garch_task(n: int = 3000, seed: int = 11) -> ForecastTask:
    """A price path whose log returns follow a GARCH(1,1) with Student-t(6) shocks."""
    rng = np.random.default_rng(seed)
    omega, alpha, beta, nu = 0.02, 0.08, 0.9, 6.0
    variance, returns = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        shock = rng.standard_t(nu) * np.sqrt((nu - 2) / nu)
        returns[t] = np.sqrt(variance) * shock
        variance = omega + alpha * returns[t] ** 2 + beta * variance
    dates = pd.bdate_range("2000-01-03", periods=n + 1)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns / 100)]))
    frame = pd.DataFrame(
        {"open": close, "high": close, "low": close, "close": close, "volume": 1.0}, index=dates
    )
    panel = Panel("SYN", frame, (), {})
    features = frame[["close"]]
    split = Split(train_end=dates[1800], val_end=dates[2300], test_end=dates[-1])
    return ForecastTask(panel=panel, features=features, split=split)


@pytest.mark.parametrize("name, tolerance", [("garch_t", 0.03), ("filtered_bootstrap", 0.03)])
def test_garch_models_are_calibrated_on_a_garch_process(name, tolerance) -> None:
    task = garch_task()
    origins = task.origins("test")
    forecast = PROBABILISTIC_BASELINES[name](seed=0).fit(task).predict(task, origins)
    actual = scoring.realised_returns(task, forecast)
    metrics = scoring.distribution_metrics(actual, forecast.samples)
    assert metrics["coverage_90"] == pytest.approx(0.9, abs=tolerance)
    assert metrics["coverage_50"] == pytest.approx(0.5, abs=2 * tolerance)
    # A constant-variance model is miscalibrated in time on the same days: its PIT is less uniform.
    bootstrap = PROBABILISTIC_BASELINES["bootstrap"](seed=0).fit(task).predict(task, origins)
    assert (
        scoring.crps_fair(actual, bootstrap.samples).mean()
        > scoring.crps_fair(actual, forecast.samples).mean()
    )
