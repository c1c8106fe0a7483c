"""Regenerate README's result tables from a logged run of the default experiment (`make results`).

Reads the newest finished session of the experiment (or the one given) from the tracking store, and
rewrites the part of README.md between the markers below with its leaderboards: points against
persistence, distributions against the trailing-60-day Gaussian, and the multiple-comparison lines. No
figure in that part of README is typed by hand.

    python scripts/readme_results.py [--experiment NAME] [--session ID] [--tracking-uri URI] [--readme F]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import pandas as pd

START = "<!-- results:start (make results writes this part; do not edit by hand) -->"
END = "<!-- results:end -->"

POINT_COLUMNS = {
    "days": "days",
    "relmae": "MAE / persistence",
    "dm_stat": "DM t (+ = worse)",
    "dm_pvalue": "DM p",
    "directional_accuracy": "dir. acc.",
    "pt_pvalue": "PT p",
    "no_skill": "no skill",
    "in_mcs": "in MCS",
    "long_flat_sharpe": "long/flat Sharpe",
}
DISTRIBUTION_COLUMNS = {
    "samples": "K",
    "crps_rel": "CRPS rel",
    "coverage_50": "cov 50",
    "coverage_90": "cov 90",
    "pit_pvalue": "PIT p",
    "crps_dm_stat": "DM t (CRPS, + = worse)",
    "crps_dm_pvalue": "DM p (CRPS)",
    "in_mcs_crps": "in MCS",
    "mh_acceptance": "MH accept",
}


def cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e-3 and value != 0 else f"{value:.4f}".rstrip("0").rstrip(".")
    return str(value)


SIGNED = ("dm_stat", "crps_dm_stat")  # Diebold-Mariano statistics: the sign says better (-) or worse (+)


def signed(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{float(value):+.2f}"  # type: ignore[arg-type]


def markdown_table(table: pd.DataFrame, columns: dict[str, str]) -> str:
    shown = [c for c in columns if c in table.columns]
    lines = [
        "| model | " + " | ".join(columns[c] for c in shown) + " |",
        "|---|" + "---:|" * len(shown),
    ]
    for model, row in table.iterrows():
        cells = [signed(row[c]) if c in SIGNED else cell(row[c]) for c in shown]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# One generated sentence opening each table: what it shows, in words.

GAN = "gan"
SIGNIFICANCE = 0.05


def _listing(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _dm(row: pd.Series, stat: str, pvalue: str) -> str:
    return f"DM t {signed(row[stat])}, p {cell(float(row[pvalue]))}"


def points_sentence(table: pd.DataFrame) -> str:
    """Who beats persistence significantly (DM p < 0.05), and where the GAN stands."""
    tested = table[table["dm_pvalue"].notna()]
    better = [str(m) for m, r in tested.iterrows() if r["relmae"] < 1 and r["dm_pvalue"] < SIGNIFICANCE]
    worse = [str(m) for m, r in tested.iterrows() if r["relmae"] > 1 and r["dm_pvalue"] < SIGNIFICANCE]
    if better:
        verb = "beats" if len(better) == 1 else "beat"
        sentence = f"{_listing(better)} {verb} persistence significantly (DM p < {SIGNIFICANCE:g})"
    else:
        sentence = f"No model beats persistence significantly (DM p < {SIGNIFICANCE:g})"
    if GAN in table.index and pd.notna(table.loc[GAN, "dm_pvalue"]):
        row = table.loc[GAN]
        standing = (
            "significantly worse"
            if GAN in worse
            else "significantly better"
            if GAN in better
            else "not significantly different"
        )
        sentence += (
            f"; the GAN is {standing} (MAE / persistence {cell(float(row['relmae']))}, "
            f"{_dm(row, 'dm_stat', 'dm_pvalue')})"
        )
    others = [m for m in worse if m != GAN]
    if others:
        sentence += f"; significantly worse than persistence too: {_listing(others)}"
    return sentence + "."


def distributions_sentence(table: pd.DataFrame) -> str:
    """The best CRPS rel, the reference DM compares with, and where the GAN stands."""
    best = str(table["crps_rel"].idxmin())
    reference = [str(m) for m, r in table.iterrows() if pd.isna(r.get("crps_dm_pvalue", float("nan")))]
    sentence = (
        f"{best} has the lowest CRPS rel ({cell(float(table.loc[best, 'crps_rel']))}; below 1 beats the "
        "trailing-60-day Gaussian, gauss_60d, which scores 1)"
    )
    if GAN in table.index and len(reference) == 1 and reference[0] != GAN:
        row = table.loc[GAN]
        significant = row["crps_dm_pvalue"] < SIGNIFICANCE
        side = "worse" if row["crps_dm_stat"] > 0 else "better"
        standing = f"significantly {side} than" if significant else "not significantly different from"
        sentence += (
            f"; the GAN's is {cell(float(row['crps_rel']))}, {standing} {reference[0]} (the best simple "
            f"baseline) on per-day CRPS ({_dm(row, 'crps_dm_stat', 'crps_dm_pvalue')})"
        )
    return sentence + "."


def selection_metrics(record: object) -> dict[str, float]:
    """The session's `select/*` metrics (what racing selected), empty for a run logged before racing."""
    metrics = getattr(record, "metrics", None) or {}
    return {key: float(value) for key, value in metrics.items() if key.startswith("select/")}


