"""RL controllers (stable-baselines3 PPO and DQN, sb3-contrib QR-DQN for `qrdqn`): proxy pre-training and
learning from real sessions.

A policy is trained in proxy mode when none is saved: the same environment, but each step trains a small GAN
(`tuning.agent.proxy_hidden` LSTM units) for `tuning.agent.proxy_epochs` epochs on the last
`tuning.agent.proxy_rows` rows before the task's validation end, re-split 70/15/15 inside that slice; the
task's test days are never seen. It stops after `tuning.agent.train_steps` steps or once
`tuning.agent.proxy_seconds` have passed, printing each step unless quiet.

The policy is saved per experiment and search space: `tuning.agent.policy_path`, by default
`<runs_dir>/policies/<experiment>-<space key>-<algo>.zip`, where the key hashes the search space and
`tuning.allow_stop` (what shapes its observations and actions). In a real session the policy acts by drawing
from its own action distribution (`Policy.act` with the session's random stream): PPO from its softmax, so
the log-probabilities recorded with each decision are those of what it did and its update's probability
ratios start at 1; DQN / QR-DQN epsilon-greedy with the epsilon its training reached (`Policy.epsilon`,
logged as tune/rl_epsilon). Every rl session then updates it from the session's own transitions
(`learn_from_session`): PPO by a clipped-surrogate update on the session as one rollout (with the behaviour
log-probabilities and values recorded at each decision), DQN / QR-DQN by gradient steps on its replay
buffer, which keeps the transitions of earlier sessions (bounded: REPLAY_SIZE, the oldest overwritten);
`tuning.agent.update_epochs` passes each.

The saved zip carries an entry `gan_trader.json` with its format version (io.POLICY_FORMAT) and how much real
experience it holds: `real_transitions` (decisions of real sessions learned from, in total) and `sessions`;
a DQN / QR-DQN zip also carries its replay buffer (`replay_buffer.pkl`), so it is saved and replaced with
the policy, atomically, and belongs to the same format version.
A policy of another version (another observation or action space) is left out with a logged note and
replaced by one trained now; a damaged one stops with one line naming the file (it is not silently
retrained: it may hold hours of training). Runs in one folder that share a policy take its lock
(io.file_lock): a second run waits while the first pre-trains, then loads what it saved; an update reads the
file again inside the lock, so concurrent sessions add their updates instead of overwriting each other's.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import ExperimentConfig, SplitConfig
from gan_trader.data.splits import make_split
from gan_trader.errors import DamagedFileError, EpisodeFailed, TuningError
from gan_trader.io import POLICY_FORMAT, atomic_open, describe_version, file_lock, format_version
from gan_trader.models.base import ForecastTask
from gan_trader.tuning.env import TuningEnv
from gan_trader.tuning.episode import (
    FAILED,
    FINISHED,
    EpisodeResult,
    EpisodeSpec,
    _EpisodeCallback,
    train_gan,
)
from gan_trader.tuning.loop import CHOICES, Transition
from gan_trader.tuning.observation import observation_size
from gan_trader.tuning.space import SearchSpace

log = logging.getLogger(__name__)

POLICY_ENTRY = "gan_trader.json"  # the entry of a saved policy's zip that holds its format version
REPLAY_ENTRY = "replay_buffer.pkl"  # a value-based agent's replay buffer, kept in its zip
REPLAY_SIZE = 2_000  # transitions a replay buffer keeps (the oldest are overwritten)


def _algorithm(algo: str) -> Any:
    if algo == "ppo":
        from stable_baselines3 import PPO

        return PPO
    if algo == "dqn":
        from stable_baselines3 import DQN

        return DQN
    if algo == "qrdqn":
        from sb3_contrib import QRDQN

        return QRDQN
    raise TuningError(f"tuning.agent.algo: unknown algorithm {algo!r} (ppo, dqn or qrdqn)")


def make_agent(algo: str, env: TuningEnv, seed: int, steps: int) -> Any:
    """A fresh agent sized for short proxy runs (a few hundred steps)."""
    cls = _algorithm(algo)
    if algo == "ppo":
        n_steps = int(np.clip(steps, 4, 32))
        return cls(
            "MlpPolicy",
            env,
            n_steps=n_steps,
            batch_size=n_steps,
            n_epochs=4,
            learning_rate=3e-4,
            gamma=0.9,
            seed=seed,
            verbose=0,
            device="cpu",
        )
    learning_starts = int(np.clip(steps // 4, 1, 32))
    return cls(
        "MlpPolicy",
        env,
        learning_starts=learning_starts,
        buffer_size=REPLAY_SIZE,
        batch_size=16,
        train_freq=1,
        target_update_interval=32,
        exploration_fraction=0.5,
        gamma=0.9,
        seed=seed,
        verbose=0,
        device="cpu",
    )


def _evaluate(model: Any, observation: np.ndarray, choice: int) -> tuple[float, float]:
    """An actor-critic's log-probability of `choice` and its value estimate at `observation`."""
    import torch

    tensor, _ = model.policy.obs_to_tensor(np.asarray(observation, np.float32))
    action = torch.as_tensor([choice], device=model.device)
    with torch.no_grad():
        values, log_prob, _ = model.policy.evaluate_actions(tensor, action)
    return float(log_prob.item()), float(values.item())


