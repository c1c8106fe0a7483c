"""Executors run episodes: `local` (in-process, or a process pool when workers > 1) and `ray` (a local Ray
instance, or an existing cluster via `executor.ray_address`).

Each episode in a worker opens its own Recorder from the tracking URI (an MLflow client is not picklable).
The embedded sqlite store is shared by every process on one machine; on a Ray cluster the tracking URI must
be one every node can reach (an MLflow server, `http://host:5000`), which then holds the artifacts too: a
worker node needs nothing of the driver's folder (episodes train in scratch folders and upload; the task
travels by value). Paths in the config are made absolute before they are shipped, so local workers started
in another folder write to the same places. A Ray episode whose worker or node dies is retried
(`executor.max_retries`), then FAILED with the reason; one that waits while no alive node has room for it
(its only node died, the head has no CPUs) is FAILED after `executor.pending_timeout_s`. Each Ray episode asks
for one GPU when the cluster has GPUs (N GPUs train N episodes at once), else one CPU; torch uses
`executor.torch_threads` threads per worker (default: the cores divided by the workers, so workers sharing the
cores do not oversubscribe them).
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gan_trader.config import ExperimentConfig, TrackingConfig
from gan_trader.errors import TuningError
from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import FAILED, RUNNING, Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import DEVICE_TAG, NODE_TAG
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, log_unstarted, run_episode


@dataclass
class EpisodeJob:
    """Everything a worker needs besides the task (which executors ship once)."""

    config: ExperimentConfig
    tracking: TrackingConfig
    experiment: str
    session_id: str
    spec: EpisodeSpec
    torch_threads: int | None = None
    placement: dict[str, str] = field(default_factory=dict)  # the Ray node and GPUs it runs on


log = logging.getLogger(__name__)

RAY_MESSAGES = "gan_trader.ray"  # the logger of Ray's messages to the driver (see `ray_log`)
LOST_ATTEMPT = "its Ray worker or node died mid-episode; the episode was run again"

EpisodeFunction = Callable[[EpisodeJob, ForecastTask, Recorder | None], EpisodeResult]


def start_worker(torch_threads: int | None) -> None:
    """The process-wide settings of an episode worker, made where its process starts (never in a
    constructor): glibc keeps training buffers for reuse, and torch uses `torch_threads` threads."""
    import torch  # heavy: only worker processes need it here

    from gan_trader.models.devices import configure_process_memory

    configure_process_memory()
    if torch_threads:
        torch.set_num_threads(torch_threads)


_in_job = False  # a pool worker's state: running a job, or waiting for the next
# held while the state changes, so a waiting worker never leaves as a job starts (reentrant: the main
# thread's handler takes it too)
_job_state = threading.RLock()


def _leave_if_waiting(signum: int) -> None:
    with _job_state:
        if not _in_job:
            os._exit(128 + signum)


def _interrupted(signum: int, frame: Any) -> None:
    """Ctrl-C reaches every process of the terminal's group: a pool worker waiting for a job leaves at once
    and quietly (it holds nothing: no traceback from its queue, no exit handlers that could wait on torch's
    threads); one running a job stops it as Python would, so the job's runs are logged as killed and the
    parent, which has its own KeyboardInterrupt, says how to resume."""
    if _in_job:
        raise KeyboardInterrupt
    _leave_if_waiting(signum)


def _watch_signals(wakeup: int) -> None:
    """A waiting worker's main thread sleeps in a read of the job queue, and Python runs a signal handler
    only when that read returns: a SIGINT that another thread takes (numpy's BLAS threads are the process's
    too), or one that lands just before the read begins, would leave it asleep for good. The signal's byte
    on the wakeup pipe reaches this thread whichever thread took the signal."""
    while True:
        for signum in os.read(wakeup, 64):
            if signum == signal.SIGINT:
                _leave_if_waiting(signum)


def _start_pool_worker(torch_threads: int | None) -> None:
    start_worker(torch_threads)
    signal.signal(signal.SIGINT, _interrupted)
    wakeup, wake = os.pipe()
    os.set_blocking(wake, False)
    signal.set_wakeup_fd(wake, warn_on_full_buffer=False)
    threading.Thread(target=_watch_signals, args=(wakeup,), name="signals", daemon=True).start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})  # a mask inherited from the parent


def _job(function: Callable[..., Any], *args: Any) -> Any:
    global _in_job
    with _job_state:
        _in_job = True
    try:
        return function(*args)
    finally:
        with _job_state:
            _in_job = False


class WorkerPool:
    """Spawn-based worker processes (started on first use, `torch_threads` threads each; default: the cores
    divided by the workers) and the results of their jobs, gathered as they finish. Results a caller ran in
    its own process join them through `done`. Episodes (LocalExecutor) and study cells (LocalJobs) use it."""

    def __init__(self, workers: int, torch_threads: int | None = None) -> None:
        self.workers = workers
        self.torch_threads = torch_threads
        self.done: list[Any] = []
        self._futures: list[cf.Future[Any]] = []
        self._pool: cf.ProcessPoolExecutor | None = None

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        if self._pool is None:
            threads = self.torch_threads or max(1, (os.cpu_count() or 1) // self.workers)
            self._pool = cf.ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_pool_worker,
                initargs=(threads,),
            )
        self._futures.append(self._pool.submit(_job, function, *args))

    def gather(self) -> list[Any]:
        if self._futures:
            done, pending = cf.wait(self._futures, return_when=cf.FIRST_COMPLETED)
            self._futures = list(pending)
            self.done.extend(future.result() for future in done)
        finished, self.done = self.done, []
        return finished

    @property
    def running(self) -> int:
        return len(self._futures) + len(self.done)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def execute_episode(job: EpisodeJob, task: ForecastTask, recorder: Recorder | None = None) -> EpisodeResult:
    """Run one episode in this process; opens a Recorder from the job's tracking config when none is given."""
    if recorder is None:
        recorder = open_recorder(job.tracking, job.experiment)
    return run_episode(job.config, task, recorder, job.session_id, job.spec, placement=job.placement)


