"""Racing and selection: a session selects a set other than the reference (the config's own hyperparameters)
only when it beats the reference on fresh seeds.

After the search, the reference and the best `tuning.racing.candidates` other sets (a set is its
hyperparameters; ranked by the best validation score a finished, unpruned search episode of it reached, a
`keep` continuation included) are each re-trained `tuning.racing.seeds` times from scratch for the session's
episode length (so every set is judged at the same training length, the one the budget held back epochs
for), every run with its own seed from the session's stream. Each set is then judged on its unselected
runs: the racing runs, and for the reference also its own search episode (trained whatever its score); a
candidate's search episode is left out (it was picked for its score: the winner's curse). Another set is
selected when its mean validation score beats the reference's by more than one standard error of the
difference (the runs' pooled standard deviation x sqrt(1/n_reference + 1/n_candidate)); the best such set,
else the reference. A candidate with a failed racing run is not selected. Racing epochs are charged to the
session's budget: the session holds back (candidates + 1) x seeds x its episode length from the search (a
candidate whose runs no longer fit what is left, e.g. after a driver of its own overspent, is not raced;
logged).

The selected set's test score is the mean over the same unselected runs, per day (CRPS, for the paired
one-sided Diebold-Mariano test against the reference's runs) and overall.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from gan_trader.evaluation.stats_tests import StatResult, dm_test
from gan_trader.models.base import ForecastTask
from gan_trader.models.scoring import crps_fair, realised_returns
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import REFERENCE
from gan_trader.tuning.pruning import PRUNED_METRIC

log = logging.getLogger(__name__)

RACE = "race"  # the logged action of a racing run


def set_key(hyperparameters: dict[str, Any]) -> str:
    return json.dumps(hyperparameters, sort_keys=True, default=str)


@dataclass
class RacingRun:
    """One planned racing run: set `position` (0: the reference) trained from scratch for `epochs`."""

    position: int
    hyperparameters: dict[str, Any]
    epochs: int
    raced: int | None  # the search episode whose set it races (None: the reference's set, not searched)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "hyperparameters": self.hyperparameters,
            "epochs": self.epochs,
            "raced": self.raced,
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> RacingRun:
        return cls(**payload)


def racing_plan(
    history: Sequence[EpisodeResult],
    reference: dict[str, Any],
    *,
    objective: str,
    candidates: int,
    seeds: int,
    episode_epochs: int,
    epochs_left: int,
    reference_searched: bool = True,
) -> list[RacingRun]:
    """The racing runs after a search (`history`): the reference's first, then each candidate's in rank
    order while all its runs fit in `epochs_left`. When no candidate is raced, nothing, unless the search
    trained no episode labelled as the reference (`reference_searched` False: pbt, pb2), whose runs are then
    what the selected reference is."""
    reference_key = set_key(reference)
    best: dict[str, EpisodeResult] = {}
    for result in history:
        value = result.objective(objective)
        if not result.ok or not math.isfinite(value) or result.metrics.get(PRUNED_METRIC, 0.0) > 0:
            continue
        if result.action in (REFERENCE, RACE):
            continue
        key = set_key(result.hyperparameters)
        if key == reference_key:
            continue
        if key not in best or value < best[key].objective(objective):
            best[key] = result
    ranked = sorted(best.values(), key=lambda r: (r.objective(objective), r.index))[:candidates]
    left = epochs_left - seeds * episode_epochs
    runs = [RacingRun(0, dict(reference), episode_epochs, None) for _ in range(seeds)]
    raced = 0
    for result in ranked:
        if seeds * episode_epochs > left:
            log.info(
                "racing: episode %d's set does not fit the %d epochs left; not raced", result.index, left
            )
            continue
        raced += 1
        left -= seeds * episode_epochs
        runs += [RacingRun(raced, dict(result.hyperparameters), episode_epochs, result.index)] * seeds
    return runs if raced or not reference_searched else []


@dataclass
class RacedSet:
    """A set and the runs it is judged on (see the module docstring)."""

    position: int  # 0: the reference
    hyperparameters: dict[str, Any]
    epochs: int
    raced: int | None
    runs: list[EpisodeResult] = field(default_factory=list)
    search_run: EpisodeResult | None = None  # a candidate's own search episode (not judged on)

    def scores(self, objective: str) -> np.ndarray:
        return np.asarray([run.objective(objective) for run in self.runs], float)

    def mean(self, objective: str) -> float:
        values = self.scores(objective)
        values = values[np.isfinite(values)]
        return float(values.mean()) if len(values) else math.inf

    def complete(self, objective: str) -> bool:
        """Every run finished with a finite score."""
        return bool(self.runs) and bool(np.isfinite(self.scores(objective)).all())

    def test_mean(self, key: str) -> float:
        values = [run.metrics.get(key, math.nan) for run in self.runs if run.ok]
        finite = [v for v in values if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.nan

    def daily_test_crps(self, task: ForecastTask) -> pd.Series:
        """Per test day, the mean CRPS of the set's runs that kept their test forecasts (empty if none)."""
        columns = []
        for run in self.runs:
            forecast = run.test_forecast
            if run.ok and forecast is not None and forecast.samples is not None:
                crps = crps_fair(realised_returns(task, forecast), forecast.samples)
                columns.append(pd.Series(crps, index=forecast.target_dates))
        return pd.concat(columns, axis=1).mean(axis=1) if columns else pd.Series(dtype=float)

    @property
    def label(self) -> str:
        return REFERENCE if self.position == 0 else f"episode {self.raced}'s set"