def _learn_on_policy(model: Any, transitions: Sequence[Transition], epochs: int) -> None:
    """PPO's own update (`model.train`: clipped surrogate, value and entropy terms) on the transitions as one
    rollout, with the log-probabilities and values the behaviour policy recorded at each decision."""
    import torch
    from stable_baselines3.common.buffers import RolloutBuffer

    rollout = RolloutBuffer(
        len(transitions),
        model.observation_space,
        model.action_space,
        device=model.device,
        gae_lambda=model.gae_lambda,
        gamma=model.gamma,
    )
    for position, step in enumerate(transitions):
        rollout.add(
            np.asarray([step.observation], np.float32),
            np.asarray([step.action]),
            np.asarray([step.reward], np.float32),
            np.asarray([position == 0 or transitions[position - 1].done], np.float32),
            torch.tensor([step.value]),
            torch.tensor([step.log_prob]),
        )
    last = transitions[-1]
    bootstrap = 0.0
    if not last.done and last.next_observation is not None:
        bootstrap = _evaluate(model, np.asarray(last.next_observation), 0)[1]
    rollout.compute_returns_and_advantage(torch.tensor([bootstrap]), np.asarray([last.done]))
    n_epochs, own_rollout = model.n_epochs, model.rollout_buffer
    model.n_epochs, model.rollout_buffer = epochs, rollout
    try:
        model.train()
    finally:
        model.n_epochs, model.rollout_buffer = n_epochs, own_rollout


def _learn_off_policy(model: Any, algo: str, transitions: Sequence[Transition], epochs: int) -> None:
    """DQN / QR-DQN: the transitions into the replay buffer, then per pass as many gradient steps as batches
    they fill, with the target network synced after each pass."""
    for step in transitions:
        following = step.next_observation if step.next_observation is not None else step.observation
        model.replay_buffer.add(
            np.asarray([step.observation], np.float32),
            np.asarray([following], np.float32),
            np.asarray([[step.action]]),
            np.asarray([step.reward], np.float32),
            np.asarray([step.done], np.float32),
            [{}],
        )
    if algo == "qrdqn":
        online, target = model.quantile_net, model.quantile_net_target
    else:
        online, target = model.q_net, model.q_net_target
    steps = max(1, math.ceil(len(transitions) / model.batch_size))
    for _ in range(epochs):
        model.train(gradient_steps=steps, batch_size=model.batch_size)
        target.load_state_dict(online.state_dict())


