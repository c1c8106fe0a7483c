"""Bayesian optimisation of the validation error with `bayes_opt` 3.x: a GP with UCB (kappa 2.5).

bayes_opt maximises, so the target registered is the negated objective. Suggestions come through a
`ConstantLiar` around UCB: a suggestion not yet registered counts as a pessimistic observation, so asking
for several points before any result (parallel slots) gives distinct points. The GP works in the search
space's continuous box (see `space.py`); the exact box point of each suggestion is what gets registered.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from bayes_opt import BayesianOptimization, acquisition

from gan_trader.errors import DamagedFileError, TuningError
from gan_trader.io import (
    OPTIMIZER_STATE_FORMAT,
    RUN_FORMAT,
    atomic_path,
    describe_version,
    read_state,
    write_json,
)
from gan_trader.tracking.recorder import FINISHED, Recorder
from gan_trader.tracking.tags import SESSION_TAG
from gan_trader.tuning.space import SearchSpace

log = logging.getLogger(__name__)

# What to do about optimiser state that cannot be read back: it holds what the session learned so far.
RESUME_REMEDY = "the session cannot be resumed; start a new session (its logged episodes stay in the store)"


@dataclass
class Suggestion:
    """A proposed hyperparameter set and the box point the optimiser chose it at."""

    params: dict[str, Any]
    box: dict[str, float]
    source: str  # "random" (initial design) or "ucb"
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"params": self.params, "box": self.box, "source": self.source}

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> Suggestion:
        return cls(dict(payload["params"]), dict(payload["box"]), str(payload["source"]))


class BayesOptimizer:
    """GP-UCB over a SearchSpace; minimises the objective; state saved and restored as JSON."""

    def __init__(self, space: SearchSpace, kappa: float = 2.5, init_points: int = 2, seed: int = 0) -> None:
        self.space = space
        self.kappa = kappa
        self.init_points = init_points
        self.seed = seed
        self.suggested = 0
        self._optimizer = self._new_optimizer()

    def _new_optimizer(self) -> BayesianOptimization:
        ucb = acquisition.UpperConfidenceBound(kappa=self.kappa, random_state=self.seed)
        liar = acquisition.ConstantLiar(base_acquisition=ucb, strategy="min", random_state=self.seed)
        return BayesianOptimization(
            f=None,
            pbounds=self.space.bounds,
            acquisition_function=liar,
            random_state=self.seed,
            verbose=0,
            allow_duplicate_points=True,  # "keep training" re-measures the same point with more epochs
        )

    @property
    def observations(self) -> int:
        return len(self._optimizer.space)

    def suggest(self) -> Suggestion:
        """The next point: random for the first `init_points` (and while nothing is observed), then UCB."""
        random_phase = self.suggested < self.init_points or self.observations == 0
        raw = self._optimizer.random_sample(1)[0] if random_phase else self._optimizer.suggest()
        self.suggested += 1
        box = {key: float(value) for key, value in raw.items()}
        return Suggestion(self.space.from_box(box), box, "random" if random_phase else "ucb")

    def suggest_batch(self, size: int) -> list[Suggestion]:
        return [self.suggest() for _ in range(size)]

    def register(self, params_or_box: Mapping[str, Any], objective: float, *, is_box: bool = False) -> None:
        """Record an observed objective (lower is better); a non-finite one counts as the worst seen."""
        box = dict(params_or_box) if is_box else self.space.to_box(params_or_box)
        target = -float(objective)
        if not math.isfinite(target):
            seen = self._optimizer.space.target
            if len(seen) == 0:
                self._drop_dummy(box)
                log.info("no finite observation yet: a failed point is not registered")
                return
            # Below everything seen, so the GP learns to avoid the region without a huge outlier.
            target = float(np.min(seen) - 0.1 * (np.ptp(seen) + abs(np.min(seen)) + 1e-12))
        self._optimizer.register(params=box, target=target)

    def _drop_dummy(self, box: Mapping[str, float]) -> None:
        liar: Any = self._optimizer.acquisition_function
        point = np.array([box[name] for name in self.space.names], float)
        liar.dummies = [d for d in liar.dummies if not np.allclose(d, point, atol=1e-5)]

    def best(self) -> tuple[dict[str, Any], float] | None:
        best = self._optimizer.max
        if best is None:
            return None
        return self.space.from_box(best["params"]), -float(best["target"])

    # state -----------------------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the optimiser's state (observations, GP, RNG, pending suggestions) atomically."""
        path = Path(path)
        with atomic_path(path.with_suffix(".bo.json")) as tmp:
            self._optimizer.save_state(tmp)
        write_json(
            path,
            {
                "format": OPTIMIZER_STATE_FORMAT,
                "kappa": self.kappa,
                "init_points": self.init_points,
                "seed": self.seed,
                "suggested": self.suggested,
                "names": self.space.names,
                "bo_state": path.with_suffix(".bo.json").name,
            },
        )

    @classmethod
    def load(cls, space: SearchSpace, path: str | Path, remedy: str = RESUME_REMEDY) -> BayesOptimizer:
        """The optimiser saved at `path`; DamagedFileError or OutdatedFileError (naming the file and
        `remedy`) when it cannot be read back or another format version wrote it."""
        path = Path(path)
        meta = read_state(path, "optimiser state", OPTIMIZER_STATE_FORMAT, remedy)
        try:
            names, bo_state = list(meta["names"]), path.parent / str(meta["bo_state"])
            kappa, init_points = float(meta["kappa"]), int(meta["init_points"])
            seed, suggested = int(meta["seed"]), int(meta["suggested"])
        except (KeyError, TypeError, ValueError) as exc:
            raise DamagedFileError(f"{path}: damaged optimiser state (no valid {exc}); {remedy}") from None
        if names != space.names:
            raise TuningError(f"{path}: saved optimiser has dimensions {names}, the space has {space.names}")
        optimizer = cls(space, kappa, init_points, seed)
        try:
            optimizer._optimizer.load_state(bo_state)
        except Exception as exc:  # bayes_opt raises json, key and shape errors for a damaged file
            raise DamagedFileError(
                f"{bo_state}: damaged optimiser state ({type(exc).__name__}); {remedy}"
            ) from None
        optimizer.suggested = suggested
        return optimizer

    # warm start ------------------------------------------------------------------------------------

    def warm_start(self, observations: list[tuple[dict[str, Any], float]]) -> int:
        """Register earlier (params, objective) pairs; points outside the current space are skipped."""
        used = 0
        for params, objective in observations:
            try:
                box = self.space.to_box(params)
            except Exception as exc:  # a logged point from an older, different space
                log.info("warm start: skipped %s (%s)", params, exc)
                continue
            if math.isfinite(objective):
                self._optimizer.register(params=box, target=-float(objective))
                used += 1
        return used


