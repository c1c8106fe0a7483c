"""Tuning strategies behind one small base: `next_action` says what the next episode trains.

- `fixed`: the config's own hyperparameters, every episode (seeds differ).
- `random`: uniform samples of the search box.
- `bo`: Gaussian-process UCB (bayes.py).
- `rl` (the design): a saved PPO/DQN/QR-DQN policy picks keep / new / stop from the session's observation
  (env.py); "new" sets come from the optimiser, which also fills extra parallel slots.
- `pbt`: Ray Tune's PopulationBasedTraining on the real GAN trainable; Tune makes the exploit/explore
  decisions, so this strategy drives the whole session (`drive`) instead of answering `next_action`.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from gan_trader.config import ExperimentConfig
from gan_trader.errors import TuningError
from gan_trader.io import atomic_path, write_json
from gan_trader.tuning.bayes import BayesOptimizer, Suggestion
from gan_trader.tuning.env import KEEP, NEW, STOP, continuable, observe
from gan_trader.tuning.episode import EpisodeResult
from gan_trader.tuning.space import ALIASES, SearchSpace, changes_architecture


@dataclass
class Action:
    """The next episode: `new` trains `hyperparameters` afresh, `keep` continues `parent`'s checkpoint."""

    kind: str  # new | keep | stop
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    suggestion: Suggestion | None = None
    parent: EpisodeResult | None = None
    source: str = ""  # which strategy / component decided

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "hyperparameters": self.hyperparameters,
            "source": self.source,
            "suggestion": self.suggestion.to_dict() if self.suggestion else None,
            "parent": self.parent.index if self.parent else None,
        }


class Strategy(ABC):
    """Decides each episode's hyperparameters; learns from finished episodes; saves its state for resume."""

    name: ClassVar[str]

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        self.config = config
        self.space = space
        self.seed = seed
        self.objective = config.tuning.objective

    @abstractmethod
    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        """The next episode, given the finished ones, the share of the epoch budget left and how many
        episodes are still running (parallel slots)."""

    def observe(self, result: EpisodeResult) -> None:  # noqa: B027 - stateless strategies ignore results
        """Learn from a finished (or failed) episode."""

    def warm_start(self, observations: list[tuple[dict[str, Any], float]]) -> int:
        """Earlier (hyperparameters, objective) pairs of this experiment; returns how many were used."""
        return 0

    def save(self, folder: Path) -> None:  # noqa: B027 - stateless strategies save nothing
        """Write the state needed to resume (atomically) under `folder`."""

    def load(self, folder: Path) -> None:  # noqa: B027
        """Restore the state written by `save`."""


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


class FixedStrategy(Strategy):
    name = "fixed"

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return Action("new", config_hyperparameters(self.config, self.space.names), source="fixed")


class RandomStrategy(Strategy):
    name = "random"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        self.rng = np.random.default_rng(seed)

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        return Action("new", self.space.sample(self.rng), source="random")

    def save(self, folder: Path) -> None:
        write_json(folder / "random.json", self.rng.bit_generator.state)

    def load(self, folder: Path) -> None:
        path = folder / "random.json"
        if path.exists():
            self.rng.bit_generator.state = json.loads(path.read_text(encoding="utf-8"))


class BOStrategy(Strategy):
    name = "bo"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int) -> None:
        super().__init__(config, space, seed)
        tuning = config.tuning
        self.optimizer = BayesOptimizer(space, tuning.kappa, tuning.init_points, seed)
        self._boxes: dict[int, dict[str, float]] = {}

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        suggestion = self.optimizer.suggest()
        return Action("new", suggestion.params, suggestion=suggestion, source=f"bo:{suggestion.source}")

    def observe(self, result: EpisodeResult) -> None:
        objective = result.objective(self.objective)
        if result.suggestion and result.suggestion.get("box"):
            # The exact box point suggested, so the pending (constant-liar) copy of it expires.
            self.optimizer.register(result.suggestion["box"], objective, is_box=True)
        else:
            # "keep" episodes re-measure a known point; a point outside the space is not a BO observation.
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


