"""`bo`: Gaussian-process UCB over the search box (bayes.py)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from gan_trader.config import ExperimentConfig
from gan_trader.errors import TuningError
from gan_trader.tuning.bayes import BayesOptimizer
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import Action
from gan_trader.tuning.racing import RACE
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.base import EpisodeStrategy


class BOStrategy(EpisodeStrategy):
    name = "bo"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        tuning = config.tuning
        self.optimizer = BayesOptimizer(space, tuning.kappa, tuning.init_points, seed)

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return self.suggested_action()

    def suggested_action(self, mode: str = "ucb") -> Action:
        suggestion = self.optimizer.suggest(mode)
        return Action("new", suggestion.params, suggestion=suggestion, source=f"bo:{suggestion.source}")

    def observe(self, result: EpisodeResult) -> None:
        """Register a fresh episode's result at the exact box point suggested (so its pending constant-liar
        copy expires). A "keep" episode (more epochs on a known point) and a racing run (a known set on
        another seed) are kept apart: the GP models sets trained from scratch for one episode's epochs, and
        bayes.py registers each point once."""
        if result.action in ("keep", RACE) or result.total_epochs > result.epochs:
            return
        objective = result.objective(self.objective)
        if result.suggestion and result.suggestion.get("box"):
            self.optimizer.register(result.suggestion["box"], objective, is_box=True)
        else:
            # A set not suggested by this optimiser (the reference, a warm start): a point outside the space
            # is not a BO observation.
            with contextlib.suppress(TuningError):
                self.optimizer.register(result.hyperparameters, objective)

    def warm_start(self, observations: list[tuple[dict[str, Any], float]]) -> int:
        return self.optimizer.warm_start(observations)

    def save(self, folder: Path) -> None:
        self.optimizer.save(folder / "optimizer.json")

    def load(self, folder: Path) -> None:
        path = folder / "optimizer.json"
        if path.exists():
            self.optimizer = BayesOptimizer.load(self.space, path)