class Policy:
    """A trained agent: observation -> action (drawn from its own distribution in real sessions), updated
    from real sessions' transitions.

    :param real_transitions: the real decisions it has learned from, over all sessions (0 after pre-training).
    :param sessions: the real sessions it has learned from.
    """

    def __init__(
        self, model: Any, algo: str, path: Path | None = None, real_transitions: int = 0, sessions: int = 0
    ) -> None:
        self.model = model
        self.algo = algo
        self.path = path
        self.real_transitions = real_transitions
        self.sessions = sessions

    @property
    def epsilon(self) -> float:
        """The probability of a uniformly random choice in real sessions: DQN / QR-DQN's exploration rate at
        the end of its schedule; 0 for PPO, which draws from its own distribution instead."""
        return 0.0 if self.algo == "ppo" else float(self.model.exploration_final_eps)

    def probabilities(self, observation: np.ndarray) -> np.ndarray:
        """The policy's action distribution at `observation`: PPO's softmax; DQN / QR-DQN's epsilon-greedy."""
        import torch

        tensor, _ = self.model.policy.obs_to_tensor(np.asarray(observation, np.float32))
        with torch.no_grad():
            if self.algo == "ppo":
                probs = self.model.policy.get_distribution(tensor).distribution.probs[0]
                return np.asarray(probs.cpu().numpy(), float)
        greedy, _ = self.model.predict(observation, deterministic=True)
        actions = int(self.model.action_space.n)
        probs = np.full(actions, self.epsilon / actions)
        probs[int(np.asarray(greedy).item())] += 1.0 - self.epsilon
        return probs

    def act(self, observation: np.ndarray, rng: np.random.Generator | None = None) -> int:
        """A choice drawn from `probabilities` with `rng` (real sessions); the most likely one without."""
        if rng is None:
            action, _ = self.model.predict(observation, deterministic=True)
            return int(np.asarray(action).item())
        probs = self.probabilities(observation)
        return int(rng.choice(len(probs), p=probs / probs.sum()))

    def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
        """PPO's log-probability of `choice` and value at `observation`, recorded with each real decision for
        the on-policy update; value-based agents learn from the transitions alone (0, 0)."""
        return _evaluate(self.model, observation, choice) if self.algo == "ppo" else (0.0, 0.0)

    def learn(self, transitions: Sequence[Transition], epochs: int) -> None:
        """Update the agent from one real session's transitions (in decision order), `epochs` passes."""
        from stable_baselines3.common.logger import Logger

        self.model.set_logger(Logger(None, []))  # the update's statistics are not written anywhere
        if self.algo == "ppo":
            _learn_on_policy(self.model, transitions, epochs)
        else:
            _learn_off_policy(self.model, self.algo, transitions, epochs)
        self.real_transitions += len(transitions)
        self.sessions += 1

    def save(self, path: str | Path) -> None:
        """Write the agent (stable-baselines3's zip plus the entry `gan_trader.json`) atomically."""
        buffer = io.BytesIO()
        self.model.save(buffer)
        entry = {
            "format": POLICY_FORMAT,
            "algo": self.algo,
            "real_transitions": self.real_transitions,
            "sessions": self.sessions,
        }
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr(POLICY_ENTRY, json.dumps(entry))
            if self.algo != "ppo":
                replay = io.BytesIO()
                self.model.save_replay_buffer(replay)
                archive.writestr(REPLAY_ENTRY, replay.getvalue())
        with atomic_open(path, "wb") as handle:
            handle.write(buffer.getvalue())
        self.path = Path(path)

    @classmethod
    def load(
        cls, algo: str, path: str | Path, expected_obs: int, expected_actions: int | None = None
    ) -> Policy | None:
        """The policy saved at `path`; None (with a logged note) when another format version saved it;
        DamagedFileError naming the file when it cannot be read back."""
        path = Path(path)
        remedy = (
            "delete it to train a new one in proxy mode, or point tuning.agent.policy_path at another file"
        )
        try:
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                saved = json.loads(archive.read(POLICY_ENTRY)) if POLICY_ENTRY in names else None
                replay = archive.read(REPLAY_ENTRY) if REPLAY_ENTRY in names else None
                corrupt = archive.testzip()  # every member's checksum
            if corrupt is not None:
                raise zipfile.BadZipFile(f"member {corrupt} fails its checksum")
            if not {"data", "policy.pth"} <= set(names):  # e.g. a zip nested in a file cut short
                raise zipfile.BadZipFile("not a stable-baselines3 archive")
        except (OSError, zipfile.BadZipFile, json.JSONDecodeError, UnicodeDecodeError, EOFError) as exc:
            raise DamagedFileError(f"{path}: damaged saved policy ({type(exc).__name__}); {remedy}") from None
        if format_version(saved) != POLICY_FORMAT:
            log.warning(
                "saved policy %s has %s, this gan-trader uses version %d: left out, a new one is trained",
                path,
                describe_version(format_version(saved)),
                POLICY_FORMAT,
            )
            return None
        try:
            model = _algorithm(algo).load(str(path), device="cpu")
        except TuningError:
            raise
        except Exception as exc:  # stable-baselines3 raises many types for a damaged archive member
            raise DamagedFileError(f"{path}: damaged saved policy ({type(exc).__name__}); {remedy}") from None
        if algo != "ppo":
            if replay is None:
                raise DamagedFileError(f"{path}: damaged saved policy (no {REPLAY_ENTRY}); {remedy}")
            try:
                model.load_replay_buffer(io.BytesIO(replay))
            except Exception as exc:  # a pickle cut short or of another layout
                raise DamagedFileError(
                    f"{path}: damaged replay buffer in the saved policy ({type(exc).__name__}); {remedy}"
                ) from None
        actions = getattr(model.action_space, "n", None)
        if expected_actions is not None and actions != expected_actions:
            log.warning(
                "saved policy %s chooses among %s actions, this gan-trader offers %d: left out, a new one is "
                "trained",
                path,
                actions,
                expected_actions,
            )
            return None
        shape = model.observation_space.shape
        if shape != (expected_obs,):
            raise TuningError(
                f"tuning.agent.policy_path: {path} was trained on observations of shape {shape}, "
                f"this search space gives ({expected_obs},); delete it or point to another file"
            )
        counts = [(saved or {}).get(key, 0) for key in ("real_transitions", "sessions")]  # 0: none learned
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in counts):
            raise DamagedFileError(f"{path}: damaged saved policy (its {POLICY_ENTRY} counts); {remedy}")
        return cls(model, algo, path, *counts)


