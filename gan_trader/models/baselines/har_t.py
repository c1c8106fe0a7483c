"""`har_t`: a Student-t whose log scale is linear in the volatility group's values at t.

    r[t+1] = mu + s_t * e,   log s_t = a + b' x_t,   e ~ t(nu)

x_t are the `volatility.*` feature columns of the task at the origin t (range-based variances and their
HAR averages, return magnitudes, EWMA and the market's volatility: features/volatility.py), standardised on
the training span. mu, a, b and nu are estimated by maximum likelihood on the training origins only (scipy's
L-BFGS; `arch` cannot put regressors in the scale equation), with a small ridge penalty on b because the
members are strongly collinear. This is the strongest simple model with the GAN's information: the GAN's
claim to read that information is judged against it (SPEC section 8), and the GAN's location-scale generator
starts from its fit (`fit_har_t`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pandas as pd
from scipy import optimize, special

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.models.baselines.distributions import DistributionBaseline

SCALE_PREFIX = "volatility."
RIDGE = 1e-3  # penalty on b per training row, in units of the standardised regressors
MIN_NU = 2.05  # the variance exists (the location-scale generator reads the sd)


@dataclass(frozen=True)
class HarTFit:
    """Maximum-likelihood fit of y = mu + s(x) e, log s(x) = intercept + coef' (x - center) / spread."""

    mu: float
    intercept: float
    coef: np.ndarray
    nu: float
    center: np.ndarray
    spread: np.ndarray
    loglik: float

    def log_scale(self, x: np.ndarray) -> np.ndarray:
        """log s for regressor rows x (N, k)."""
        x = np.asarray(x, float).reshape(len(x), len(self.coef))
        return self.intercept + ((x - self.center) / self.spread) @ self.coef

    def log_sd(self, x: np.ndarray) -> np.ndarray:
        """log of the standard deviation, s * sqrt(nu / (nu - 2))."""
        return self.log_scale(x) + 0.5 * np.log(self.nu / (self.nu - 2.0))

    def raw_coefficients(self) -> tuple[float, np.ndarray]:
        """(a, b) of log s = a + b' x on the unstandardised regressors."""
        slope = self.coef / self.spread
        return float(self.intercept - slope @ self.center), slope


def t_loglik(y: np.ndarray, mu: float, log_s: np.ndarray, nu: float) -> np.ndarray:
    """Per-row log density of the location-scale Student t."""
    z = (y - mu) * np.exp(-log_s)
    return (
        special.gammaln((nu + 1.0) / 2.0)
        - special.gammaln(nu / 2.0)
        - 0.5 * np.log(nu * np.pi)
        - log_s
        - (nu + 1.0) / 2.0 * np.log1p(z * z / nu)
    )


def fit_har_t(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> HarTFit:
    """Fit mu, log-scale coefficients and nu by maximum likelihood (x: N x k regressors, k may be 0)."""
    x = np.asarray(x, float).reshape(len(y), -1)
    y = np.asarray(y, float)
    if len(y) < 50 or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise TrainingError(f"har_t: {len(y)} training rows with finite values are too few (need 50)")
    center = x.mean(axis=0)
    spread = x.std(axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    standard = (x - center) / spread
    k = standard.shape[1]
    log_sd = float(np.log(np.std(y)))

    def negative(theta: np.ndarray) -> float:
        mu, a, b, nu = theta[0], theta[1], theta[2 : 2 + k], MIN_NU + np.exp(theta[-1])
        value = -t_loglik(y, mu, a + standard @ b, nu).sum() + ridge * len(y) * float(b @ b)
        return float(value) if np.isfinite(value) else 1e300

    start = np.concatenate([[float(np.median(y)), log_sd - 0.3], np.zeros(k), [np.log(3.0)]])
    result = optimize.minimize(negative, start, method="L-BFGS-B", options={"maxiter": 2000})
    theta = result.x
    if not np.isfinite(theta).all():
        raise TrainingError("har_t: the maximum-likelihood fit did not converge")
    b = theta[2 : 2 + k]
    nu = MIN_NU + float(np.exp(theta[-1]))
    loglik = float(t_loglik(y, theta[0], theta[1] + standard @ b, nu).sum())
    return HarTFit(float(theta[0]), float(theta[1]), b, nu, center, spread, loglik)


def scale_columns(task: ForecastTask, prefix: str = SCALE_PREFIX) -> list[str]:
    return [c for c in task.features.columns if str(c).startswith(prefix)]


class HarT(DistributionBaseline):
    """Student-t with a log scale linear in the volatility features at the origin (HAR-style)."""

    name = "har_t"
    prefix: ClassVar[str] = SCALE_PREFIX

    def fit(self, task: ForecastTask) -> HarT:
        self.columns = scale_columns(task, self.prefix)
        if not self.columns:
            raise TrainingError(
                "har_t: the task has no volatility features; list the volatility builder in "
                "features.builders (har_t reads its columns)"
            )
        origins = task.origins("train")
        x = task.features.loc[origins, self.columns].to_numpy(float)
        y = task.next_day_returns().loc[origins].to_numpy(float)
        self.fit_result = fit_har_t(x, y)
        self.fitted = True
        return self

    def scale(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        x = task.features.loc[origins, self.columns].to_numpy(float)
        return np.exp(self.fit_result.log_scale(x))

    def draw(self, task: ForecastTask, origins: pd.DatetimeIndex, rng: np.random.Generator) -> np.ndarray:
        scale = self.scale(task, origins)
        return self.fit_result.mu + scale[:, None] * rng.standard_t(
            self.fit_result.nu, size=(len(origins), self.samples)
        )

    def expected(self, task: ForecastTask, origins: pd.DatetimeIndex) -> np.ndarray:
        return np.full(len(origins), self.fit_result.mu)

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        forecast = super().predict(task, origins)
        forecast.extra["har_t_nu"] = self.fit_result.nu
        return forecast
