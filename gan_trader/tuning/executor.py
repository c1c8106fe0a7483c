"""Executors run episodes: `local` (in-process, or a process pool when workers > 1) and `ray` (a local Ray
instance, or an existing cluster via `executor.ray_address`).

Each episode in a worker opens its own Recorder from the tracking URI (an MLflow client is not picklable).
The embedded sqlite store is shared by every process on one machine; on a remote Ray cluster the tracking
URI must be one every node can reach (an MLflow server, `http://host:5000`), and the artifact root a shared
path. Paths in the config are made absolute before they are shipped, so workers started in another folder
write to the same places. Each Ray episode asks for one GPU when the cluster has GPUs (N GPUs train N
episodes at once), else one CPU; torch uses `executor.torch_threads` threads per worker (default: the
cores divided by the workers, so workers sharing the cores do not oversubscribe them).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gan_trader.config import ExperimentConfig, TrackingConfig
from gan_trader.errors import TuningError
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, run_episode


@dataclass
class EpisodeJob:
    """Everything a worker needs besides the task (which executors ship once)."""

    config: ExperimentConfig
    tracking: TrackingConfig
    experiment: str
    session_id: str
    spec: EpisodeSpec
    torch_threads: int | None = None


EpisodeFunction = Callable[[EpisodeJob, ForecastTask, Recorder | None], EpisodeResult]


def start_worker(torch_threads: int | None) -> None:
    """The process-wide settings of an episode worker, made where its process starts (never in a
    constructor): glibc keeps training buffers for reuse, and torch uses `torch_threads` threads."""
    import torch  # heavy: only worker processes need it here

    from gan_trader.models.devices import configure_process_memory

    configure_process_memory()
    if torch_threads:
        torch.set_num_threads(torch_threads)


def execute_episode(job: EpisodeJob, task: ForecastTask, recorder: Recorder | None = None) -> EpisodeResult:
    """Run one episode in this process; opens a Recorder from the job's tracking config when none is given."""
    if recorder is None:
        recorder = open_recorder(job.tracking, job.experiment)
    return run_episode(job.config, task, recorder, job.session_id, job.spec)


def ray_episode(episode_fn: EpisodeFunction, job: EpisodeJob, task: ForecastTask) -> EpisodeResult:
    """A Ray task: the worker's process settings (idempotent: Ray reuses workers), then the episode."""
    start_worker(job.torch_threads)
    return episode_fn(job, task, None)


def absolute_tracking(tracking: TrackingConfig) -> TrackingConfig:
    """Tracking settings with a relative sqlite URI and artifact root resolved against this working folder."""
    uri = tracking.uri
    if uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        uri = "sqlite:///" + str(Path(uri.removeprefix("sqlite:///")).resolve())
    return tracking.model_copy(update={"uri": uri, "artifact_root": Path(tracking.artifact_root).resolve()})


def absolute_paths(config: ExperimentConfig) -> ExperimentConfig:
    """The config with relative paths and sqlite URIs resolved against this process's working folder."""
    tracking = absolute_tracking(config.tracking)
    features = config.features.model_copy(
        update={"cache_dir": config.features.cache_dir.resolve() if config.features.cache_dir else None}
    )
    return config.model_copy(
        update={"tracking": tracking, "features": features, "runs_dir": config.runs_dir.resolve()}
    )


