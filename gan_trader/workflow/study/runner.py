"""Run a study: every cell as a job on the configured executor, logged under one study run, resumable.

The study run (kind `study`) is the parent; each cell is a child run (kind `cell`) tagged with its key
(TARGET/FEATURE_SET/MODEL/SEED) and digest. Each target's fold features are built once, with the union of the
study's groups (`data.prepare_target`), just before its first job starts, so the next target's features are
built while the workers train the previous target's cells. `--resume STUDY` closes the runs a killed process
left RUNNING as FAILED ("interrupted; re-run on resume") and runs only the cells without a FINISHED run of
the same digest: no finished cell runs twice. At the end the tables are computed from the logged cells and
logged with the study run (CSV files and the heat map).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console

from gan_trader.errors import GanTraderError, TrackingError
from gan_trader.models.baselines import baseline_class
from gan_trader.tracking import tags
from gan_trader.tracking.recorder import FAILED, FINISHED, KILLED, RUNNING, Recorder
from gan_trader.tracking.store import open_recorder
from gan_trader.tuning.executor import absolute_tracking
from gan_trader.workflow.study.cells import (
    CellFunction,
    CellJob,
    CellOutcome,
    failed_cells,
    run_cells,
    shares_fit,
)
from gan_trader.workflow.study.data import TargetData, prepare_target
from gan_trader.workflow.study.jobs import JobRunner, make_job_runner
from gan_trader.workflow.study.results import STUDY_ARTIFACT, StudyResults, study_results
from gan_trader.workflow.study.spec import PER_TARGET, Cell, Study, StudyModel

log = logging.getLogger(__name__)

INTERRUPTED = "interrupted; re-run on resume"
WALL_METRIC = "study/wall_seconds"
# Relative cost of a cell, for the progress bar's ETA: a GAN trains two networks, an LSTM baseline one.
COST_GAN, COST_NETWORK, COST_SIMPLE = 10.0, 4.0, 0.3


@dataclass
class StudyRun:
    """A finished study: its id, its results (tables from the logged cells), this run's cells and time."""

    study_id: str
    results: StudyResults
    outcomes: list[CellOutcome] = field(default_factory=list)
    skipped: int = 0  # cells finished before (resume)
    wall_s: float = 0.0


def cell_cost(model: StudyModel) -> float:
    if model.is_gan:
        return COST_GAN
    if baseline_class(model.model).uses_validation:
        return COST_NETWORK
    return COST_SIMPLE


def study_spec(study: Study) -> dict[str, Any]:
    """The grid and the tests as logged with the study run (what `StudyResults` reads back)."""
    tests = study.tests
    return {
        "name": study.name,
        "description": study.description,
        "quick": study.quick,
        "targets": study.targets,
        "seeds": study.seeds,
        "folds": max(study.base.split.walk_forward.folds, 1),
        "feature_sets": {s.name: list(s.groups) for s in study.feature_sets},
        "models": {m.name: {"model": m.model, "set": list(m.overrides)} for m in study.models},
        "per_target": {m.name: {"model": m.model, "set": list(m.overrides)} for m in study.per_target},
        "tests": {
            "baseline_set": tests.baseline_set,
            "against": list(tests.against or []),
            "mcs": list(tests.mcs or []),
            "alpha": tests.alpha,
            "rivals": study.rivals(),
        },
    }


def _open_study_run(recorder: Recorder, study: Study, resume: str | None) -> str:
    if resume is None:
        params = {
            "targets": study.targets,
            "seeds": study.seeds,
            "feature_sets": [s.name for s in study.feature_sets],
            "models": [m.name for m in study.models],
            "per_target": [m.name for m in study.per_target],
            "cells": len(study.cells()),
            "quick": study.quick,
            "machine.cores": os.cpu_count() or 0,
        }
        study_id = recorder.start_session(study.name, params, {tags.KIND_TAG: "study"})
        recorder.log_text(study_id, json.dumps(study_spec(study), indent=2), STUDY_ARTIFACT)
        return study_id
    run = recorder.run(resume)
    if run.tags.get(tags.KIND_TAG) != "study":
        raise TrackingError(f"--resume {resume}: not a study run of {recorder.experiment_name!r}")
    recorder.reopen(resume)
    # The grid resumed with may differ from the first one (another --quick, an edited file): the tables
    # follow the latest.
    recorder.log_text(resume, json.dumps(study_spec(study), indent=2), STUDY_ARTIFACT)
    return resume


