"""The tuning loop: an Action becomes an EpisodeSpec; a finished episode is charged, fed back and rewarded.

A session (session.py) and the gymnasium env (env.py) both drive one `EpisodeLoop`, as stable-baselines3's
`learn` drives `collect_rollouts` / `train`: the session asks its strategy for each action, runs episodes on
an executor (several at a time) and makes every step durable through the hooks; the env takes its actions
from an agent and runs one episode per step. The rules, one each:

- reference: a loop given a reference set (the config's own hyperparameters) trains it as episode 0, logged
  with the action `reference`, before it asks for any other action.
- spec: `keep` continues its parent's checkpoint with the parent's hyperparameters; any other action (or a
  `keep` without a checkpoint to continue) trains its hyperparameters from scratch, logged with the
  strategy's `fresh_action` (or the action's own label: `reference`, `race`).
- seed: episode i trains with `episode_seed(seed, stream, i)`, a seed of its own drawn from the session's
  stream (numpy's SeedSequence spawned by the stream's name and the index), fresh or continued (a continued
  episode restores the weights, optimisers and RNG of its checkpoint; its own seed drives its validation and
  forecast noise). Sessions of one comparison run other streams or other seeds, so no two share an episode
  seed (seed + i did: seeds 7 and 8 shared five of six runs).
- epochs: an episode is given min(its epochs, the budget left), its epochs being the episode length unless
  the action says (a racing run trains as long as the episode it races), where the epochs given to episodes
  still running count as spent and the epochs held back for racing (`reserved`) are not available.
- charge: a finished episode costs the epochs it trained, at least one: a crash still took its slot, and
  the budget must run out even when every episode crashes.
- feedback: the strategy observes every episode, failed ones included (an optimiser registers a failure as
  the worst point seen).
- reward (`improvement`): the drop of the session's best objective per epoch the episode cost, as a share of
  the session's own reference, the first finished episode's objective (persistence or the Gaussian play no
  part): 100 x (best before - best after) / reference / epochs. The episode that sets the reference, and
  every episode before a finished one, earns 0; so a session whose models all lose to persistence still
  rewards the steps that improve on its start.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from gan_trader.tuning.bayes import Suggestion
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec

# A controller's choices (the env's actions, an rl policy's outputs): keep training the last set; a new set
# found by the optimiser's UCB at tuning.kappa, by UCB at a wide kappa (explore), or in a trust region around
# the incumbent (local); stop (last, so it can be left out of the action space).
KEEP, NEW, EXPLORE, LOCAL, STOP = 0, 1, 2, 3, 4
CHOICES = ("keep", "new", "explore", "local", "stop")
SUGGEST_MODES = {NEW: "ucb", EXPLORE: "explore", LOCAL: "local"}  # bayes.BayesOptimizer.suggest's modes
FAILED_ERROR = 10.0  # the relative error of a failed episode (the observation's upper clip)


@dataclass
class Transition:
    """One real decision of a controller and what it earned, as an agent learns from it: the observation it
    decided on, its choice (loop.CHOICES), the loop's reward of the episode it planned (0 for stop), the
    observation at the next decision (or at the session's end) and whether it was the session's last.
    `log_prob` and `value` are the behaviour policy's at that observation (what an on-policy update needs)."""

    observation: list[float]
    action: int
    log_prob: float = 0.0
    value: float = 0.0
    episode: int | None = None  # the episode it planned, set by the loop (None: stop)
    reward: float = 0.0
    next_observation: list[float] | None = None
    done: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> Transition:
        return cls(**payload)


@dataclass
class Action:
    """The next episode: `new` trains `hyperparameters` afresh, `keep` continues `parent`'s checkpoint."""

    kind: str  # new | keep | stop
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    suggestion: Suggestion | None = None
    parent: EpisodeResult | None = None
    source: str = ""  # which strategy / component decided
    transition: Transition | None = None  # the controller's decision behind it (rl), paired with its episode
    label: str | None = None  # the logged action of a fresh episode when not the strategy's (reference, race)
    epochs: int | None = None  # its length when not the session's episode length (a racing run)
    extra: dict[str, Any] = field(default_factory=dict)  # logged with the suggestion (a trial's number...)
    pruning: dict[str, Any] | None = None  # the Optuna trial its epochs report to (pruning.TrialPruning)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hyperparameters": self.hyperparameters,
            "source": self.source,
            "suggestion": self.suggestion.to_dict() if self.suggestion else None,
            "parent": self.parent.index if self.parent else None,
        }


