"""Query and inspect logged sessions and episodes (read only) through MlflowClient.

Sessions are parent runs tagged `gan_trader.kind = session`; episodes are nested runs tagged
`gan_trader.kind = episode` with `gan_trader.session` and `gan_trader.episode` (their index). The
controller's action is the tag `gan_trader.action` (or `tune/action`), its reward the metric `tune/reward`,
the optimiser's suggestion the parameters `suggestion.*` (or `tune/suggestion`). Functions return plain
data (dicts, DataFrames); the `render_*` functions turn them into rich tables for the CLI.

An episode is addressed by its run id (a unique prefix is enough) or as `SESSION:INDEX`; a bare number is
refused (it reads as an index as well as a run-id prefix), and a session given where an episode is expected
is answered with the `SESSION:INDEX` to write. A session is addressed by its run id, a unique prefix of it, or
its run name.

`gan-trader episodes list` shows the columns that matter (SESSION_VIEW, `episode_view`) within 120
terminal columns; `select_columns` picks others by name, and the CLI's `--json` prints every column.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from gan_trader.config import TuningConfig
from gan_trader.errors import TrackingError
from gan_trader.io import atomic_path
from gan_trader.tracking.recorder import FINISHED, RunRecord
from gan_trader.tracking.store import download_artifacts, run_record, store_error
from gan_trader.tracking.tags import (
    ACTION_TAG,
    EPISODE_TAG,
    FAILURE_TAG,
    KIND_TAG,
    NAME_TAG,
    SESSION_TAG,
    STRATEGY_TAG,
)

ACTION_TAGS = (ACTION_TAG, "tune/action")  # the second: runs logged by earlier versions
REWARD_METRIC = "tune/reward"
SUGGESTION_PREFIXES = ("suggestion.", "tune/suggestion.")
MAX_RUNS = 50_000
EPOCHS_METRIC = "tune/epochs"
LIST_WIDTH = 120  # `episodes list` fits a terminal this wide
# What `episodes list` shows of sessions, and of a session's episodes (episode_view), by default.
SESSION_VIEW = ("session", "experiment", "strategy", "status", "episodes", "failed", "start")


def episode_view(objective: str) -> list[str]:
    """The default columns of a session's episodes: where each stands, and its validation and test score
    on the session's objective (`val/crps_rel` -> `test/crps_rel`)."""
    test = objective.replace("val/", "test/", 1)
    return ["index", "status", "action", "epochs", objective, test, "reward", "failure"]


def select_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """The named columns of `frame`, in that order; TrackingError naming the first unknown one."""
    unknown = [c for c in columns if c not in frame.columns]
    if unknown:
        raise TrackingError(
            f"--columns: no column {unknown[0]!r} (columns: {', '.join(map(str, frame.columns))})"
        )
    return frame[list(columns)]


def _status(run: Any) -> str:
    return str(run.info.status)


