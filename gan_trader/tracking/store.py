"""The MLflow implementation of the Recorder interface (recorder.py): the one place that logs to MLflow.

Runs are addressed by id through `MlflowClient` (no global active run), so several sessions or threads can
log side by side. A crashed episode is ended FAILED with its reason in FAILURE_TAG. Every run is tagged
with the format version of what it logs (FORMAT_TAG = io.RUN_FORMAT), so readers such as the optimiser's
warm start can leave out runs an older gan-trader logged.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from gan_trader.config import TrackingConfig
from gan_trader.errors import TrackingError
from gan_trader.io import RUN_FORMAT
from gan_trader.tracking.recorder import FINISHED, RUNNING, Recorder, RunRecord
from gan_trader.tracking.tags import (
    EPISODE_TAG,
    FAILURE_TAG,
    FORMAT_TAG,
    KIND_TAG,
    PARENT_TAG,
    SESSION_TAG,
)

log = logging.getLogger(__name__)

__all__ = [
    "MlflowRecorder",
    "Recorder",
    "RunRecord",
    "download_artifacts",
    "open_recorder",
    "run_record",
    "served_by",
    "store_error",
]


def run_record(run: Any) -> RunRecord:
    """An MLflow run as the RunRecord the rest of the code sees."""
    return RunRecord(
        run_id=str(run.info.run_id),
        status=str(run.info.status),
        tags=dict(run.data.tags),
        params=dict(run.data.params),
        metrics={k: float(v) for k, v in run.data.metrics.items()},
        start_time=int(run.info.start_time or 0),
        artifact_uri=str(run.info.artifact_uri),
    )


def download_artifacts(client: Any, run_id: str, path: str, destination: Path) -> Path:
    """Fetch a run's artifact (file or folder) into `destination`; TrackingError when it is missing."""
    try:
        return Path(client.download_artifacts(run_id, path, str(destination)))
    except Exception as exc:
        raise TrackingError(f"run {run_id}: no artifact {path!r} ({type(exc).__name__})") from None


def store_error(uri: str, exc: BaseException) -> str:
    """One line for a tracking store that cannot be opened: which, why (without the SQL), what to do."""
    reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0].split(" [SQL:")[0][:200]
    return (
        f"tracking.uri: cannot open the tracking store {uri!r} ({reason}); if its file is damaged, restore "
        "it from a backup or point tracking.uri at another store"
    )


def served_by(uri: str) -> bool:
    """Whether `uri` names a tracking server (http or https) rather than a store this process opens."""
    return urlparse(uri).scheme in ("http", "https")


def _prepare_uri(uri: str) -> str:
    """Create the folder of an embedded sqlite store; other URIs are passed through."""
    if uri.startswith("sqlite:///"):
        db_path = Path(uri.removeprefix("sqlite:///")).resolve()
        db_path.parent.mkdir(parents=True, exist_ok=True)
        # Absolute: MLflow caches stores by URI, and a relative one would follow the first working folder.
        return f"sqlite:///{db_path}"
    return uri


def _flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = json.dumps(value) if isinstance(value, list | tuple) else str(value)
    return flat


def _artifact_folder(name: str) -> str | None:
    parent = str(Path(name).parent)
    return parent if parent != "." else None