REFERENCE = "reference"  # the logged action of the reference set's episode


def episode_seed(seed: int, stream: str, index: int) -> int:
    """The seed of episode `index` of a session seeded `seed` whose episodes draw from `stream` (its strategy
    or another name): numpy's SeedSequence spawned by (the stream's CRC-32, the index), as a 32-bit seed."""
    sequence = np.random.SeedSequence(seed, spawn_key=(zlib.crc32(stream.encode()), index))
    return int(sequence.generate_state(1)[0])


def continuable(history: Sequence[EpisodeResult], objective: str) -> EpisodeResult | None:
    """The session's best finished episode so far (the incumbent, lowest `objective`) when it left a
    checkpoint that training can continue from."""
    finished = [
        r for r in history if r.ok and r.checkpoint is not None and math.isfinite(r.objective(objective))
    ]
    return min(finished, key=lambda r: r.objective(objective)) if finished else None


def reference_error(result: EpisodeResult, objective: str) -> float:
    """The yardstick's value of the objective on the same validation days: 1 for the scores that are already
    relative (relmae to persistence, crps_rel to the trailing-60-day Gaussian), the Gaussian's CRPS for
    val/crps, and persistence's error for the other point errors."""
    if objective in ("val/relmae", "val/crps_rel"):
        return 1.0
    key = "val/reference_crps" if objective == "val/crps" else objective.replace("val/", "val/persistence_")
    value = result.metrics.get(key, math.nan)
    return float(value) if math.isfinite(value) and value > 0 else math.nan


def relative_error(result: EpisodeResult, objective: str) -> float:
    """The objective divided by persistence's; FAILED_ERROR for a failed episode."""
    if not result.ok:
        return FAILED_ERROR
    reference = reference_error(result, objective)
    error = result.objective(objective)
    if not (math.isfinite(reference) and math.isfinite(error)):
        return FAILED_ERROR
    return min(error / reference, FAILED_ERROR)


def reward(
    mode: str, result: EpisodeResult, best_before: float | None, best_after: float, reference: float | None
) -> float:
    """The step's reward (see the module docstring and env.py): `best_*` and `reference` are the session's
    best relative errors before and after the episode and its first finished episode's; None before any."""
    if mode == "original":
        if not result.ok:
            return -FAILED_ERROR
        last = result.history[-1] if result.history else {}
        loss = 2.0 * last.get("train/loss_g", 0.0) + last.get("train/loss_d", 0.0)
        accuracy = result.metrics.get("val/directional_accuracy", 0.5)
        return float(np.clip(-loss + accuracy, -100.0, 100.0))
    if best_before is None or reference is None or not reference > 0:
        return 0.0
    return float(100.0 * (best_before - best_after) / reference / charge(result))


def charge(result: EpisodeResult) -> int:
    """The epochs an episode costs the budget: those it trained, at least one."""
    return max(result.epochs, 1)


class Learner(Protocol):
    """What the loop needs of a strategy: the action a fresh episode is logged with, and its feedback."""

    @property
    def fresh_action(self) -> str: ...

    def observe(self, result: EpisodeResult) -> None: ...