class EpisodeBrowser:
    """Read-only view of one tracking store (an MLflow tracking URI)."""

    def __init__(self, uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.uri = uri
        if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
            # Opening a missing sqlite store would create an empty one: a read-only view must not.
            raise TrackingError(f"tracking.uri: no tracking store at {uri.removeprefix('sqlite:///')}")
        try:
            self.client = MlflowClient(tracking_uri=uri)
            self.client.search_experiments(max_results=1)
        except Exception as exc:
            raise TrackingError(store_error(uri, exc)) from None

    # lookup --------------------------------------------------------------------------------------

    def _experiment_ids(self, experiment: str | None) -> list[str]:
        if experiment is None:
            return [e.experiment_id for e in self.client.search_experiments()]
        found = self.client.get_experiment_by_name(experiment)
        if found is None:
            raise TrackingError(f"experiment {experiment!r} not found in {self.uri}")
        return [found.experiment_id]

    def _search(self, filter_string: str, experiment: str | None = None) -> list[Any]:
        ids = self._experiment_ids(experiment)
        if not ids:
            return []
        return list(self.client.search_runs(ids, filter_string=filter_string, max_results=MAX_RUNS))

    def session(self, session: str) -> RunRecord:
        """A session's run, by run id, unique prefix or run name."""
        return run_record(self._session_run(session))

    def download(self, run_id: str, path: str, destination: Path) -> Path:
        """Fetch a run's artifact (file or folder) into `destination`; TrackingError when it is missing."""
        return download_artifacts(self.client, run_id, path, destination)

    def _session_run(self, session: str) -> Any:
        runs = self._search(f"tags.`{KIND_TAG}` = 'session'")
        exact = [r for r in runs if r.info.run_id == session or r.data.tags.get(NAME_TAG) == session]
        matches = exact or [r for r in runs if r.info.run_id.startswith(session)]
        if not matches:
            raise TrackingError(f"session {session!r} not found in {self.uri}")
        if len(matches) > 1:
            raise TrackingError(
                f"session {session!r} is ambiguous ({len(matches)} sessions match); give the run id"
            )
        return matches[0]

    def _episode_run(self, ref: str) -> Any:
        """An episode by SESSION:INDEX or by its run id (a unique prefix will do). A bare number is refused:
        it reads as an index as well as a run-id prefix, so the line shows both readings."""
        if ":" in ref:
            session, _, index = ref.rpartition(":")
            session_id = self._session_run(session).info.run_id
            runs = [r for r in self._episode_runs(session_id) if r.data.tags.get(EPISODE_TAG) == index]
            if not runs:
                raise TrackingError(f"episode {ref!r}: session {session} has no episode {index}")
            # A re-run after an interruption: the FINISHED run is the episode, the FAILED one its history.
            runs.sort(key=lambda r: (r.info.status != FINISHED, -(r.info.start_time or 0)))
            return runs[0]
        runs = self._search(f"tags.`{KIND_TAG}` = 'episode'")
        exact = [r for r in runs if r.info.run_id == ref]
        if exact:
            return exact[0]
        matches = [r for r in runs if r.info.run_id.startswith(ref)]
        if ref.isdigit():
            raise TrackingError(self._bare_number(ref, runs, matches))
        if not matches:
            raise TrackingError(self._not_an_episode(ref))
        if len(matches) > 1:
            raise TrackingError(
                f"episode {ref!r} is ambiguous ({len(matches)} runs match); give more of the id"
            )
        return matches[0]

    def _bare_number(self, ref: str, runs: list[Any], matches: list[Any]) -> str:
        """Why a bare number is refused: its reading as an episode index and as a run-id prefix."""
        with_index = [r for r in runs if r.data.tags.get(EPISODE_TAG) == ref]
        with_index.sort(key=lambda r: -(r.info.start_time or 0))
        sessions = list(dict.fromkeys(r.data.tags.get(SESSION_TAG, "") for r in with_index))
        if sessions:
            others = f" and {len(sessions) - 1} other session(s)" if len(sessions) > 1 else ""
            as_index = f"as an index, episode {ref} of session {sessions[0]}{others} ({sessions[0]}:{ref})"
        else:
            as_index = f"as an index, no session has an episode {ref} (write SESSION:{ref})"
        if len(matches) == 1:
            tags = matches[0].data.tags
            as_prefix = (
                f"as a run-id prefix, run {matches[0].info.run_id} (episode {tags.get(EPISODE_TAG)} of "
                f"session {tags.get(SESSION_TAG, '?')})"
            )
        elif matches:
            as_prefix = f"as a run-id prefix, {len(matches)} runs"
        else:
            as_prefix = "as a run-id prefix, no run"
        return (
            f"episode {ref!r}: a bare number reads two ways ({as_index}; {as_prefix}); "
            "write SESSION:INDEX or more of the run id"
        )

    def _not_an_episode(self, ref: str) -> str:
        """Not found as an episode; when `ref` is a session, what to write instead."""
        try:
            session = self._session_run(ref)
        except TrackingError:
            return f"episode {ref!r} not found in {self.uri}"
        session_id = session.info.run_id
        return (
            f"{ref!r} is a session, not an episode: write SESSION:INDEX, e.g. {session_id}:0 "
            f"(gan-trader episodes list --session {session_id} lists its episodes)"
        )

    def _episode_runs(self, session_id: str) -> list[Any]:
        return self._search(f"tags.`{KIND_TAG}` = 'episode' and tags.`{SESSION_TAG}` = '{session_id}'")

    # queries -------------------------------------------------------------------------------------

    def sessions(self, experiment: str | None = None) -> pd.DataFrame:
        """One row per session (newest first): id, name, experiment, strategy, status, episodes, times."""
        rows = []
        for run in self._search(f"tags.`{KIND_TAG}` = 'session'", experiment):
            episodes = self._episode_runs(run.info.run_id)
            rows.append(
                {
                    "session": run.info.run_id,
                    "name": run.data.tags.get(NAME_TAG, ""),
                    "experiment": self.client.get_experiment(run.info.experiment_id).name,
                    "strategy": run.data.tags.get(STRATEGY_TAG, ""),
                    "status": _status(run),
                    "episodes": len({r.data.tags.get(EPISODE_TAG) for r in episodes}),
                    "failed": sum(r.info.status == "FAILED" for r in episodes),
                    "start": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
                    "end": pd.to_datetime(run.info.end_time, unit="ms", utc=True)
                    if run.info.end_time
                    else pd.NaT,
                }
            )
        columns = [
            "session",
            "name",
            "experiment",
            "strategy",
            "status",
            "episodes",
            "failed",
            "start",
            "end",
        ]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values("start", ascending=False, kind="stable").reset_index(drop=True)

    def objective(self, session: str) -> str:
        """The validation metric a session's tuning minimised (its `objective` param)."""
        return _objective(self._session_run(session))

    def episodes(self, session: str) -> pd.DataFrame:
        """Episodes of a session in index order: the columns of `episode_view` first (status, action,
        epochs, validation and test score, reward, failure), then the run id and every final metric."""
        session_run = self._session_run(session)
        session_id, leading = session_run.info.run_id, episode_view(_objective(session_run))
        rows = []
        for run in self._episode_runs(session_id):
            summary = _episode_summary(run)
            row = {key: summary[key] for key in ("index", "run_id", "status", "action", "reward", "failure")}
            row["epochs"] = summary["metrics"].get(EPOCHS_METRIC)
            row.update(summary["metrics"])
            rows.append(row)
        if not rows:
            return pd.DataFrame(columns=[*leading, "run_id"])
        frame = pd.DataFrame(rows)
        frame = frame.reindex(columns=[*leading, *[c for c in frame.columns if c not in leading]])
        if frame["epochs"].notna().all():
            frame["epochs"] = frame["epochs"].astype(int)
        return frame.sort_values(["index", "status"], kind="stable").reset_index(drop=True)

    def episode(self, ref: str) -> dict[str, Any]:
        """One episode: hyperparameters, final metrics, action, reward, suggestion, status, artifacts."""
        run = self._episode_run(ref)
        summary = _episode_summary(run)
        summary["artifacts"] = self.artifacts(run.info.run_id)
        summary["artifact_uri"] = run.info.artifact_uri
        return summary

    def artifacts(self, run_id: str, path: str | None = None) -> list[str]:
        """Every artifact path of a run (recursively)."""
        found: list[str] = []
        for item in self.client.list_artifacts(run_id, path):
            if item.is_dir:
                found += self.artifacts(run_id, item.path)
            else:
                found.append(item.path)
        return found

    def compare(self, refs: Sequence[str]) -> pd.DataFrame:
        """Episodes side by side: rows are status / action / reward, `param:` and `metric:` keys."""
        columns = {}
        for ref in refs:
            summary = _episode_summary(self._episode_run(ref))
            label = f"{summary['session'][:8]}:{summary['index']}"
            values: dict[str, Any] = {
                "status": summary["status"],
                "action": summary["action"],
                "reward": summary["reward"],
            }
            values.update({f"param:{k}": v for k, v in summary["params"].items()})
            values.update({f"metric:{k}": v for k, v in summary["metrics"].items()})
            columns[label] = values
        return pd.DataFrame(columns)

    def history(self, ref: str, keys: Sequence[str] | None = None) -> pd.DataFrame:
        """Metric histories of an episode (index: step, i.e. epoch; columns: metric keys)."""
        run = self._episode_run(ref)
        keys = list(keys) if keys is not None else [k for k in run.data.metrics if not k.startswith("tune/")]
        keys = [k for k in keys if k != STEP_METRIC]
        series = {}
        for key in keys:
            points = self.client.get_metric_history(run.info.run_id, key)
            if len(points) > 1:  # per-epoch curves, not final values logged once
                series[key] = pd.Series({p.step: p.value for p in points}, dtype=float)
        return pd.DataFrame(series).sort_index().rename_axis("step")

    def plot(self, ref: str, out: str | Path, keys: Sequence[str] | None = None) -> Path:
        """Loss and validation curves of an episode to a PNG (one panel per metric), written atomically."""
        import matplotlib.pyplot as plt

        history = self.history(ref, keys)
        if history.empty:
            raise TrackingError(f"episode {ref!r} has no per-epoch metric history to plot")
        figure = curves_figure(history, f"episode {ref}")
        target = Path(out)
        with atomic_path(target) as tmp:
            figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        return target


STEP_METRIC = "epoch"  # logged beside the curves; it is their x axis, not a curve


def _panel_order(name: str) -> tuple[int, str]:
    """Losses first, then validation scores relative to a reference (about 1), then the others."""
    if name.startswith("train/"):
        return 0, name
    if name.endswith(("_rel", "relmae", "directional_accuracy")):
        return 1, name
    return 2, name


def curves_figure(history: pd.DataFrame, title: str) -> Any:
    """Metric histories (columns: metric keys, index: epoch), one panel per metric with its own y axis:
    losses, relative scores (about 1) and price-scale errors differ by orders of magnitude, so on one axis
    the small ones would come out flat."""
    import matplotlib.pyplot as plt

    names = sorted((c for c in history.columns if c != STEP_METRIC), key=_panel_order)
    columns = 3 if len(names) > 4 else max(len(names), 1)
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(3.6 * columns, 2.4 * rows + 0.6), sharex=True, squeeze=False
    )
    for axis, name in zip(axes.flat, names, strict=False):
        values = history[name].dropna()
        axis.plot(values.index, values.to_numpy(), lw=0.9, marker="." if len(values) < 30 else None)
        axis.set_title(name, fontsize=9)
        axis.tick_params(labelsize=7)
    for axis in list(axes.flat)[len(names) :]:
        axis.set_visible(False)
    for axis in axes[-1]:
        axis.set_xlabel("epoch", fontsize=8)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def _objective(session_run: Any) -> str:
    return str(session_run.data.params.get("objective", TuningConfig().objective))


