"""Regenerate README's study section from a logged study (`make study` runs it after the study).

Reads the newest finished study of the experiment (or the one given) from the tracking store, writes its
tables (CSV) and heat map under --out, and rewrites the part of README.md between the study markers with the
answer, the pooled tables with their corrected p-values, per-target tables, the MCS and any failed cells.
No figure in that part of README is typed by hand.

    python scripts/readme_study.py [--experiment feature_study] [--study ID] [--tracking-uri URI]
        [--readme README.md] [--out docs/study] [--command "gan-trader study ..."] [--section study]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from gan_trader.errors import GanTraderError
from gan_trader.tracking.store import open_recorder
from gan_trader.workflow.study.report import replace_section, study_markdown
from gan_trader.workflow.study.results import latest_study, study_results
from gan_trader.workflow.study.runner import WALL_METRIC


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="feature_study", help="the study's name (MLflow experiment)")
    parser.add_argument("--study", default=None, help="study run id (default: the newest finished)")
    parser.add_argument("--tracking-uri", default="sqlite:///runs/mlflow.db")
    parser.add_argument("--artifact-root", default="runs/artifacts")
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    parser.add_argument("--out", type=Path, default=Path("docs/study"))
    parser.add_argument("--command", default="gan-trader study experiments/feature_study.yaml")
    parser.add_argument("--note", default="", help="said after the run's time (e.g. the machine's load)")
    parser.add_argument(
        "--section", default="study", help="README's markers to write between (<!-- SECTION:start ...)"
    )
    args = parser.parse_args(argv)

    from gan_trader.config import TrackingConfig

    try:
        recorder = open_recorder(
            TrackingConfig(uri=args.tracking_uri, artifact_root=args.artifact_root), args.experiment
        )
        study_id = args.study or latest_study(recorder)
        results = study_results(recorder, study_id)
    except GanTraderError as error:  # no such study, or a store the project cannot read
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from readme_results import stop

        stop(str(error))
    run = recorder.run(study_id)
    # A resumed study ran in several invocations: its time is their sum.
    wall = sum(value for _step, value in recorder.metric_history(study_id, WALL_METRIC))
    cores = int(run.params.get("machine.cores", os.cpu_count() or 0))
    args.out.mkdir(parents=True, exist_ok=True)
    results.summary().reset_index().to_csv(args.out / "summary.csv", index=False)
    results.tests().to_csv(args.out / "tests.csv", index=False)
    results.cells.to_csv(args.out / "cells.csv", index=False)
    with contextlib.suppress(ValueError):  # fewer than two models with scores on common days
        results.mcs().to_csv(args.out / "mcs.csv", index=False)
    figure = results.heatmap()
    figure.savefig(args.out / "heatmap.png", dpi=110, bbox_inches="tight")
    heatmap = os.path.relpath(args.out / "heatmap.png", args.readme.resolve().parent)
    body = study_markdown(
        results, command=args.command, wall_s=wall, cores=cores, heatmap=heatmap, note=args.note
    )
    text = args.readme.read_text(encoding="utf-8")
    args.readme.write_text(replace_section(text, body, args.section), encoding="utf-8")
    cells = len(results.cells)
    print(f"{args.readme}: {args.section} section rewritten from study {study_id} ({cells} cells)")


if __name__ == "__main__":
    main()
