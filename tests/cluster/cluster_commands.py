"""The scale-out commands of README's "Scaling out" (the cluster test runs exactly these), and the processes
the test starts: each in its own session, stopped by the pids of its process tree."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

# README's commands; `{...}` are filled in. The test adds only what lets it run beside other Ray instances
# on a shared machine (TEST_HEAD_FLAGS, TEST_WORKER_FLAGS).
TOKEN = "ray get-auth-token --generate"
TRACKING_SERVER = (
    "mlflow server --host {head_ip} --port {mlflow_port} --backend-store-uri sqlite:///{store}/mlflow.db "
    "--artifacts-destination {store}/artifacts"
)
HEAD = (
    "RAY_AUTH_MODE=token ray start --head --num-cpus 0 --port {ray_port} --node-ip-address {head_ip} --block"
)
WORKER = (
    "RAY_AUTH_MODE=token ray start --address {head_ip}:{ray_port} --num-cpus {cpus} "
    "--node-ip-address {node_ip} --block"
)
TUNE = (
    "gan-trader tune {config} --strategy random --episodes {episodes} --executor ray "
    "--ray-address {head_ip}:{ray_port} --set tracking.uri=http://{head_ip}:{mlflow_port}"
)
README_COMMANDS = (TOKEN, TRACKING_SERVER, HEAD, WORKER, TUNE)
TEST_HEAD_FLAGS = "--include-dashboard false --temp-dir {ray_dir} --dashboard-agent-listen-port {agent_port}"
TEST_WORKER_FLAGS = "--dashboard-agent-listen-port {agent_port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def command(template: str, venv_bin: Path, **values: object) -> tuple[dict[str, str], list[str]]:
    """A README command as (environment assignments, argv), its program taken from the virtualenv."""
    words = shlex.split(template.format(**values))
    env = {}
    while "=" in words[0]:
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    words[0] = str(venv_bin / words[0])
    return env, words


def descendants(root: int) -> list[int]:
    """`root` and every process below it (from /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        found.append(pid)
        frontier += [child for child, parent in parents.items() if parent == pid]
    return found


class Started:
    """A process the test started (output to `log`), and how to stop it and everything it started."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path | None = None) -> None:
        self.argv, self.log = argv, log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log.read_text(errors="replace"):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.3)
        tail = self.log.read_text(errors="replace")[-3000:]
        raise AssertionError(f"{self.argv[0]} did not print {text!r} within {timeout:g}s:\n{tail}")

    def kill(self, sig: int = signal.SIGKILL) -> int:
        """Send `sig` to the process and everything below it, by pid; the number of processes."""
        pids = descendants(self.process.pid)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        return len(pids)

    def stop(self) -> None:
        """SIGTERM to the process tree, then SIGKILL to those of its pids still there."""
        pids = descendants(self.process.pid)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(10)
            time.sleep(0.5)
