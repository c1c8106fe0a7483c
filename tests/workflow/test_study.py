"""Studies end to end on synthetic price files: the tables' known answer, resume after an interrupted cell,
failed cells (a model's failure, a target too short for the folds) shown as missing, close-only targets
marked, the shared feature build, and README's study section regenerated from the logged study."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from study_files import write_prices, write_study

from gan_trader.errors import EpisodeFailed
from gan_trader.evaluation.study import POOLED
from gan_trader.tracking import tags
from gan_trader.tracking.recorder import FAILED, FINISHED, KILLED
from gan_trader.tracking.store import open_recorder
from gan_trader.workflow.study import cells as study_cells
from gan_trader.workflow.study import load_study, open_study, run_study
from gan_trader.workflow.study.report import END, START, markers, replace_section, study_markdown
from gan_trader.workflow.study.runner import INTERRUPTED, WALL_METRIC

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


@pytest.fixture
def study_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_prices(tmp_path / "prices", short=True)
    monkeypatch.chdir(tmp_path)
    return tmp_path


# The volatility group carries tomorrow's scale (today's range); the assets group (a noise series) carries
# nothing. The GAN of four units, one epoch, starts its scale from har_t's fit on the
# features it is given (none with `history`).
KNOWN = """
name: known
set: ["data.assets=[NOISE]"]
targets: [SYN_A, SYN_B]
seeds: [1]
feature_sets: [history, volatility, assets]
models: [gan]
per_target: [har_t, gauss_60d]
tests: {against: [har_t]}
"""


def test_tables_answer_a_grid_with_a_known_answer(study_dir: Path) -> None:
    study = load_study(write_study(study_dir, KNOWN))
    run = run_study(study, quiet=True)
    results = run.results
    assert set(results.cells["status"]) == {FINISHED}
    assert len(results.cells) == 2 * 3 + 2 * 2  # targets x sets x models + targets x per-target models
    tests = results.tests()
    pooled = tests[(tests["scope"] == POOLED) & (tests["comparison"] == "vs history")]
    gan = pooled[pooled["model"] == "gan"].set_index("feature_set")
    assert gan.loc["volatility", "better"] and gan.loc["volatility", "stat"] < 0
    assert not gan.loc["assets", "better"]
    assert gan.loc["volatility", "targets"] == 2
    # The GAN's raw draws and MH samples are rows of their own, tested like the GAN.
    assert {"gan", "gan_raw", "gan_mh"} <= set(pooled["model"])
    summary = results.summary()
    assert (
        summary.loc[(POOLED, "volatility", "gan"), "crps_rel"]
        < summary.loc[(POOLED, "history", "gan"), "crps_rel"]
    )
    assert summary.loc[(POOLED, "per_target", "har_t"), "runs"] == 2  # two targets x one seed x one fold
    # Every cell is a child run of the study run.
    recorder = open_recorder(study.base.tracking, "known")
    children = recorder.runs(session=run.study_id, kind="cell")
    assert len(children) == len(results.cells)
    assert {r.tags[tags.PARENT_TAG] for r in children} == {run.study_id}
    assert recorder.run(run.study_id).status == FINISHED
    markdown = study_markdown(
        results, command="gan-trader study study.yaml", wall_s=60, cores=2, heatmap="h.png"
    )
    assert "`volatility` improves `gan` over `history`" in markdown
    assert "`assets` does not improve `gan` over `history`" in markdown


CHEAP = """
name: cheap
set: ["data.assets=[SYN_B]"]
targets: [SYN_A, NOISE]
seeds: [1, 2]
feature_sets: [history, volatility]
models: [quantile_regression]
per_target: [gauss_60d]
"""


def _statuses(recorder, study_id: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    found: dict[str, list[str]] = {}
    for run in sorted(recorder.runs(session=study_id, kind="cell"), key=lambda r: r.start_time):
        found.setdefault(run.tags[tags.CELL_TAG], []).append(run.status)
    return found


def test_resume_after_an_interrupted_cell_runs_no_finished_cell_again(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = load_study(write_study(study_dir, CHEAP))
    keys = [cell.key for cell in study.cells()]
    real = study_cells.score_cell
    calls = {"n": 0}

    def interrupted(job, fits, seed):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(job, fits, seed)

    monkeypatch.setattr(study_cells, "score_cell", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, quiet=True)
    recorder = open_recorder(study.base.tracking, "cheap")
    (study_run,) = recorder.runs(kind="study")
    assert study_run.status == KILLED
    before = _statuses(recorder, study_run.run_id)
    finished_before = {key for key, statuses in before.items() if statuses == [FINISHED]}
    assert len(finished_before) == 4 and sum(s == [KILLED] for s in before.values()) == 1
    # The interrupted invocation's time is logged: the study's time is the sum over its invocations.
    (interrupted_wall,) = recorder.metric_history(study_run.run_id, WALL_METRIC)
    assert interrupted_wall[0] == 0 and interrupted_wall[1] > 0
    # A kill (no chance to close its run) leaves a cell RUNNING: resume closes it and runs it again.
    left = next(k for k in keys if k not in before)
    orphan = recorder.start_episode(
        study_run.run_id, 99, tags=study_cells.cell_tags(study.cells()[0], "x", [])
    )
    recorder.set_tags(orphan, {tags.CELL_TAG: left})
    finished_ids = {r.run_id for r in recorder.runs(session=study_run.run_id, status=FINISHED)}

    monkeypatch.setattr(study_cells, "score_cell", real)
    run = run_study(study, resume=study_run.run_id, quiet=True)
    assert run.skipped == 4 and len(run.outcomes) == len(keys) - 4
    after = _statuses(recorder, study_run.run_id)
    assert set(after) == set(keys)
    for key in finished_before:
        assert after[key] == [FINISHED], key  # not run again
    for key in set(keys) - finished_before:
        assert after[key][-1] == FINISHED and after[key].count(FINISHED) == 1, (key, after[key])
    assert recorder.run(orphan).status == FAILED and recorder.run(orphan).failure == INTERRUPTED
    assert finished_ids <= {r.run_id for r in recorder.runs(session=study_run.run_id, status=FINISHED)}
    assert recorder.run(study_run.run_id).status == FINISHED
    walls = recorder.metric_history(study_run.run_id, WALL_METRIC)
    assert [step for step, _ in walls] == [0, 1] and walls[0] == interrupted_wall
    # Resuming a finished study runs nothing.
    again = run_study(study, resume=study_run.run_id, quiet=True)
    assert again.outcomes == [] and again.skipped == len(keys)


def test_failed_cells_are_logged_with_the_reason_and_shown_as_missing(
    study_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model that fails on one target (a NaN loss) and a target too short for the folds: their cells end
    FAILED with the reason, the study goes on, and no table shows a number for them. A close-only target is
    marked where its groups miss members."""
    text = CHEAP.replace("targets: [SYN_A, NOISE]", "targets: [SYN_A, NOISE, SHORT]").replace(
        "seeds: [1, 2]", "seeds: [1]"
    )
    study = load_study(write_study(study_dir, text))
    real = study_cells.make_forecaster

    def failing(model, config, seed):  # type: ignore[no-untyped-def]
        if model.name == "quantile_regression" and config.data.target == "SYN_A":
            raise EpisodeFailed("train/loss is not finite at epoch 1")
        return real(model, config, seed)

    monkeypatch.setattr(study_cells, "make_forecaster", failing)
    run = run_study(study, quiet=True)
    results = run.results
    failed = results.failed().set_index("key")
    assert (
        failed.loc["SYN_A/history/quantile_regression/1", "reason"] == "train/loss is not finite at epoch 1"
    )
    short = [key for key in failed.index if key.startswith("SHORT/")]
    assert len(short) == 3 and all("SHORT" in failed.loc[key, "reason"] for key in short)
    assert (results.cells["status"] == FINISHED).sum() == len(results.cells) - 2 - 3
    summary = results.summary()
    row = summary.loc[("SYN_A", "history", "quantile_regression")]
    assert np.isnan(row["crps_rel"]) and row["failed"] == 1
    assert np.isfinite(summary.loc[("NOISE", "history", "quantile_regression"), "crps_rel"])
    assert summary.loc[(POOLED, "history", "quantile_regression"), "runs"] == 1  # NOISE's alone
    assert "parkinson" in summary.loc[("NOISE", "volatility", "quantile_regression"), "missing"]
    assert summary.loc[("SYN_A", "volatility", "quantile_regression"), "missing"] == ""
    tests = results.tests()
    assert tests[(tests["scope"] == "SYN_A") & (tests["model"] == "quantile_regression")].empty
    markdown = study_markdown(results, command="c", wall_s=1, cores=2, heatmap="h.png")
    assert "failed (1)" in markdown and "†" in markdown
    assert "SYN_A/history/quantile_regression/1`: train/loss is not finite" in markdown


