"""`pbt`: Ray Tune's PopulationBasedTraining on the real GAN trainable; Tune makes the exploit/explore
decisions, so this strategy drives the whole session (pb2.py: the same with PB2)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import shutil
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_trader.config import ExperimentConfig, TrackingConfig
from gan_trader.errors import TuningError
from gan_trader.io import atomic_path
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, run_episode
from gan_trader.tuning.executor import RayExecutor, start_worker
from gan_trader.tuning.loop import episode_seed
from gan_trader.tuning.space import SearchSpace, changes_architecture
from gan_trader.tuning.strategies.base import Strategy, TuningSession, config_hyperparameters

log = logging.getLogger(__name__)


class PBTStrategy(Strategy):
    """Ray Tune's PopulationBasedTraining over the real GAN trainable.

    `tuning.pbt.population` trials train side by side; every `tuning.pbt.interval` epochs each reports its
    validation error with a checkpoint, and Tune's scheduler copies the weights of a top trial into a bottom
    one and perturbs (or resamples) its hyperparameters. Each interval is one logged episode (action `pbt`),
    index = trial number x rounds + round, each with its own seed from the session's stream
    (loop.episode_seed). Trial 0 starts at the reference set (the config's own hyperparameters, clipped into
    the box when they lie outside it), the others at random points. Tune sees every
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

    def reference_start(self) -> dict[str, float]:
        """The reference set as Tune's [0, 1] coordinates of the search box (clipped into it)."""
        reference = config_hyperparameters(self.config, self.space.names)
        start = {}
        for dim in self.space.dimensions:
            low, high = dim.bounds
            try:
                coordinate = (dim.to_box(reference[dim.name]) - low) / (high - low)
            except TuningError:  # outside the box (the session says so in one line): its nearest edge
                low_value = dim.spec.low if dim.spec.low is not None else -np.inf
                coordinate = 0.0 if float(reference[dim.name]) < low_value else 1.0
            start[dim.name] = float(np.clip(coordinate, 0.0, 1.0))
        return start

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
        rounds = self.rounds(session.search_epochs)
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
        starts = [self.reference_start()]
        starts += [{name: float(rng.uniform()) for name in self.space.names} for _ in range(population - 1)]
        trainable = tune.with_parameters(
            pbt_trainable,
            experiment_config=session.config,
            task=session.task,
            tracking=session.recorder.tracking,
            experiment=session.recorder.experiment_name,
            session_id=session.session_id,
            session_seed=session.config.seed,
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
    session_seed: int,
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
            seed=episode_seed(session_seed, action, index),
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
