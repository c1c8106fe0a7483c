"""Simple probabilistic baselines: every forecast distribution is judged against these on the same days.

Each gives `SAMPLES` draws of the next-day log return per day, scored exactly as the GAN's samples, and the
distribution's own mean (not the draws' mean, which would add sampling noise) as the point forecast.
Everything fitted (means, GARCH parameters, residual pools, quantile regressions, scalers) sees only returns
whose day is on or before `split.train_end`; the volatility at an origin t is filtered from returns up to t.

- `gauss_60d`, `gauss_60d_drift`: Gaussian with the trailing 60-day sd, zero mean or the training mean.
- `gauss_ewma`, `gauss_ewma_drift`: Gaussian with the RiskMetrics EWMA sd (lambda 0.94).
- `garch_t`: GARCH(1,1) with Student-t innovations and a constant mean (`arch`), parameters fitted on the
  training span, the conditional variance filtered forward with them held fixed.
- `bootstrap`: training-span returns resampled (historical simulation).
- `filtered_bootstrap`: the GARCH-t fit's standardised training residuals, resampled and scaled by each
  day's filtered volatility (filtered historical simulation).
- `quantile_regression`: linear quantile regressions (statsmodels QuantReg) of the next-day return on the
  causal features' leading principal components, read as an inverse CDF.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from gan_trader.errors import TrainingError
from gan_trader.models.base import NORMAL_SD, Forecast, Forecaster, ForecastTask

SAMPLES = 1000
EWMA_LAMBDA = 0.94
GARCH_SCALE = 100.0  # arch's optimiser is happiest with returns in percent
QUANTILE_REGRESSION_LEVELS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)


def daily_returns(task: ForecastTask) -> pd.Series:
    """r[t] = log(close[t] / close[t-1]) over the whole panel, indexed by t (the day it is known)."""
    close = task.panel.close
    return np.log(close / close.shift(1)).dropna()


def training_returns(task: ForecastTask) -> pd.Series:
    """The daily returns a baseline may fit on: those of days up to train_end."""
    returns = daily_returns(task)
    returns = returns.loc[: task.split.train_end]
    if len(returns) < 100:
        raise TrainingError(f"distribution baselines: {len(returns)} training returns are too few (need 100)")
    return returns


def _positions(index: pd.DatetimeIndex, origins: pd.DatetimeIndex, name: str) -> np.ndarray:
    positions = index.get_indexer(origins)
    if (positions < 0).any():
        raise TrainingError(f"{name}: origin {origins[positions < 0][0].date()} has no return")
    return positions


class DistributionBaseline(Forecaster):
    """A forecaster whose prediction is a distribution: `draw` gives (N, SAMPLES) next-day log returns."""

    samples: ClassVar[int] = SAMPLES

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.fitted = False

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}.predict called before fit")
        draws = self.draw(task, origins, np.random.default_rng(self.seed))
        return Forecast.from_returns(self.name, task, origins, self.expected(task, origins), draws)

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        """(N, samples) draws of the next-day log return for each origin."""
        raise NotImplementedError

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """The distribution's mean for each origin (the point forecast)."""
        raise NotImplementedError


