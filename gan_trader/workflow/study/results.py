"""A logged study read back from the tracking store, as researchers read it: pandas frames.

`StudyResults` holds the study's cells (status, failure reason, missing feature members) and every finished
cell's per-day scores; its methods compute the tables of `evaluation.study` from them. The newest FINISHED run
of each cell counts (a cell re-run on resume replaces nothing: the old run stays in the store); a FAILED cell
has no scores, so every table shows it as missing, never as a number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from gan_trader.config import TrackingConfig
from gan_trader.errors import TrackingError
from gan_trader.evaluation.study import (
    POOLED,
    Comparison,
    crps_rel_summary,
    default_comparisons,
    fold_scores,
    heatmap_figure,
    seed_mean_losses,
    study_mcs,
    study_tests,
)
from gan_trader.tracking import tags
from gan_trader.tracking.recorder import FINISHED, Recorder, RunRecord
from gan_trader.tracking.store import open_recorder
from gan_trader.workflow.study.cells import SCORES_ARTIFACT
from gan_trader.workflow.study.spec import PER_TARGET

STUDY_ARTIFACT = "study.json"  # the grid and the tests, logged with the study run
ABLATION_ORDER = {"": 0, "_raw": 1, "_mh": 2}  # a GAN's row, then its raw draws' and its MH samples'
CELL_COLUMNS = [
    "key",
    "target",
    "feature_set",
    "model",
    "seed",
    "status",
    "reason",
    "missing",
    "wall_s",
    "run_id",
]


@dataclass
class StudyResults:
    """A study's cells and per-day scores, and the tables computed from them (each a pandas frame).

    - `cells`: one row per cell (its newest run): key, target, feature_set, model, seed, status, reason,
      missing (the feature members its target could not have), wall_s, run_id.
    - `scores`: one row per (target, feature set, model row, seed, fold, test day): crps (fair CRPS),
      reference (the trailing-60-day Gaussian's CRPS, crps_rel's yardstick), pit, point, actual.
    """

    study_id: str
    name: str
    spec: dict[str, Any]
    cells: pd.DataFrame
    scores: pd.DataFrame
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ tables

    def folds(self) -> pd.DataFrame:
        """crps_rel and 90 % coverage of every (target, feature set, model, seed, fold)."""
        return fold_scores(self.scores)

    def summary(self) -> pd.DataFrame:
        """crps_rel (mean, sd over seeds x folds) and 90 % coverage per (target, feature set, model), with
        the targets pooled (`pooled`), `failed` (cells of that model that FAILED: left out) and `missing`
        (feature members the target could not have; pooled: every target's)."""
        if "summary" not in self._cache:
            summary = crps_rel_summary(self.scores) if not self.scores.empty else _empty_summary()
            summary = summary.join(self._failed_counts(), how="outer")
            summary["failed"] = summary["failed"].fillna(0).astype(int)
            missing = self._missing()
            summary["missing"] = [missing.get((t, s), "") for t, s, _m in summary.index.to_list()]
            self._cache["summary"] = summary.loc[sorted(summary.index, key=self._rank)]
        return self._cache["summary"]  # type: ignore[no-any-return]

    def comparisons(self) -> list[Comparison]:
        tests = self.spec["tests"]
        models = list(dict.fromkeys(self.scores.loc[self.scores["feature_set"] != PER_TARGET, "model"]))
        rivals = {
            row: tests["rivals"].get(entry, [])
            for entry in tests["rivals"]
            for row in models
            if row == entry or row.startswith(f"{entry}_")
        }
        references = {name: PER_TARGET for name in tests["against"]}
        return default_comparisons(models, tests["baseline_set"], references, rivals)

    def tests(self) -> pd.DataFrame:
        """One-sided DM tests ("is it better?") on per-day CRPS averaged over seeds, per target and pooled,
        against the same model with the baseline set, the per-target references and (for a GAN) the
        same-information models; `p_holm` is Holm-adjusted across the feature sets of each family, `better`
        is p_holm < alpha."""
        if "tests" not in self._cache:
            alpha = float(self.spec["tests"].get("alpha", 0.05))
            self._cache["tests"] = (
                study_tests(self.scores, self.comparisons(), alpha)
                if not self.scores.empty
                else pd.DataFrame()
            )
        return self._cache["tests"]  # type: ignore[no-any-return]

    def mcs(self) -> pd.DataFrame:
        """The model confidence set per target over every cell and the named per-target models."""
        if "mcs" not in self._cache:
            per_target = [(PER_TARGET, name) for name in self.spec["tests"]["mcs"]]
            self._cache["mcs"] = (
                study_mcs(self.scores, per_target) if not self.scores.empty else pd.DataFrame()
            )
        return self._cache["mcs"]  # type: ignore[no-any-return]

    def per_day(self, target: str, seed: int | None = None) -> pd.DataFrame:
        """Per-day CRPS of every model of a target (columns `feature set/model`; per-target models under
        `per_target/NAME`), averaged over seeds, or of one seed."""
        scores = self.scores[self.scores["target"] == target]
        if seed is not None:
            scores = scores[scores["seed"] == seed]
        losses = seed_mean_losses(scores)
        return pd.DataFrame({f"{s}/{m}": series for (_t, s, m), series in losses.items()})

    def heatmap(self, comparison: str | None = None, scopes: list[str] | None = None) -> Any:
        """Feature set x model coloured by crps_rel, one panel per target and pooled; a star marks cells
        better `comparison` after Holm (default: against the baseline set)."""
        baseline = self.spec["tests"]["baseline_set"]
        comparison = comparison or (f"vs {baseline}" if baseline else None)
        summary = self.summary()
        per_set = summary[summary.index.get_level_values("feature_set") != PER_TARGET]
        targets = list(self.spec["targets"])
        scopes = scopes or (targets + [POOLED] if len(targets) > 1 else targets)
        return heatmap_figure(per_set, self.tests(), comparison, scopes)

    def failed(self) -> pd.DataFrame:
        """The cells whose newest run did not finish, with the reason."""
        return self.cells[self.cells["status"] != FINISHED]

    # ------------------------------------------------------------------ helpers

    def _failed_counts(self) -> pd.DataFrame:
        failed = self.failed()
        rows = []
        for (target, feature_set, model), part in failed.groupby(["target", "feature_set", "model"]):
            for scope in (target, POOLED):
                rows.append(
                    {"target": scope, "feature_set": feature_set, "model": model, "failed": len(part)}
                )
        if not rows:
            return pd.DataFrame({"failed": pd.Series(dtype=int)}, index=_index())
        frame = pd.DataFrame(rows).groupby(["target", "feature_set", "model"])["failed"].sum()
        return frame.to_frame()

    def _missing(self) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], list[str]] = {}
        for _, cell in self.cells.iterrows():
            if not cell["missing"]:
                continue
            for scope, text in (
                (cell["target"], cell["missing"]),
                (POOLED, f"{cell['target']}: {cell['missing']}"),
            ):
                notes = found.setdefault((scope, cell["feature_set"]), [])
                if text not in notes:
                    notes.append(text)
        return {key: " | ".join(notes) for key, notes in found.items()}

    def _rank(self, key: tuple[str, str, str]) -> tuple[int, int, int]:
        """Display order of a (target, feature set, model) row: the study file's (targets, then pooled; the
        feature sets, then the per-target models; each model followed by its ablation rows)."""
        spec = self.spec
        targets = [*spec["targets"], POOLED]
        sets = [*spec["feature_sets"], PER_TARGET]
        target, feature_set, model = key
        return (
            targets.index(target) if target in targets else len(targets),
            sets.index(feature_set) if feature_set in sets else len(sets),
            self.model_rank(model),
        )

    def model_rank(self, model: str) -> int:
        """A model row's place: the study file's order of models, each followed by its raw and MH rows."""
        entries = [*self.spec["models"], *self.spec["per_target"]]
        entry = next((e for e in entries if model == e or model.startswith(f"{e}_")), None)
        if entry is None:
            return 3 * len(entries)
        return 3 * entries.index(entry) + ABLATION_ORDER.get(model.removeprefix(entry), 2)


