"""The tuning environment: one step = one GAN episode, run through the tuning loop (loop.py).

Observation (float32, see observation.py): the last episode's validation error relative to its yardstick,
its relMAE (MAE / persistence's), the last epoch's losses and Wasserstein estimate (squashed), their changes
since the episode before, the best relative error so far, the share of the epoch budget left, whether the
last episode failed, whether the incumbent's checkpoint can be continued, the slope of the last episode's
learning curve, and the last hyperparameters normalised to [0, 1] in the box.

`reset` trains the reference set (the config's own hyperparameters) as the env episode's first GAN episode,
as every real session of the rl strategy does before its controller decides anything: the agent's first
observation is the reference's result, as in a real session.

Actions (Discrete(5), or Discrete(4) without `tuning.allow_stop`; loop.CHOICES):
  0 keep: continue training the checkpoint of the best set so far (the incumbent) with its hyperparameters
    (as 1 when there is nothing to continue); its result is not a GP observation (bayes.py keeps training
    length apart);
  1 new: a fresh set from the optimiser's GP-UCB at tuning.kappa;
  2 explore: a fresh set from GP-UCB at 4 x tuning.kappa (a wider search);
  3 local: a fresh set from a trust region around the incumbent (a Gaussian step of 10% of each range);
  4 stop: end the session (only with `tuning.allow_stop`).
A step turns its action into an episode exactly as the `rl` strategy does in a session
(`RLStrategy.action_for`), and the loop plans, charges and rewards it by the same rules. So a real rl
session's decisions are transitions of this env (observation, action, reward), and the saved policy learns
from them after every session as it learned from the env in proxy mode (agents.learn_from_session).

Reward `improvement` (default): the improvement of the session's best objective (tuning.objective,
val/crps_rel by default) per GAN epoch the step spent, measured from the session's own start:
100 x (best before - best after) / reference / epochs, where the reference is the first finished episode's
objective. That first episode (and any failed one before it) earns 0; persistence or the Gaussian play no
part, so the reward still informs when every model loses to them. Lower error is higher reward; cheap
improvements count more; a step that does not improve the best earns 0.
Reward `original` (documented option only): the original article's 2*loss_G + loss_D + accuracy_G with the
sign corrected, i.e. -(2*loss_g + loss_d) + val/directional_accuracy; it rewards small adversarial losses,
which for a WGAN say little about forecast quality.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gan_trader.config import ExperimentConfig
from gan_trader.tuning.bayes import BayesOptimizer
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.loop import CHOICES, EXPLORE, KEEP, LOCAL, NEW, STOP, EpisodeLoop
from gan_trader.tuning.observation import observation, observation_size
from gan_trader.tuning.space import SearchSpace
from gan_trader.tuning.strategies.base import config_hyperparameters
from gan_trader.tuning.strategies.rl import RLStrategy

__all__ = ["EXPLORE", "KEEP", "LOCAL", "NEW", "STOP", "EpisodeRunner", "TuningEnv"]

EpisodeRunner = Callable[[EpisodeSpec], EpisodeResult]


class TuningEnv(gym.Env):
    """One step = one episode run by `runner`; the optimiser (seeded by `reset`) supplies new sets.

    :param seed: the seed of the episodes' stream (loop.episode_seed); default config.seed.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        config: ExperimentConfig,
        runner: EpisodeRunner,
        *,
        budget_epochs: int,
        epochs_per_episode: int,
        workdir: str | Path,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.search_space = SearchSpace(config.tuning.space)
        self.runner = runner
        self.budget_epochs = budget_epochs
        self.epochs_per_episode = epochs_per_episode
        self.workdir = Path(workdir)
        self.base_seed = config.seed if seed is None else seed
        self.action_space = spaces.Discrete(len(CHOICES) if config.tuning.allow_stop else len(CHOICES) - 1)
        self.observation_space = spaces.Box(
            -10.0, 10.0, shape=(observation_size(self.search_space),), dtype=np.float32
        )
        self._resets = 0
        self._start(self.base_seed, train_reference=False)  # `reset` trains it (no training in a constructor)

    def _start(self, seed: int, *, train_reference: bool = True) -> None:
        self.controller = RLStrategy(self.config, self.search_space, seed)
        self.loop = EpisodeLoop(
            self.controller,
            seed=seed,
            budget_epochs=self.budget_epochs,
            epochs_per_episode=self.epochs_per_episode,
            objective=self.config.tuning.objective,
            reward_mode=self.config.tuning.reward,
            checkpoint_root=self.workdir / f"env-{self._resets:04d}",
            stream=RLStrategy.name,  # the seeds a real rl session seeded alike would draw
            reference=config_hyperparameters(self.config, self.search_space.names),
        )
        reference = self.loop.reference_action() if train_reference else None
        if reference is not None:  # the session's start, before the agent's first decision
            self.loop.finish_episode(self.runner(self.loop.plan_episode(reference)))

    @property
    def history(self) -> list[EpisodeResult]:
        return self.loop.history

    @property
    def spent(self) -> int:
        """GAN epochs charged so far in this env episode."""
        return self.loop.spent

    @property
    def optimizer(self) -> BayesOptimizer:
        return self.controller.optimizer

    def _obs(self) -> np.ndarray:
        return observation(
            self.loop.history, self.search_space, self.config.tuning.objective, self.loop.budget_left
        )

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._resets += 1
        self._start(seed if seed is not None else self.base_seed + self._resets)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        choice = int(action)
        if choice == STOP:
            return self._obs(), 0.0, True, False, {"action": "stop"}
        planned = self.controller.action_for(choice, self.loop.history, self.loop.budget_left)
        result = self.runner(self.loop.plan_episode(planned))
        gain = self.loop.finish_episode(result)
        info = {
            "action": planned.kind,
            "status": result.status,
            "epochs": result.epochs,
            "objective": result.objective(self.config.tuning.objective),
        }
        return self._obs(), gain, self.loop.epochs_left == 0, False, info
