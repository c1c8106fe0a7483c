"""`rl` (the design): a trained policy chooses keep / new (ucb, explore or local: how the optimiser finds
the set) / stop; the optimiser supplies every new set, and fills extra parallel slots at its own UCB."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Protocol

import numpy as np

from gan_trader.config import ExperimentConfig
from gan_trader.errors import DamagedFileError, TuningError
from gan_trader.io import SESSION_STATE_FORMAT, read_state, write_json
from gan_trader.tuning.bayes import RESUME_REMEDY
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.loop import CHOICES, KEEP, NEW, STOP, SUGGEST_MODES, Action, Transition, continuable
from gan_trader.tuning.observation import observation
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.bo import BOStrategy

POLICY_STREAM = 0x726C  # the spawn key of the policy's own random stream (its sampled actions)


class Controller(Protocol):
    """A trained policy (agents.Policy): an observation (observation.py) in, a choice (loop.CHOICES) out."""

    def act(self, observation: np.ndarray, rng: np.random.Generator | None = None) -> int:
        """A choice drawn from the policy's own action distribution with `rng` (PPO: its softmax; DQN:
        epsilon-greedy); the most likely choice without `rng`."""
        ...

    def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
        """The log-probability of `choice` and the value estimate at `observation` (0, 0 for an agent without
        them): what an on-policy update of the policy needs of its own decisions."""
        ...


class RLStrategy(BOStrategy):
    """Every decision of the policy is drawn from its own action distribution (so what it learns from is
    what it would do again, and PPO's probability ratios start at 1) and recorded as a loop.Transition (the
    optimiser's fills of extra slots are not its decisions); the loop pairs it with the episode it planned,
    and `transitions` completes them with their rewards when the session ends. The session stores them with
    its run and updates the saved policy from them (agents.learn_from_session), so the controller learns
    from every real session. They are saved with the strategy's state (`rl.json`, with the policy's random
    stream): a resumed session keeps the decisions made before the kill.
    """

    name = "rl"

    def __init__(
        self, config: ExperimentConfig, space: SearchSpace, seed: int, policy: Controller | None = None
    ) -> None:
        super().__init__(config, space, seed)
        self.policy = policy
        self.rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(POLICY_STREAM,)))
        self.decisions: list[Transition] = []  # in decision order; reward and next observation come later

    @property
    def fresh_action(self) -> str:
        return CHOICES[NEW]  # the controller's choice, not the strategy's name

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        if self.policy is None:
            raise TuningError("tuning.agent: the rl strategy needs a policy (see gan_trader.tuning.agents)")
        if pending:
            return super().next_action(history, budget_left, pending)  # extra parallel slots: the optimiser
        seen = observation(history, self.space, self.objective, budget_left)
        choice = self.policy.act(seen, self.rng)
        tuning = self.config.tuning
        if choice == STOP and tuning.allow_stop and len(history) >= tuning.min_episodes:
            action = Action("stop", source="rl")
        else:
            action = self.action_for(choice, history, budget_left)
            choice = NEW if choice == STOP else choice  # a stop before min_episodes trains a new set
        log_prob, value = self.policy.behaviour(seen, choice)
        action.transition = Transition(seen.tolist(), choice, log_prob, value)
        self.decisions.append(action.transition)
        return action

    def transitions(self, history: list[EpisodeResult], budget_left: float) -> list[Transition]:
        """The session's decisions completed: each one's reward is the loop's reward of the episode it planned
        (0 for stop), its next observation the next decision's (the last one's: the session's end, seen
        with `budget_left`), and the last one is `done`."""
        if not self.decisions:  # every episode planned by others (the reference, parallel slots' optimiser)
            return []
        rewards = {result.index: result.reward for result in history}
        end = observation(history, self.space, self.objective, budget_left).tolist()
        following = [decision.observation for decision in self.decisions[1:]] + [end]
        completed = []
        for position, (decision, next_observation) in enumerate(zip(self.decisions, following, strict=True)):
            gain = rewards.get(decision.episode) if decision.episode is not None else None
            completed.append(
                replace(
                    decision,
                    reward=float(gain) if gain is not None and math.isfinite(gain) else 0.0,
                    next_observation=next_observation,
                    done=position == len(self.decisions) - 1,
                )
            )
        return completed

    def save(self, folder: Path) -> None:
        super().save(folder)
        decisions = [decision.to_dict() for decision in self.decisions]
        write_json(
            folder / "rl.json",
            {"format": SESSION_STATE_FORMAT, "decisions": decisions, "rng": self.rng.bit_generator.state},
        )

    def load(self, folder: Path) -> None:
        super().load(folder)
        path = folder / "rl.json"
        if path.exists():
            saved = read_state(path, "rl decisions", SESSION_STATE_FORMAT, RESUME_REMEDY)
            try:
                self.decisions = [Transition.from_dict(decision) for decision in saved["decisions"]]
                self.rng.bit_generator.state = saved["rng"]
            except (KeyError, TypeError, ValueError) as exc:
                raise DamagedFileError(
                    f"{path}: damaged rl decisions ({type(exc).__name__}); {RESUME_REMEDY}"
                ) from None

    def action_for(self, choice: int, history: list[EpisodeResult], budget_left: float) -> Action:
        """A controller's choice as an episode (shared with the env): keep continues the checkpoint of the
        session's best set so far (the incumbent) when it can be continued; new / explore / local, or keep
        with nothing to continue (as new), trains the set the optimiser finds in that mode."""
        parent = continuable(history, self.objective) if choice == KEEP else None
        if parent is not None:
            return Action("keep", dict(parent.hyperparameters), parent=parent, source="rl")
        mode = SUGGEST_MODES.get(choice, SUGGEST_MODES[NEW])
        action = self.suggested_action(mode)
        action.source = f"rl:{CHOICES[choice] if choice in SUGGEST_MODES else 'new (nothing to keep)'}"
        return action