def _index() -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([[], [], []], names=["target", "feature_set", "model"])


def _empty_summary() -> pd.DataFrame:
    columns = ["crps_rel", "crps_rel_sd", "coverage_90", "runs", "seeds"]
    return pd.DataFrame(columns=columns, index=_index(), dtype=float)


# ---------------------------------------------------------------- loading


def newest_cell_runs(recorder: Recorder, study_id: str) -> dict[str, RunRecord]:
    """The newest run of each cell of a study, by cell key."""
    newest: dict[str, RunRecord] = {}
    for run in recorder.runs(session=study_id, kind="cell"):
        key = run.tags.get(tags.CELL_TAG)
        if key is None:
            continue
        if key not in newest or run.start_time >= newest[key].start_time:
            newest[key] = run
    return newest


def finished_cell_runs(recorder: Recorder, study_id: str) -> dict[str, RunRecord]:
    """The newest FINISHED run of each cell that has one."""
    found: dict[str, RunRecord] = {}
    for run in recorder.runs(session=study_id, kind="cell", status=FINISHED):
        key = run.tags.get(tags.CELL_TAG)
        if key is not None and (key not in found or run.start_time >= found[key].start_time):
            found[key] = run
    return found


def _cell_row(run: RunRecord) -> dict[str, Any]:
    seed = run.tags.get(tags.SEED_TAG, "")
    return {
        "key": run.tags.get(tags.CELL_TAG),
        "target": run.tags.get(tags.TARGET_TAG),
        "feature_set": run.tags.get(tags.FEATURE_SET_TAG),
        "model": run.tags.get(tags.MODEL_TAG),
        "seed": int(seed) if seed.lstrip("-").isdigit() else None,
        "status": run.status,
        "reason": run.failure or "",
        "missing": run.tags.get(tags.MISSING_TAG, ""),
        "wall_s": run.metrics.get("cell/wall_s"),
        "run_id": run.run_id,
    }