class RLStrategy(BOStrategy):
    """The design: a trained policy chooses keep / new / stop; the optimiser supplies every new set."""

    name = "rl"

    def __init__(self, config: ExperimentConfig, space: SearchSpace, seed: int, policy: Any = None) -> None:
        super().__init__(config, space, seed)
        self.policy = policy

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        if self.policy is None:
            raise TuningError("tuning.agent: the rl strategy needs a policy (see gan_trader.tuning.agents)")
        if pending:
            return super().next_action(history, budget_left, pending)  # extra parallel slots: the optimiser
        current = history[-1].hyperparameters if history else None
        if current is not None:
            try:
                self.space.check(current)
            except TuningError:
                current = None
        obs = observe(history, self.space, self.objective, budget_left, current)
        choice = self.policy.act(obs)
        if choice == STOP and self.config.tuning.allow_stop and history:
            return Action("stop", source="rl")
        parent = continuable(history) if choice == KEEP else None
        if parent is not None:
            return Action("keep", dict(parent.hyperparameters), parent=parent, source="rl")
        action = super().next_action(history, budget_left, pending)
        action.source = f"rl:{'new' if choice == NEW else 'new (nothing to keep)'}"
        return action


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FixedStrategy, RandomStrategy, BOStrategy, RLStrategy)
}
ALL_STRATEGIES = ("rl", "bo", "random", "pbt", "fixed")


def make_strategy(
    name: str,
    config: ExperimentConfig,
    space: SearchSpace,
    seed: int,
    *,
    quiet: bool = True,
    task: Any = None,
) -> Strategy:
    """The strategy registered under `name` (rl loads or pre-trains its policy; pbt imports Ray Tune)."""
    if name == "pbt":
        return PBTStrategy(config, space, seed)
    if name not in STRATEGIES:
        raise TuningError(
            f"tuning.strategy: unknown strategy {name!r} (choose one of {', '.join(ALL_STRATEGIES)})"
        )
    if name == "rl":
        from gan_trader.tuning.agents import load_or_train_policy

        policy = load_or_train_policy(config, task, space, quiet=quiet) if task is not None else None
        return RLStrategy(config, space, seed, policy)
    return STRATEGIES[name](config, space, seed)