def space_key(config: ExperimentConfig) -> str:
    """A short hash of what shapes a policy's observations and actions: the search space (names in order,
    types, bounds, choices) and tuning.allow_stop."""
    tuning = config.tuning
    described = {
        "space": [[name, spec.model_dump(mode="json")] for name, spec in tuning.space.items()],
        "allow_stop": tuning.allow_stop,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:8]


def policy_path(config: ExperimentConfig) -> Path:
    """The saved policy of this experiment and search space: tuning.agent.policy_path, by default
    `<runs_dir>/policies/<experiment>-<space key>-<algo>.zip`."""
    agent = config.tuning.agent
    if agent.policy_path is not None:
        return Path(agent.policy_path)
    experiment = re.sub(r"[^A-Za-z0-9_.-]+", "_", config.experiment_name)
    return config.runs_dir / "policies" / f"{experiment}-{space_key(config)}-{agent.algo}.zip"


def _saved_policy(config: ExperimentConfig, space: SearchSpace, path: Path) -> Policy | None:
    """The usable policy saved at `path` (see Policy.load); None when there is none."""
    actions = len(CHOICES) if config.tuning.allow_stop else len(CHOICES) - 1
    if not path.exists():
        return None
    return Policy.load(config.tuning.agent.algo, path, observation_size(space), actions)


@dataclass
class PolicyUpdate:
    """What one session's update did: the transitions it learned from and the saved policy's totals after."""

    transitions: int
    real_transitions: int
    sessions: int
    path: Path


