"""The base every strategy fills: `Strategy.drive` runs a session's episodes; `EpisodeStrategy` decides one
episode at a time (`next_action`) and lets the session's one loop (loop.py) drive it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Protocol

from gan_trader.config import ExperimentConfig
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import Action
from gan_trader.tuning.space import SearchSpace, reference_set


class TuningSession(Protocol):
    """What a strategy's driver sees of the session it runs (tuning/session.py)."""

    @property
    def config(self) -> ExperimentConfig: ...

    @property
    def task(self) -> ForecastTask: ...

    @property
    def recorder(self) -> Recorder: ...

    @property
    def session_id(self) -> str: ...

    @property
    def folder(self) -> Path: ...

    @property
    def resumed(self) -> bool: ...

    @property
    def budget_epochs(self) -> int: ...

    @property
    def search_epochs(self) -> int:
        """The budget less the epochs held back for racing (what a driver may spend)."""
        ...

    def run_episodes(self, strategy: EpisodeStrategy) -> list[EpisodeResult]:
        """The per-episode loop: ask `strategy.next_action` whenever a slot is free, run, record."""
        ...

    def set_plan(self, episodes: int, epochs_per_episode: int) -> None:
        """Record the episodes a driver with its own scheduler will log (and their length)."""
        ...

    def logged_episodes(self) -> list[EpisodeResult]:
        """The session's episodes as the store holds them (for episodes run under another driver)."""
        ...

    def episode_seed(self, index: int) -> int:
        """The seed of the session's episode `index`, from the session's own stream (loop.episode_seed)."""
        ...


class Strategy(ABC):
    """Runs a session's episodes (`drive`); learns from finished episodes; saves its state for resume.

    `trains_reference`: the loop trains the reference set (the config's own hyperparameters) as episode 0
    before asking the strategy; `races`: before selecting, the session races the best sets against the
    reference (session.py). `fixed` does neither: every episode of it is the reference.
    """

    name: ClassVar[str]
    trains_reference: ClassVar[bool] = True
    races: ClassVar[bool] = True

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        self.config = config
        self.space = space
        self.seed = seed
        self.objective = config.tuning.objective

    @property
    def fresh_action(self) -> str:
        """The action an episode trained from scratch is logged with: the strategy's name."""
        return self.name

    @abstractmethod
    def drive(self, session: TuningSession) -> list[EpisodeResult]:
        """Run the session's episodes; returns them in index order."""

    def observe(self, result: EpisodeResult) -> None:  # noqa: B027 - stateless strategies ignore results
        """Learn from a finished (or failed) episode."""

    def warm_start(self, observations: list[tuple[dict[str, Any], float]]) -> int:
        """Earlier (hyperparameters, objective) pairs of this experiment; returns how many were used."""
        return 0

    def save(self, folder: Path) -> None:  # noqa: B027 - stateless strategies save nothing
        """Write the state needed to resume (atomically) under `folder`."""

    def load(self, folder: Path) -> None:  # noqa: B027
        """Restore the state written by `save`."""


class EpisodeStrategy(Strategy):
    """Decides one episode at a time; the session's loop asks whenever an executor slot is free."""

    def drive(self, session: TuningSession) -> list[EpisodeResult]:
        return session.run_episodes(self)

    @abstractmethod
    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        """The next episode, given the finished ones, the share of the epoch budget left and how many
        episodes are still running (parallel slots)."""


def config_hyperparameters(config: ExperimentConfig, names: list[str]) -> dict[str, Any]:
    """The values the config itself gives each hyperparameter: the reference set (space.reference_set)."""
    return reference_set(config.gan, names)