def test_readme_section_is_regenerated_from_the_logged_study(study_dir: Path) -> None:
    study = load_study(write_study(study_dir, CHEAP.replace("seeds: [1, 2]", "seeds: [1]")))
    run = run_study(study, quiet=True)
    readme = study_dir / "README.md"
    readme.write_text(f"# title\n\nbefore\n{START}\nold figures\n{END}\nafter\n", encoding="utf-8")
    spec = importlib.util.spec_from_file_location("readme_study", SCRIPTS / "readme_study.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(
        [
            "--experiment",
            "cheap",
            "--readme",
            str(readme),
            "--out",
            str(study_dir / "docs" / "study"),
            "--tracking-uri",
            "sqlite:///runs/mlflow.db",
            "--command",
            "gan-trader study study.yaml",
        ]
    )
    text = readme.read_text(encoding="utf-8")
    assert "old figures" not in text and text.startswith("# title") and text.rstrip().endswith("after")
    assert "`gan-trader study study.yaml` ran on" in text
    total = run.results.cells["wall_s"].sum()
    assert f"; its cells took {total:.0f} s of worker time in all (" in text  # every cell, summed
    assert (study_dir / "docs" / "study" / "heatmap.png").stat().st_size > 1000
    assert (study_dir / "docs" / "study" / "summary.csv").exists()
    # the same tables from the Python API
    results = open_study("cheap", run.study_id)
    assert results.summary().equals(run.results.summary())
    assert set(results.per_day("SYN_A").columns) == {
        "per_target/gauss_60d",
        "history/quantile_regression",
        "volatility/quantile_regression",
    }


