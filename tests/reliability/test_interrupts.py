"""Ctrl-C and kills at every stage leave a consistent store, and `--resume` completes the session.

Fast cases run the real CLI in-process with a stand-in GAN that raises KeyboardInterrupt; the slow cases run
the real CLI (real GAN) in a subprocess, paused at a chosen point by tests/reliability/driver.py, and send it
SIGINT or SIGKILL there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cli_runner import CliRunner
from reliability_helpers import (
    ScriptedGan,
    assert_consistent,
    episodes_by_index,
    runs_of,
    write_tiny_cli_experiment,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def scripted_gan(monkeypatch: pytest.MonkeyPatch) -> type[ScriptedGan]:
    import gan_trader.models.wgan as wgan

    monkeypatch.setattr(wgan, "GanForecaster", ScriptedGan)
    ScriptedGan.behaviour, ScriptedGan.fits = [], 0
    return ScriptedGan


def only_session(folder: Path) -> str:
    sessions = sorted(p.name for p in (folder / "runs" / "sessions").iterdir())
    assert len(sessions) == 1, sessions
    return sessions[0]


def test_ctrl_c_in_episode_is_killed_and_resumes(
    in_tmp: Path, scripted_gan: type[ScriptedGan], run_cli: CliRunner
) -> None:
    config = write_tiny_cli_experiment(in_tmp, episodes=3)
    scripted_gan.behaviour = ["ok", "interrupt"]
    code, _out, err = run_cli(["run", str(config), "--quiet"])
    assert code == 130
    session_id = only_session(in_tmp)
    assert f"--resume {session_id}" in err  # the user is told how to continue
    runs = runs_of(in_tmp)
    session = next(r for r in runs if r.info.run_id == session_id)
    assert session.info.status == "KILLED"
    episodes = episodes_by_index(runs, session_id)
    assert [s for s, _ in episodes[0]] == ["FINISHED"]
    assert [s for s, _ in episodes[1]] == ["KILLED"]
    assert 2 not in episodes
    scripted_gan.behaviour, scripted_gan.fits = [], 0
    code, out, err = run_cli(["run", str(config), "--quiet", "--resume", session_id])
    assert code == 0, err
    assert scripted_gan.fits == 2  # episode 1 re-run, episode 2 run; episode 0 not repeated
    assert_consistent(in_tmp, session_id, planned=3)


def test_nan_loss_fails_one_episode_and_the_session_goes_on(
    in_tmp: Path, scripted_gan: type[ScriptedGan], run_cli: CliRunner
) -> None:
    config = write_tiny_cli_experiment(in_tmp, episodes=3)
    scripted_gan.behaviour = ["ok", "nan", "ok"]
    code, _out, err = run_cli(["run", str(config), "--quiet"])
    assert code == 0, err
    session_id = only_session(in_tmp)
    episodes = episodes_by_index(runs_of(in_tmp), session_id)
    assert [episodes[i][0][0] for i in range(3)] == ["FINISHED", "FAILED", "FINISHED"]
    assert "non-finite train/loss_g" in str(episodes[1][0][1])
    report = (in_tmp / "runs" / "reports" / "tiny.html").read_text()
    assert "FAILED" in report and "non-finite train/loss_g" in report  # the report names the failure


def test_ctrl_c_while_building_features_writes_nothing(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, run_cli: CliRunner
) -> None:
    from gan_trader.features import pipeline

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pipeline.FeaturePipeline, "fit_transform", interrupted)
    code, _out, err = run_cli(["run", str(write_tiny_cli_experiment(in_tmp)), "--quiet"])
    assert code == 130 and "Traceback" not in err, (_out, err)
    assert not (in_tmp / "runs" / "mlflow.db").exists()


# ---------------------------------------------------------------- real signals, real GAN (slow)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    return env


def _cli(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gan_trader.cli", *args],
        cwd=folder,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
@pytest.mark.parametrize("where", ["features", "episode", "between"])
def test_signal_then_resume(tmp_path: Path, where: str, sig: signal.Signals) -> None:
    (tmp_path / "data").symlink_to(ROOT / "data")
    config = write_tiny_cli_experiment(tmp_path, episodes=2)
    marker = tmp_path / "paused"
    env = {**_env(), "GT_PAUSE_AT": where, "GT_MARKER": str(marker)}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "reliability" / "driver.py"), "run", str(config), "--quiet"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 900
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached the pause"
        time.sleep(0.5)
    process.send_signal(sig)
    _out, err = process.communicate(timeout=120)
    if sig == signal.SIGINT:
        assert process.returncode == 130, err
        assert "Traceback" not in err
    else:
        assert process.returncode == -signal.SIGKILL
    sessions = tmp_path / "runs" / "sessions"
    if where == "features":
        assert not sessions.exists() or not any(sessions.iterdir())
        finished = _cli(tmp_path, "run", str(config), "--quiet")
        assert finished.returncode == 0, finished.stderr
        assert_consistent(tmp_path, only_session(tmp_path), planned=2)
        return
    session_id = only_session(tmp_path)
    if sig == signal.SIGINT:
        assert f"--resume {session_id}" in err
    resumed = _cli(tmp_path, "run", str(config), "--quiet", "--resume", session_id)
    assert resumed.returncode == 0, resumed.stderr
    assert_consistent(tmp_path, session_id, planned=2)
