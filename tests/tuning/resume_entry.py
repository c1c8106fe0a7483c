"""Entry script for the kill-and-resume test: runs a session whose episodes take a few seconds each.

Usage: python resume_entry.py WORKDIR STORE EXPERIMENT. Prints nothing; the test watches the session state.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tuning_doubles import SmoothObjectiveGan, tiny_config  # noqa: E402

from gan_trader.tracking.store import open_recorder  # noqa: E402
from gan_trader.tuning.episode import run_episode  # noqa: E402
from gan_trader.tuning.executor import LocalExecutor  # noqa: E402
from gan_trader.tuning.session import run_session  # noqa: E402
from gan_trader.workflow.prepare import prepare  # noqa: E402


class SlowForecaster(SmoothObjectiveGan):
    """Each epoch takes a second, so the test can kill the process in the middle of an episode."""

    def _train(self, epochs: int) -> None:
        time.sleep(1.0)
        super()._train(epochs)


def slow_episode(job, task, recorder=None):
    return run_episode(
        job.config, task, recorder, job.session_id, job.spec, forecaster_factory=SlowForecaster
    )


def main() -> None:
    workdir, store, experiment = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    config = tiny_config(workdir, "tuning.strategy=bo", store=store)
    task = prepare(config, use_cache=False).task
    recorder = open_recorder(config.tracking, experiment)
    run_session(config, task, recorder, episodes=4, executor=LocalExecutor(1, slow_episode), quiet=True)


if __name__ == "__main__":
    main()
