"""What a controller observes of a session: the env's observation, and the rl strategy's policy input.

Float32, each entry clipped to [-10, 10]:
  [0] last validation error / persistence's error on the same days   [1] last val/relmae
  [2..4] last epoch's train/loss_d, train/loss_g, train/wasserstein, squashed by sign(x) * log1p(|x|)
  [5..9] changes of entries 0..4 since the previous episode
  [10] best validation error so far / persistence's   [11] share of the epoch budget left
  [12] last episode failed   [13] a checkpoint can be continued (the incumbent's, what keep continues)
  [14] the slope of the last episode's learning curve (episode.learning_slope: its validation score's change
  per epoch over its last epochs, relative to their level, x 100; negative: still improving)
  [15..] the last episode's hyperparameters, each normalised to [0, 1] in the search box (zeros before the
  first episode, or when they lie outside the box)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from gan_trader.errors import TuningError
from gan_trader.tuning.episode import SLOPE_METRIC, EpisodeResult
from gan_trader.tuning.loop import FAILED_ERROR, continuable, relative_error
from gan_trader.tuning.space import SearchSpace

LOSS_KEYS = ("train/loss_d", "train/loss_g", "train/wasserstein")
N_METRICS = 5


def _squash(value: float) -> float:
    return float(np.sign(value) * np.log1p(abs(value))) if math.isfinite(value) else 0.0


def _metric_vector(result: EpisodeResult | None, objective: str) -> np.ndarray:
    if result is None:
        return np.zeros(N_METRICS)
    last = result.history[-1] if result.history else {}
    relmae = result.metrics.get("val/relmae", FAILED_ERROR) if result.ok else FAILED_ERROR
    values = [relative_error(result, objective), relmae] + [_squash(last.get(k, 0.0)) for k in LOSS_KEYS]
    return np.nan_to_num(np.asarray(values, float), nan=FAILED_ERROR, posinf=FAILED_ERROR)


def observation_size(space: SearchSpace) -> int:
    return 2 * N_METRICS + 5 + len(space)


def _slope(result: EpisodeResult | None) -> float:
    """The last episode's learning-curve slope in percent per epoch (0 before any, or for a failed one)."""
    if result is None or not result.ok:
        return 0.0
    value = result.metrics.get(SLOPE_METRIC, 0.0)
    return 100.0 * float(value) if math.isfinite(value) else 0.0


def _normalised_hyperparameters(history: Sequence[EpisodeResult], space: SearchSpace) -> np.ndarray:
    if history:
        try:
            return space.normalise(history[-1].hyperparameters)
        except TuningError:  # a set from outside the box (e.g. a warm start from another space)
            pass
    return np.zeros(len(space), np.float32)


def observation(
    history: Sequence[EpisodeResult], space: SearchSpace, objective: str, budget_left: float
) -> np.ndarray:
    """The observation of a session whose recorded episodes are `history` (in index order)."""
    last = history[-1] if history else None
    previous = history[-2] if len(history) > 1 else None
    now = _metric_vector(last, objective)
    change = now - _metric_vector(previous, objective) if previous is not None else np.zeros(N_METRICS)
    best = min((relative_error(r, objective) for r in history), default=1.0)
    can_keep = float(continuable(history, objective) is not None)
    failed = float(last is not None and not last.ok)
    hyperparameters = _normalised_hyperparameters(history, space)
    state = [best, budget_left, failed, can_keep, _slope(last)]
    vector = np.concatenate([now, change, state, hyperparameters])
    return np.clip(vector, -10.0, 10.0).astype(np.float32)