def tuning_sentence(episodes: pd.DataFrame, objective: str, selection: dict[str, float] | None = None) -> str:
    tuned = episodes[(episodes["index"] < REFIT_INDEX) & episodes[objective].notna()]
    if tuned.empty:
        return "No tuning episode finished."
    best = tuned.loc[tuned[objective].idxmin()]
    value = float(best[objective])
    meaning = ""
    if objective == "val/crps_rel":
        meaning = (
            f" ({'below' if value < 1 else 'above'} 1: {'better' if value < 1 else 'worse'} than the "
            + ("trailing-60-day Gaussian on those days)")
        )
    tried = (
        f"The session tried {len(tuned)} episodes; the best, episode {int(best['index'])}, reached "
        f"{objective} {cell(value)}{meaning}"
    )
    if selection and "select/is_reference" in selection:
        # Racing decided (tuning/racing.py): the set refitted on every fold is the selection, not the best
        # single episode.
        kept = selection["select/is_reference"] == 1.0
        chosen = "the reference set (the config's own hyperparameters)" if kept else "the best raced set"
        reference = selection.get("select/reference_val", float("nan"))
        selected = selection.get("select/selected_val", float("nan"))
        return (
            f"{tried}. After racing on fresh seeds the session selected {chosen}: mean {objective} "
            f"{cell(selected)} against the reference's {cell(reference)}; that set was refitted on every "
            "fold."
        )
    return f"{tried}, and its hyperparameters were refitted on every fold."


def folds_sentence(summary: pd.DataFrame, folds: int, seeds: int) -> str:
    best = str(summary.index[0])
    sentence = (
        f"Over {folds} folds x {seeds} seed(s), {best} has the lowest mean CRPS rel "
        f"({summary.loc[best, 'crps_rel']})"
    )
    if GAN in summary.index and best != GAN:
        row = summary.loc[GAN]
        sentence += f"; the GAN: MAE / persistence {row['relmae']}, CRPS rel {row['crps_rel']}"
    return sentence + " (mean ± sd over the runs; the spread says how much a single fold can mislead)."


def stop(message: str) -> NoReturn:
    """A missing or unusable input: the message on standard error and exit code 2, as the project's own
    commands do (the README scripts share it)."""
    print(message, file=sys.stderr)
    raise SystemExit(2)


def latest_session(browser: object, experiment: str) -> str:
    sessions = browser.sessions(experiment)  # type: ignore[attr-defined]
    finished = sessions[sessions["status"] == "FINISHED"]
    if finished.empty:
        stop(f"no finished session of experiment {experiment!r}: run `make experiment` first")
    return str(finished.iloc[0]["session"])


REFIT_INDEX = 1000  # gan_trader/tuning/episode.py: the refits of the selected set per fold and seed
FOLD_METRICS = {"relmae": "MAE / persistence", "crps_rel": "CRPS rel", "coverage_90": "cov 90"}


def fold_summary(folds: pd.DataFrame) -> pd.DataFrame:
    """Mean +- sd over the fold x seed runs of each model (as the report computes them: folds.seed_summary),
    best mean CRPS rel (then relmae) first."""
    from gan_trader.workflow.folds import seed_summary

    runs = [run.set_index("model")[list(FOLD_METRICS)] for _, run in folds.groupby(["fold", "seed"])]
    summary = seed_summary(runs)
    means = summary.xs("mean", axis=1, level=1)
    out = pd.DataFrame(index=means.index)
    out["runs"] = folds.groupby("model").size()
    for column in FOLD_METRICS:
        out[column] = [
            "-" if pd.isna(m) else f"{m:.4f} ± {0.0 if pd.isna(sd) else sd:.4f}"
            for m, sd in zip(summary[(column, "mean")], summary[(column, "std")], strict=True)
        ]
    order = means.sort_values(["crps_rel", "relmae"], na_position="last").index
    return out.loc[order]


def tuning_markdown(episodes: pd.DataFrame, objective: str) -> str:
    """The tuning session's own episodes (not the refits): what the controller chose and what it got."""
    tuned = episodes[episodes["index"] < REFIT_INDEX]
    columns = {"action": "action", "epochs": "epochs", objective: objective, "reward": "reward"}
    table = tuned.set_index("index").rename_axis("episode")
    for column in columns:
        if column not in table:
            table[column] = None
    return markdown_table(table, columns).replace("| model |", "| episode |", 1)


