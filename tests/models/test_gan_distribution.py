"""The GAN's samples as a forecast distribution, on a synthetic task whose next-day distribution is known
(an AR(1) return with a time-varying sigma_t): spread, coverage, and Metropolis-Hastings on a generator
planted too narrow. Coverage and CRPS are taken in expectation under the known distribution (exact, not
estimated from one outcome a day). One small model is trained once for the module (a few seconds)."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import torch
from gan_fixtures import ar_task, tiny_gan
from scipy import stats

from gan_trader.models.base import Forecast, ForecastTask
from gan_trader.models.wgan import GanForecaster

SYNTHETIC_GAN = {
    "epochs": 40,
    "n_critic": 1,
    "generator": {"hidden": 16, "head": 16, "noise_dim": 4},
    "critic": {"filters": [8, 16], "dense": [16, 16]},
    "mh": {"chains": 100, "candidates": 10, "critic_epochs": 2},
    "val_samples": 16,
    "plot_epochs": [],
}


class Planted(torch.nn.Module):
    """A generator miscalibrated on purpose: the trained one's draws x `scale` + `shift`, in scaled units
    (where the conditional mean is near 0 and the sd near 1)."""

    def __init__(self, inner: torch.nn.Module, scale: float = 1.0, shift: float = 0.0) -> None:
        super().__init__()
        self.inner, self.scale, self.shift, self.noise_dim = inner, scale, shift, inner.noise_dim

    def forward(self, window: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.scale * self.inner(window, z) + self.shift


@pytest.fixture(scope="module")
def trained() -> Iterator[tuple[ForecastTask, pd.DataFrame, GanForecaster]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    task, truth = ar_task()
    model = GanForecaster(tiny_gan(**SYNTHETIC_GAN), seed=4).fit(task)
    yield task, truth.loc[task.origins("test")], model
    torch.set_num_threads(threads)


def against_truth(forecast: Forecast, truth: pd.DataFrame) -> dict[str, float]:
    """Expected coverage of the central 50 / 90 % sample intervals and expected CRPS of the samples when
    the outcome is drawn from the known normal distribution of each day."""
    assert forecast.samples is not None
    mean, sd = truth["mean"].to_numpy()[:, None], truth["sd"].to_numpy()[:, None]
    samples = forecast.samples
    scores = {}
    for level in (0.5, 0.9):
        low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2], axis=1)
        inside = stats.norm.cdf(high, mean[:, 0], sd[:, 0]) - stats.norm.cdf(low, mean[:, 0], sd[:, 0])
        scores[f"coverage_{round(level * 100)}"] = float(np.mean(inside))
    d = (samples - mean) / sd  # E|x - Y| for Y ~ N(mean, sd^2), then minus half the mean pair gap
    to_outcome = sd * (2 * stats.norm.pdf(d) + d * (2 * stats.norm.cdf(d) - 1))
    ordered = np.sort(samples, axis=1)
    k = samples.shape[1]
    pair_gap = 2.0 * (ordered @ (2.0 * np.arange(1, k + 1) - k - 1)) / (k * (k - 1))
    scores["crps"] = float(np.mean(to_outcome.mean(axis=1) - 0.5 * pair_gap))
    return scores


def test_samples_of_a_trained_model_have_the_spread_of_the_truth(trained) -> None:  # type: ignore[no-untyped-def]
    task, truth, model = trained
    forecast = model.predict(task, truth.index)
    assert forecast.samples is not None
    spread, sigma = forecast.samples.std(axis=1), truth["sd"].to_numpy()
    # The floor catches a generator that ignores its noise (all K draws of a day equal: spread 0).
    assert spread.min() > 0.2 * sigma.min()
    assert 0.7 < float(np.median(spread / sigma)) < 1.4
    assert np.corrcoef(spread, sigma)[0, 1] > 0.6, "the spread follows the known sigma_t"


def test_intervals_of_a_trained_model_cover_their_level(trained) -> None:  # type: ignore[no-untyped-def]
    task, truth, model = trained
    forecast = model.predict(task, truth.index)
    for candidate in (forecast, *forecast.ablations):
        scores = against_truth(candidate, truth)
        assert 0.82 <= scores["coverage_90"] <= 0.96, (candidate.model, scores)
        assert 0.40 <= scores["coverage_50"] <= 0.60, (candidate.model, scores)


def planted_mh(model: GanForecaster, truth: pd.DataFrame, **plant: float) -> tuple[Forecast, dict, dict]:
    """MH for `model`'s generator miscalibrated by `plant`: the forecast, and the raw and the MH samples'
    scores against the truth."""
    model = copy.deepcopy(model)
    assert model.trainer is not None and model.maker is not None
    model.trainer.generator = Planted(model.trainer.generator, **plant)
    model.calibrate(critic_epochs=30)  # the critic relearns against the planted generator first
    forecast = model.predict(model.maker.task, truth.index)
    raw, mh = forecast.ablations
    return forecast, against_truth(raw, truth), against_truth(mh, truth)


def test_mh_moves_a_generator_with_a_shifted_mean_toward_the_truth(trained) -> None:  # type: ignore[no-untyped-def]
    _, truth, model = trained
    forecast, before, after = planted_mh(model, truth, shift=1.0)
    mh = forecast.ablations[1].extra
    assert mh["critic_auc"] > 0.65, "the critic tells the shifted draws from real values"
    assert mh["mh_acceptance"] < 0.8, "MH rejects a share of the shifted draws"
    assert before["coverage_90"] < 0.8, ("the plant is not off", before)
    assert after["coverage_90"] > before["coverage_90"] + 0.05, (before, after)
    assert after["crps"] < 0.9 * before["crps"], (before, after)


def test_mh_widens_a_generator_planted_too_narrow(trained) -> None:  # type: ignore[no-untyped-def]
    # Coverage moves toward the level. The CRPS does not reliably improve here: the critic's density ratio,
    # learnt from one real value per window, errs from day to day by about as much as MH corrects.
    _, truth, model = trained
    forecast, before, after = planted_mh(model, truth, scale=0.5)
    assert forecast.ablations[1].extra["mh_acceptance"] < 0.9, "MH rejects a share of the narrow draws"
    assert before["coverage_90"] < 0.75, ("the plant is not narrow", before)
    assert after["coverage_90"] > before["coverage_90"] + 0.04, (before, after)
    assert after["coverage_50"] > before["coverage_50"] + 0.03, (before, after)