def _read_scores(recorder: Recorder, run: RunRecord) -> pd.DataFrame:
    path = recorder.artifact_dir(run.run_id) / SCORES_ARTIFACT
    try:
        scores = pd.read_parquet(path)
    except Exception as exc:  # pyarrow raises many types for a missing or damaged file
        raise TrackingError(
            f"cell {run.tags.get(tags.CELL_TAG)} (run {run.run_id}): its {SCORES_ARTIFACT} cannot be read "
            f"({type(exc).__name__}); run the study again with --resume after deleting that run"
        ) from None
    row = _cell_row(run)
    scores.insert(0, "seed", row["seed"])
    scores.insert(0, "feature_set", row["feature_set"])
    scores.insert(0, "target", row["target"])
    return scores


def study_results(recorder: Recorder, study_id: str) -> StudyResults:
    """Read a study's cells and their scores from the store."""
    study = recorder.run(study_id)
    if study.tags.get(tags.KIND_TAG) != "study":
        raise TrackingError(f"run {study_id} is not a study (its kind: {study.tags.get(tags.KIND_TAG)})")
    try:
        spec = json.loads((recorder.artifact_dir(study_id) / STUDY_ARTIFACT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrackingError(
            f"study {study_id}: its {STUDY_ARTIFACT} cannot be read ({type(exc).__name__})"
        ) from None
    newest = newest_cell_runs(recorder, study_id)
    finished = finished_cell_runs(recorder, study_id)
    cells = pd.DataFrame(
        [_cell_row(finished.get(key, run)) for key, run in newest.items()], columns=CELL_COLUMNS
    )
    frames = [_read_scores(recorder, run) for run in finished.values()]
    scores = (
        pd.concat(frames, ignore_index=True)
        if frames
        else pd.DataFrame(
            columns=["target", "feature_set", "seed", "model", "fold", "date", "crps", "reference", "pit"]
        )
    )
    name = study.tags.get(tags.NAME_TAG, recorder.experiment_name)
    return StudyResults(study_id, name, spec, cells.sort_values("key").reset_index(drop=True), scores)


def latest_study(recorder: Recorder) -> str:
    """The newest FINISHED study of the recorder's experiment."""
    found = recorder.runs(kind="study", status=FINISHED, newest_first=True, limit=1)
    if not found:
        raise TrackingError(f"experiment {recorder.experiment_name!r} has no finished study: run one first")
    return found[0].run_id


def open_study(
    name: str,
    study_id: str | None = None,
    tracking_uri: str = "sqlite:///runs/mlflow.db",
    artifact_root: str | Path = "runs/artifacts",
) -> StudyResults:
    """A logged study (by default the newest finished one of the study `name`) as frames.

    >>> results = open_study("feature_study")          # doctest: +SKIP
    >>> results.summary().loc["pooled"]                # crps_rel mean and sd by feature set and model
    >>> results.tests().query("comparison == 'vs history' and scope == 'pooled'")
    >>> results.per_day("MSFT")                        # per-day CRPS by feature set/model, seed-averaged
    """
    recorder = open_recorder(TrackingConfig(uri=tracking_uri, artifact_root=Path(artifact_root)), name)
    return study_results(recorder, study_id or latest_study(recorder))
