"""Bayesian optimisation of the validation error with `bayes_opt` 3.x: a GP with UCB (kappa 2.5).

bayes_opt maximises, so the target registered is the negated objective. Suggestions come through a
`ConstantLiar` around UCB: a suggestion not yet registered counts as a pessimistic observation, so asking
for several points before any result (parallel slots) gives distinct points. The GP works in the search
space's continuous box (see `space.py`), rescaled to the unit cube (the GP's kernel has one length scale,
so a dimension with a wide box range, such as batch_size, would otherwise flatten the others); the exact box
point of each suggestion is what gets registered.

One point, one observation: the GP models the objective of a set trained from scratch for the session's
epochs per episode, so a point is registered at most once (bayes_opt refuses duplicates here; a second
result for a known point, such as a "keep training" episode that continued it for more epochs, is kept
apart: it is not a GP observation). A suggestion that lands on a known or pending point is replaced by a
random (or local) one, so no duplicate ever reaches bayes_opt.

How the next point is found (`suggest(mode)`, the rl controller's steering): `ucb` at tuning.kappa, `explore`
at EXPLORE_FACTOR x kappa (wider search), `local` a trust region around the incumbent (a Gaussian step of
LOCAL_SCALE x each dimension's range from the best point seen; random before any observation).
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

MODES = ("ucb", "explore", "local")
EXPLORE_FACTOR = 4.0  # kappa of the `explore` mode, as a multiple of tuning.kappa
RANDOM_CANDIDATES, SMART_STARTS = 5_000, 3  # the acquisition's optimiser: random points, L-BFGS starts
LOCAL_SCALE = 0.1  # the trust region's step, as a share of each dimension's box range


@dataclass
class Suggestion:
    """A proposed hyperparameter set and the box point the optimiser chose it at."""

    params: dict[str, Any]
    box: dict[str, float]
    source: str  # "random" (initial design), "ucb", "explore", "local"
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
        self.skipped = 0  # results for points already observed, kept out of the GP
        self._rng = np.random.default_rng(seed + 7919)
        self._optimizer = self._new_optimizer()

    def _new_optimizer(self) -> BayesianOptimization:
        ucb = acquisition.UpperConfidenceBound(kappa=self.kappa, random_state=self.seed)
        liar = acquisition.ConstantLiar(base_acquisition=ucb, strategy="min", random_state=self.seed)
        return BayesianOptimization(
            f=None,
            pbounds={name: (0.0, 1.0) for name in self.space.names},  # the unit cube (module docstring)
            acquisition_function=liar,
            random_state=self.seed,
            verbose=0,
            allow_duplicate_points=False,  # never reached: `register` keeps known points out
        )

    @property
    def observations(self) -> int:
        return len(self._optimizer.space)

    def _vector(self, box: Mapping[str, float]) -> np.ndarray:
        """A box point as the GP's unit-cube vector."""
        bounds = self.space.bounds
        return np.array([(box[n] - bounds[n][0]) / (bounds[n][1] - bounds[n][0]) for n in bounds], float)

    def _box_of(self, unit: Mapping[str, float] | np.ndarray) -> dict[str, float]:
        """A unit-cube point (a vector, or bayes_opt's name -> value) as a box point."""
        if isinstance(unit, Mapping):
            unit = np.array([unit[name] for name in self.space.names], float)
        return {
            name: float(low + float(u) * (high - low))
            for (name, (low, high)), u in zip(self.space.bounds.items(), np.asarray(unit, float), strict=True)
        }

    def _same(self, points: Any, box: Mapping[str, float]) -> bool:
        """Whether any of the unit-cube points gives the same hyperparameters as `box` (ints rounded...)."""
        wanted = self.space.from_box(box)
        return any(_same_values(self.space.from_box(self._box_of(p)), wanted) for p in points)

    def known(self, box: Mapping[str, float]) -> bool:
        """Whether the hyperparameters of the box point are already observed (a GP observation)."""
        return self._same(self._optimizer.space.params, box)

    def _taken(self, box: Mapping[str, float]) -> bool:
        liar: Any = self._optimizer.acquisition_function
        return self._same(liar.dummies, box) or self.known(box)

    def _random_box(self) -> dict[str, float]:
        return {name: float(self._rng.uniform(low, high)) for name, (low, high) in self.space.bounds.items()}

    def _local_box(self) -> dict[str, float]:
        best = self._optimizer.max
        if best is None:
            return self._random_box()
        box = {}
        for name, (low, high) in self.space.bounds.items():
            step = self._rng.normal(0.0, LOCAL_SCALE * (high - low))
            box[name] = float(np.clip(self._box_of(best["params"])[name] + step, low, high - 1e-9))
        return box

    def suggest(self, mode: str = "ucb") -> Suggestion:
        """The next point: random for the first `init_points` (and while nothing is observed), then by `mode`
        (see the module docstring); never a point already observed or pending."""
        if mode not in MODES:
            raise TuningError(f"unknown suggestion mode {mode!r} (one of {', '.join(MODES)})")
        random_phase = self.suggested < self.init_points or self.observations == 0
        liar: Any = self._optimizer.acquisition_function
        if random_phase:
            box, source = self._random_box(), "random"
        elif mode == "local":
            box, source = self._local_box(), "local"
        else:
            liar.base_acquisition.kappa = self.kappa * (EXPLORE_FACTOR if mode == "explore" else 1.0)
            bo = self._optimizer
            try:  # BayesianOptimization.suggest with fewer L-BFGS starts (10 cost ~0.3 s a point)
                raw = liar.suggest(
                    gp=bo._gp,
                    target_space=bo.space,
                    n_random=RANDOM_CANDIDATES,
                    n_smart=SMART_STARTS,
                    fit_gp=True,
                    random_state=bo._random_state,
                )
            finally:
                liar.base_acquisition.kappa = self.kappa
            liar.dummies.pop()  # the liar's pending copy; re-added below once the point is final
            box, source = self._box_of(raw), mode
        for _ in range(100):  # a known or pending point would be a duplicate: move it
            if not self._taken(box):
                break
            box = self._local_box() if source == "local" else self._random_box()
        liar.dummies.append(self._vector(box))
        self.suggested += 1
        return Suggestion(self.space.from_box(box), box, source)

    def suggest_batch(self, size: int) -> list[Suggestion]:
        return [self.suggest() for _ in range(size)]

    def register(self, params_or_box: Mapping[str, Any], objective: float, *, is_box: bool = False) -> bool:
        """Record an observed objective (lower is better); a non-finite one counts as the worst seen.
        A point already observed is not registered again (returns False, see the module docstring)."""
        box = dict(params_or_box) if is_box else self.space.to_box(params_or_box)
        self._drop_dummy(box)
        if self.known(box):
            self.skipped += 1
            log.info("a result for a point already observed is kept out of the GP: %s", box)
            return False
        target = -float(objective)
        if not math.isfinite(target):
            seen = self._optimizer.space.target
            if len(seen) == 0:
                log.info("no finite observation yet: a failed point is not registered")
                return False
            # Below everything seen, so the GP learns to avoid the region without a huge outlier.
            target = float(np.min(seen) - 0.1 * (np.ptp(seen) + abs(np.min(seen)) + 1e-12))
        self._optimizer.register(params=self._vector(box), target=target)
        return True

    def _drop_dummy(self, box: Mapping[str, float]) -> None:
        liar: Any = self._optimizer.acquisition_function
        point = self._vector(box)
        liar.dummies = [d for d in liar.dummies if not np.allclose(d, point, rtol=0, atol=1e-9)]

    def best(self) -> tuple[dict[str, Any], float] | None:
        best = self._optimizer.max
        if best is None:
            return None
        return self.space.from_box(self._box_of(best["params"])), -float(best["target"])

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
                "skipped": self.skipped,
                "rng": self._rng.bit_generator.state,
                "names": self.space.names,
                "coordinates": "unit",
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
        if meta.get("coordinates") != "unit":  # an older gan-trader's GP worked in the raw box
            raise TuningError(
                f"{path}: optimiser state from an older gan-trader (raw box coordinates); {remedy}"
            )
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
        optimizer.skipped = int(meta.get("skipped", 0))
        if "rng" in meta:
            try:
                optimizer._rng.bit_generator.state = meta["rng"]
            except (KeyError, TypeError, ValueError) as exc:
                raise DamagedFileError(f"{path}: damaged optimiser state (rng: {exc}); {remedy}") from None
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
            if math.isfinite(objective) and not self.known(box):
                self._optimizer.register(params=self._vector(box), target=-float(objective))
                used += 1
        return used


def _same_values(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Equal hyperparameters, floats to a relative 1e-9: a set read back from the unit cube (a log scale's
    round trip) is the set that went in."""
    if a.keys() != b.keys():
        return False
    for name, value in a.items():
        other = b[name]
        if isinstance(value, float) and isinstance(other, (int, float)) and not isinstance(other, bool):
            if not math.isclose(value, float(other), rel_tol=1e-9, abs_tol=1e-12):
                return False
        elif value != other:
            return False
    return True


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
