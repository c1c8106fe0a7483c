"""Metropolis-Hastings selection among generator samples (Turner et al., "Metropolis-Hastings GANs", 2019).

A critic calibrated to D(x) = P(real | x) turns the generator into an independence sampler whose stationary
distribution is the data's: candidate x' from G replaces the current state x with probability
min(1, (1/D(x) - 1) / (1/D(x') - 1)). Each chain starts at its first candidate (never at the true value,
which would leak the answer); the final states of many independent chains per day are the MH distribution.

Raw WGAN critic scores are not probabilities; an isotonic regression fitted on held-out validation windows
(real = 1, generated = 0) maps them onto [0, 1]. Whether that worked is checked on windows the map did not
see: the critic's AUC (0.5: it cannot tell real from generated, and MH accepts nearly everything), Turner's
Z statistic of the calibrated probabilities (about N(0, 1) when calibrated) and a reliability curve.
No torch here: this module works on score arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.metrics import roc_auc_score

# Calibrated probabilities are kept off 0 and 1 so that the odds 1/D - 1 stay finite and positive.
PROBABILITY_FLOOR = 1e-6


class CriticCalibrator:
    """Isotonic map from raw critic scores to P(real), fitted on validation scores only."""

    def __init__(self) -> None:
        self.isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
        self.fitted = False
        self.n_real = 0
        self.n_fake = 0

    def fit(self, real_scores: np.ndarray, fake_scores: np.ndarray) -> CriticCalibrator:
        real_scores = np.asarray(real_scores, float).ravel()
        fake_scores = np.asarray(fake_scores, float).ravel()
        if len(real_scores) == 0 or len(fake_scores) == 0:
            raise ValueError("calibration needs real and generated scores")
        scores = np.concatenate([real_scores, fake_scores])
        labels = np.concatenate([np.ones_like(real_scores), np.zeros_like(fake_scores)])
        # Equal total weight per class, so the map estimates p_data / (p_data + p_g) whatever the counts.
        weights = np.concatenate(
            [
                np.full(len(real_scores), 0.5 / len(real_scores)),
                np.full(len(fake_scores), 0.5 / len(fake_scores)),
            ]
        )
        self.isotonic.fit(scores, labels, sample_weight=weights)
        self.fitted, self.n_real, self.n_fake = True, len(real_scores), len(fake_scores)
        return self

    def predict(self, scores: np.ndarray) -> np.ndarray:
        if not self.fitted:
            raise RuntimeError("CriticCalibrator.predict called before fit")
        flat = np.asarray(scores, float).ravel()
        probability = self.isotonic.predict(flat).reshape(np.shape(scores))
        return np.clip(probability, PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)


@dataclass
class MHResult:
    """Chosen candidate per row, and the share of proposals accepted (a diagnostic of critic vs generator)."""

    index: np.ndarray
    acceptance_rate: float


def mh_select(probabilities: np.ndarray, rng: np.random.Generator) -> MHResult:
    """Run one independence chain per row over K candidates' calibrated D values (N, K); return final states.

    Row n starts at candidate 0 and proposes candidates 1..K-1 in order.
    """
    probabilities = np.clip(np.asarray(probabilities, float), PROBABILITY_FLOOR, 1.0 - PROBABILITY_FLOOR)
    if probabilities.ndim != 2 or probabilities.shape[1] < 2:
        raise ValueError(f"mh_select needs an (N, K >= 2) array, got shape {probabilities.shape}")
    n, k = probabilities.shape
    odds = 1.0 / probabilities - 1.0  # p_g / p_data at each candidate
    current = np.zeros(n, dtype=int)
    uniforms = rng.random((n, k - 1))
    accepted = 0
    rows = np.arange(n)
    for proposal in range(1, k):
        ratio = odds[rows, current] / odds[:, proposal]
        accept = uniforms[:, proposal - 1] < np.minimum(1.0, ratio)
        current = np.where(accept, proposal, current)
        accepted += int(accept.sum())
    return MHResult(index=current, acceptance_rate=accepted / (n * (k - 1)))


def turner_z(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Turner et al.'s calibration statistic: sum(y - D) / sqrt(sum D (1 - D)), about N(0, 1) when the
    probabilities D of the labels y (real = 1) are calibrated; large |Z| rejects calibration."""
    labels = np.asarray(labels, float).ravel()
    probabilities = np.asarray(probabilities, float).ravel()
    variance = float(np.sum(probabilities * (1.0 - probabilities)))
    return float(np.sum(labels - probabilities) / np.sqrt(variance)) if variance > 0 else float("nan")


@dataclass
class CriticDiagnostics:
    """How well the critic separates real from generated values and how well its calibration holds, on
    validation windows the calibration did not see (two halves, each scored by a map fitted on the other).

    `reliability` rows: (mean calibrated probability, share of real values, count) per occupied bin.
    """

    auc: float
    turner_z: float
    reliability: np.ndarray


def critic_diagnostics(
    real_scores: np.ndarray,
    fake_scores: np.ndarray,
    real_probabilities: np.ndarray,
    fake_probabilities: np.ndarray,
    bins: int = 10,
) -> CriticDiagnostics:
    """AUC of the raw scores, Turner's Z and the reliability curve of held-out calibrated probabilities.

    Pass as many real as generated values: the calibration estimates P(real) at equal class weights.
    """
    labels = np.concatenate([np.ones(np.size(real_scores)), np.zeros(np.size(fake_scores))])
    scores = np.concatenate([np.ravel(real_scores), np.ravel(fake_scores)]).astype(float)
    probabilities = np.concatenate([np.ravel(real_probabilities), np.ravel(fake_probabilities)]).astype(float)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    rows = [
        (float(probabilities[which == b].mean()), float(labels[which == b].mean()), float(np.sum(which == b)))
        for b in range(bins)
        if np.any(which == b)
    ]
    return CriticDiagnostics(
        auc=float(roc_auc_score(labels, scores)),
        turner_z=turner_z(labels, probabilities),
        reliability=np.asarray(rows, float).reshape(-1, 3),
    )


def mh_chains(
    candidates: np.ndarray, probabilities: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Final states (N, C) of C independent chains per row over candidates with calibrated D values
    (N, C, L), each chain starting at its first candidate; and the share of proposals accepted."""
    n, chains, length = np.shape(candidates)
    result = mh_select(np.reshape(probabilities, (n * chains, length)), rng)
    flat = np.reshape(candidates, (n * chains, length))
    return flat[np.arange(n * chains), result.index].reshape(n, chains), result.acceptance_rate


@dataclass
class MHCalibration:
    """What MH needs from a fitted GAN's validation windows: the critic's calibration (fitted on all of
    them), its held-out diagnostics, and whether MH's samples beat raw draws there (mean CRPS of each, in
    scaled units, on the half the map scoring them did not see)."""

    calibrator: CriticCalibrator
    diagnostics: CriticDiagnostics
    crps_raw: float
    crps_mh: float