def ray_placement() -> dict[str, str]:
    """The Ray node and GPUs this Ray worker runs on, as tags."""
    import ray

    node = f"{socket.gethostname()} (ray node {ray.get_runtime_context().get_node_id()[:12]})"
    gpus = ray.get_gpu_ids()
    return {NODE_TAG: node, **({DEVICE_TAG: f"ray GPUs {gpus}"} if gpus else {})}


def ray_episode(episode_fn: EpisodeFunction, job: EpisodeJob, task: ForecastTask) -> EpisodeResult:
    """A Ray task: the worker's process settings (idempotent: Ray reuses workers), then the episode."""
    start_worker(job.torch_threads)
    job.placement = ray_placement()
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
        self._pool = WorkerPool(workers, torch_threads)
        self._task_id: int | None = None

    def submit(self, job: EpisodeJob, task: ForecastTask) -> None:
        if self.workers == 1:
            if job.torch_threads:  # this process is the one worker
                import torch

                torch.set_num_threads(job.torch_threads)
            self._pool.done.append(self.episode_fn(job, task, self.recorder))
            return
        self._pool.submit(self.episode_fn, job, task, None)

    def gather(self) -> list[EpisodeResult]:
        return self._pool.gather()

    @property
    def pool(self) -> WorkerPool | None:
        """The worker processes, for other jobs of the same run (None: one worker, this process)."""
        return self._pool if self.workers > 1 else None

    @property
    def running(self) -> int:
        return self._pool.running

    def close(self) -> None:
        self._pool.close()


def check_address(address: str, timeout: float) -> None:
    """Fail fast (TuningError) when a Ray head at `address` does not accept a connection within `timeout`,
    or does not let this machine in (token authentication)."""
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
        token = use_ray_token()
        error = _probe_gcs(address, timeout)
        if type(error).__name__ == "AuthenticationError":
            raise TuningError(_token_advice(address, token))
        if error is not None:
            raise TuningError(
                f"executor.ray_address: {address} does not answer as a Ray cluster "
                f"({type(error).__name__}: {error})"
            )


def use_ray_token() -> bool:
    """Whether this process sends a Ray authentication token. Ray turns token authentication on by itself
    only for a local cluster it finds (`auto`), never for an explicit address: when the user has not chosen
    (RAY_AUTH_MODE unset) and a token is where Ray documents it (RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH
    names, ~/.ray/auth_token), it is sent; a cluster without authentication ignores it."""
    try:
        from ray._private.authentication import authentication_token_setup as setup
        from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]
    except ImportError:  # a Ray without token authentication
        return False
    mode = os.environ.get(setup.AUTH_MODE_ENV_VAR)
    if mode is not None:
        return mode.lower() == "token"
    if not AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True):
        return False
    setup._enable_token_auth()  # RAY_AUTH_MODE=token for this process and the Ray processes it starts
    return True


def _token_advice(address: str, token_sent: bool) -> str:
    """One line for a cluster that refused this process: what to set."""
    where = "RAY_AUTH_TOKEN, the file RAY_AUTH_TOKEN_PATH names, or ~/.ray/auth_token"
    if token_sent:
        return (
            f"executor.ray_address: the Ray cluster at {address} refuses this machine's authentication token "
            f"({where}): use the head's (`ray get-auth-token` prints it there)"
        )
    return (
        f"executor.ray_address: the Ray cluster at {address} asks for its authentication token: copy the "
        "head's (`ray get-auth-token` prints it there) to ~/.ray/auth_token on this machine, or set "
        "RAY_AUTH_TOKEN to it"
    )


