"""Metropolis-Hastings selection on a known toy distribution, critic calibration and its diagnostics (AUC,
Turner's Z, reliability), independent chains, CRPS and coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from gan_trader.models.mh import CriticCalibrator, critic_diagnostics, mh_chains, mh_select, turner_z
from gan_trader.models.scoring import crps_ensemble, interval_coverage

# Real data N(0, 1); a biased, over-dispersed "generator" N(1, 2^2).
REAL = stats.norm(0.0, 1.0)
FAKE = stats.norm(1.0, 2.0)


def ideal_critic(x: np.ndarray) -> np.ndarray:
    """D*(x) = p_data / (p_data + p_g): the optimal discriminator for the toy pair."""
    return REAL.pdf(x) / (REAL.pdf(x) + FAKE.pdf(x))


def raw_score(x: np.ndarray) -> np.ndarray:
    """An uncalibrated, WGAN-like score: a monotone squashing of the log density ratio, not a probability."""
    return 3.0 * np.tanh(0.5 * (REAL.logpdf(x) - FAKE.logpdf(x))) + 7.0


def test_mh_moves_generator_samples_toward_the_real_distribution() -> None:
    rng = np.random.default_rng(0)
    candidates = FAKE.rvs(size=(4000, 50), random_state=rng)
    chosen = mh_select(ideal_critic(candidates), rng)
    selected = candidates[np.arange(len(candidates)), chosen.index]
    raw = candidates[:, 0]
    real = REAL.rvs(size=20000, random_state=rng)
    before, after = stats.wasserstein_distance(raw, real), stats.wasserstein_distance(selected, real)
    assert after < 0.25 * before, (before, after)
    assert stats.ks_2samp(selected, real).statistic < 0.5 * stats.ks_2samp(raw, real).statistic
    assert abs(selected.mean()) < 0.1 and abs(selected.std() - 1.0) < 0.1
    assert 0.0 < chosen.acceptance_rate < 1.0


def test_isotonic_calibration_of_raw_scores_makes_mh_work() -> None:
    rng = np.random.default_rng(1)
    # "Validation" draws calibrate; fresh draws are then selected among.
    calibrator = CriticCalibrator().fit(
        raw_score(REAL.rvs(size=5000, random_state=rng)), raw_score(FAKE.rvs(size=5000, random_state=rng))
    )
    grid = np.linspace(-3, 3, 13)
    assert np.abs(calibrator.predict(raw_score(grid)) - ideal_critic(grid)).max() < 0.12
    candidates = FAKE.rvs(size=(3000, 40), random_state=rng)
    chosen = mh_select(calibrator.predict(raw_score(candidates)), rng)
    selected = candidates[np.arange(len(candidates)), chosen.index]
    real = REAL.rvs(size=20000, random_state=rng)
    assert stats.wasserstein_distance(selected, real) < 0.35 * stats.wasserstein_distance(
        candidates[:, 0], real
    )


def test_mh_chain_starts_at_the_first_candidate_and_never_leaves_a_perfect_one() -> None:
    probability = np.full((5, 4), 0.5)
    probability[:, 0] = 1.0  # a candidate the critic is sure is real: no other is ever accepted over it
    assert (mh_select(probability, np.random.default_rng(0)).index == 0).all()
    with pytest.raises(ValueError, match="N, K >= 2"):
        mh_select(np.full((3, 1), 0.5), np.random.default_rng(0))


def test_calibrator_maps_scores_into_open_unit_interval() -> None:
    calibrator = CriticCalibrator().fit(np.array([2.0, 3.0, 4.0]), np.array([-1.0, 0.0, 1.0]))
    probability = calibrator.predict(np.array([[-5.0, 0.5], [2.5, 50.0]]))
    assert probability.shape == (2, 2)
    assert (probability > 0).all() and (probability < 1).all()
    assert probability[0, 0] < probability[1, 1]


def test_crps_matches_its_definition_and_reduces_to_mae() -> None:
    rng = np.random.default_rng(2)
    actual, samples = rng.normal(size=6), rng.normal(size=(6, 7))
    brute = np.mean(
        [
            np.mean(np.abs(s - y)) - 0.5 * np.mean(np.abs(s[:, None] - s[None, :]))
            for s, y in zip(samples, actual, strict=True)
        ]
    )
    assert crps_ensemble(actual, samples) == pytest.approx(brute)
    assert crps_ensemble(actual, samples[:, :1]) == pytest.approx(np.mean(np.abs(samples[:, 0] - actual)))
    # A sharp ensemble centred on the outcomes beats a wide one.
    assert crps_ensemble(actual, actual[:, None] + 0.01 * samples) < crps_ensemble(
        actual, actual[:, None] + samples
    )


def test_interval_coverage_counts_outcomes_inside() -> None:
    actual = np.array([0.0, 1.0, 2.0, 3.0])
    assert interval_coverage(actual, np.full(4, 0.5), np.full(4, 2.0)) == 0.5
    rng = np.random.default_rng(3)
    draws = rng.normal(size=(20000,))
    assert interval_coverage(draws, np.full_like(draws, -1.645), np.full_like(draws, 1.645)) == pytest.approx(
        0.9, abs=0.01
    )


def test_turner_z_is_small_for_calibrated_probabilities_and_large_otherwise() -> None:
    rng = np.random.default_rng(4)
    probability = rng.uniform(0.05, 0.95, 20000)
    labels = rng.uniform(size=20000) < probability
    assert abs(turner_z(labels, probability)) < 3.0
    assert turner_z(labels, np.clip(probability - 0.1, 0.01, 0.99)) > 10.0  # says "real" too rarely


def test_critic_diagnostics_on_a_separating_and_a_blind_critic() -> None:
    rng = np.random.default_rng(5)
    real, fake = REAL.rvs(size=4000, random_state=rng), FAKE.rvs(size=4000, random_state=rng)
    calibrator = CriticCalibrator().fit(raw_score(REAL.rvs(size=4000, random_state=rng)), raw_score(fake))
    sharp = critic_diagnostics(
        raw_score(real),
        raw_score(fake),
        calibrator.predict(raw_score(real)),
        calibrator.predict(raw_score(fake)),
    )
    assert 0.6 < sharp.auc < 0.9 and abs(sharp.turner_z) < 4.0
    mean_probability, share_real, count = sharp.reliability.T
    assert count.sum() == 8000 and np.all(np.diff(mean_probability) > 0)
    assert np.abs(mean_probability - share_real).max() < 0.1  # calibrated: on the diagonal
    blind = critic_diagnostics(np.zeros(100), np.zeros(100), np.full(100, 0.5), np.full(100, 0.5))
    assert blind.auc == 0.5 and blind.turner_z == 0.0 and len(blind.reliability) == 1


def test_independent_chains_start_at_their_first_candidate_and_end_on_one_of_theirs() -> None:
    rng = np.random.default_rng(6)
    candidates = rng.normal(size=(5, 7, 4))
    states, acceptance = mh_chains(candidates, np.full(candidates.shape, 0.5), rng)
    assert states.shape == (5, 7) and acceptance == 1.0  # a blind critic accepts everything
    np.testing.assert_array_equal(states, candidates[:, :, -1])
    sure = np.full(candidates.shape, 0.5)
    sure[:, :, 0] = 1.0  # each chain's start is certainly real: no chain ever leaves it
    states, acceptance = mh_chains(candidates, sure, rng)
    np.testing.assert_array_equal(states, candidates[:, :, 0])
    assert acceptance < 1e-4