def wall_time(record: object) -> str:
    """The logged run's wall time, from loading the data to the report (workflow/run.py WALL_METRIC)."""
    seconds = record.metrics.get("run/wall_seconds")  # type: ignore[attr-defined]
    return "not logged" if seconds is None else f"{seconds:.0f} s"


def results_markdown(session: str, tracking_uri: str, experiment: str) -> str:
    from gan_trader.tracking.episodes import EpisodeBrowser

    browser = EpisodeBrowser(tracking_uri)
    record = browser.session(session)
    with tempfile.TemporaryDirectory() as tmp:
        table = pd.read_csv(browser.download(record.run_id, "leaderboard.csv", Path(tmp)), index_col=0)
        try:
            comparisons = browser.download(record.run_id, "comparisons.txt", Path(tmp)).read_text().strip()
            folds = pd.read_csv(browser.download(record.run_id, "folds.csv", Path(tmp)), index_col=0)
        except Exception:  # older runs logged no comparison lines or fold table
            comparisons, folds = "", None
        try:
            notes = browser.download(record.run_id, "leaderboard_notes.txt", Path(tmp)).read_text().strip()
        except Exception:  # a run without a row that needs a note (no GAN with MH), or an older run
            notes = ""
    objective = browser.objective(session)
    episodes = browser.episodes(session)
    for column in table.columns:
        if table[column].dtype == object and set(table[column].dropna().unique()) <= {"True", "False"}:
            table[column] = table[column].map({"True": True, "False": False})
    points = table.sort_values("relmae")
    distributions = table[table["crps_rel"].notna()].sort_values("crps_rel") if "crps_rel" in table else None
    parts = [
        f"Session `{record.run_id}` of experiment `{experiment}`, regenerated by `make results` from its "
        f"logged leaderboard. Wall time of that run: {wall_time(record)} on its machine (`make bench` times "
        "one in a fresh folder). Each table opens with a sentence generated from its own figures.",
        "",
        f"**Tuning** (the session on fold 0's validation span; {objective}, lower is better; reward: the "
        f"improvement of the session's best per GAN epoch). "
        f"{tuning_sentence(episodes, objective, selection_metrics(record))}",
        "",
        tuning_markdown(episodes, objective),
        "",
        "**Points** (test days; MAE / persistence < 1 beats persistence; DM: Diebold-Mariano against "
        "persistence on absolute errors, t > 0 = worse than persistence, t < 0 = better). "
        + points_sentence(points),
        "",
        markdown_table(points, POINT_COLUMNS),
    ]
    if notes:
        parts += ["", *[f"`{line.split(':', 1)[0]}`:{line.split(':', 1)[1]}" for line in notes.splitlines()]]
    if distributions is not None and not distributions.empty:
        parts += [
            "",
            "**Distributions** (CRPS rel < 1 beats the trailing-60-day Gaussian; coverage of the central "
            "intervals from the PIT; DM on per-day CRPS vs the best simple baseline, t > 0 = worse than it). "
            + distributions_sentence(distributions),
            "",
            markdown_table(distributions, DISTRIBUTION_COLUMNS),
        ]
    if folds is not None and not folds.empty:
        summary = fold_summary(folds)
        parts += [
            "",
            f"**Per fold** (mean ± sd over {folds['fold'].nunique()} folds x {folds['seed'].nunique()} "
            "seed(s); each fold refits every feature builder, baseline and the selected GAN). "
            + folds_sentence(summary, folds["fold"].nunique(), folds["seed"].nunique()),
            "",
            markdown_table(summary, {"runs": "runs", **FOLD_METRICS}),
        ]
    if comparisons:
        parts += ["", *[f"- {line}" for line in comparisons.splitlines()]]
    return "\n".join(parts)


def rewrite(readme: Path, body: str, start: str = START, end: str = END) -> None:
    """Replace what lies between the markers `start` and `end` of `readme` with `body`."""
    text = readme.read_text(encoding="utf-8")
    if start not in text or end not in text:
        stop(f"{readme}: the markers {start!r} and {end!r} are missing")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiment", default="default")
    parser.add_argument("--session", default=None)
    parser.add_argument("--tracking-uri", default="sqlite:///runs/mlflow.db")
    parser.add_argument("--readme", type=Path, default=Path(__file__).resolve().parents[1] / "README.md")
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from gan_trader.errors import GanTraderError
    from gan_trader.tracking.episodes import EpisodeBrowser

    try:
        session = args.session or latest_session(EpisodeBrowser(args.tracking_uri), args.experiment)
        body = results_markdown(session, args.tracking_uri, args.experiment)
    except GanTraderError as error:  # no store, no such session, a damaged file named by the project
        stop(str(error))
    rewrite(args.readme, body)
    print(f"{args.readme}: results of session {session}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
