"""Kill a session with SIGKILL in the middle of an episode, resume it, and check the store: every planned
episode index is FINISHED exactly once, the interrupted run is FAILED with the documented reason, nothing is
left RUNNING."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from tuning_doubles import SmoothObjectiveGan, fake_episode, tiny_config

from gan_trader.models.base import ForecastTask
from gan_trader.tracking.recorder import Recorder
from gan_trader.tracking.store import MlflowRecorder, open_recorder
from gan_trader.tuning.episode import EpisodeResult, EpisodeSpec, run_episode
from gan_trader.tuning.executor import EpisodeJob, LocalExecutor
from gan_trader.tuning.session import INTERRUPTED, run_session, sessions_dir

ENTRY = Path(__file__).with_name("resume_entry.py")


def _wait_for_second_episode(
    state_root: Path, recorder: Recorder, process: subprocess.Popen, limit: float = 240.0
) -> str:
    """Return the session id once episode 0 is recorded and episode 1 is running in the store."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, "the session ended before it could be killed"
        for state_file in state_root.glob("*/state.json"):
            try:
                state = json.loads(state_file.read_text())
            except json.JSONDecodeError:  # never happens with atomic writes; kept so a failure is clear
                raise AssertionError(f"{state_file} is half-written") from None
            if "0" in state["episodes"] and "1" in state["pending"]:
                running = recorder.runs(session=state["session_id"], status="RUNNING")
                if any(r.episode_index == 1 and r.param_section("hp") for r in running):  # mid-episode
                    return state["session_id"]
        time.sleep(0.2)
    raise AssertionError("episode 1 never started")


def test_resume_after_sigkill_logs_every_episode_once(
    tmp_path: Path, tiny_task, store: Path, experiment: str
) -> None:
    config = tiny_config(tmp_path, "tuning.strategy=bo", store=store)
    recorder = open_recorder(config.tracking, experiment)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(
        [sys.executable, str(ENTRY), str(tmp_path), str(store), experiment],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        session_id = _wait_for_second_episode(sessions_dir(config), recorder, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL

    result = run_session(
        config, tiny_task, recorder, resume=session_id, executor=LocalExecutor(1, fake_episode), quiet=True
    )
    indices = [e.index for e in result.episodes]  # four searched, then the racing runs (racing.py)
    assert indices == list(range(len(indices))) and [e.action for e in result.episodes[4:]] == ["race"] * 4
    runs = recorder.runs(session=session_id)
    finished = Counter(r.episode_index for r in runs if r.status == "FINISHED")
    assert finished == dict.fromkeys(indices, 1)
    failed = [r for r in runs if r.status == "FAILED"]
    assert [(r.episode_index, r.failure) for r in failed] == [(1, INTERRUPTED)]
    assert not recorder.runs(status="RUNNING")
    assert recorder.run(session_id).status == "FINISHED"
    # The re-run used the hyperparameters decided before the kill.
    rerun = next(r for r in runs if r.episode_index == 1 and r.status == "FINISHED")
    assert rerun.param_section("hp") == failed[0].param_section("hp")
    # Resuming a finished session runs nothing more.
    again = run_session(
        config, tiny_task, recorder, resume=session_id, executor=LocalExecutor(1, fake_episode), quiet=True
    )
    assert len(again.episodes) == len(indices)
    assert len(recorder.runs(session=session_id)) == len(indices) + 1


def _episode_then_kill(
    job: EpisodeJob, task: ForecastTask, recorder: Recorder | None = None
) -> EpisodeResult:
    """The episode is logged FINISHED, its checkpoint folder on the driver is lost, then the driver dies
    before the session records the episode."""
    fake_episode(job, task, recorder)
    shutil.rmtree(job.spec.checkpoint_dir, ignore_errors=True)
    raise KeyboardInterrupt


@pytest.mark.parametrize("remote", [False, True], ids=["local-store", "remote-artifacts"])
def test_an_adopted_episode_is_continued_from_the_checkpoint_its_run_logged(
    tmp_path: Path, tiny_task, store: Path, experiment: str, remote: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if remote:  # as with a tracking server holding the artifacts: reached through upload and download only
        monkeypatch.setattr(MlflowRecorder, "artifacts_remote", property(lambda self: True))
    config = tiny_config(tmp_path, store=store)
    recorder = open_recorder(config.tracking, experiment)
    with pytest.raises(KeyboardInterrupt):
        run_session(
            config,
            tiny_task,
            recorder,
            strategy="random",
            episodes=1,
            executor=LocalExecutor(1, _episode_then_kill),
            quiet=True,
        )
    session_id = next(sessions_dir(config).iterdir()).name
    resumed = run_session(
        config, tiny_task, recorder, resume=session_id, executor=LocalExecutor(1, fake_episode), quiet=True
    )
    adopted = resumed.episodes[0]
    assert adopted.ok and adopted.checkpoint is not None and adopted.checkpoint.name == "last.pt"
    assert not adopted.checkpoint.exists()  # only the store holds it
    keep = EpisodeSpec.continuing(1, adopted, epochs=2, seed=1, checkpoint_dir=tmp_path / "keep")
    assert keep.resume_run == adopted.run_id
    continued = run_episode(config, tiny_task, recorder, session_id, keep, SmoothObjectiveGan)
    assert continued.ok and continued.total_epochs == 3, continued.reason
