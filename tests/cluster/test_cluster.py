"""Scale-out from real parts: an MLflow server serving artifacts, a Ray head with no CPUs and token
authentication, and a worker node, driven through the CLI with `--ray-address HOST:PORT`.

The worker node cannot see the driver's working folder: it runs in its own user and mount namespace
(`unshare --user --map-root-user --mount`) with an empty tmpfs mounted over that folder, which holds the
config, runs/ (session state) and the data link. The installed package and its virtualenv stay visible to
it, as on a worker node built from the same image. Every episode must therefore reach the artifacts through
the tracking server. The second session kills the worker node (its process tree, by pid) mid-episode and
starts a replacement: the session completes, each lost episode retried or FAILED with its reason.
Ray's token is generated into a home folder of the test's own, never the user's ~/.ray. The test stops only
the processes it started.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cluster_commands import (
    HEAD,
    README_COMMANDS,
    TEST_HEAD_FLAGS,
    TEST_WORKER_FLAGS,
    TOKEN,
    TRACKING_SERVER,
    TUNE,
    WORKER,
    Started,
    command,
    free_port,
)

from gan_trader.config import TrackingConfig
from gan_trader.tracking.recorder import FINISHED, RUNNING, Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tracking.tags import NODE_TAG
from gan_trader.tuning.executor import LOST_ATTEMPT

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
IP = "127.0.0.1"


def _namespaces_allowed() -> str | None:
    """Why the worker node cannot be isolated here; None when it can."""
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"the kernel forbids unprivileged user+mount namespaces ({probe.stderr.strip()})"
    return None


@dataclass
class Cluster:
    root: Path
    driver: Path  # the driver's working folder, hidden from the worker node
    env: dict[str, str]
    values: dict[str, object]
    worker: Started

    @property
    def address(self) -> str:
        return f"{IP}:{self.values['ray_port']}"

    @property
    def uri(self) -> str:
        return f"http://{IP}:{self.values['mlflow_port']}"

    def start_worker(self, name: str) -> Started:
        """A worker node in its own namespaces, the driver's folder under an empty tmpfs."""
        extra, argv = command(
            f"{WORKER} {TEST_WORKER_FLAGS}", VENV_BIN, **self.values, agent_port=free_port()
        )
        hide = f"mount -t tmpfs gan-trader-hidden {self.driver}"
        isolated = [
            "unshare",
            "--user",
            "--map-root-user",
            "--mount",
            "sh",
            "-c",
            f'{hide} && exec "$@"',
            "sh",
        ]
        self.worker = Started([*isolated, *argv], {**self.env, **extra}, self.root / f"{name}.log")
        self.worker.wait_for("Ray runtime started", 60)
        return self.worker

    def tune(self, experiment: str, episodes: int, *extra: str, timeout: float = 300) -> subprocess.Popen:
        _, argv = command(TUNE, VENV_BIN, **self.values, config="cluster_tiny.yaml", episodes=episodes)
        argv += ["--set", f"tracking.experiment={experiment}", "--quiet", *extra]
        return subprocess.Popen(
            argv, cwd=self.driver, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def recorder(self, experiment: str) -> Recorder:
        return open_recorder(TrackingConfig(uri=self.uri), experiment)


def _clean_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "MLFLOW_"))}
    # Ray's token goes to ~/.ray/auth_token: a home of the test's own, every process sharing it.
    (root / "home").mkdir()
    env.update(HOME=str(root / "home"), PYTHONUNBUFFERED="1")
    # A lost node is noticed in seconds rather than Ray's default half a minute.
    env.update(RAY_health_check_period_ms="1000", RAY_health_check_failure_threshold="3")
    return env


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"{url} did not answer within {timeout:g}s")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    why = _namespaces_allowed()
    if why is not None:
        pytest.skip(f"cluster test needs a worker node without the driver's folder: {why}")
    root = Path(tempfile.mkdtemp(prefix="gtc"))  # short: Ray's socket paths live under it
    driver, store = root / "driver", root / "store"
    driver.mkdir()
    store.mkdir()
    (driver / "data").symlink_to(ROOT / "data")
    shutil.copy(HERE / "cluster_tiny.yaml", driver)
    env = _clean_env(root)
    extra, argv = command(TOKEN, VENV_BIN)
    subprocess.run(argv, env={**env, **extra}, check=True, capture_output=True, timeout=60)
    values: dict[str, object] = dict(
        head_ip=IP, node_ip=IP, ray_port=free_port(), mlflow_port=free_port(), store=store, cpus=2
    )
    started: list[Started] = []
    try:
        extra, argv = command(TRACKING_SERVER, VENV_BIN, **values)
        started.append(Started([*argv, "--workers", "1"], {**env, **extra}, root / "mlflow.log"))
        flags = TEST_HEAD_FLAGS.format(ray_dir=root / "ray", agent_port=free_port())
        extra, argv = command(f"{HEAD} {flags}", VENV_BIN, **values)
        started.append(Started(argv, {**env, **extra}, root / "head.log"))
        started[-1].wait_for("Ray runtime started", 90)
        _wait_http(f"http://{IP}:{values['mlflow_port']}/health", 90)
        cluster = Cluster(root, driver, env, values, worker=started[-1])
        started.append(cluster.start_worker("worker"))
        yield cluster
        started.append(cluster.worker)
    finally:
        for process in reversed(started):
            process.stop()
        shutil.rmtree(root, ignore_errors=True)