class Executor(ABC):
    """Runs episodes, `slots` at a time: submit fills a slot, gather returns finished episodes."""

    def __init__(self, workers: int = 1, episode_fn: EpisodeFunction = execute_episode) -> None:
        self.workers = workers
        self.episode_fn = episode_fn
        self.recorder: Recorder | None = None

    @property
    def slots(self) -> int:
        return self.workers

    def bind(self, recorder: Recorder) -> None:
        """The session's recorder, used by in-process episodes (workers open their own)."""
        self.recorder = recorder

    @abstractmethod
    def submit(self, job: EpisodeJob, task: ForecastTask) -> None:
        """Start an episode (in-process executors run it now)."""

    @abstractmethod
    def gather(self) -> list[EpisodeResult]:
        """Wait for at least one submitted episode (if any is running) and return every finished one."""

    @property
    @abstractmethod
    def running(self) -> int:
        """Episodes submitted and not yet gathered."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalExecutor(Executor):
    """In-process for one worker; a spawn-based process pool for several."""

    def __init__(
        self,
        workers: int = 1,
        episode_fn: EpisodeFunction = execute_episode,
        torch_threads: int | None = None,
    ) -> None:
        super().__init__(workers, episode_fn)
        self.torch_threads = torch_threads
        self._done: list[EpisodeResult] = []
        self._futures: list[cf.Future] = []
        self._pool: cf.ProcessPoolExecutor | None = None
        self._task_id: int | None = None

    def submit(self, job: EpisodeJob, task: ForecastTask) -> None:
        if self.workers == 1:
            if job.torch_threads:  # this process is the one worker
                import torch

                torch.set_num_threads(job.torch_threads)
            self._done.append(self.episode_fn(job, task, self.recorder))
            return
        if self._pool is None:
            threads = self.torch_threads or max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = cf.ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
                initargs=(threads,),
            )
        self._futures.append(self._pool.submit(self.episode_fn, job, task, None))

    def gather(self) -> list[EpisodeResult]:
        if self._futures:
            done, pending = cf.wait(self._futures, return_when=cf.FIRST_COMPLETED)
            self._futures = list(pending)
            self._done.extend(future.result() for future in done)
        finished, self._done = self._done, []
        return finished

    @property
    def running(self) -> int:
        return len(self._futures) + len(self._done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def check_address(address: str, timeout: float) -> None:
    """Fail fast (TuningError) when a Ray head at `address` does not accept a connection within `timeout`."""
    if address in ("auto", "local"):
        return
    target = address.removeprefix("ray://")
    host, sep, port_text = target.rpartition(":")
    if not sep or not port_text.isdigit():
        raise TuningError(f"executor.ray_address: {address!r} is not host:port, ray://host:port or auto")
    try:
        with socket.create_connection((host, int(port_text)), timeout=timeout):
            pass
    except OSError as exc:
        raise TuningError(
            f"executor.ray_address: the Ray cluster at {address} does not answer within {timeout:g}s ({exc})"
        ) from None
    if not address.startswith("ray://"):
        _probe_gcs(address, timeout)


def _probe_gcs(address: str, timeout: float) -> None:
    """Ask the address for its Ray cluster id, in a thread bounded by `timeout`: something else listening
    there (a proxy, another server) would otherwise keep ray.init retrying for about 20 s."""
    outcome: dict[str, BaseException | None] = {}

    def probe() -> None:
        try:
            # Ray's own client; absent in other Ray versions: then the probe is skipped.
            from ray._raylet import GcsClient  # type: ignore[attr-defined]
        except ImportError:
            outcome["error"] = None
            return
        try:
            GcsClient(address=address)
            outcome["error"] = None
        except Exception as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=probe, name="ray-address-probe", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise TuningError(
            f"executor.ray_address: the Ray cluster at {address} does not answer within {timeout:g}s"
        )
    error = outcome.get("error")
    if error is not None:
        raise TuningError(
            f"executor.ray_address: {address} does not answer as a Ray cluster "
            f"({type(error).__name__}: {error})"
        )


class RayExecutor(Executor):
    """Episodes as Ray tasks: one GPU each when the cluster has GPUs, else one CPU."""

    def __init__(
        self,
        workers: int = 1,
        address: str | None = None,
        gpus_per_episode: float | str = "auto",
        connect_timeout_s: float = 5.0,
        torch_threads: int | None = None,
        episode_fn: EpisodeFunction = execute_episode,
    ) -> None:
        super().__init__(workers, episode_fn)
        import ray

        self._ray = ray
        self.started_here = False
        if address:
            check_address(address, connect_timeout_s)
        if not ray.is_initialized():
            try:
                if address:
                    ray.init(
                        address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
                    )
                else:
                    ray.init(
                        num_cpus=workers,
                        include_dashboard=False,
                        log_to_driver=False,
                        configure_logging=False,
                    )
                    # GPUs are detected by Ray itself (num_gpus left to auto-detection).
            except Exception as exc:
                raise TuningError(
                    f"executor.ray_address: cannot start or join Ray at {address or 'local'} "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            self.started_here = True
        gpus_available = float(ray.cluster_resources().get("GPU", 0.0))
        if gpus_per_episode == "auto":
            self.gpus = 1.0 if gpus_available >= 1 else 0.0
        else:
            self.gpus = float(gpus_per_episode)
            if self.gpus > gpus_available:
                raise TuningError(
                    f"executor.gpus_per_episode: {self.gpus:g} asked, the cluster has {gpus_available:g} GPUs"
                )
        if self.gpus >= 1:
            self.workers = max(workers, int(gpus_available // self.gpus)) if address else workers
        cpus = float(ray.cluster_resources().get("CPU", workers))
        self.torch_threads = torch_threads or max(1, int(cpus // max(self.workers, 1)))
        self._remote = ray.remote(num_cpus=1, num_gpus=self.gpus, max_retries=0)(ray_episode)
        self._refs: list[Any] = []
        self._task_ref: Any = None
        self._task_key: int | None = None

    def submit(self, job: EpisodeJob, task: ForecastTask) -> None:
        if self._task_key != id(task):
            self._task_ref = self._ray.put(task)  # shipped once, shared by every episode
            self._task_key = id(task)
        job.torch_threads = job.torch_threads or self.torch_threads
        self._refs.append(self._remote.remote(self.episode_fn, job, self._task_ref))

    def gather(self) -> list[EpisodeResult]:
        if not self._refs:
            return []
        ready, self._refs = self._ray.wait(self._refs, num_returns=1)
        more, self._refs = self._ray.wait(self._refs, num_returns=len(self._refs), timeout=0)
        return list(self._ray.get(ready + more))

    @property
    def running(self) -> int:
        return len(self._refs)

    def close(self) -> None:
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()


def make_executor(config: ExperimentConfig, episode_fn: EpisodeFunction = execute_episode) -> Executor:
    """The executor the config names."""
    settings = config.executor
    if settings.kind == "ray":
        return RayExecutor(
            settings.workers,
            settings.ray_address,
            settings.gpus_per_episode,
            settings.connect_timeout_s,
            settings.torch_threads,
            episode_fn,
        )
    return LocalExecutor(settings.workers, episode_fn, settings.torch_threads)
