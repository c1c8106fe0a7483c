"""Executors: in-process, a process pool, a local 2-CPU Ray instance (real GAN episodes), and Ray addresses
that do not answer."""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tuning_doubles import TINY_TUNING_EXPERIMENT, SmoothObjectiveGan, fake_episode, tiny_config

from gan_trader.config import TrackingConfig
from gan_trader.errors import TuningError
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import MlflowRecorder, open_recorder
from gan_trader.tracking.tags import DEVICE_TAG, NODE_TAG
from gan_trader.tuning.episode import EpisodeSpec, run_episode
from gan_trader.tuning.executor import (
    LocalExecutor,
    RayExecutor,
    WorkerPool,
    _token_advice,
    check_address,
    has_room,
    make_executor,
    use_ray_token,
)
from gan_trader.tuning.session import run_session


def _finished_indices(recorder: Recorder, session_id: str) -> Counter:
    return Counter(r.episode_index for r in recorder.runs(session=session_id, status="FINISHED"))


def test_local_executor_in_process(tmp_path: Path, tiny_task, store: Path, experiment: str) -> None:
    config = tiny_config(tmp_path, store=store)
    assert isinstance(make_executor(config), LocalExecutor)
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(
        config,
        tiny_task,
        recorder,
        strategy="fixed",
        episodes=2,
        executor=LocalExecutor(1, fake_episode),
        quiet=True,
    )
    assert _finished_indices(recorder, result.session_id) == {0: 1, 1: 1}


