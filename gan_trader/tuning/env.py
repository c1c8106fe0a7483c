"""The tuning environment: one step = one GAN episode.

Observation (float32, each entry clipped to [-10, 10]):
  [0] last validation error / persistence's error on the same days   [1] last val/mase
  [2..4] last epoch's train/loss_d, train/loss_g, train/wasserstein, squashed by sign(x) * log1p(|x|)
  [5..9] changes of entries 0..4 since the previous episode
  [10] best validation error so far / persistence's   [11] share of the epoch budget left
  [12] last episode failed   [13] a checkpoint can be continued
  [14..] the current hyperparameters, each normalised to [0, 1] in the search box
Actions: 0 keep the hyperparameters and continue training from the last checkpoint, 1 ask the optimiser for
a new set and train from scratch, 2 stop (only when `allow_stop`).
Reward `improvement` (default): 100 x (best error before - best error after) / persistence's error, divided by
the GAN epochs the step spent — lower error is higher reward, and cheap improvements count more. Before the
first episode the "best" is persistence itself, so a model worse than persistence earns nothing.
Reward `original` (documented option only): the original article's 2*loss_G + loss_D + accuracy_G with the
sign corrected, i.e. -(2*loss_g + loss_d) + val/directional_accuracy; it rewards small adversarial losses,
which for a WGAN say little about forecast quality.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gan_trader.tuning.bayes import BayesOptimizer
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec
from gan_trader.tuning.space import SearchSpace

KEEP, NEW, STOP = 0, 1, 2
ACTION_NAMES = ("keep", "new", "stop")
LOSS_KEYS = ("train/loss_d", "train/loss_g", "train/wasserstein")
N_METRICS = 5
FAILED_ERROR = 10.0  # relative error observed after a failed episode (the observation's upper clip)

EpisodeRunner = Callable[[EpisodeSpec], EpisodeResult]


def _squash(value: float) -> float:
    return float(np.sign(value) * np.log1p(abs(value))) if math.isfinite(value) else 0.0


def reference_error(result: EpisodeResult, objective: str) -> float:
    """Persistence's value of the objective on the same validation days (1 for MASE)."""
    if objective == "val/mase":
        return 1.0
    value = result.metrics.get(objective.replace("val/", "val/persistence_"), math.nan)
    return float(value) if math.isfinite(value) and value > 0 else math.nan


def relative_error(result: EpisodeResult, objective: str) -> float:
    if not result.ok:
        return FAILED_ERROR
    reference = reference_error(result, objective)
    error = result.objective(objective)
    if not (math.isfinite(reference) and math.isfinite(error)):
        return FAILED_ERROR
    return min(error / reference, FAILED_ERROR)


def _metric_vector(result: EpisodeResult | None, objective: str) -> np.ndarray:
    if result is None:
        return np.zeros(N_METRICS)
    last = result.history[-1] if result.history else {}
    mase = result.metrics.get("val/mase", FAILED_ERROR) if result.ok else FAILED_ERROR
    values = [relative_error(result, objective), mase] + [_squash(last.get(k, 0.0)) for k in LOSS_KEYS]
    return np.nan_to_num(np.asarray(values, float), nan=FAILED_ERROR, posinf=FAILED_ERROR)


def observation_size(space: SearchSpace) -> int:
    return 2 * N_METRICS + 4 + len(space)


def observe(
    history: Sequence[EpisodeResult],
    space: SearchSpace,
    objective: str,
    budget_left: float,
    current: dict[str, Any] | None,
) -> np.ndarray:
    """The controller's observation of a session so far (shared by the env and the session's rl strategy)."""
    last = history[-1] if history else None
    previous = history[-2] if len(history) > 1 else None
    now = _metric_vector(last, objective)
    change = now - _metric_vector(previous, objective) if previous is not None else np.zeros(N_METRICS)
    best = min((relative_error(r, objective) for r in history), default=1.0)
    can_keep = float(continuable(history) is not None)
    failed = float(last is not None and not last.ok)
    hp = space.normalise(current) if current else np.zeros(len(space), np.float32)
    vector = np.concatenate([now, change, [best, budget_left, failed, can_keep], hp])
    return np.clip(vector, -10.0, 10.0).astype(np.float32)