class _Gaussian(DistributionBaseline):
    """N(mean, sd_t^2): mean 0 or the training mean; sd_t from returns up to the origin t."""

    drift: ClassVar[bool] = False

    def fit(self, task: ForecastTask) -> _Gaussian:
        self.mean = float(training_returns(task).mean()) if self.drift else 0.0
        self.fitted = True
        return self

    def volatility(self, returns: pd.Series) -> pd.Series:
        raise NotImplementedError

    def sd(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """The Gaussian's sd at each origin."""
        returns = daily_returns(task)
        sd = self.volatility(returns).to_numpy(float)[_positions(returns.index, origins, self.name)]
        if not np.isfinite(sd).all():
            first = origins[~np.isfinite(sd)][0].date()
            raise TrainingError(f"{self.name}: not enough history for a volatility at {first}")
        return sd

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        return self.mean + self.sd(task, origins)[:, None] * rng.standard_normal((len(origins), self.samples))

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        # The sd lets the leaderboard score the Gaussian's CRPS in closed form, as crps_rel's reference is
        # scored: gauss_60d, the reference itself, then shows exactly 1 (sampled, 0.998 or so).
        forecast = super().predict(task, origins)
        forecast.extra[NORMAL_SD] = self.sd(task, origins)
        return forecast

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        return np.full(len(origins), self.mean)


class Gaussian60(_Gaussian):
    name = "gauss_60d"

    def volatility(self, returns: pd.Series) -> pd.Series:
        return returns.rolling(60, min_periods=30).std()


class Gaussian60Drift(Gaussian60):
    name = "gauss_60d_drift"
    drift = True


class GaussianEwma(_Gaussian):
    name = "gauss_ewma"

    def volatility(self, returns: pd.Series) -> pd.Series:
        # RiskMetrics: sigma^2_t = lambda sigma^2_{t-1} + (1 - lambda) r_t^2, from returns up to t.
        return np.sqrt((returns**2).ewm(alpha=1.0 - EWMA_LAMBDA, adjust=False, min_periods=30).mean())


class GaussianEwmaDrift(GaussianEwma):
    name = "gauss_ewma_drift"
    drift = True


class HistoricalBootstrap(DistributionBaseline):
    """Tomorrow's return is a training-span return drawn at random."""

    name = "bootstrap"

    def fit(self, task: ForecastTask) -> HistoricalBootstrap:
        self.pool = training_returns(task).to_numpy(float)
        self.fitted = True
        return self

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        return rng.choice(self.pool, size=(len(origins), self.samples), replace=True)

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        return np.full(len(origins), float(np.mean(self.pool)))


class GarchT(DistributionBaseline):
    """GARCH(1,1)-t with a constant mean: parameters from the training span, variance filtered causally."""

    name = "garch_t"

    def fit(self, task: ForecastTask) -> GarchT:
        from arch import arch_model

        returns = training_returns(task) * GARCH_SCALE
        model = arch_model(returns.to_numpy(), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter; the result is checked below
            result = model.fit(disp="off", show_warning=False)
        if result.convergence_flag != 0 or not np.isfinite(result.params).all():
            raise TrainingError(f"garch_t: the GARCH(1,1)-t fit did not converge ({result.convergence_flag})")
        self.params = result.params.to_numpy(float)
        self.residuals = np.asarray(result.std_resid, float)
        self.residuals = self.residuals[np.isfinite(self.residuals)]
        self.fitted = True
        return self

    @property
    def mean(self) -> float:
        return float(self.params[0]) / GARCH_SCALE

    @property
    def nu(self) -> float:
        return float(self.params[-1])

    def volatility(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """sigma of r[t+1] given returns up to t, for each origin t, with the training parameters fixed."""
        from arch import arch_model

        returns = daily_returns(task)
        positions = _positions(returns.index, origins, self.name)
        upto = returns.iloc[: int(positions.max()) + 1] * GARCH_SCALE  # nothing after the last origin
        model = arch_model(upto.to_numpy(), mean="Constant", vol="GARCH", p=1, q=1, dist="t")
        fixed = model.fix(self.params)
        forecast = fixed.forecast(horizon=1, start=int(positions.min()), reindex=False)
        variance = forecast.variance.to_numpy(float)[:, 0]
        first = int(positions.min())
        return np.sqrt(variance[positions - first]) / GARCH_SCALE

    def standard_draws(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        """Student-t draws scaled to unit variance (arch's standardised t)."""
        nu = self.nu
        return rng.standard_t(nu, size=shape) * np.sqrt((nu - 2.0) / nu)

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        sigma = self.volatility(task, origins)
        return self.mean + sigma[:, None] * self.standard_draws(rng, (len(origins), self.samples))

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        return np.full(len(origins), self.mean)


class FilteredBootstrap(GarchT):
    """Filtered historical simulation: the GARCH-t fit's standardised residuals x each day's volatility."""

    name = "filtered_bootstrap"

    def standard_draws(self, rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
        return rng.choice(self.residuals, size=shape, replace=True)

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        return self.mean + self.volatility(task, origins) * float(np.mean(self.residuals))


class QuantileRegression(DistributionBaseline):
    """Linear quantile regressions of r[t+1] on causal, scale-free regressors at t: the target's volatility
    proxies (|r_t|, trailing 5, 20 and 60-day sd, EWMA sd) and every return-valued feature (`*log_return`).

    Price-level features are left out on purpose: a linear quantile in a trending level extrapolates far
    outside the training range on later days.
    """

    name = "quantile_regression"

    def fit(self, task: ForecastTask) -> QuantileRegression:
        from statsmodels.regression.quantile_regression import QuantReg

        origins = task.origins("train")
        target = task.next_day_returns().loc[origins].to_numpy(float)
        raw = self.regressors(task).loc[origins]
        self.center, self.scale = raw.mean(), raw.std().replace(0.0, 1.0)
        design = self._design(raw)
        self.coefficients: list[np.ndarray] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IRLS iteration-limit chatter
            for level in QUANTILE_REGRESSION_LEVELS:
                self.coefficients.append(np.asarray(QuantReg(target, design).fit(q=level).params, float))
        self.fitted = True
        return self

    @staticmethod
    def regressors(task: ForecastTask) -> pd.DataFrame:
        """The regressors at every feature row t (each uses rows up to t only)."""
        returns = daily_returns(task)
        proxies = pd.DataFrame(
            {
                "abs_return": returns.abs(),
                "sd5": returns.rolling(5).std(),
                "sd20": returns.rolling(20).std(),
                "sd60": returns.rolling(60, min_periods=30).std(),
                "sd_ewma": np.sqrt((returns**2).ewm(alpha=1.0 - EWMA_LAMBDA, adjust=False).mean()),
            }
        ).reindex(task.features.index)
        return_columns = [c for c in task.features.columns if c.endswith("log_return")]
        return pd.concat([proxies, task.features[return_columns]], axis=1)

    def _design(self, raw: pd.DataFrame) -> np.ndarray:
        scaled = ((raw - self.center) / self.scale).to_numpy(float)
        return np.column_stack([np.ones(len(scaled)), np.nan_to_num(scaled)])

    def quantiles(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """(N, levels) predicted quantiles, sorted per day so that they never cross."""
        design = self._design(self.regressors(task).loc[origins])
        return np.sort(np.column_stack([design @ beta for beta in self.coefficients]), axis=1)

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        quantiles = self.quantiles(task, origins)
        levels = np.asarray(QUANTILE_REGRESSION_LEVELS)
        uniform = rng.uniform(size=(len(origins), self.samples))
        return _inverse_cdf(quantiles, levels, uniform)

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        """The mean of the piecewise-linear distribution through the predicted quantiles."""
        quantiles = self.quantiles(task, origins)
        levels = np.asarray(QUANTILE_REGRESSION_LEVELS)
        midpoints = 0.5 * (quantiles[:, 1:] + quantiles[:, :-1])
        inner = midpoints @ np.diff(levels)
        tails = quantiles[:, 0] * levels[0] + quantiles[:, -1] * (1.0 - levels[-1])  # the ends, held flat
        return inner + tails


def _inverse_cdf(quantiles: np.ndarray, levels: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Piecewise-linear inverse CDF through (level, quantile) per day, extended linearly past the ends."""
    position = np.clip(np.searchsorted(levels, uniform) - 1, 0, len(levels) - 2)
    low, high = levels[position], levels[position + 1]
    rows = np.arange(len(quantiles))[:, None]
    q_low, q_high = quantiles[rows, position], quantiles[rows, position + 1]
    return q_low + (uniform - low) / (high - low) * (q_high - q_low)


PROBABILISTIC_BASELINES: dict[str, Any] = {
    cls.name: cls
    for cls in (
        Gaussian60,
        Gaussian60Drift,
        GaussianEwma,
        GaussianEwmaDrift,
        GarchT,
        HistoricalBootstrap,
        FilteredBootstrap,
        QuantileRegression,
    )
}