def _finish(process: subprocess.Popen, timeout: float) -> str:
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        raise AssertionError(f"the session did not end within {timeout:g}s:\n{output[-4000:]}") from None
    assert process.returncode == 0, output[-4000:]
    return output


def test_readme_gives_the_commands_the_test_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Scaling out", 1)[1].split("\n## ", 1)[0]
    missing = [template for template in README_COMMANDS if template not in section]
    assert not missing, f"README's 'Scaling out' lacks: {missing}"


def test_episodes_on_a_node_without_the_driver_folder_keep_their_artifacts(
    cluster: Cluster, tmp_path: Path
) -> None:
    output = _finish(cluster.tune("two-episodes", 2), timeout=300)
    assert "(raylet)" not in output and "View run" not in output, output
    recorder = cluster.recorder("two-episodes")
    assert recorder.artifacts_remote
    episodes = [run for run in recorder.runs(kind="episode") if run.episode_index in (0, 1)]
    assert sorted(run.status for run in episodes) == [FINISHED, FINISHED], [r.failure for r in episodes]
    for run in episodes:
        assert "ray node" in run.tags[NODE_TAG]
        for artifact in ("checkpoint/last.pt", "predictions.csv", "config.yaml"):
            path = recorder.download(run.run_id, artifact, tmp_path / run.run_id)
            assert path.stat().st_size > 0, artifact
    assert not list((cluster.driver / "runs").rglob("*.pt")), "checkpoints left on the driver's disk"


def test_session_outlives_a_killed_worker_node(cluster: Cluster) -> None:
    session = cluster.tune("lost-node", 4, "--set", "tuning.epochs_per_episode=3", "--set", "gan.epochs=3")
    recorder: Recorder | None = None
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and session.poll() is None:
        time.sleep(0.5)
        try:
            recorder = recorder or cluster.recorder("lost-node")
        except Exception:  # the experiment is not created yet
            continue
        if recorder.runs(kind="episode", status=RUNNING):
            break
    assert recorder is not None and session.poll() is None, "no episode started"
    time.sleep(1.0)  # mid-episode
    assert cluster.worker.kill() > 1
    cluster.start_worker("replacement")
    output = _finish(session, timeout=300)
    assert "(raylet)" not in output, output
    runs = [run for run in recorder.runs(kind="episode") if run.episode_index in range(4)]
    assert not [run for run in runs if run.status == RUNNING]
    lost = [run for run in runs if run.failure == LOST_ATTEMPT]
    assert lost, [(r.episode_index, r.status, r.failure) for r in runs]
    for index in range(4):
        final = [r for r in runs if r.episode_index == index and r.failure != LOST_ATTEMPT]
        assert len(final) == 1 and (final[0].status == FINISHED or final[0].failure), (index, final)
    assert len({run.tags[NODE_TAG] for run in runs}) == 2  # the lost node's and the replacement's


def test_per_episode_overhead_of_scheduling_and_logging(cluster: Cluster) -> None:
    entry = HERE / "overhead_entry.py"
    probe = subprocess.run(
        [sys.executable, str(entry), cluster.address, cluster.uri, "overhead", "16"],
        cwd=cluster.driver,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert probe.returncode == 0, probe.stdout[-3000:] + probe.stderr[-3000:]
    report = json.loads(probe.stdout.strip().splitlines()[-1])
    print(f"\nper-episode overhead on the cluster: {report}")
    assert report["per_episode_s"] > 0


def test_a_driver_without_the_token_gets_one_line_and_exit_2(cluster: Cluster, tmp_path: Path) -> None:
    env = {**cluster.env, "HOME": str(tmp_path)}  # no ~/.ray/auth_token there
    _, argv = command(TUNE, VENV_BIN, **cluster.values, config="cluster_tiny.yaml", episodes=1)
    done = subprocess.run(argv, cwd=cluster.driver, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "RAY_AUTH_TOKEN" in error[0], done.stderr