def logged_observations(
    recorder: Recorder, space: SearchSpace, objective: str, exclude_session: str | None = None
) -> list[tuple[dict[str, Any], float]]:
    """(hyperparameters, objective) of every FINISHED episode of the recorder's experiment logged with this
    format version (io.RUN_FORMAT); episodes an older gan-trader logged (another GAN, other metrics) are left
    out with a logged note.

    Episodes log their hyperparameters as params `hp.<name>` and the objective as a metric (`val/mae`...).
    """
    runs = recorder.runs(kind="episode", status=FINISHED, limit=5000)
    found: list[tuple[dict[str, Any], float]] = []
    other_versions: dict[int | None, int] = {}
    for run in runs:
        if exclude_session and run.tags.get(SESSION_TAG) == exclude_session:
            continue
        if run.format_version != RUN_FORMAT:
            other_versions[run.format_version] = other_versions.get(run.format_version, 0) + 1
            continue
        if objective not in run.metrics or run.episode_index is None:
            continue
        try:
            params = space.parse(run.param_section("hp"))
        except Exception:
            continue
        if set(params) != set(space.names):
            continue
        found.append((params, run.metrics[objective]))
    if other_versions:
        counts = ", ".join(
            f"{count} of {describe_version(version)}"
            for version, count in sorted(other_versions.items(), key=str)
        )
        log.info(
            "warm start: left out %d episodes logged by another gan-trader (%s; this one logs version %d)",
            sum(other_versions.values()),
            counts,
            RUN_FORMAT,
        )
    return found
