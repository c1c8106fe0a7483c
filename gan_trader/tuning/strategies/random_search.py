"""`random`: uniform samples of the search box."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan_trader.config import ExperimentConfig
from gan_trader.errors import DamagedFileError
from gan_trader.io import SESSION_STATE_FORMAT, read_state, write_json
from gan_trader.tuning.bayes import RESUME_REMEDY
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import Action
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.base import EpisodeStrategy


class RandomStrategy(EpisodeStrategy):
    name = "random"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        self.rng = np.random.default_rng(seed)

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return Action("new", self.space.sample(self.rng), source="random")

    def save(self, folder: Path) -> None:
        write_json(
            folder / "random.json", {"format": SESSION_STATE_FORMAT, "rng": self.rng.bit_generator.state}
        )

    def load(self, folder: Path) -> None:
        path = folder / "random.json"
        if path.exists():
            saved = read_state(path, "random-search state", SESSION_STATE_FORMAT, RESUME_REMEDY)
            try:
                self.rng.bit_generator.state = saved["rng"]
            except (KeyError, TypeError, ValueError) as exc:
                raise DamagedFileError(
                    f"{path}: damaged random-search state ({type(exc).__name__}); {RESUME_REMEDY}"
                ) from None
