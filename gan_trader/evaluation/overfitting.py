"""How much of a tuning session's best backtest is selection luck.

- Deflated Sharpe Ratio (Bailey & López de Prado 2014): the probability that the selected episode's true
  Sharpe ratio exceeds the largest one expected from N episodes of no skill, given the sample length and
  the returns' skewness and kurtosis.
- Probability of Backtest Overfitting (Bailey, Borwein, López de Prado & Zhu 2017) by combinatorially
  symmetric cross-validation (CSCV): the share of in-sample/out-of-sample splits of the days in which the
  configuration best in sample ranks below the median out of sample.

Both need enough tries to mean anything: below `MIN_EPISODES` they are not computed ("n/a").
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

MIN_EPISODES = 10
EULER_GAMMA = 0.5772156649015329
CSCV_BLOCKS = 16


def too_few(n_episodes: int) -> bool:
    return n_episodes < MIN_EPISODES


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """E[max SR] of `n_trials` independent trials with zero true Sharpe and this variance across trials."""
    if n_trials < 2:
        return 0.0
    first = stats.norm.ppf(1.0 - 1.0 / n_trials)
    second = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * first + EULER_GAMMA * second)


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark: float, observations: int, skewness: float, kurtosis: float
) -> float:
    """P(true SR > benchmark) for an observed per-period SR over `observations` periods (kurtosis: not
    excess; 3 for normal returns)."""
    spread = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if observations < 2 or spread <= 0:
        return float("nan")
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(observations - 1) / math.sqrt(spread)))


def deflated_sharpe_ratio(
    sharpe: float,
    observations: int,
    n_trials: int,
    sharpe_variance: float,
    skewness: float = 0.0,
    kurtosis: float = 3.0,
) -> float:
    """The PSR of the selected per-period Sharpe ratio against the expected maximum of `n_trials`."""
    return probabilistic_sharpe_ratio(
        sharpe, expected_max_sharpe(n_trials, sharpe_variance), observations, skewness, kurtosis
    )


@dataclass(frozen=True)
class SelectionReport:
    """A session's selection, deflated: the number of episodes, the DSR of the selected one, the PBO."""

    episodes: int
    deflated_sharpe: float | None
    pbo: float | None

    def describe(self) -> str:
        if self.deflated_sharpe is None or self.pbo is None:
            return f"{self.episodes} episodes tried: deflated Sharpe ratio and PBO n/a (too few episodes)"
        return (
            f"{self.episodes} episodes tried: deflated Sharpe ratio of the selected episode "
            f"{self.deflated_sharpe:.3f}, probability of backtest overfitting {self.pbo:.3f}"
        )


def sharpe(returns: np.ndarray) -> float:
    returns = np.asarray(returns, float)
    sd = returns.std(ddof=1)
    return float(returns.mean() / sd) if sd > 0 else 0.0


def selection_report(returns: np.ndarray, selected: int) -> SelectionReport:
    """DSR of column `selected` and PBO over all columns of `returns` (days x episodes, per-day returns of
    each episode's strategy on the days it was selected on); n/a below MIN_EPISODES episodes."""
    returns = np.asarray(returns, float)
    n_episodes = returns.shape[1]
    if too_few(n_episodes):
        return SelectionReport(n_episodes, None, None)
    sharpes = np.array([sharpe(column) for column in returns.T])
    chosen = returns[:, selected]
    dsr = deflated_sharpe_ratio(
        sharpes[selected],
        len(chosen),
        n_episodes,
        float(np.var(sharpes, ddof=1)),
        float(stats.skew(chosen)),
        float(stats.kurtosis(chosen, fisher=False)),
    )
    return SelectionReport(n_episodes, dsr, probability_of_backtest_overfitting(returns))


def _block_sharpes(
    members: np.ndarray, counts: np.ndarray, sums: np.ndarray, squares: np.ndarray
) -> np.ndarray:
    """Sharpe ratio of every configuration over each set of blocks (rows of the 0/1 `members`)."""
    n = members @ counts
    total = members @ sums
    variance = (members @ squares - total**2 / n[:, None]) / (n[:, None] - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (total / n[:, None]) / np.sqrt(variance)
    return np.nan_to_num(ratio, nan=0.0, posinf=0.0, neginf=0.0)


def probability_of_backtest_overfitting(returns: np.ndarray, blocks: int = CSCV_BLOCKS) -> float:
    """PBO by CSCV over `returns` (days x configurations), performance = Sharpe ratio.

    The days are cut into `blocks` contiguous blocks; every half of them is once the in-sample set. The
    configuration with the best in-sample Sharpe gets its relative rank w among the out-of-sample Sharpes;
    PBO is the share of splits with logit(w) <= 0, i.e. where it lands in the bottom half.
    """
    returns = np.asarray(returns, float)
    days, n = returns.shape
    blocks = min(blocks, days // 2)
    blocks -= blocks % 2
    if n < 2 or blocks < 2:
        return float("nan")
    edges = np.linspace(0, days, blocks + 1).astype(int)
    counts = np.diff(edges).astype(float)
    sums = np.add.reduceat(returns, edges[:-1], axis=0)
    squares = np.add.reduceat(returns**2, edges[:-1], axis=0)
    members = np.zeros((math.comb(blocks, blocks // 2), blocks))
    for row, chosen in enumerate(itertools.combinations(range(blocks), blocks // 2)):
        members[row, list(chosen)] = 1.0
    inside = _block_sharpes(members, counts, sums, squares)
    outside = _block_sharpes(1.0 - members, counts, sums, squares)
    best = np.argmax(inside, axis=1)
    ranks = stats.rankdata(outside, axis=1)[np.arange(len(best)), best] / (n + 1)
    logits = np.log(ranks / (1.0 - ranks))
    return float(np.mean(logits <= 0.0))
