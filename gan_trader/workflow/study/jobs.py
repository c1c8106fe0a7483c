"""Run functions as jobs, `slots` at a time: in this process, in a pool of local processes, or as Ray tasks.

The tuning executors run GAN episodes; a study's jobs are cells (any model), so this is the generic runner
beside them. It shares their process set-up (`start_worker`: glibc's allocator, torch threads per worker) and
their way of joining Ray (`join_ray`, `check_address`): a local instance with `executor.workers` CPUs, or an
existing cluster at `executor.ray_address`. A job is a picklable function and its argument; its result comes
back to `gather`. A job that raises in a worker raises in `gather` (a bug, with its traceback): a cell catches
its own failures and returns them as results.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from gan_trader.config import ExecutorConfig
from gan_trader.tuning.executor import WorkerPool, check_address, join_ray, start_worker

T = TypeVar("T")
R = TypeVar("R")


class JobRunner(ABC, Generic[T, R]):
    """Runs `function(payload)` jobs; `submit` fills a slot, `gather` returns the finished ones' results."""

    def __init__(self, function: Callable[[T], R], workers: int = 1) -> None:
        self.function = function
        self.workers = workers

    @property
    def slots(self) -> int:
        return self.workers

    @abstractmethod
    def submit(self, payload: T) -> None:
        """Start a job (the in-process runner runs it now)."""

    @abstractmethod
    def gather(self) -> list[R]:
        """Wait for at least one submitted job (if any is running) and return every finished one's result."""

    @property
    @abstractmethod
    def running(self) -> int:
        """Jobs submitted and not yet gathered."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release the workers."""

    def __enter__(self) -> JobRunner[T, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalJobs(JobRunner[T, R]):
    """In this process for one worker; a spawn-based process pool with `torch_threads` threads each for
    several (default: the cores divided by the workers)."""

    def __init__(
        self, function: Callable[[T], R], workers: int = 1, torch_threads: int | None = None
    ) -> None:
        super().__init__(function, workers)
        self._pool = WorkerPool(workers, torch_threads)

    def submit(self, payload: T) -> None:
        if self.workers == 1:
            self._pool.done.append(self.function(payload))
            return
        self._pool.submit(self.function, payload)

    def gather(self) -> list[R]:
        return self._pool.gather()

    @property
    def running(self) -> int:
        return self._pool.running

    def close(self) -> None:
        self._pool.close()


def _ray_job(function: Callable[[Any], Any], payload: Any, torch_threads: int) -> Any:
    """A Ray task: the worker's process settings (idempotent: Ray reuses workers), then the job."""
    start_worker(torch_threads)
    return function(payload)


class RayJobs(JobRunner[T, R]):
    """Jobs as Ray tasks of one CPU each, and `gpus` GPUs (auto: one when the cluster has GPUs)."""

    def __init__(
        self,
        function: Callable[[T], R],
        workers: int = 1,
        address: str | None = None,
        connect_timeout_s: float = 5.0,
        gpus: float | str = "auto",
        torch_threads: int | None = None,
        max_retries: int = 2,
    ) -> None:
        super().__init__(function, workers)
        import ray

        self._ray = ray
        if address:
            check_address(address, connect_timeout_s)
        self.started_here = join_ray(address, workers)
        if gpus == "auto":
            gpus = 1.0 if float(ray.cluster_resources().get("GPU", 0.0)) >= 1 else 0.0
        cpus = float(ray.cluster_resources().get("CPU", workers))
        self.torch_threads = torch_threads or max(1, int(cpus // max(workers, 1)))
        self._remote = ray.remote(num_cpus=1, num_gpus=float(gpus), max_retries=max_retries)(_ray_job)
        self._refs: list[Any] = []

    def submit(self, payload: T) -> None:
        self._refs.append(self._remote.remote(self.function, payload, self.torch_threads))

    def gather(self) -> list[R]:
        if not self._refs:
            return []
        ready, self._refs = self._ray.wait(self._refs, num_returns=1)
        more, self._refs = self._ray.wait(self._refs, num_returns=len(self._refs), timeout=0)
        return [self._ray.get(ref) for ref in ready + more]

    @property
    def running(self) -> int:
        return len(self._refs)

    def close(self) -> None:
        if self.started_here and self._ray.is_initialized():
            self._ray.shutdown()


def make_job_runner(function: Callable[[T], R], executor: ExecutorConfig) -> JobRunner[T, R]:
    """The runner `executor` names (executor.kind, workers, ray_address, torch_threads)."""
    if executor.kind == "ray":
        return RayJobs(
            function,
            executor.workers,
            executor.ray_address,
            executor.connect_timeout_s,
            executor.gpus_per_episode,
            executor.torch_threads,
            executor.max_retries,
        )
    return LocalJobs(function, executor.workers, executor.torch_threads)