class MlflowRecorder(Recorder):
    """The Recorder over one MLflow experiment (created, with its artifact folder, when it is new)."""

    def __init__(self, tracking: TrackingConfig, experiment: str) -> None:
        from mlflow.tracking import MlflowClient  # slow import: only when something is logged

        self.uri = _prepare_uri(tracking.uri)
        self.artifact_root = Path(tracking.artifact_root)
        self.experiment_name = experiment
        try:
            self.client = MlflowClient(tracking_uri=self.uri)
            existing = self.client.get_experiment_by_name(experiment)
        except Exception as exc:
            raise TrackingError(store_error(self.uri, exc)) from None
        if existing is None:
            self.experiment_id = self.client.create_experiment(
                experiment, artifact_location=self._new_location(experiment)
            )
            existing = self.client.get_experiment(self.experiment_id)
        else:
            self.experiment_id = existing.experiment_id
        self.artifact_location = str(existing.artifact_location)
        self._downloads: tempfile.TemporaryDirectory[str] | None = None
        self._last_stamp = 0  # ms of the last metric batch (see log_metrics)
        if not self.artifacts_remote and served_by(self.uri):
            log.warning(
                "experiment %r keeps its artifacts at %s (it was created so): episodes on other machines "
                "write them to their own disks; use a new experiment name to keep them on the server",
                experiment,
                self.artifact_location,
            )

    def _new_location(self, experiment: str) -> str | None:
        """A new experiment's artifact location: a folder under the artifact root for a local store; none
        for a tracking server, which then keeps the artifacts in its own store (`mlflow server
        --artifacts-destination`), reachable from every node."""
        if served_by(self.uri):
            return None
        location = (self.artifact_root / experiment).resolve()
        location.mkdir(parents=True, exist_ok=True)
        return location.as_uri()

    @property
    def artifacts_remote(self) -> bool:
        scheme = urlparse(self.artifact_location).scheme
        return scheme not in ("", "file")

    # queries ---------------------------------------------------------------------------------------

    def runs(
        self,
        *,
        session: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        newest_first: bool = False,
        limit: int = 10000,
    ) -> list[RunRecord]:
        clauses = []
        if session is not None:
            clauses.append(f"tags.`{SESSION_TAG}` = '{session}'")
        if kind is not None:
            clauses.append(f"tags.`{KIND_TAG}` = '{kind}'")
        if status is not None:
            clauses.append(f"attributes.status = '{status}'")
        found = self.client.search_runs(
            [self.experiment_id],
            filter_string=" and ".join(clauses),
            order_by=["attributes.start_time DESC"] if newest_first else None,
            max_results=limit,
        )
        return [run_record(run) for run in found]

    def run(self, run_id: str) -> RunRecord:
        try:
            return run_record(self.client.get_run(run_id))
        except Exception as exc:
            raise TrackingError(f"no run {run_id} in {self.uri} ({type(exc).__name__})") from None

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        points = self.client.get_metric_history(run_id, key)
        return sorted((int(p.step), float(p.value)) for p in points)

    def download(self, run_id: str, path: str, destination: Path) -> Path:
        return download_artifacts(self.client, run_id, path, destination)

    def artifact_dir(self, run_id: str) -> Path:
        if not self.artifacts_remote:
            return Path(self.run(run_id).artifact_uri.removeprefix("file://"))
        if self._downloads is None:  # removed with the recorder
            self._downloads = tempfile.TemporaryDirectory(prefix="gan-trader-artifacts-")
        folder = Path(self._downloads.name) / run_id
        if not folder.exists():
            partial = folder.with_name(f"{run_id}.part")
            partial.mkdir(parents=True, exist_ok=True)
            download_artifacts(self.client, run_id, "", partial)
            partial.rename(folder)
        return folder

    # runs ------------------------------------------------------------------------------------------

    def start_session(
        self, name: str, params: Mapping[str, Any] | None = None, tags: Mapping[str, str] | None = None
    ) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=name,
            tags={KIND_TAG: "session", FORMAT_TAG: str(RUN_FORMAT), **(tags or {})},
        )
        if params:
            self.log_params(run.info.run_id, params)
        return str(run.info.run_id)

    def start_episode(
        self,
        session_id: str,
        index: int,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        run = self.client.create_run(
            self.experiment_id,
            run_name=f"episode-{index:03d}",
            tags={
                KIND_TAG: "episode",
                FORMAT_TAG: str(RUN_FORMAT),
                PARENT_TAG: session_id,
                SESSION_TAG: session_id,
                EPISODE_TAG: str(index),
                **(tags or {}),
            },
        )
        if params:
            self.log_params(run.info.run_id, params)
        return str(run.info.run_id)

    def finish(self, run_id: str, status: str = FINISHED, reason: str | None = None) -> None:
        if reason:
            self.client.set_tag(run_id, FAILURE_TAG, reason[:5000])
        self.client.set_terminated(run_id, status=status)

    def reopen(self, run_id: str) -> None:
        try:
            self.client.update_run(run_id, status=RUNNING)
        except Exception as exc:
            raise TrackingError(f"no run {run_id} in {self.uri} ({exc})") from None

    # logging ---------------------------------------------------------------------------------------

    def set_tags(self, run_id: str, tags: Mapping[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_tag(run_id, key, str(value))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat = _flatten(params)
        items = [Param(k, v[:6000]) for k, v in flat.items()]
        for start in range(0, len(items), 100):
            self.client.log_batch(run_id, params=items[start : start + 100])

    def log_metrics(self, run_id: str, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        # Strictly later than this recorder's previous batch: at equal step and timestamp MLflow's latest
        # value would be the larger one, not the one logged last.
        stamp = max(int(time.time() * 1000), self._last_stamp + 1)
        self._last_stamp = stamp
        items = []
        for key, value in metrics.items():
            if value is None:
                continue
            number = float(value)
            if not math.isfinite(number):
                log.warning("metric %s is not finite (%s) and was not logged", key, number)
                continue
            items.append(Metric(key, number, stamp, step or 0))
        for start in range(0, len(items), 500):
            self.client.log_batch(run_id, metrics=items[start : start + 500])

    def log_artifact(self, run_id: str, path: str | Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(name).name
            target.write_text(text, encoding="utf-8")
            self.log_artifact(run_id, target, _artifact_folder(name))

    def log_figure(self, run_id: str, figure: Any, name: str) -> None:
        import matplotlib.pyplot as plt

        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / Path(name).name
            figure.savefig(target, dpi=110, bbox_inches="tight")
            plt.close(figure)
            self.log_artifact(run_id, target, _artifact_folder(name))


def open_recorder(tracking: TrackingConfig, experiment: str) -> Recorder:
    """The recorder for `experiment` in the store `tracking` names."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # A tracking server's client prints a "View run" link for every run it ends.
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    return MlflowRecorder(tracking, experiment)