def test_replace_section_needs_the_markers() -> None:
    with pytest.raises(ValueError, match="no study section"):
        replace_section("no markers here", "body")


def test_another_study_writes_its_own_section_only() -> None:
    start, end = markers("information")
    text = f"{START}\nshipped\n{END}\n{start}\nold\n{end}\n"
    assert replace_section(text, "new\n", "information") == f"{START}\nshipped\n{END}\n{start}\nnew\n{end}\n"
    with pytest.raises(ValueError, match="no information section"):
        replace_section(f"{START}\n{END}\n", "body", "information")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["local", "ray"])
def test_cells_in_worker_processes_give_the_numbers_of_one_process(study_dir: Path, kind: str) -> None:
    """Two local processes or two Ray workers run the cells, each logging its runs to the study's store; a
    cell's numbers are those of the same cell run in this process."""
    base = CHEAP.replace("seeds: [1, 2]", "seeds: [1]")
    alone = run_study(load_study(write_study(study_dir, base)), quiet=True)
    spread = base.replace("name: cheap", "name: cheap_workers").replace(
        'set: ["data.assets=[SYN_B]"]',
        f'set: ["data.assets=[SYN_B]", executor.kind={kind}, executor.workers=2]',
    )
    workers = run_study(load_study(write_study(study_dir, spread)), quiet=True)
    assert set(workers.results.cells["status"]) == {FINISHED}
    assert len(workers.results.cells) == len(alone.results.cells)
    left = alone.results.summary()["crps_rel"]
    right = workers.results.summary()["crps_rel"]
    assert np.allclose(left.sort_index().to_numpy(), right.sort_index().to_numpy(), rtol=0, atol=1e-12)


def test_an_experiment_beside_the_study_file_is_pointed_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The study's experiment path is read from the working directory, like every path in a config; one
    written as seen from the study's folder is named with the path to write."""
    from gan_trader.errors import ConfigError

    folder = tmp_path / "studies"
    folder.mkdir()
    (folder / "base.yaml").write_text("name: base\n", encoding="utf-8")
    study = folder / "s.yaml"
    study.write_text(
        "experiment: base.yaml\ntargets: [MSFT]\nseeds: [7]\nfeature_sets: [history]\nmodels: [gan]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_study(Path("studies/s.yaml"), check_data=False)
    message = str(info.value)
    assert "studies/s.yaml: experiment: base.yaml: config file not found in the working directory" in message
    assert "write experiment: studies/base.yaml" in message
