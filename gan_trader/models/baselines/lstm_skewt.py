"""`lstm_skewt`: the GAN's LSTM encoder on the GAN's inputs with a skewed-t head, trained by likelihood.

The same windows (gan.seq_len days of the scaled features, the target's history as the last channel), the same
LSTM (gan.generator.hidden, layers, dropout, conditioning) as the generator, but instead of a noise head the
encoding gives the four parameters of Hansen's (1994) skewed t, the distribution `arch.univariate.SkewStudent`
implements (standardised: zero mean, unit variance), for the scaled next value:

    y = mu + sigma * z,  z ~ SkewT(eta, lambda),  eta > 2, -1 < lambda < 1

It is trained by negative log-likelihood (Adam at gan.lr_g, gan.batch_size, up to gan.epochs) and, like the
GAN, keeps the epoch with the best gan.early_stopping_metric (val/crps_rel by default) on the validation
windows, with gan.early_stopping_patience (after Michańków 2025, arXiv 2508.18921: an LSTM with a parametric
skewed-t head is the strong same-information benchmark for a GAN's forecast distribution). The density here
is written in torch for the loss and tested against arch's; quantiles and draws come from
`skewt_quantile`, tested against arch's `ppf`.
"""

from __future__ import annotations

import copy
import math
from typing import ClassVar

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn
from torch.nn import functional as F

from gan_trader.config import GanConfig
from gan_trader.errors import EpisodeFailed, TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask
from gan_trader.models.baselines._training import seeded_fitting
from gan_trader.models.scoring import validation_scores
from gan_trader.models.windows import WindowMaker, WindowSet

SAMPLES = 1000
VALIDATION_SAMPLES = 200
MIN_ETA = 2.05
MAX_LAMBDA = 0.99


