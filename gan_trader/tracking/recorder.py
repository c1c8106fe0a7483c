"""The recorder interface: how the rest of gan-trader logs and queries runs (qlib's Recorder over MLflow).

Experiment = config name; session = parent run; episode = nested run of a session, tagged with its session
and index; compare = a strategy comparison. Runs are addressed by id (no global active run), so several
sessions, threads or processes can log side by side. Tag keys are the constants of `tags.py`. The MLflow
implementation is `store.MlflowRecorder`; nothing outside tracking/ sees MLflow.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from gan_trader.config import TrackingConfig
from gan_trader.errors import EpisodeFailed
from gan_trader.tracking.tags import EPISODE_TAG, FAILURE_TAG, FORMAT_TAG

RUNNING, FINISHED, FAILED, KILLED = "RUNNING", "FINISHED", "FAILED", "KILLED"


@dataclass(frozen=True)
class RunRecord:
    """A logged run as the rest of the code sees it: no MLflow entity leaves tracking/."""

    run_id: str
    status: str
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float]  # the last value logged of each metric
    start_time: int  # ms since the epoch
    artifact_uri: str

    @property
    def episode_index(self) -> int | None:
        """An episode's index in its session; None for other runs."""
        index = self.tags.get(EPISODE_TAG)
        return int(index) if index is not None and index.lstrip("-").isdigit() else None

    @property
    def format_version(self) -> int | None:
        """The format version the run was logged with (io.RUN_FORMAT then); None for runs logged before
        runs carried one."""
        value = self.tags.get(FORMAT_TAG)
        return int(value) if value is not None and value.isdigit() else None

    @property
    def failure(self) -> str | None:
        """Why the run ended FAILED or KILLED."""
        return self.tags.get(FAILURE_TAG)

    def param_section(self, section: str) -> dict[str, str]:
        """The params logged under `section` (`log_params` flattens nested mappings to `section.key`)."""
        prefix = f"{section}."
        return {k.removeprefix(prefix): v for k, v in self.params.items() if k.startswith(prefix)}


class Recorder(ABC):
    """Logs sessions, episodes, metrics and artifacts to one experiment, and answers queries about it."""

    uri: str
    artifact_root: Path
    experiment_name: str

    @property
    def tracking(self) -> TrackingConfig:
        """The settings another process (an executor worker) opens this store and experiment with."""
        return TrackingConfig(
            uri=self.uri, artifact_root=Path(self.artifact_root).resolve(), experiment=self.experiment_name
        )

    # queries ---------------------------------------------------------------------------------------

    @abstractmethod
    def runs(
        self,
        *,
        session: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        newest_first: bool = False,
        limit: int = 10000,
    ) -> list[RunRecord]:
        """This experiment's runs, filtered by session, kind (session/episode/compare) and status."""

    @abstractmethod
    def run(self, run_id: str) -> RunRecord:
        """One run; TrackingError when there is none with this id."""

    @abstractmethod
    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        """Every (step, value) logged for a metric of a run, in step order."""

    @abstractmethod
    def download(self, run_id: str, path: str, destination: Path) -> Path:
        """Fetch a run's artifact (file or folder) into `destination`; TrackingError when it is missing."""

    @abstractmethod
    def artifact_dir(self, run_id: str) -> Path:
        """A local folder holding a run's artifacts: where they are, or a downloaded copy when the tracking
        server holds them (`artifacts_remote`)."""

    @property
    @abstractmethod
    def artifacts_remote(self) -> bool:
        """Whether the experiment's artifacts live on the tracking server or an object store rather than in a
        local folder: then only `log_artifact` and `download` reach them, from any machine."""

    # runs ------------------------------------------------------------------------------------------

    @abstractmethod
    def start_session(
        self, name: str, params: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        """Open a session (parent) run; returns its id, which is the session id."""

    @abstractmethod
    def start_episode(
        self,
        session_id: str,
        index: int,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Open episode `index` of a session as a nested run; returns its id."""

    @abstractmethod
    def finish(self, run_id: str, status: str = FINISHED, reason: str | None = None) -> None:
        """End a run with `status`; `reason` (why it FAILED or was KILLED) goes to FAILURE_TAG."""

    @abstractmethod
    def reopen(self, run_id: str) -> None:
        """Mark a run RUNNING again (a resumed session); TrackingError when there is none."""

    @contextlib.contextmanager
    def episode(
        self,
        session_id: str,
        index: int,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Iterator[str]:
        """Open an episode run; it ends FINISHED, or FAILED with the reason when the block raises."""
        run_id = self.start_episode(session_id, index, params, tags)
        try:
            yield run_id
        except EpisodeFailed as exc:
            self.finish(run_id, FAILED, exc.reason)
            raise
        except KeyboardInterrupt:
            self.finish(run_id, KILLED, "interrupted by the user")
            raise
        except BaseException as exc:
            self.finish(run_id, FAILED, f"{type(exc).__name__}: {exc}")
            raise
        else:
            self.finish(run_id, FINISHED)

    # logging ---------------------------------------------------------------------------------------

    @abstractmethod
    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        """Set tags (values as text); keys are the constants of tags.py."""

    @abstractmethod
    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        """Log params; nested mappings are flattened to dotted keys (`hp.filters`)."""

    @abstractmethod
    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Log finite metrics at `step`; non-finite values are skipped (and reported)."""

    @abstractmethod
    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a local file into the run's artifacts (under the folder `artifact_path`)."""

    @abstractmethod
    def log_text(self, run_id: str, text: str, name: str) -> None:
        """Store `text` as the artifact `name` (a path such as `plots/notes.txt`)."""

    @abstractmethod
    def log_figure(self, run_id: str, figure: Any, name: str) -> None:
        """Store a matplotlib figure as the PNG artifact `name`, and close it."""

    def log_dict(self, run_id: str, payload: Any, name: str) -> None:
        self.log_text(run_id, json.dumps(payload, indent=2, default=str), name)

    def log_table(self, run_id: str, table: pd.DataFrame, name: str) -> None:
        self.log_text(run_id, table.to_csv(), name if name.endswith(".csv") else f"{name}.csv")