def _close_interrupted(recorder: Recorder, study_id: str) -> None:
    """Runs a killed process left RUNNING end FAILED: their cells are run again."""
    for run in recorder.runs(session=study_id, kind="cell", status=RUNNING):
        recorder.finish(run.run_id, FAILED, INTERRUPTED)
        log.info("cell %s was interrupted: it runs again", run.tags.get(tags.CELL_TAG))


def finished_digests(recorder: Recorder, study_id: str) -> dict[str, set[str]]:
    """Digests of the FINISHED runs of each cell key."""
    found: dict[str, set[str]] = {}
    for run in recorder.runs(session=study_id, kind="cell", status=FINISHED):
        key = run.tags.get(tags.CELL_TAG)
        if key is not None:
            found.setdefault(key, set()).add(run.tags.get(tags.DIGEST_TAG, ""))
    return found


@dataclass
class _Plan:
    """The cells still to run, grouped into jobs per target (in the study's target order)."""

    study: Study
    todo: list[tuple[Cell, int, str]]

    def groups(self) -> dict[str, list[list[tuple[Cell, int, str]]]]:
        """target -> job cell lists: one job per cell, except one job for every seed of a model whose fit is
        shared by its seeds (distribution baselines); GANs first, so that long jobs start early."""
        by_target: dict[str, list[list[tuple[Cell, int, str]]]] = {t: [] for t in self.study.targets}
        shared: dict[tuple[str, str, str], list[tuple[Cell, int, str]]] = {}
        for entry in self.todo:
            cell = entry[0]
            if shares_fit(self.study.model(cell.model)):
                shared.setdefault((cell.target, cell.feature_set, cell.model), []).append(entry)
            else:
                by_target[cell.target].append([entry])
        for (target, _s, _m), entries in shared.items():
            by_target[target].append(entries)
        for jobs in by_target.values():
            jobs.sort(key=lambda job: -cell_cost(self.study.model(job[0][0].model)))
        return by_target


def _jobs(
    study: Study,
    plan: _Plan,
    recorder: Recorder,
    study_id: str,
    failures: list[CellOutcome],
) -> Iterator[CellJob]:
    """The jobs to submit, target by target; a target's data is prepared when its first job is asked for.
    A target whose data or features fail makes its cells FAILED (in `failures`) instead."""
    tracking = recorder.tracking
    for target, jobs in plan.groups().items():
        if not jobs:
            continue
        try:
            data: TargetData = prepare_target(study.target_config(target))
        except Exception as exc:  # a cell's failure, not the study's (as in run_cells)
            reason = (
                f"{target}: {exc}"
                if isinstance(exc, GanTraderError)
                else f"{target}: {type(exc).__name__}: {exc}"
            )
            log.warning(
                "target %s cannot be prepared: %s", target, exc, exc_info=not isinstance(exc, GanTraderError)
            )
            for cells in jobs:
                failures += failed_cells(recorder, study_id, cells, reason)
            continue
        for cells in jobs:
            first = cells[0][0]
            model = study.model(first.model)
            feature_set = None if first.feature_set == PER_TARGET else study.feature_set(first.feature_set)
            job = CellJob(
                study_id=study_id,
                tracking=tracking,
                experiment=recorder.experiment_name,
                model=model,
                config=study.config(model, target),
                feature_set=first.feature_set,
                tasks=data.tasks(feature_set),
                cells=cells,
                missing=data.missing(feature_set),
            )
            yield job


def _progress(console: Console, quiet: bool) -> Any:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[cells]}"),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )


