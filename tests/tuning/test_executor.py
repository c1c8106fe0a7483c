"""Executors: in-process, a process pool, a local 2-CPU Ray instance (real GAN episodes), and Ray addresses
that do not answer."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from tuning_doubles import fake_episode, tiny_config

from gan_trader.errors import TuningError
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.executor import LocalExecutor, RayExecutor, check_address, make_executor
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
        strategy="random",
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
    assert _finished_indices(recorder, result.session_id) == {0: 1, 1: 1, 2: 1}
    assert len({e.hyperparameters["lrelu_alpha"] for e in result.episodes}) == 3


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
            config, tiny_task, recorder, strategy="random", episodes=2, executor=executor, quiet=True
        )
    finally:
        executor.close()
    assert not ray.is_initialized()
    assert all(e.ok for e in result.episodes), [e.reason for e in result.episodes]
    assert _finished_indices(recorder, result.session_id) == {0: 1, 1: 1}
    assert all(e.metrics["test/persistence_mase"] == 1.0 for e in result.episodes)


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
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(
        tmp_path,
        "tuning.budget_epochs=4",
        "tuning.pbt.interval=1",
        "tuning.pbt.population=2",
        "executor.workers=2",
        "executor.torch_threads=1",
        store=store,
    )
    recorder = open_recorder(config.tracking, experiment)
    result = run_session(config, tiny_task, recorder, strategy="pbt", quiet=True)
    assert [e.index for e in result.episodes] == [0, 1, 2, 3]
    assert all(e.ok and e.action == "pbt" for e in result.episodes), [
        (e.status, e.action, e.reason) for e in result.episodes
    ]
    assert [e.total_epochs for e in result.episodes] == [1, 2, 1, 2]  # round 2 continues a checkpoint
    assert recorder.run(result.session_id).status == "FINISHED"