def one_sided_dm(model_loss: np.ndarray, benchmark_loss: np.ndarray) -> StatResult:
    """Diebold-Mariano (evaluation.stats_tests.dm_test) with the one-sided p-value of "the model's loss is
    lower than the benchmark's"."""
    result = dm_test(model_loss, benchmark_loss)
    if not math.isfinite(result.statistic):
        return result
    return StatResult(result.statistic, float(stats.t.cdf(result.statistic, df=result.n - 1)), result.n)


@dataclass
class Selection:
    """What a session selected and by how much it beats the reference (validation: racing; test: the same
    runs, per day)."""

    reference: RacedSet
    selected: RacedSet
    candidates: list[RacedSet]
    objective: str
    pooled_sd: float = math.nan
    standard_error: float = math.nan  # of the difference between the best raced set and the reference
    test_reference: float = math.nan
    test_selected: float = math.nan
    test_dm: StatResult | None = None
    daily_selected: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    daily_reference: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))

    @property
    def is_reference(self) -> bool:
        return self.selected.position == 0

    @property
    def improvement_val(self) -> float:
        """The reference's mean validation score less the selected set's (positive: better)."""
        return self.reference.mean(self.objective) - self.selected.mean(self.objective)

    @property
    def improvement_test(self) -> float:
        return self.test_reference - self.test_selected

    @property
    def best(self) -> EpisodeResult | None:
        """The selected set's run (its search episode included) with the best validation score: the one
        model a run uses where it needs one."""
        runs = [r for r in [*self.selected.runs, self.selected.search_run] if r is not None and r.ok]
        finite = [r for r in runs if math.isfinite(r.objective(self.objective))]
        return min(finite, key=lambda r: r.objective(self.objective)) if finite else None

    def selected_indices(self) -> set[int]:
        return {run.index for run in self.selected.runs}

    def metrics(self) -> dict[str, float]:
        values = {
            "select/reference_val": self.reference.mean(self.objective),
            "select/selected_val": self.selected.mean(self.objective),
            "select/improvement_val": self.improvement_val,
            "select/improvement_se": self.standard_error,
            "select/reference_test": self.test_reference,
            "select/selected_test": self.test_selected,
            "select/improvement_test": self.improvement_test,
            "select/is_reference": float(self.is_reference),
            "select/raced_sets": float(len(self.candidates)),
        }
        if self.test_dm is not None:
            values["select/test_dm_stat"] = self.test_dm.statistic
            values["select/test_dm_p"] = self.test_dm.pvalue
        return {key: value for key, value in values.items() if math.isfinite(value)}

    def describe(self) -> str:
        """One line: what was selected, its validation improvement over the reference with its standard
        error, and the test improvement with the one-sided DM p-value."""
        objective = self.objective
        ref = self.reference
        if not self.candidates:
            text = (
                f"selected the reference set (no set raced against it): {objective} "
                f"{ref.mean(objective):.4f} over {len(ref.runs)} run(s)"
            )
        elif self.is_reference:
            best = min(self.candidates, key=lambda c: c.mean(objective))
            difference = ref.mean(objective) - best.mean(objective)
            se = self.standard_error
            verdict = (
                f"better by {difference:.4f}, within one standard error ({se:.4f})"
                if difference > 0
                else f"not better (the reference leads by {-difference:.4f}; one standard error {se:.4f})"
            )
            text = (
                f"kept the reference set: the best raced set ({best.label}) {best.mean(objective):.4f} vs "
                f"the reference's {ref.mean(objective):.4f} on fresh seeds, {verdict}"
            )
        else:
            text = (
                f"selected {self.selected.label}: {objective} {self.selected.mean(objective):.4f} vs the "
                f"reference's {ref.mean(objective):.4f} on fresh seeds, improvement "
                f"{self.improvement_val:.4f} > one standard error ({self.standard_error:.4f})"
            )
            if math.isfinite(self.improvement_test):
                test = objective.replace("val/", "test/")
                p = self.test_dm.pvalue if self.test_dm is not None else math.nan
                text += (
                    f"; on the test days {test} {self.test_selected:.4f} vs {self.test_reference:.4f} "
                    f"(improvement {self.improvement_test:+.4f}, one-sided DM on per-day CRPS p = {p:.3g})"
                )
        return text