def run_study(
    study: Study,
    *,
    resume: str | None = None,
    quiet: bool = False,
    console: Console | None = None,
    cell_function: CellFunction = run_cells,
    runner: JobRunner[CellJob, list[CellOutcome]] | None = None,
) -> StudyRun:
    """Run every cell of `study` not finished yet (all of them without `resume`), then compute and log the
    tables. Ctrl-C marks the study and the running cell KILLED and says how to resume."""
    started = time.perf_counter()
    console = console or Console(quiet=quiet)
    tracking = absolute_tracking(study.base.tracking)
    recorder = open_recorder(tracking, study.name)
    study_id = _open_study_run(recorder, study, resume)
    if not quiet:
        console.print(f"study {study.name}: {study.describe()}; study run {study_id}")
    try:
        _close_interrupted(recorder, study_id)
        done = finished_digests(recorder, study_id)
        cells = study.cells()
        todo = []
        for index, cell in enumerate(cells):
            digest = study.digest(cell)
            if digest not in done.get(cell.key, set()):
                todo.append((cell, index, digest))
        skipped = len(cells) - len(todo)
        if skipped and not quiet:
            console.print(f"{skipped} of {len(cells)} cells finished before: not run again")
        if runner is None:
            executor = study.base.executor
            in_process = executor.kind == "local" and executor.workers == 1
            # In this process the cells log through this recorder; workers open their own.
            function = functools.partial(cell_function, recorder=recorder) if in_process else cell_function
            runner = make_job_runner(function, executor)
        outcomes = _run_jobs(study, _Plan(study, todo), recorder, study_id, runner, console, quiet)
    except KeyboardInterrupt:
        # The interrupted invocation's time counts too: a resumed study's time is the sum of them all.
        _log_wall(recorder, study_id, {WALL_METRIC: time.perf_counter() - started})
        recorder.finish(study_id, KILLED, "interrupted by the user")
        log.warning("interrupted: study %s is saved; continue it with --resume %s", study_id, study_id)
        raise
    results = study_results(recorder, study_id)
    wall = time.perf_counter() - started
    _log_tables(recorder, study_id, results)
    _log_wall(recorder, study_id, {WALL_METRIC: wall, "study/cells_run": len(outcomes)})
    recorder.finish(study_id, FINISHED)
    return StudyRun(study_id, results, outcomes, skipped, wall)


def _log_wall(recorder: Recorder, study_id: str, values: dict[str, float]) -> None:
    """One value per invocation, finished or interrupted (a resumed study's time is their sum)."""
    invocation = len(recorder.metric_history(study_id, WALL_METRIC))
    recorder.log_metrics(study_id, values, step=invocation)


def _run_jobs(
    study: Study,
    plan: _Plan,
    recorder: Recorder,
    study_id: str,
    runner: JobRunner[CellJob, list[CellOutcome]],
    console: Console,
    quiet: bool,
) -> list[CellOutcome]:
    """Keep every slot of `runner` busy with the plan's jobs; the progress bar advances by cell costs."""
    outcomes: list[CellOutcome] = []
    failures: list[CellOutcome] = []  # cells of targets whose data could not be prepared
    total = sum(_cost_of(study, cell) for cell, _i, _d in plan.todo)
    jobs = _jobs(study, plan, recorder, study_id, failures)

    def record(found: list[CellOutcome]) -> None:
        outcomes.extend(found)
        for outcome in found:
            progress.update(bar, advance=_cost_of(study, outcome.cell))
            if outcome.status != FINISHED:
                log.warning("cell %s %s: %s", outcome.cell.key, outcome.status, outcome.reason)
        progress.update(bar, cells=f"{len(outcomes)}/{len(plan.todo)} cells")

    with runner, _progress(console, quiet) as progress:
        bar = progress.add_task("cells", total=total or 1, cells=f"0/{len(plan.todo)} cells")
        more = True
        while True:
            while more and runner.running < runner.slots:
                job = next(jobs, None)
                record(failures)
                failures.clear()
                if job is None:
                    more = False
                else:
                    runner.submit(job)
            if runner.running == 0:
                return outcomes
            for found in runner.gather():
                record(found)


def _cost_of(study: Study, cell: Cell) -> float:
    return cell_cost(study.model(cell.model))


def _log_tables(recorder: Recorder, study_id: str, results: StudyResults) -> None:
    """The study's tables and heat map, logged with the study run."""
    recorder.log_table(study_id, results.cells, "cells.csv")
    if results.scores.empty:
        return
    recorder.log_table(study_id, results.summary().reset_index(), "summary.csv")
    recorder.log_table(study_id, results.tests(), "tests.csv")
    try:
        recorder.log_table(study_id, results.mcs(), "mcs.csv")
    except ValueError as exc:  # fewer than two models with finite losses on common days
        log.warning("study %s: no model confidence set (%s)", study_id, exc)
    recorder.log_figure(study_id, results.heatmap(), "heatmap.png")
