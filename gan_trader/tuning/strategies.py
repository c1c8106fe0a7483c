"""Tuning strategies behind one small base: `drive` runs a session's episodes.

Most strategies decide one episode at a time (`EpisodeStrategy.next_action`) and let the session's loop
(loop.py) drive them; a strategy with its own scheduler overrides `drive` instead (`pbt`, `pb2`).

- `fixed`: the config's own hyperparameters, every episode (seeds differ).
- `random`: uniform samples of the search box.
- `bo`: Gaussian-process UCB (bayes.py).
- `rl` (the design): a saved PPO/DQN/QR-DQN policy picks keep / new / stop from the session's observation
  (observation.py); "new" sets come from the optimiser, which also fills extra parallel slots.
- `pbt`: Ray Tune's PopulationBasedTraining on the real GAN trainable; Tune makes the exploit/explore
  decisions, so this strategy drives the whole session.
- `pb2`: the same with Ray Tune's PB2, whose explore step is a GP bandit over the continuous
  hyperparameters.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import shutil
import socket
import tempfile
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np

from gan_trader.config import ExperimentConfig, TrackingConfig
from gan_trader.errors import DamagedFileError, TuningError
from gan_trader.io import SESSION_STATE_FORMAT, atomic_path, read_state, write_json
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.bayes import RESUME_REMEDY, BayesOptimizer
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, run_episode
from gan_trader.tuning.executor import RayExecutor, start_worker
from gan_trader.tuning.loop import (
    CHOICES,
    KEEP,
    NEW,
    STOP,
    SUGGEST_MODES,
    Action,
    Transition,
    continuable,
)
from gan_trader.tuning.observation import observation
from gan_trader.tuning.space import ALIASES, SearchSpace, changes_architecture

log = logging.getLogger(__name__)


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

    def run_episodes(self, strategy: EpisodeStrategy) -> list[EpisodeResult]:
        """The per-episode loop: ask `strategy.next_action` whenever a slot is free, run, record."""
        ...

    def set_plan(self, episodes: int, epochs_per_episode: int) -> None:
        """Record the episodes a driver with its own scheduler will log (and their length)."""
        ...

    def logged_episodes(self) -> list[EpisodeResult]:
        """The session's episodes as the store holds them (for episodes run under another driver)."""
        ...


class Strategy(ABC):
    """Runs a session's episodes (`drive`); learns from finished episodes; saves its state for resume."""

    name: ClassVar[str]

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
    """The values the config itself gives each hyperparameter (the `fixed` strategy's set)."""
    raw = config.gan.model_dump(mode="python")
    values: dict[str, Any] = {}
    for name in names:
        path = ALIASES.get(name, (name.removeprefix("gan."),))[0]
        node: Any = raw
        for part in path.split("."):
            node = node[part]
        values[name] = node[0] if path == "critic.filters" else node
    return values


class FixedStrategy(EpisodeStrategy):
    name = "fixed"

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return Action("new", config_hyperparameters(self.config, self.space.names), source="fixed")


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
        copy expires). A "keep" episode (more epochs on a known point) is kept apart: the GP models sets
        trained from scratch for one episode's epochs, and bayes.py registers each point once."""
        if result.action == "keep" or result.total_epochs > result.epochs:
            return
        objective = result.objective(self.objective)
        if result.suggestion and result.suggestion.get("box"):
            self.optimizer.register(result.suggestion["box"], objective, is_box=True)
        else:
            # A set not suggested by this optimiser (fixed, warm start): a point outside the space is not a
            # BO observation.
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


class Controller(Protocol):
    """A trained policy (agents.Policy): an observation (observation.py) in, a choice (loop.CHOICES) out."""

    def act(self, observation: np.ndarray) -> int: ...

    def behaviour(self, observation: np.ndarray, choice: int) -> tuple[float, float]:
        """The log-probability of `choice` and the value estimate at `observation` (0, 0 for an agent without
        them): what an on-policy update of the policy needs of its own decisions."""
        ...