class EpisodeLoop:
    """Plans episodes from actions and records their results by the rules of the module docstring.

    Hooks: `on_planned(spec)` runs once an episode is planned (before it starts), `on_recorded(result)` once
    its result is recorded; the session makes both durable, the env keeps everything in memory.
    """

    def __init__(
        self,
        learner: Learner,
        *,
        seed: int,
        budget_epochs: int,
        epochs_per_episode: int,
        objective: str,
        reward_mode: str,
        checkpoint_root: Path,
        stream: str = "",
        reference: dict[str, Any] | None = None,
        reserved: int = 0,
    ) -> None:
        self.learner = learner
        self.seed = seed
        self.stream = stream
        self.reference = reference
        self.reserved = reserved  # epochs held back (for racing) until released
        self.budget_epochs = budget_epochs
        self.epochs_per_episode = epochs_per_episode
        self.objective = objective
        self.reward_mode = reward_mode
        self.checkpoint_root = checkpoint_root
        self.history: list[EpisodeResult] = []  # recorded episodes, in index order
        self.pending: dict[int, EpisodeSpec] = {}  # planned, not yet recorded
        self.spent = 0  # epochs charged to recorded episodes
        self.next_index = 0

    @property
    def epochs_left(self) -> int:
        committed = self.spent + sum(spec.epochs for spec in self.pending.values())
        return max(self.budget_epochs - self.reserved - committed, 0)

    @property
    def budget_left(self) -> float:
        """The share of the epoch budget not yet spent or given to running episodes."""
        return self.epochs_left / self.budget_epochs

    def best_error(self) -> float | None:
        """The best relative error of the finished episodes recorded so far; None before any."""
        errors = [relative_error(r, self.objective) for r in self.history if r.ok]
        finite = [e for e in errors if e < FAILED_ERROR]
        return min(finite) if finite else None

    def reference_error(self) -> float | None:
        """The session's reference: the first finished episode's relative error (by index); None before."""
        for result in self.history:
            error = relative_error(result, self.objective)
            if result.ok and error < FAILED_ERROR:
                return error
        return None

    def reference_action(self) -> Action | None:
        """The reference set's episode when it is due (episode 0 of a loop given a reference), else None."""
        if self.reference is None or self.next_index != 0:
            return None
        return Action("new", dict(self.reference), source=REFERENCE, label=REFERENCE)

    def episode_seed(self, index: int) -> int:
        return episode_seed(self.seed, self.stream, index)

    def plan_episode(self, action: Action) -> EpisodeSpec:
        """The next episode for `action` (not `stop`)."""
        index = self.next_index
        epochs = min(action.epochs or self.epochs_per_episode, self.epochs_left)
        seed = self.episode_seed(index)
        folder = self.checkpoint_root / f"{index:03d}"
        parent = action.parent
        if action.kind == "keep" and parent is not None and parent.checkpoint is not None:
            spec = EpisodeSpec.continuing(index, parent, epochs=epochs, seed=seed, checkpoint_dir=folder)
        else:
            spec = EpisodeSpec.fresh(
                index,
                action.hyperparameters,
                epochs=epochs,
                seed=seed,
                checkpoint_dir=folder,
                action=action.label or self.learner.fresh_action,
                suggestion={**(action.suggestion.to_dict() if action.suggestion else {}), **action.extra}
                or None,
            )
        spec.pruning = action.pruning
        self.next_index = index + 1
        self.pending[index] = spec
        if action.transition is not None:
            action.transition.episode = index  # its reward is this episode's (see finish_episode)
        self.on_planned(spec)
        return spec

    def finish_episode(self, result: EpisodeResult) -> float:
        """Record a finished (or failed) episode: charge it, feed it back, reward it; returns the reward."""
        best_before = self.best_error()
        self.pending.pop(result.index, None)
        self.history.append(result)
        self.history.sort(key=lambda r: r.index)
        self.spent += charge(result)
        self.learner.observe(result)
        current = self.best_error()
        best_after = current if current is not None else FAILED_ERROR
        result.reward = reward(self.reward_mode, result, best_before, best_after, self.reference_error())
        self.on_recorded(result)
        return result.reward

    def on_planned(self, spec: EpisodeSpec) -> None:
        """Hook: an episode was planned and is about to start."""

    def on_recorded(self, result: EpisodeResult) -> None:
        """Hook: an episode's result was recorded (result.reward is set)."""