def _probe_gcs(address: str, timeout: float) -> BaseException | None:
    """Ask the address for its Ray cluster id, in a thread bounded by `timeout` (something else listening
    there, a proxy or another server, would otherwise keep ray.init retrying for about 20 s); the error it
    answers with, None when it answers as a Ray cluster."""
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
    return outcome.get("error")


def join_ray(address: str | None, workers: int) -> bool:
    """Join the Ray cluster at `address`, or start a local instance with `workers` CPUs (GPUs are detected by
    Ray); False when this process had joined one already. Workers' output stays in Ray's session logs
    (<temp dir>/session_*/logs on each node), and Ray's own messages to this driver go to `ray_log`."""
    import ray

    if ray.is_initialized():
        return False
    try:
        ray.init(
            address=address or None,
            num_cpus=None if address else workers,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    except Exception as exc:
        raise TuningError(
            f"executor.ray_address: cannot start or join Ray at {address or 'local'} "
            f"({type(exc).__name__}: {exc})"
        ) from None
    path = ray_log()
    if path is not None:
        log.info("Ray's messages (retried tasks, lost nodes): %s", path)
    return True


def ray_log() -> Path | None:
    """Send what Ray's nodes report to this driver (a task retried, a node marked dead: a few dozen lines a
    lost node) to `gan-trader-driver.log` in Ray's log folder instead of the terminal; its path (None with a
    Ray that prints them elsewhere). Set where the driver joins Ray: Ray starts its printer there."""
    from ray._private import worker as ray_worker

    node = getattr(ray_worker, "_global_node", None)
    if node is None or not hasattr(ray_worker, "print_to_stdstream"):
        return None
    path = Path(node.get_logs_dir_path()) / "gan-trader-driver.log"
    messages = logging.getLogger(RAY_MESSAGES)
    messages.propagate, messages.level = False, logging.INFO
    for handler in list(messages.handlers):
        messages.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    messages.addHandler(handler)

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            messages.info("(%s) %s", data.get("pid", "ray"), line)

    ray_worker.print_to_stdstream = to_log
    return path


def failed_episode(job: EpisodeJob, reason: str) -> EpisodeResult:
    """The FAILED result of an episode that Ray could not run to its end."""
    spec = job.spec
    return EpisodeResult(
        index=spec.index,
        status=FAILED,
        run_id=None,
        hyperparameters=dict(spec.hyperparameters),
        reason=reason,
        action=spec.action,
        suggestion=spec.suggestion,
    )


def lost_episode(job: EpisodeJob, error: BaseException, attempts: int) -> EpisodeResult:
    """The FAILED result of an episode whose Ray worker (or its node) died on every attempt."""
    first_line = (str(error).strip().splitlines() or [""])[0][:300]
    return failed_episode(
        job,
        f"its Ray worker or node died on all {attempts} attempts ({type(error).__name__}: {first_line})",
    )


def unplaced_episode(job: EpisodeJob, waited_s: float, demand: dict[str, float]) -> EpisodeResult:
    """The FAILED result of an episode that waited `waited_s` while no alive Ray node had room for it."""
    asked = ", ".join(f"{amount:g} {name}" for name, amount in demand.items())
    return failed_episode(
        job,
        f"no Ray node had room for {waited_s:g} s (executor.pending_timeout_s; an episode asks for {asked}): "
        "start a worker node with room for one, or raise executor.pending_timeout_s",
    )


def has_room(nodes: list[dict[str, Any]], demand: dict[str, float]) -> bool:
    """Whether an alive node of `ray.nodes()` has the resources `demand` asks for (busy or not: an episode
    that waits for a busy node's slot is queued, not stuck)."""
    return any(
        node.get("Alive") and all(node.get("Resources", {}).get(k, 0.0) >= v for k, v in demand.items())
        for node in nodes
    )


class RayExecutor(Executor):
    """Episodes as Ray tasks: one GPU each when the cluster has GPUs, else one CPU. An episode whose worker
    or node dies is run again, up to `max_retries` times, then recorded FAILED with the reason; the runs
    its lost attempts left RUNNING are ended FAILED. Episodes that wait while no alive node has room for
    one are recorded FAILED once that has lasted `pending_timeout_s`."""

    def __init__(
        self,
        workers: int = 1,
        address: str | None = None,
        gpus_per_episode: float | str = "auto",
        connect_timeout_s: float = 5.0,
        torch_threads: int | None = None,
        episode_fn: EpisodeFunction = execute_episode,
        max_retries: int = 2,
        pending_timeout_s: float = 600.0,
    ) -> None:
        super().__init__(workers, episode_fn)
        import ray

        self._ray = ray
        if address:
            check_address(address, connect_timeout_s)
        self.started_here = join_ray(address, workers)
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
        self.max_retries, self.pending_timeout_s = max_retries, pending_timeout_s
        self.demand = {"CPU": 1.0, **({"GPU": self.gpus} if self.gpus > 0 else {})}  # what one episode asks
        # Retried only when the worker or its node dies; an episode's own failure is its FAILED result.
        self._remote = ray.remote(num_cpus=1, num_gpus=self.gpus, max_retries=max_retries)(ray_episode)
        self._no_room_since: float | None = None  # when the alive nodes last stopped having room
        self._refs: list[Any] = []
        self._jobs: dict[Any, EpisodeJob] = {}
        self._task_ref: Any = None
        self._task_key: int | None = None

    def submit(self, job: EpisodeJob, task: ForecastTask) -> None:
        if self._task_key != id(task):
            self._task_ref = self._ray.put(task)  # shipped once, shared by every episode
            self._task_key = id(task)
        job.torch_threads = job.torch_threads or self.torch_threads
        ref = self._remote.remote(self.episode_fn, job, self._task_ref)
        self._refs.append(ref)
        self._jobs[ref] = job

    def gather(self) -> list[EpisodeResult]:
        if not self._refs:
            return []
        ready = self._wait_for_one()
        if not ready:  # every waiting episode is FAILED: none can start
            waiting, self._refs = self._refs, []
            for ref in waiting:
                self._ray.cancel(ref)
            return [self._unplaced(ref) for ref in waiting]
        more, self._refs = self._ray.wait(self._refs, num_returns=len(self._refs), timeout=0)
        return [self._collect(ref) for ref in ready + more]

    def _wait_for_one(self) -> list[Any]:
        """Wait until an episode finishes; [] once no alive node has had room for one for
        `pending_timeout_s` (the clock runs across calls: it is the cluster's state, not an episode's)."""
        poll = min(5.0, self.pending_timeout_s / 4)
        while True:
            ready, self._refs = self._ray.wait(self._refs, num_returns=1, timeout=poll)
            if ready:
                return ready
            if has_room(self._ray.nodes(), self.demand):
                self._no_room_since = None
                continue
            now = time.monotonic()
            if self._no_room_since is None:
                self._no_room_since = now
                log.warning(
                    "no alive Ray node has room for an episode (%s); waiting up to %g s "
                    "(executor.pending_timeout_s) for one",
                    self.demand,
                    self.pending_timeout_s,
                )
            elif now - self._no_room_since >= self.pending_timeout_s:
                return []

    def _unplaced(self, ref: Any) -> EpisodeResult:
        """The FAILED result of a cancelled episode that no node had room for."""
        job = self._jobs.pop(ref)
        result = unplaced_episode(job, self.pending_timeout_s, self.demand)
        log.warning("episode %d: %s", job.spec.index, result.reason)
        self._close_runs(job, result)
        return result

    def _collect(self, ref: Any) -> EpisodeResult:
        """The result of a finished Ray task; the runs of its lost attempts are closed."""
        job = self._jobs.pop(ref)
        try:
            result: EpisodeResult = self._ray.get(ref)
        except self._ray.exceptions.RayTaskError:
            raise  # a bug in the episode code: its traceback
        except self._ray.exceptions.RayError as exc:
            result = lost_episode(job, exc, self.max_retries + 1)
            log.warning("episode %d: %s", job.spec.index, result.reason)
        self._close_runs(job, result)
        return result

    def _close_runs(self, job: EpisodeJob, result: EpisodeResult) -> None:
        """End FAILED the runs of `job`'s episode still RUNNING besides the result's own: attempts whose
        worker died. An episode Ray could not run to its end takes its last run as its own, or a FAILED run
        opened now when no attempt began one, so the store holds every episode."""
        recorder = self.recorder or open_recorder(job.tracking, job.experiment)
        lost = [
            run
            for run in recorder.runs(session=job.session_id, status=RUNNING)
            if run.episode_index == job.spec.index and run.run_id != result.run_id
        ]
        lost.sort(key=lambda run: run.start_time)
        if lost:
            log.warning("episode %d: its Ray worker or node died mid-episode (see Ray's log)", job.spec.index)
        if result.run_id is None and lost:
            result.run_id = lost.pop().run_id
            recorder.finish(result.run_id, FAILED, result.reason)
        elif result.run_id is None:
            result.run_id = log_unstarted(recorder, job.session_id, job.spec, result.reason or FAILED)
        for run in lost:
            recorder.finish(run.run_id, FAILED, LOST_ATTEMPT)

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
            settings.max_retries,
            settings.pending_timeout_s,
        )
    return LocalExecutor(settings.workers, episode_fn, settings.torch_threads)