def _constants(eta: torch.Tensor, lam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Hansen's a, b and c for shape eta and skew lambda."""
    log_c = torch.lgamma((eta + 1.0) / 2.0) - torch.lgamma(eta / 2.0) - 0.5 * torch.log(math.pi * (eta - 2.0))
    c = torch.exp(log_c)
    a = 4.0 * lam * c * (eta - 2.0) / (eta - 1.0)
    b = torch.sqrt(1.0 + 3.0 * lam**2 - a**2)
    return a, b, log_c


def skewt_log_density(z: torch.Tensor, eta: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """log g(z) of Hansen's standardised skewed t (arch.univariate.SkewStudent's density)."""
    a, b, log_c = _constants(eta, lam)
    shifted = b * z + a
    side = torch.where(shifted < 0, 1.0 - lam, 1.0 + lam)
    return torch.log(b) + log_c - (eta + 1.0) / 2.0 * torch.log1p((shifted / side) ** 2 / (eta - 2.0))


def skewt_quantile(u: np.ndarray, eta: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Quantiles of Hansen's standardised skewed t at probabilities u (broadcast with eta and lambda)."""
    u, eta, lam = np.broadcast_arrays(np.asarray(u, float), np.asarray(eta, float), np.asarray(lam, float))
    log_c = _gammaln((eta + 1.0) / 2.0) - _gammaln(eta / 2.0) - 0.5 * np.log(math.pi * (eta - 2.0))
    a = 4.0 * lam * np.exp(log_c) * (eta - 2.0) / (eta - 1.0)
    b = np.sqrt(1.0 + 3.0 * lam**2 - a**2)
    below = u < (1.0 - lam) / 2.0
    side = np.where(below, 1.0 - lam, 1.0 + lam)
    probability = np.where(below, u / (1.0 - lam), 0.5 + (u - (1.0 - lam) / 2.0) / (1.0 + lam))
    t = stats.t.ppf(probability, eta) * np.sqrt((eta - 2.0) / eta)
    return (side * t - a) / b


def _gammaln(x: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return np.asarray(gammaln(x), float)


class SkewTNetwork(nn.Module):
    """LSTM encoder (the generator's) -> (mu, log sigma, eta, lambda) per window."""

    def __init__(self, n_features: int, hidden: int, layers: int, dropout: float, conditioning: bool) -> None:
        super().__init__()
        self.conditioning = conditioning and n_features > 0
        self.dropout = dropout
        inputs = 1 + (n_features if self.conditioning else 0)
        self.lstm = nn.LSTM(inputs, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0)
        self.head = nn.Linear(hidden, 4)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():  # start at a symmetric t with 5 degrees of freedom and unit scale
            self.head.bias.copy_(torch.tensor([0.0, 0.0, math.log(math.expm1(5.0 - MIN_ETA)), 0.0]))

    def forward(self, window: torch.Tensor) -> tuple[torch.Tensor, ...]:
        inputs = window if self.conditioning else window[..., -1:]
        out, _ = self.lstm(inputs.transpose(0, 1))
        raw = self.head(F.dropout(out[-1], self.dropout, self.training))
        mu, log_sigma = raw[:, 0], raw[:, 1]
        eta = MIN_ETA + F.softplus(raw[:, 2])
        lam = MAX_LAMBDA * torch.tanh(raw[:, 3])
        return mu, log_sigma, eta, lam

    def negative_loglik(self, window: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        mu, log_sigma, eta, lam = self(window)
        z = (target - mu) * torch.exp(-log_sigma)
        return -(skewt_log_density(z, eta, lam) - log_sigma).mean()


def _tensor(windows: WindowSet) -> tuple[torch.Tensor, torch.Tensor]:
    window = np.concatenate([windows.x, windows.history[:, :, None]], axis=2)
    return torch.as_tensor(window, dtype=torch.float32), torch.as_tensor(windows.y, dtype=torch.float32)


class LstmSkewT(Forecaster):
    """The same-information parametric benchmark of the GAN: its encoder, a skewed-t head, likelihood."""

    name = "lstm_skewt"
    uses_gan_config: ClassVar[bool] = True
    uses_validation = True

    def __init__(self, seed: int = 0, gan: GanConfig | None = None, scaler: str = "standard") -> None:
        self.seed = seed
        self.config = gan or GanConfig.model_validate({})
        self.scaler = scaler
        self.network: SkewTNetwork | None = None
        self.maker: WindowMaker | None = None
        self.history: list[dict[str, float]] = []
        self.best_epoch: int | None = None

    def fit(self, task: ForecastTask) -> LstmSkewT:
        config = self.config
        if task.target_kind != "log_return":
            raise TrainingError(
                "lstm_skewt models the next-day log return; it cannot run with gan.target: price"
            )
        self.maker = WindowMaker(task, self.scaler)
        train, val, _ = self.maker.split_windows()
        if len(train) < 2 or len(val) < 1:
            raise TrainingError(f"lstm_skewt: {len(train)} training and {len(val)} validation windows")
        x_train, y_train = _tensor(train)
        x_val, _ = _tensor(val)
        patience = config.early_stopping_patience
        generator_cfg = config.generator
        with seeded_fitting(self.seed) as shuffle:
            network = SkewTNetwork(
                x_train.shape[2] - 1,
                generator_cfg.hidden,
                generator_cfg.layers,
                generator_cfg.dropout,
                generator_cfg.conditioning,
            )
            optimiser = torch.optim.Adam(
                network.parameters(), lr=config.lr_g, weight_decay=config.weight_decay
            )
            best, best_state, since_best = math.inf, copy.deepcopy(network.state_dict()), 0
            for epoch in range(1, config.epochs + 1):
                network.train()
                order = torch.randperm(len(x_train), generator=shuffle)
                total = 0.0
                for start in range(0, len(order), config.batch_size):
                    index = order[start : start + config.batch_size]
                    loss = network.negative_loglik(x_train[index], y_train[index])
                    optimiser.zero_grad()
                    loss.backward()
                    if config.grad_clip is not None:
                        nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
                    optimiser.step()
                    total += loss.item() * len(index)
                if not math.isfinite(total):
                    raise EpisodeFailed(
                        f"lstm_skewt: epoch {epoch}: the negative log-likelihood is not finite"
                    )
                self.network = network
                forecast = self._forecast(
                    task, val.origins, x_val, VALIDATION_SAMPLES, np.random.default_rng(0)
                )
                metrics = {"train/nll": total / len(order), **validation_scores(task, forecast, "val/")}
                self.history.append(metrics)
                score = metrics[config.early_stopping_metric]
                if score < best:
                    best, best_state, since_best, self.best_epoch = (
                        score,
                        copy.deepcopy(network.state_dict()),
                        0,
                        epoch,
                    )
                else:
                    since_best += 1
                if patience is not None and since_best >= patience:
                    break
            network.load_state_dict(best_state)
        network.eval()
        self.network = network
        return self

    def parameters_for(self, task: ForecastTask, origins: pd.DatetimeIndex) -> pd.DataFrame:
        """mu, sigma (of the scaled target), eta and lambda per origin."""
        if self.network is None or self.maker is None:
            raise RuntimeError("LstmSkewT.parameters_for called before fit")
        windows = self.maker.for_task(task).windows(origins)
        x, _ = _tensor(windows)
        with torch.no_grad():
            self.network.eval()
            mu, log_sigma, eta, lam = (p.numpy().astype(float) for p in self.network(x))
        return pd.DataFrame(
            {"mu": mu, "sigma": np.exp(log_sigma), "eta": eta, "lambda": lam}, index=windows.origins
        )

    def _forecast(
        self,
        task: ForecastTask,
        origins: pd.DatetimeIndex,
        x: torch.Tensor | None,
        samples: int,
        rng: np.random.Generator,
    ) -> Forecast:
        assert self.network is not None and self.maker is not None
        if x is None:
            windows = self.maker.for_task(task).windows(origins)
            x, _ = _tensor(windows)
            origins = windows.origins
        with torch.no_grad():
            self.network.eval()
            mu, log_sigma, eta, lam = (p.numpy().astype(float)[:, None] for p in self.network(x))
        uniform = rng.uniform(size=(len(origins), samples))
        scaled = mu + np.exp(log_sigma) * skewt_quantile(uniform, eta, lam)
        draws = self.maker.target_scaler.unscale(scaled)
        point = self.maker.target_scaler.unscale(mu[:, 0])  # the standardised skewed t has mean 0
        return Forecast.from_returns(self.name, task, origins, point, draws)

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.network is None:
            raise RuntimeError("LstmSkewT.predict called before fit")
        forecast = self._forecast(task, origins, None, SAMPLES, np.random.default_rng(self.seed))
        forecast.extra["best_epoch"] = float(self.best_epoch or 0)
        return forecast