@pytest.mark.slow
def test_process_pool_runs_episodes_in_two_workers(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    with LocalExecutor(2, fake_episode, torch_threads=1) as executor:
        result = run_session(
            config, tiny_task, recorder, strategy="random", episodes=3, executor=executor, quiet=True
        )
    # Three search episodes (the reference first), then racing: 1 candidate + the reference x 2 seeds.
    assert _finished_indices(recorder, result.session_id) == {i: 1 for i in range(7)}
    search = [e for e in result.episodes if e.action != "race"]
    assert len({e.hyperparameters["lrelu_alpha"] for e in search}) == 3


def test_ray_executor_runs_real_episodes_on_two_workers(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    ray = pytest.importorskip("ray")
    config = tiny_config(
        tmp_path, "executor.kind=ray", "executor.workers=2", "executor.torch_threads=1", store=store
    )
    recorder = open_recorder(config.tracking, experiment)
    executor = make_executor(config)
    try:
        assert isinstance(executor, RayExecutor) and executor.slots == 2
        assert ray.cluster_resources()["CPU"] == 2 and executor.gpus == 0.0
        result = run_session(
            config, tiny_task, recorder, strategy="fixed", episodes=2, executor=executor, quiet=True
        )
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert all(e.ok for e in result.episodes), [e.reason for e in result.episodes]
    assert _finished_indices(recorder, result.session_id) == {0: 1, 1: 1}
    assert all(e.metrics["test/persistence_relmae"] == 1.0 for e in result.episodes)


@pytest.mark.parametrize("address", ["127.0.0.1:9", "ray://127.0.0.1:9", "not-an-address"])
def test_ray_address_that_does_not_answer_is_a_clear_error(address: str) -> None:
    started = time.monotonic()
    with pytest.raises(TuningError, match="executor.ray_address"):
        check_address(address, timeout=2.0)
    assert time.monotonic() - started < 10  # a clear error, not a hang


def test_address_without_a_ray_cluster_fails_fast() -> None:
    pytest.importorskip("ray")
    started = time.monotonic()
    with pytest.raises(TuningError, match=r"executor\.ray_address: .*does not answer"):
        RayExecutor(2, address="10.255.255.1:6379", connect_timeout_s=1.0)
    assert time.monotonic() - started < 10


@pytest.mark.slow
def test_pbt_runs_ray_tune_population_on_the_real_gan(
    tmp_path: Path, tiny_task, store: Path, experiment: str, capsys: pytest.CaptureFixture
) -> None:
    config = tiny_config(
        tmp_path,
        "tuning.budget_epochs=8",  # 4 for the population, 4 for racing (1 candidate + the reference, 2 seeds)
        "tuning.pbt.interval=1",
        "tuning.pbt.population=2",
        "executor.workers=2",
        "executor.torch_threads=1",
        store=store,
    )
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(config, tiny_task, recorder, strategy="pbt", quiet=True)
    population = [e for e in result.episodes if e.action != "race"]
    assert [e.index for e in population] == [0, 1, 2, 3]
    assert all(e.ok and e.action == "pbt" for e in population), [
        (e.status, e.action, e.reason) for e in result.episodes
    ]
    assert [e.total_epochs for e in population] == [1, 2, 1, 2]  # round 2 continues a checkpoint
    racing = [e for e in result.episodes if e.action == "race"]
    assert [e.index for e in racing] == [4, 5, 6, 7] and all(e.ok for e in racing)
    assert recorder.run(result.session_id).status == "FINISHED"
    printed = capsys.readouterr().out
    assert "View detailed results here" not in printed and "Configuration for experiment" not in printed


class ServedRecorder(MlflowRecorder):
    """The recorder as it is with a tracking server holding the artifacts: reached through upload and
    download only (`artifacts_remote`)."""

    @property
    def artifacts_remote(self) -> bool:
        return True


def test_keep_continues_a_checkpoint_fetched_through_the_recorder(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(tmp_path, store=store)
    recorder = ServedRecorder(config.tracking, experiment)
    session_id = recorder.start_session("keep")
    driver = tmp_path / "driver-only"  # the checkpoint folders the driver plans: no worker writes there
    fresh = EpisodeSpec.fresh(0, {}, epochs=1, seed=0, checkpoint_dir=driver / "000", action="new")
    first = run_episode(config, tiny_task, recorder, session_id, fresh, SmoothObjectiveGan)
    assert first.ok and not driver.exists()
    spec = EpisodeSpec.continuing(1, first, epochs=2, seed=1, checkpoint_dir=driver / "001")
    assert spec.resume_run == first.run_id
    second = run_episode(config, tiny_task, recorder, session_id, spec, SmoothObjectiveGan)
    assert second.ok and second.total_epochs == 3 and not driver.exists(), second.reason
    checkpoint = recorder.download(second.run_id or "", "checkpoint/last.pt", tmp_path / "fetched")
    assert json.loads(checkpoint.read_text())["epochs"] == 3
    tags = recorder.run(second.run_id or "").tags
    assert tags[NODE_TAG] and tags[DEVICE_TAG].startswith("cpu")


def test_a_missing_ray_token_is_one_line_saying_what_to_set() -> None:
    for sent in (False, True):
        advice = _token_advice("10.0.0.1:6379", sent)
        assert "\n" not in advice and advice.startswith("executor.ray_address: ")
        assert "ray get-auth-token" in advice and "10.0.0.1:6379" in advice
    assert "RAY_AUTH_TOKEN" in _token_advice("10.0.0.1:6379", False)


def test_an_explicit_ray_auth_mode_is_respected(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    assert use_ray_token() is False


def test_an_address_nothing_listens_on_logs_no_session_run(tmp_path: Path, run_cli) -> None:
    """The cluster is checked before the session run is opened: a bad address leaves nothing logged."""
    database = tmp_path / "mlflow.db"
    overrides = [
        *TINY_TUNING_EXPERIMENT,
        f"runs_dir={tmp_path / 'runs'}",
        f"tracking.uri=sqlite:///{database}",
    ]
    config = tmp_path / "tiny.yaml"
    config.write_text("name: tiny\n", encoding="utf-8")
    sets = [arg for override in overrides for arg in ("--set", override)]
    argv = ["tune", str(config), *sets, "--strategy", "random", "--executor", "ray"]
    code, out, err = run_cli([*argv, "--ray-address", "127.0.0.1:9", "-q"])
    assert code == 2 and out == ""
    assert (
        err.startswith("error: executor.ray_address: the Ray cluster at 127.0.0.1:9") and err.count("\n") == 1
    )
    recorder = open_recorder(
        TrackingConfig(uri=f"sqlite:///{database}", artifact_root=tmp_path / "a"), "tiny"
    )
    assert recorder.runs() == []
    assert not (tmp_path / "runs" / "sessions").exists()


@pytest.mark.parametrize(
    ("nodes", "demand", "room"),
    [
        ([{"Alive": True, "Resources": {"CPU": 4.0}}], {"CPU": 1.0}, True),
        ([{"Alive": True, "Resources": {}}], {"CPU": 1.0}, False),  # a head started with --num-cpus 0
        ([{"Alive": False, "Resources": {"CPU": 4.0, "GPU": 1.0}}], {"CPU": 1.0}, False),  # a dead worker
        ([{"Alive": True, "Resources": {"CPU": 8.0}}], {"CPU": 1.0, "GPU": 1.0}, False),
        ([{"Alive": True, "Resources": {"CPU": 8.0, "GPU": 2.0}}], {"CPU": 1.0, "GPU": 1.0}, True),
    ],
)
def test_room_for_an_episode_is_an_alive_node_with_its_resources(
    nodes: list[dict], demand: dict[str, float], room: bool
) -> None:
    assert has_room(nodes, demand) is room


def test_episodes_no_ray_node_has_room_for_are_failed_after_the_pending_timeout(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    """A Ray cluster whose only node has no CPU (a head started with --num-cpus 0 whose worker died): each
    episode is logged FAILED naming executor.pending_timeout_s, and the session goes on to its end."""
    ray = pytest.importorskip("ray")
    config = tiny_config(tmp_path, "executor.kind=ray", store=store)
    recorder = open_recorder(config.tracking, experiment)
    ray.init(num_cpus=0, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        executor = RayExecutor(1, episode_fn=fake_episode, pending_timeout_s=2.0)
        started = time.monotonic()
        result = run_session(
            config, tiny_task, recorder, strategy="random", episodes=2, executor=executor, quiet=True
        )
        waited = time.monotonic() - started
    finally:
        ray.shutdown()
    assert [(e.index, e.status) for e in result.episodes] == [(0, "FAILED"), (1, "FAILED")]
    assert 2.0 <= waited < 30
    runs = recorder.runs(session=result.session_id)
    assert sorted(r.episode_index for r in runs if r.status == "FAILED") == [0, 1]
    for run in runs:
        assert run.failure and run.failure.startswith(
            "no Ray node had room for 2 s (executor.pending_timeout_s"
        )
        assert run.param_section("hp")  # the hyperparameters it was to train
    assert recorder.run(result.session_id).status == "FINISHED"


def _new_workers(before: set[int], count: int) -> list[multiprocessing.Process]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        workers = [p for p in multiprocessing.active_children() if p.pid not in before]
        if len(workers) == count:
            return workers
        time.sleep(0.1)
    raise AssertionError("the pool's workers did not start")


def _exit_code(process: multiprocessing.Process, timeout: float = 30) -> int | None:
    """The process's exit code once it has exited. Its pool's manager thread reaps it too, and the join that
    loses that race returns with the code not yet set: wait for the winner to set it."""
    deadline = time.monotonic() + timeout
    while process.exitcode is None and time.monotonic() < deadline:
        process.join(0.1)
    return process.exitcode


def test_ctrl_c_leaves_a_waiting_pool_worker_quietly_and_stops_a_running_job(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C reaches every process of the terminal: a worker between jobs exits without a traceback, a
    worker in a job raises KeyboardInterrupt there (the job's own handlers log its runs as killed)."""
    before = {p.pid for p in multiprocessing.active_children()}
    idle = WorkerPool(1, torch_threads=1)
    busy = WorkerPool(1, torch_threads=1)
    started = tmp_path / "started"
    try:
        idle.submit(os.getpid)
        (waiting,) = _new_workers(before, 1)
        assert idle.gather() == [waiting.pid]
        busy.submit(subprocess.call, ["sh", "-c", f"touch {started}; sleep 60"])
        (running,) = _new_workers(before | {waiting.pid}, 1)
        deadline = time.monotonic() + 60
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(waiting.pid, signal.SIGINT)
        os.kill(running.pid, signal.SIGINT)
        assert _exit_code(waiting) == 128 + signal.SIGINT
        with pytest.raises(KeyboardInterrupt):
            busy.gather()
        assert running.is_alive()  # it stopped the job and waits for the next
    finally:
        idle.close()
        busy.close()
    assert "Traceback" not in capfd.readouterr().err


TGKILL = {"x86_64": 234, "aarch64": 131}.get(os.uname().machine)


def _threads_taking(pid: int, signum: int) -> list[int]:
    """The worker's threads, other than its main thread, that do not block `signum` (from /proc)."""
    tids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        blocked = next(
            int(line.split()[1], 16)
            for line in (task / "status").read_text().splitlines()
            if line.startswith("SigBlk:")
        )
        if int(task.name) != pid and not blocked & (1 << (signum - 1)):
            tids.append(int(task.name))
    return tids


@pytest.mark.skipif(not sys.platform.startswith("linux") or TGKILL is None, reason="tgkill on Linux")
def test_a_waiting_pool_worker_leaves_when_another_of_its_threads_takes_the_ctrl_c() -> None:
    """The kernel may hand a process's SIGINT to any thread that does not block it (numpy's BLAS threads
    do not); Python then only flags it for the main thread, asleep in the job queue's read."""
    before = {p.pid for p in multiprocessing.active_children()}
    idle = WorkerPool(1, torch_threads=1)
    try:
        idle.submit(os.getpid)
        (waiting,) = _new_workers(before, 1)
        assert idle.gather() == [waiting.pid]
        others = _threads_taking(waiting.pid, signal.SIGINT)
        assert others, "the worker has no thread but its main one that takes SIGINT"
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(TGKILL, waiting.pid, others[0], signal.SIGINT) == 0
        assert _exit_code(waiting, timeout=20) == 128 + signal.SIGINT
    finally:
        idle.close()
