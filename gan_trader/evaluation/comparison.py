"""Comparing many forecasts at once, with the multiple comparisons accounted for (`arch.bootstrap`).

- Model Confidence Set (Hansen, Lunde & Nason 2011): the models whose losses cannot be told apart from the
  best at the chosen level; a model outside it is significantly worse than some other model.
- Hansen's SPA test (2005) and White's Reality Check of "the best model vs the benchmark": a small p-value
  says that at least one model beats the benchmark (persistence for points, the trailing-60-day Gaussian for
  distributions) after the search over all of them; StepM (Romano & Wolf 2005) names which ones.

Losses are per day, one column per model, on the same days (absolute errors for points, CRPS for
distributions). The bootstraps are stationary block bootstraps with a fixed seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

BOOTSTRAP_REPS = 1000
MCS_SIZE = 0.10  # the set holds the best model with probability 1 - MCS_SIZE


@dataclass(frozen=True)
class ModelConfidenceSet:
    """The models kept at level 1 - size, and each model's MCS p-value (kept when above `size`)."""

    included: tuple[str, ...]
    pvalues: pd.Series
    size: float

    def describe(self) -> str:
        return f"{1 - self.size:.0%} model confidence set: {', '.join(self.included)}"


@dataclass(frozen=True)
class SuperiorityTest:
    """SPA and Reality Check p-values of "no model beats the benchmark", and the models StepM finds better."""

    benchmark: str
    spa_pvalue: float
    reality_check_pvalue: float
    better: tuple[str, ...]

    def describe(self) -> str:
        better = ", ".join(self.better) if self.better else "none"
        return (
            f"vs {self.benchmark}: SPA p = {self.spa_pvalue:.3g}, Reality Check p = "
            f"{self.reality_check_pvalue:.3g}; StepM finds better at 5 %: {better}"
        )


def _block_size(losses: pd.DataFrame) -> int:
    return max(2, int(round(len(losses) ** (1 / 3))))


def model_confidence_set(
    losses: pd.DataFrame, size: float = MCS_SIZE, reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> ModelConfidenceSet:
    """Hansen-Lunde-Nason MCS (range statistic) over the columns of `losses` (days x models)."""
    from arch.bootstrap import MCS

    losses = _checked(losses)
    # Models with identical losses every day (e.g. persistence and a zero-mean Gaussian's point forecast)
    # are one model to the test: it runs on one column of each group, and the group shares its verdict.
    representative = {column: column for column in losses.columns}
    distinct: list[str] = []
    for column in losses.columns:
        twin = next(
            (d for d in distinct if np.array_equal(losses[d].to_numpy(), losses[column].to_numpy())), None
        )
        if twin is None:
            distinct.append(column)
        else:
            representative[column] = twin
    if len(distinct) == 1:
        return ModelConfidenceSet(
            tuple(str(m) for m in losses.columns), pd.Series(1.0, index=losses.columns), size
        )
    unique = losses[distinct]
    mcs = MCS(unique, size=size, reps=reps, block_size=_block_size(unique), method="R", seed=seed)
    mcs.compute()
    found = mcs.pvalues["Pvalue"]
    pvalues = pd.Series([float(found[representative[m]]) for m in losses.columns], index=losses.columns)
    kept = set(mcs.included)
    return ModelConfidenceSet(
        tuple(str(m) for m in losses.columns if representative[m] in kept), pvalues, size
    )


def superiority_test(
    losses: pd.DataFrame, benchmark: str, reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> SuperiorityTest:
    """SPA (studentised) and Reality Check (not studentised) p-values, and StepM's better models."""
    from arch.bootstrap import SPA, StepM

    losses = _checked(losses)
    if benchmark not in losses.columns:
        raise ValueError(f"benchmark {benchmark!r} is not among the models {list(losses.columns)}")
    rivals = losses.drop(columns=benchmark)
    if rivals.empty:
        raise ValueError("the superiority test needs at least one model besides the benchmark")
    block = _block_size(losses)
    spa = SPA(losses[benchmark], rivals, block_size=block, reps=reps, studentize=True, seed=seed)
    spa.compute()
    check = SPA(losses[benchmark], rivals, block_size=block, reps=reps, studentize=False, seed=seed)
    check.compute()
    stepm = StepM(losses[benchmark], rivals, size=0.05, block_size=block, reps=reps, seed=seed)
    stepm.compute()
    return SuperiorityTest(
        benchmark,
        float(spa.pvalues["consistent"]),
        float(check.pvalues["upper"]),  # White's Reality Check: the non-studentised, upper p-value
        tuple(str(m) for m in stepm.superior_models),
    )


def _checked(losses: pd.DataFrame) -> pd.DataFrame:
    if losses.shape[1] < 2:
        raise ValueError("comparing models needs at least two columns of losses")
    if not np.isfinite(losses.to_numpy(float)).all():
        bad = losses.columns[~np.isfinite(losses.to_numpy(float)).all(axis=0)][0]
        raise ValueError(f"losses of {bad!r} are not all finite")
    return losses.astype(float)