class RLStrategy(BOStrategy):
    """The design: a trained policy chooses keep / new (ucb, explore or local: how the optimiser finds the
    set) / stop; the optimiser supplies every new set, and fills extra parallel slots at its own UCB.

    Every decision of the policy is recorded as a loop.Transition (the optimiser's fills of extra slots are
    not its decisions); the loop pairs it with the episode it planned, and `transitions` completes them with
    their rewards when the session ends. The session stores them with its run and updates the saved policy
    from them (agents.learn_from_session), so the controller learns from every real session. They are saved
    with the strategy's state (`rl.json`): a resumed session keeps the decisions made before the kill.
    """

    name = "rl"

    def __init__(
        self, config: ExperimentConfig, space: SearchSpace, seed: int, policy: Controller | None = None
    ) -> None:
        super().__init__(config, space, seed)
        self.policy = policy
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
        choice = self.policy.act(seen)
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
        write_json(folder / "rl.json", {"format": SESSION_STATE_FORMAT, "decisions": decisions})

    def load(self, folder: Path) -> None:
        super().load(folder)
        path = folder / "rl.json"
        if path.exists():
            saved = read_state(path, "rl decisions", SESSION_STATE_FORMAT, RESUME_REMEDY)
            try:
                self.decisions = [Transition.from_dict(decision) for decision in saved["decisions"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise DamagedFileError(
                    f"{path}: damaged rl decisions ({type(exc).__name__}); {RESUME_REMEDY}"
                ) from None

    def action_for(self, choice: int, history: list[EpisodeResult], budget_left: float) -> Action:
        """A controller's choice as an episode (shared with the env): keep continues the last episode when it
        can be continued; new / explore / local, or keep with nothing to continue (as new), trains the set
        the optimiser finds in that mode."""
        parent = continuable(history) if choice == KEEP else None
        if parent is not None:
            return Action("keep", dict(parent.hyperparameters), parent=parent, source="rl")
        mode = SUGGEST_MODES.get(choice, SUGGEST_MODES[NEW])
        action = self.suggested_action(mode)
        action.source = f"rl:{CHOICES[choice] if choice in SUGGEST_MODES else 'new (nothing to keep)'}"
        return action


class PBTStrategy(Strategy):
    """Ray Tune's PopulationBasedTraining over the real GAN trainable.

    `tuning.pbt.population` trials train side by side; every `tuning.pbt.interval` epochs each reports its
    validation error with a checkpoint, and Tune's scheduler copies the weights of a top trial into a bottom
    one and perturbs (or resamples) its hyperparameters. Each interval is one logged episode (action `pbt`),
    index = trial number x rounds + round; every round of trial t trains with seed + t. Tune sees every
    hyperparameter as a [0, 1] coordinate of the search box (so perturbations respect log scales and integer
    rounding); hyperparameters that change the networks' shapes (filters, kernel_size, strides, padding...)
    are drawn per trial and inherited on exploit, never perturbed. Tune keeps the trials' checkpoints where
    `tune_storage` says (tuning.pbt.storage_path). Not resumable: a killed pbt session is re-run from the
    start.
    """

    name = "pbt"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        check_tune_storage(config)  # a remote cluster without shared storage: stop before anything starts
        if not self.mutable():
            raise TuningError(
                f"tuning.space: {self.name} needs at least one hyperparameter that keeps the networks' "
                "shapes (lr_g, cnn_lr, dropout...)"
            )

    def mutable(self) -> list[str]:
        """The hyperparameters the scheduler may change between rounds (the others stay the trial's own)."""
        return [name for name in self.space.names if not changes_architecture(name)]

    def rounds(self, budget_epochs: int) -> int:
        pbt = self.config.tuning.pbt
        return max(1, budget_epochs // (pbt.population * pbt.interval))

    def drive(self, session: TuningSession) -> list[EpisodeResult]:
        """Run the population with Ray Tune; the episodes are then read back from the store."""
        if session.resumed:
            raise TuningError(
                f"--resume: {self.name} sessions cannot be resumed (Ray Tune owns their state); start a new "
                "session"
            )
        pbt = session.config.tuning.pbt
        rounds = self.rounds(session.budget_epochs)
        session.set_plan(pbt.population * rounds, pbt.interval)
        settings = session.config.executor
        ray_owner = RayExecutor(
            settings.workers,
            settings.ray_address,
            settings.gpus_per_episode,
            settings.connect_timeout_s,
            settings.torch_threads,
        )
        try:
            check_tune_storage(session.config, _ray_nodes())
            with _tune_output_to_log():
                self._tuner(session, rounds, ray_owner).fit()
        finally:
            ray_owner.close()
        return session.logged_episodes()

    def _scheduler(self) -> Any:
        from ray import tune
        from ray.tune.schedulers import PopulationBasedTraining

        pbt = self.config.tuning.pbt
        return PopulationBasedTraining(
            time_attr="training_iteration",
            metric="objective",
            mode="min",
            perturbation_interval=1,
            # Architecture hyperparameters are never perturbed: an exploiting trial inherits them with the
            # donor's weights (Tune copies the donor's config), so the checkpoint always fits.
            hyperparam_mutations={name: tune.uniform(0.0, 1.0) for name in self.mutable()},
            quantile_fraction=pbt.quantile_fraction,
            resample_probability=pbt.resample_probability,
            synch=True,
            log_config=False,
        )

    def _tuner(self, session: TuningSession, rounds: int, ray_owner: RayExecutor) -> Any:
        from ray import tune
        from ray.tune.search import BasicVariantGenerator

        population = session.config.tuning.pbt.population
        rng = np.random.default_rng(self.seed)
        starts = [{name: float(rng.uniform()) for name in self.space.names} for _ in range(population)]
        trainable = tune.with_parameters(
            pbt_trainable,
            experiment_config=session.config,
            task=session.task,
            tracking=session.recorder.tracking,
            experiment=session.recorder.experiment_name,
            session_id=session.session_id,
            folder=str(session.folder),
            rounds=rounds,
            torch_threads=ray_owner.torch_threads,
            action=self.name,
        )
        return tune.Tuner(
            tune.with_resources(trainable, {"cpu": 1, "gpu": ray_owner.gpus}),
            param_space={name: tune.uniform(0.0, 1.0) for name in self.space.names},
            tune_config=tune.TuneConfig(
                scheduler=self._scheduler(),
                num_samples=population,
                # Every trial exists from the start (the workers' CPUs or GPUs bound how many run at once):
                # a population larger than the workers takes turns, each pausing at a round's end until
                # the others reach it, so the scheduler compares them all at every round.
                search_alg=BasicVariantGenerator(points_to_evaluate=starts),
            ),
            run_config=tune.RunConfig(
                name=self.name,
                storage_path=tune_storage(session.config, session.folder),
                verbose=0,
                stop={"training_iteration": rounds},
            ),
        )


class PB2Strategy(PBTStrategy):
    """Ray Tune's PB2 (Parker-Holder et al. 2020): PBT whose explore step is a GP bandit. At each round the
    bottom trials copy a top trial's weights, and a Gaussian process fitted to every trial's improvement per
    round (given its time, score and hyperparameters) picks the new values by UCB, instead of PBT's random
    x0.8 / x1.2 perturbations or resampling.

    What it varies: each hyperparameter that keeps the networks' shapes and is not categorical, through its
    [0, 1] coordinate of the search box (hyperparam_bounds [0, 1]): floats linearly, log_floats on the log10
    scale, ints on [low - 0.5, high + 0.5] rounded after the GP picks the coordinate (so a small move can
    leave an int as it was). What it cannot vary: hyperparameters that change the networks' shapes (drawn
    per trial, inherited on exploit: a checkpoint fits only its own shapes) and categorical ones (an
    unordered choice is no axis for a GP; drawn per trial as well). PB2 never resamples
    (tuning.pbt.resample_probability is pbt's), and the GP has data from the second round on: the first
    exploit copies the donor's values unchanged. Otherwise as pbt: same rounds, storage and episodes.
    """

    name = "pb2"

    def mutable(self) -> list[str]:
        categorical = {dim.name for dim in self.space.dimensions if dim.spec.type == "categorical"}
        names = [name for name in super().mutable() if name not in categorical]
        if not names:
            raise TuningError(
                "tuning.space: pb2 needs at least one float, log_float or int hyperparameter that keeps the "
                "networks' shapes (lr_g, cnn_lr, dropout...)"
            )
        return names

    def _scheduler(self) -> Any:
        from ray.tune.schedulers.pb2 import PB2

        return PB2(
            time_attr="training_iteration",
            metric="objective",
            mode="min",
            perturbation_interval=1,
            hyperparam_bounds={name: [0.0, 1.0] for name in self.mutable()},
            quantile_fraction=self.config.tuning.pbt.quantile_fraction,
            synch=True,
            log_config=False,
        )


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FixedStrategy, RandomStrategy, BOStrategy, RLStrategy, PBTStrategy, PB2Strategy)
}
ALL_STRATEGIES = ("rl", "bo", "random", "pbt", "pb2", "fixed")

# Ray addresses of this machine: a Tune driver here shares its file system with a cluster started here.
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", "[::1]"})


def _shared_storage(config: ExperimentConfig) -> str | None:
    """tuning.pbt.storage_path when every node can reach it: a URI (not file://) or a declared shared path."""
    pbt = config.tuning.pbt
    path = pbt.storage_path
    if path is None:
        return None
    uri = "://" in path and not path.startswith("file://")
    return path if uri or pbt.storage_shared else None


def _remote_address(address: str | None) -> bool:
    """Whether `executor.ray_address` names a head on another machine (auto and local ones: this one)."""
    if not address or address in ("auto", "local"):
        return False
    host = address.removeprefix("ray://").rsplit(":", 1)[0]
    return host not in _LOCAL_HOSTS and not host.startswith("127.") and host != socket.gethostname()


class _LogLines(io.TextIOBase):
    """A text stream whose lines go to this module's log (DEBUG), for what Ray Tune prints on the driver."""

    encoding = "utf-8"  # Ray Tune picks its table style by the stream's encoding

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if line.strip():
                log.debug("ray tune: %s", line)
        return len(text)


@contextlib.contextmanager
def _tune_output_to_log() -> Any:
    """Ray Tune's banner ("Configuration for experiment", "View detailed results here") and its warnings
    about result files a trial does not write (our trainable keeps its results in the tracking store) go
    to the log file, not the terminal; the session's own lines are unaffected."""
    noisy = logging.getLogger("ray.tune.logger.logger")
    level = noisy.level
    noisy.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(_LogLines()):
            yield
    finally:
        noisy.setLevel(level)


def _ray_nodes() -> int:
    """Alive nodes of the Ray cluster this process has joined."""
    import ray

    return sum(1 for node in ray.nodes() if node.get("Alive"))


def check_tune_storage(config: ExperimentConfig, nodes: int = 1) -> None:
    """Stop (TuningError naming tuning.pbt.storage_path) when Ray Tune's trials may run on another machine
    (a remote `executor.ray_address`, or a cluster of `nodes` > 1) and their checkpoints would go to a
    folder only this machine sees: on exploit a trial on one node loads a checkpoint another node wrote."""
    address = config.executor.ray_address
    remote = _remote_address(address)
    if (not remote and nodes <= 1) or _shared_storage(config) is not None:
        return
    where = f"the Ray cluster at {address}" if remote else f"the Ray cluster has {nodes} nodes"
    given = config.tuning.pbt.storage_path
    now = f"{given!r} is not declared shared" if given else "it is not set"
    raise TuningError(
        f"tuning.pbt.storage_path: {where}, so pbt/pb2 checkpoints need storage every node reaches "
        f"({now}): set it to a URI (s3://bucket/path, gs://...) or to a path every node mounts, with "
        "tuning.pbt.storage_shared: true"
    )


def tune_storage(config: ExperimentConfig, folder: Path) -> str:
    """Ray Tune's storage_path for a session in `folder`: tuning.pbt.storage_path (a URI as it is, a path
    made absolute), or else the session folder's `tune/` (one machine; see check_tune_storage)."""
    path = config.tuning.pbt.storage_path
    if path is None:
        return str(folder / "tune")
    if "://" in path:
        return path
    return str(Path(path).expanduser().absolute())


@dataclass
class _TrialStart:
    """Where a PBT trial (re)starts: its round, the checkpoint to continue and the episode it came from."""

    round: int = 0
    resume_from: Path | None = None
    prior_epochs: int = 0
    parent_index: int | None = None


def _trial_start(checkpoint: Any, folder: Path, trial: int) -> _TrialStart:
    """Tune hands over this trial's own checkpoint, or a better trial's after an exploit step (or none)."""
    if checkpoint is None:
        return _TrialStart()
    with checkpoint.as_directory() as directory:
        meta = json.loads((Path(directory) / "meta.json").read_text(encoding="utf-8"))
        round_ = int(meta["round"])
        resume_from = folder / "pbt-resume" / f"trial-{trial:03d}-round-{round_:03d}" / meta["file"]
        with atomic_path(resume_from) as tmp:
            shutil.copyfile(Path(directory) / meta["file"], tmp)
    return _TrialStart(round_, resume_from, int(meta["total_epochs"]), int(meta["index"]))


def _report_round(result: EpisodeResult, round_: int, objective: str) -> None:
    """Report a finished round to Tune with its checkpoint (copied: Tune moves what it is given)."""
    from ray import tune

    assert result.checkpoint is not None
    with tempfile.TemporaryDirectory() as out:
        shutil.copy(result.checkpoint, Path(out) / result.checkpoint.name)
        meta = {
            "round": round_,
            "total_epochs": result.total_epochs,
            "index": result.index,
            "file": result.checkpoint.name,
        }
        (Path(out) / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
        tune.report(
            {"objective": result.objective(objective), "episode": result.index},
            checkpoint=tune.Checkpoint.from_directory(out),
        )


def pbt_trainable(
    tune_config: dict[str, float],
    *,
    experiment_config: ExperimentConfig,
    task: ForecastTask,
    tracking: TrackingConfig,
    experiment: str,
    session_id: str,
    folder: str,
    rounds: int,
    torch_threads: int,
    action: str = "pbt",
) -> None:
    """One PBT (or PB2) trial (a Ray worker): `interval` epochs per round, each round a logged episode
    (action `action`), checkpointed for Tune."""
    from ray import tune

    start_worker(torch_threads)
    space = SearchSpace(experiment_config.tuning.space)
    box = {
        name: low + float(np.clip(tune_config[name], 0, 1)) * (high - low)
        for name, (low, high) in space.bounds.items()
    }
    params = space.from_box(box)
    trial = int(tune.get_context().get_trial_id().rsplit("_", 1)[-1])
    start = _trial_start(tune.get_checkpoint(), Path(folder), trial)
    recorder = open_recorder(tracking, experiment)
    for round_ in range(start.round, rounds):
        index = trial * rounds + round_
        spec = EpisodeSpec(
            index=index,
            hyperparameters=params,
            epochs=experiment_config.tuning.pbt.interval,
            seed=experiment_config.seed + trial,
            checkpoint_dir=Path(folder) / "episodes" / f"{index:03d}",
            action=action,
            resume_from=start.resume_from,
            prior_epochs=start.prior_epochs,
            suggestion={"box": box, "params": params, "source": action},
            parent_index=start.parent_index,
        )
        result = run_episode(experiment_config, task, recorder, session_id, spec)
        if not result.ok or result.checkpoint is None:
            tune.report({"objective": 1e9, "episode": index})
            return
        _report_round(result, round_ + 1, experiment_config.tuning.objective)
        start = _TrialStart(round_ + 1, result.checkpoint, result.total_epochs, index)