def continuable(history: Sequence[EpisodeResult]) -> EpisodeResult | None:
    """The last episode, when it finished with a checkpoint that training can continue from."""
    if not history:
        return None
    last = history[-1]
    return last if last.ok and last.checkpoint is not None else None


def reward(mode: str, result: EpisodeResult, best_before: float, best_after: float) -> float:
    """The step's reward; `best_*` are relative errors (error / persistence's error)."""
    if mode == "original":
        if not result.ok:
            return -FAILED_ERROR
        last = result.history[-1] if result.history else {}
        loss = 2.0 * last.get("train/loss_g", 0.0) + last.get("train/loss_d", 0.0)
        accuracy = result.metrics.get("val/directional_accuracy", 0.5)
        return float(np.clip(-loss + accuracy, -100.0, 100.0))
    epochs = max(result.epochs, 1)
    return float(100.0 * (best_before - best_after) / epochs)


class TuningEnv(gym.Env):
    """One step = one episode run by `runner`; the optimiser supplies new hyperparameter sets."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(
        self,
        space: SearchSpace,
        runner: EpisodeRunner,
        *,
        budget_epochs: int,
        epochs_per_episode: int,
        workdir: str | Path,
        objective: str = "val/mae",
        reward_mode: str = "improvement",
        allow_stop: bool = True,
        kappa: float = 2.5,
        init_points: int = 2,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.search_space = space
        self.runner = runner
        self.budget_epochs = budget_epochs
        self.epochs_per_episode = epochs_per_episode
        self.workdir = Path(workdir)
        self.objective = objective
        self.reward_mode = reward_mode
        self.allow_stop = allow_stop
        self.kappa = kappa
        self.init_points = init_points
        self.base_seed = seed
        self.action_space = spaces.Discrete(3 if allow_stop else 2)
        self.observation_space = spaces.Box(-10.0, 10.0, shape=(observation_size(space),), dtype=np.float32)
        self._resets = 0
        self._start(seed)

    def _start(self, seed: int) -> None:
        self.optimizer = BayesOptimizer(self.search_space, self.kappa, self.init_points, seed)
        self.history: list[EpisodeResult] = []
        self.spent = 0
        self.best = 1.0
        self.current: dict[str, Any] | None = None
        self.steps = 0

    def _obs(self) -> np.ndarray:
        left = max(self.budget_epochs - self.spent, 0) / self.budget_epochs
        return observe(self.history, self.search_space, self.objective, left, self.current)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._resets += 1
        self._start(seed if seed is not None else self.base_seed + self._resets)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        action = int(action)
        if action == STOP:
            return self._obs(), 0.0, True, False, {"action": "stop"}
        epochs = min(self.epochs_per_episode, self.budget_epochs - self.spent)
        parent = continuable(self.history) if action == KEEP else None
        index = self.steps
        checkpoint_dir = self.workdir / f"env-{self._resets:04d}" / f"episode-{index:03d}"
        if parent is not None:
            spec = EpisodeSpec(
                index,
                dict(parent.hyperparameters),
                epochs,
                self.base_seed + index,
                checkpoint_dir,
                "keep",
                parent.checkpoint,
                parent.total_epochs,
                None,
                parent.index,
            )
            suggestion = None
        else:
            suggestion = self.optimizer.suggest()
            spec = EpisodeSpec(
                index,
                suggestion.params,
                epochs,
                self.base_seed + index,
                checkpoint_dir,
                "new",
                suggestion=suggestion.to_dict(),
            )
        result = self.runner(spec)
        self.steps += 1
        self.spent += max(result.epochs, 1)  # a crash still costs a step's worth of compute
        if suggestion is not None:
            self.optimizer.register(suggestion.box, result.objective(self.objective), is_box=True)
        elif result.ok:
            self.optimizer.register(result.hyperparameters, result.objective(self.objective))
        self.history.append(result)
        self.current = dict(result.hyperparameters)
        best_before = self.best
        self.best = min(self.best, relative_error(result, self.objective))
        gain = reward(self.reward_mode, result, best_before, self.best)
        terminated = self.spent >= self.budget_epochs
        info = {
            "action": "keep" if parent is not None else "new",
            "status": result.status,
            "epochs": result.epochs,
            "objective": result.objective(self.objective),
        }
        return self._obs(), gain, terminated, False, info
