"""`fixed`: the reference set (the config's own hyperparameters), restarted every episode with a new seed
from the session's stream; the session's selected set is the reference by construction."""

from __future__ import annotations

from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import Action
from gan_trader.tuning.strategies.base import EpisodeStrategy, config_hyperparameters


class FixedStrategy(EpisodeStrategy):
    name = "fixed"
    trains_reference = False  # every episode is the reference
    races = False

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return Action("new", config_hyperparameters(self.config, self.space.names), source="fixed")