class PBTStrategy(Strategy):
    """Ray Tune's PopulationBasedTraining over the real GAN trainable.

    `tuning.pbt.population` trials train side by side; every `tuning.pbt.interval` epochs each reports its
    validation error with a checkpoint, and Tune's scheduler copies the weights of a top trial into a bottom
    one and perturbs (or resamples) its hyperparameters. Each interval is one logged episode (action `pbt`),
    index = trial number x rounds + round. Tune sees every hyperparameter as a [0, 1] coordinate of the
    search box (so perturbations respect log scales and integer rounding); hyperparameters that change the
    networks' shapes (filters, kernel_size, strides, padding...) are drawn per trial and inherited on
    exploit, never perturbed. Not resumable: a killed pbt session is re-run from the start.
    """

    name = "pbt"

    def next_action(self, history: list[EpisodeResult], budget_left: float, pending: int = 0) -> Action:
        # Tune's scheduler decides inside `drive`; this strategy never runs the per-episode loop.
        raise TuningError("tuning.strategy: pbt is driven by Ray Tune (run_session calls PBTStrategy.drive)")

    def rounds(self, budget_epochs: int) -> int:
        pbt = self.config.tuning.pbt
        return max(1, budget_epochs // (pbt.population * pbt.interval))

    def drive(
        self,
        config: ExperimentConfig,
        task: Any,
        recorder: Any,
        state: dict[str, Any],
        folder: Path,
        *,
        quiet: bool = True,
        episode_factory: Any = None,
    ) -> Any:
        """Run the population with Ray Tune, then close the session from the logged episodes."""
        from ray import tune
        from ray.tune.schedulers import PopulationBasedTraining
        from ray.tune.search import BasicVariantGenerator

        from gan_trader.tuning.executor import RayExecutor
        from gan_trader.tuning.session import close_session, episodes_from_store

        if state.get("next_index", 0) or state.get("episodes"):
            raise TuningError(
                "--resume: pbt sessions cannot be resumed (Ray Tune owns their state); start a new session"
            )
        pbt = config.tuning.pbt
        rounds = self.rounds(int(state["budget_epochs"]))
        state.update(
            planned_episodes=pbt.population * rounds,
            epochs_per_episode=pbt.interval,
            next_index=pbt.population * rounds,
        )
        ray_owner = RayExecutor(
            config.executor.workers,
            config.executor.ray_address,
            config.executor.gpus_per_episode,
            config.executor.connect_timeout_s,
            config.executor.torch_threads,
        )
        try:
            rng = np.random.default_rng(self.seed)
            scheduler = PopulationBasedTraining(
                time_attr="training_iteration",
                metric="objective",
                mode="min",
                perturbation_interval=1,
                # Architecture hyperparameters are never perturbed: an exploiting trial inherits them with
                # the donor's weights (Tune copies the donor's config), so the checkpoint always fits.
                hyperparam_mutations={
                    name: tune.uniform(0.0, 1.0)
                    for name in self.space.names
                    if not changes_architecture(name)
                },
                quantile_fraction=pbt.quantile_fraction,
                resample_probability=pbt.resample_probability,
                synch=True,
                log_config=False,
            )
            starts = [
                {name: float(rng.uniform()) for name in self.space.names} for _ in range(pbt.population)
            ]
            trainable = tune.with_parameters(
                pbt_trainable,
                experiment_config=config,
                task=task,
                tracking=recorder_tracking(recorder),
                experiment=recorder.experiment_name,
                session_id=state["session_id"],
                folder=str(folder),
                rounds=rounds,
                torch_threads=ray_owner.torch_threads,
                episode_factory=episode_factory,
            )
            trainable = tune.with_resources(trainable, {"cpu": 1, "gpu": ray_owner.gpus})
            tuner = tune.Tuner(
                trainable,
                param_space={name: tune.uniform(0.0, 1.0) for name in self.space.names},
                tune_config=tune.TuneConfig(
                    scheduler=scheduler,
                    num_samples=pbt.population,
                    search_alg=BasicVariantGenerator(
                        points_to_evaluate=starts, max_concurrent=ray_owner.workers
                    ),
                ),
                run_config=tune.RunConfig(
                    name="pbt",
                    storage_path=str(folder / "tune"),
                    verbose=0,
                    stop={"training_iteration": rounds},
                ),
            )
            tuner.fit()
        finally:
            ray_owner.close()
        history = episodes_from_store(recorder, state["session_id"], self.space)
        return close_session(recorder, state, folder, self.name, config.tuning.objective, history, self)


def recorder_tracking(recorder: Any) -> Any:
    from gan_trader.config import TrackingConfig
    from gan_trader.tuning.executor import absolute_tracking

    tracking = TrackingConfig(
        uri=recorder.uri, artifact_root=recorder.artifact_root, experiment=recorder.experiment_name
    )
    return absolute_tracking(tracking)


def pbt_trainable(
    tune_config: dict[str, float],
    *,
    experiment_config: ExperimentConfig,
    task: Any,
    tracking: Any,
    experiment: str,
    session_id: str,
    folder: str,
    rounds: int,
    torch_threads: int,
    episode_factory: Any = None,
) -> None:
    """One PBT trial: `interval` epochs per round, each round a logged episode, checkpointed for Tune."""
    import shutil
    import tempfile

    import torch
    from ray import tune

    from gan_trader.tracking.store import open_recorder
    from gan_trader.tuning.episode import EpisodeSpec, run_episode

    torch.set_num_threads(torch_threads)
    space = SearchSpace(experiment_config.tuning.space)
    bounds = space.bounds
    box = {
        n: bounds[n][0] + float(np.clip(tune_config[n], 0, 1)) * (bounds[n][1] - bounds[n][0])
        for n in space.names
    }
    params = space.from_box(box)
    trial = int(tune.get_context().get_trial_id().rsplit("_", 1)[-1])
    interval = experiment_config.tuning.pbt.interval
    round_, resume_from, prior, parent = 0, None, 0, None
    root = Path(folder) / "episodes"
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        # Tune hands over this trial's own checkpoint, or a better trial's after an exploit step.
        with checkpoint.as_directory() as directory:
            meta = json.loads((Path(directory) / "meta.json").read_text(encoding="utf-8"))
            round_, prior, parent = int(meta["round"]), int(meta["total_epochs"]), int(meta["index"])
            resume_from = Path(folder) / "pbt-resume" / f"trial-{trial:03d}-round-{round_:03d}" / meta["file"]
            with atomic_path(resume_from) as tmp:
                shutil.copyfile(Path(directory) / meta["file"], tmp)
    recorder = open_recorder(tracking, experiment)
    kwargs = {"forecaster_factory": episode_factory} if episode_factory else {}
    while round_ < rounds:
        index = trial * rounds + round_
        spec = EpisodeSpec(
            index,
            params,
            interval,
            experiment_config.seed + trial,
            root / f"{index:03d}",
            "pbt",
            resume_from,
            prior,
            {"box": box, "params": params, "source": "pbt"},
            parent,
        )
        result = run_episode(experiment_config, task, recorder, session_id, spec, **kwargs)
        round_ += 1
        if not result.ok or result.checkpoint is None:
            tune.report({"objective": 1e9, "episode": index})
            return
        with tempfile.TemporaryDirectory() as out:
            shutil.copy(result.checkpoint, Path(out) / result.checkpoint.name)
            meta = {
                "round": round_,
                "total_epochs": result.total_epochs,
                "index": index,
                "file": result.checkpoint.name,
            }
            (Path(out) / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
            tune.report(
                {"objective": result.objective(experiment_config.tuning.objective), "episode": index},
                checkpoint=tune.Checkpoint.from_directory(out),
            )
        resume_from, prior, parent = result.checkpoint, result.total_epochs, index