def learn_from_session(
    config: ExperimentConfig, space: SearchSpace, policy: Policy, transitions: Sequence[Transition]
) -> PolicyUpdate:
    """Update the saved policy from one real session's transitions (tuning.agent.update_epochs passes).

    Under the policy's lock the file is read again (another run may have updated it since this session
    loaded `policy`), updated, and replaced atomically, so concurrent sessions add up instead of overwriting
    each other's updates; the session's own `policy` is updated where no usable file is left.
    """
    path = policy_path(config)
    with file_lock(path):
        current = _saved_policy(config, space, path) or policy
        current.learn(transitions, config.tuning.agent.update_epochs)
        current.save(path)
    log.debug("updated the %s policy %s from %d real transitions", current.algo, path, len(transitions))
    return PolicyUpdate(len(transitions), current.real_transitions, current.sessions, path)


def proxy_task(task: ForecastTask, rows: int) -> ForecastTask:
    """The last `rows` rows up to the task's validation end, re-split 70/15/15 (test days never included)."""
    features = task.features.loc[: task.split.val_end].iloc[-rows:]
    split = make_split(pd.DatetimeIndex(features.index), SplitConfig(), min_rows=task.seq_len + 2)
    return ForecastTask(task.panel, features, split, task.seed, task.target_kind, task.seq_len)


def proxy_config(config: ExperimentConfig) -> ExperimentConfig:
    """A small GAN for proxy episodes: narrow LSTM, few MH candidates, no plots."""
    agent = config.tuning.agent
    gan = config.gan.model_copy(
        update={
            "epochs": agent.proxy_epochs,
            "generator": config.gan.generator.model_copy(update={"hidden": agent.proxy_hidden}),
            "mh": config.gan.mh.model_copy(update={"candidates": min(config.gan.mh.candidates, 8)}),
            "plot_epochs": [],
            "early_stopping_patience": None,
        }
    )
    return config.model_copy(update={"gan": gan})


def untracked_runner(
    config: ExperimentConfig, task: ForecastTask, forecaster_factory: Callable[..., Any] | None = None
) -> Callable[[EpisodeSpec], EpisodeResult]:
    """Episodes trained for real but not logged (proxy training of an agent)."""

    def run(spec: EpisodeSpec) -> EpisodeResult:
        callback = _EpisodeCallback(None, None, spec.prior_epochs, spec.pruning)
        kwargs = {"forecaster_factory": forecaster_factory} if forecaster_factory else {}
        result = EpisodeResult(
            index=spec.index,
            status=FAILED,
            run_id=None,
            hyperparameters=spec.hyperparameters,
            action=spec.action,
            suggestion=spec.suggestion,
            seed=spec.seed,
        )
        try:
            trained = train_gan(config, task, spec, callback, **kwargs)
        except EpisodeFailed as exc:
            result.reason, result.history = exc.reason, callback.history
        except Exception as exc:  # a set the GAN cannot run is a failed step, as in a real session
            result.reason = f"{type(exc).__name__}: {exc}"
        else:
            result.status, result.metrics, result.checkpoint = FINISHED, trained.metrics, trained.checkpoint
            result.history = trained.history
        result.epochs = len(callback.history)
        result.total_epochs = spec.prior_epochs + result.epochs
        return result

    return run


def make_proxy_env(
    config: ExperimentConfig,
    task: ForecastTask,
    workdir: Path,
    runner: Callable[[EpisodeSpec], EpisodeResult] | None = None,
) -> TuningEnv:
    agent = config.tuning.agent
    small = proxy_config(config)
    return TuningEnv(
        small,
        runner or untracked_runner(small, proxy_task(task, agent.proxy_rows)),
        budget_epochs=agent.proxy_episodes * agent.proxy_epochs,
        epochs_per_episode=agent.proxy_epochs,
        workdir=workdir,
    )