def _episode_summary(run: Any) -> dict[str, Any]:
    tags, params = run.data.tags, run.data.params
    action = next((tags[t] for t in ACTION_TAGS if t in tags), params.get("tune/action"))
    suggestion = {
        key.removeprefix(prefix): _decode(value)
        for key, value in params.items()
        for prefix in SUGGESTION_PREFIXES
        if key.startswith(prefix)
    }
    if not suggestion and "tune/suggestion" in params:
        suggestion = _decode(params["tune/suggestion"])
    hyper = {k: _decode(v) for k, v in params.items() if not k.startswith(SUGGESTION_PREFIXES)}
    index = tags.get(EPISODE_TAG)
    return {
        "run_id": run.info.run_id,
        "session": tags.get(SESSION_TAG, ""),
        "index": int(index) if index is not None and index.lstrip("-").isdigit() else None,
        "name": tags.get(NAME_TAG, ""),
        "status": _status(run),
        "failure": tags.get(FAILURE_TAG),
        "action": action,
        "reward": run.data.metrics.get(REWARD_METRIC),
        "suggestion": suggestion or None,
        "params": hyper,
        "metrics": dict(sorted(run.data.metrics.items())),
        "start": pd.to_datetime(run.info.start_time, unit="ms", utc=True),
        "end": pd.to_datetime(run.info.end_time, unit="ms", utc=True) if run.info.end_time else None,
    }