def _se(pooled_sd: float, n_a: int, n_b: int) -> float:
    if not (math.isfinite(pooled_sd) and n_a and n_b):
        return math.inf
    return pooled_sd * math.sqrt(1.0 / n_a + 1.0 / n_b)


def pooled_sd(sets: Sequence[RacedSet], objective: str) -> float:
    """The runs' standard deviation pooled over the sets (each about its own mean); NaN without a degree of
    freedom."""
    squares, freedom = 0.0, 0
    for raced in sets:
        values = raced.scores(objective)
        values = values[np.isfinite(values)]
        if len(values) > 1:
            squares += float(((values - values.mean()) ** 2).sum())
            freedom += len(values) - 1
    return math.sqrt(squares / freedom) if freedom else math.nan


def raced_sets(
    history: Sequence[EpisodeResult],
    plan: Sequence[RacingRun],
    reference: dict[str, Any],
    episode_epochs: int,
) -> tuple[RacedSet, list[RacedSet]]:
    """The reference and the candidates with their runs: racing runs are the episodes logged with action
    `race` (in plan order), the reference's search episode is the one logged `reference`."""
    by_index = {result.index: result for result in history}
    sets: dict[int, RacedSet] = {0: RacedSet(0, dict(reference), episode_epochs, None)}
    for run in plan:
        if run.position not in sets:
            search = by_index.get(run.raced) if run.raced is not None else None
            sets[run.position] = RacedSet(
                run.position, run.hyperparameters, run.epochs, run.raced, [], search
            )
    reference_runs = [r for r in history if r.action == REFERENCE]
    sets[0].runs.extend(reference_runs)
    racing = sorted((r for r in history if r.action == RACE), key=lambda r: r.index)
    for run, result in zip(plan, racing, strict=False):
        sets[run.position].runs.append(result)
    return sets[0], [sets[p] for p in sorted(sets) if p != 0]


def select(
    reference: RacedSet, candidates: list[RacedSet], objective: str, task: ForecastTask | None
) -> Selection:
    """The selection rule of the module docstring, and the test comparison of the selected set."""
    sd = pooled_sd([reference, *candidates], objective)
    reference_mean = reference.mean(objective)
    ranked = sorted(candidates, key=lambda c: c.mean(objective))
    selected = reference
    error = _se(sd, len(reference.runs), len(ranked[0].runs)) if ranked else math.nan
    for candidate in ranked:
        se = _se(sd, len(reference.runs), len(candidate.runs))
        if candidate.complete(objective) and reference_mean - candidate.mean(objective) > se:
            selected, error = candidate, se
            break
    test_key = objective.replace("val/", "test/")
    selection = Selection(reference, selected, candidates, objective, sd, error)
    selection.test_reference = reference.test_mean(test_key)
    selection.test_selected = selected.test_mean(test_key)
    if task is not None:
        selection.daily_reference = reference.daily_test_crps(task)
        selection.daily_selected = (
            selected.daily_test_crps(task) if selected is not reference else (selection.daily_reference)
        )
        if selected is not reference and len(selection.daily_selected) and len(selection.daily_reference):
            both = pd.concat([selection.daily_selected, selection.daily_reference], axis=1, join="inner")
            selection.test_dm = one_sided_dm(both.iloc[:, 0].to_numpy(), both.iloc[:, 1].to_numpy())
    return selection