def _time_bound(seconds: float, steps: int, quiet: bool) -> Any:
    """A stable-baselines3 callback that ends `learn` once `seconds` have passed, printing each step."""
    import time

    from stable_baselines3.common.callbacks import BaseCallback

    class TimeBound(BaseCallback):
        def _on_training_start(self) -> None:
            self.start = time.monotonic()

        def _on_step(self) -> bool:
            elapsed = time.monotonic() - self.start
            if not quiet:
                print(
                    f"  proxy step {self.num_timesteps}/{steps} ({elapsed:.0f} s of at most {seconds:.0f} s)"
                )
            return elapsed < seconds

    return TimeBound()


def train_policy(
    config: ExperimentConfig, env: TuningEnv, steps: int | None = None, *, quiet: bool = True
) -> Policy:
    """Train the configured agent on `env` for `steps` env steps (default tuning.agent.train_steps), or
    until tuning.agent.proxy_seconds have passed, whichever comes first."""
    agent = config.tuning.agent
    steps = agent.train_steps if steps is None else steps
    model = make_agent(agent.algo, env, config.seed, max(steps, 1))
    if steps > 0 and agent.proxy_seconds > 0:
        model.learn(total_timesteps=steps, callback=_time_bound(agent.proxy_seconds, steps, quiet))
    return Policy(model, agent.algo)


PRETRAINED_DIR = Path(__file__).resolve().parent / "pretrained"


def pretrained_path(config: ExperimentConfig) -> Path:
    """Where gan-trader ships a policy pre-trained in proxy mode for this search space and algorithm
    (`scripts/pretrain_policy.py` writes it): `gan_trader/tuning/pretrained/<space key>-<algo>.zip`."""
    return PRETRAINED_DIR / f"{space_key(config)}-{config.tuning.agent.algo}.zip"


def proxy_policy(
    config: ExperimentConfig,
    task: ForecastTask,
    *,
    quiet: bool = True,
    runner: Callable[[EpisodeSpec], EpisodeResult] | None = None,
) -> Policy:
    """A policy trained now in proxy mode (tuning.agent.train_steps, bounded by proxy_seconds)."""
    with tempfile.TemporaryDirectory(prefix="gan-trader-proxy-") as workdir:
        env = make_proxy_env(config, task, Path(workdir), runner)
        return train_policy(config, env, quiet=quiet)


def _starting_policy(
    config: ExperimentConfig,
    task: ForecastTask,
    space: SearchSpace,
    quiet: bool,
    runner: Callable[[EpisodeSpec], EpisodeResult] | None,
) -> Policy:
    """The shipped pre-trained policy of this search space when there is one, else one trained now."""
    agent = config.tuning.agent
    path = policy_path(config)
    shipped = _saved_policy(config, space, pretrained_path(config))
    if shipped is not None:
        if not quiet:
            print(
                f"no {agent.algo} policy at {path} yet: starting from the one shipped with gan-trader "
                f"({pretrained_path(config).name}, pre-trained in proxy mode; scripts/pretrain_policy.py)"
            )
        return shipped
    if not quiet:
        print(
            f"no usable {agent.algo} policy at {path}: training one in proxy mode "
            f"(at most {agent.train_steps} steps and {agent.proxy_seconds:.0f} s)"
        )
    return proxy_policy(config, task, quiet=quiet, runner=runner)


def load_or_train_policy(
    config: ExperimentConfig,
    task: ForecastTask,
    space: SearchSpace,
    *,
    quiet: bool = True,
    runner: Callable[[EpisodeSpec], EpisodeResult] | None = None,
) -> Policy:
    """The saved policy for this config; else the pre-trained one shipped for its search space, or one
    trained now in proxy mode; saved for later sessions (which update it, see learn_from_session)."""
    path = policy_path(config)
    with file_lock(path):
        saved = _saved_policy(config, space, path)
        if saved is not None:
            return saved
        policy = _starting_policy(config, task, space, quiet, runner)
        policy.save(path)
    log.info("saved the %s policy to %s", config.tuning.agent.algo, path)
    return policy