def _decode(value: str) -> Any:
    """Parameters are stored as text; numbers and JSON lists come back as such."""
    try:
        return json.loads(value)
    except (TypeError, ValueError):
        return value


# rich renderers ----------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.5g}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def render_table(frame: pd.DataFrame, title: str, max_columns: int = 14) -> Any:
    """Any of the frames above as a rich Table (the first `max_columns` columns)."""
    from rich.table import Table

    table = Table(title=title)
    shown = list(frame.columns[:max_columns])
    if frame.index.name or not isinstance(frame.index, pd.RangeIndex):
        table.add_column(str(frame.index.name or ""), style="bold")
    for column in shown:
        table.add_column(str(column), overflow="fold")
    for label, row in frame[shown].iterrows():
        cells = [_cell(row[c]) for c in shown]
        if frame.index.name or not isinstance(frame.index, pd.RangeIndex):
            cells.insert(0, str(label))
        table.add_row(*cells)
    return table


def _fit_widths(cells: dict[str, list[str]], width: int) -> dict[str, int]:
    """Column widths whose table (borders and padding included) fits `width`: the widest columns give way
    first, down to their header's length (ids stay whole: --resume and --session take them)."""
    natural = {name: max([len(name), *map(len, values)]) for name, values in cells.items()}
    floor = {
        name: natural[name] if name in ("session", "run_id") else min(natural[name], max(len(name), 6))
        for name in cells
    }
    widths = dict(natural)
    excess = sum(widths.values()) + 3 * len(widths) + 1 - width
    while excess > 0:
        name = max(widths, key=lambda column: widths[column] - floor[column])
        if widths[name] <= floor[name]:
            break
        widths[name] -= 1
        excess -= 1
    return widths


def render_list(frame: pd.DataFrame, title: str, width: int = LIST_WIDTH) -> Any:
    """A listing as a rich Table at most `width` columns wide: no header or cell wraps; the widest cells
    (failure reasons, long names) are cut with an ellipsis."""
    from rich.table import Table

    cells = {str(c): [_cell(v) for v in frame[c]] for c in frame.columns}
    widths = _fit_widths(cells, width)
    table = Table(title=title)
    for name, size in widths.items():
        table.add_column(name, width=size, no_wrap=True, overflow="ellipsis")
    for row in zip(*cells.values(), strict=True):
        table.add_row(*row)
    return table


def render_episode(summary: dict[str, Any]) -> Any:
    """One episode as a rich group: header, hyperparameters, metrics, artifacts."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    status = summary["status"] + (f" ({summary['failure']})" if summary.get("failure") else "")
    header = Text(
        f"episode {summary['index']} of session {summary['session']}  run {summary['run_id']}\n"
        f"status: {status}   action: {summary['action'] or '-'}   reward: {_cell(summary['reward'])}"
    )
    parts: list[Any] = [header]
    for title, mapping in (
        ("hyperparameters", summary["params"]),
        ("suggestion", summary.get("suggestion") or {}),
        ("final metrics", summary["metrics"]),
    ):
        if mapping:
            table = Table(title=title)
            table.add_column("key", style="bold")
            table.add_column("value")
            for key, value in mapping.items():
                table.add_row(str(key), _cell(value))
            parts.append(table)
    if summary.get("artifacts"):
        parts.append(Text("artifacts:\n  " + "\n  ".join(summary["artifacts"])))
    return Group(*parts)
