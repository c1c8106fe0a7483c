"""A study's tables in words and numbers: the terminal view after a run, and README's study section.

The README section (between `START` and `END`) is regenerated from a logged study by
`scripts/readme_study.py` (`make study` runs it after the study): never typed by hand.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.evaluation.study import POOLED
from gan_trader.workflow.study.results import StudyResults
from gan_trader.workflow.study.runner import StudyRun
from gan_trader.workflow.study.spec import PER_TARGET

START = "<!-- study:start (make study writes this part; do not edit by hand) -->"
END = "<!-- study:end -->"
MISSING = "—"


def number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    return f"{float(value):.{digits}f}"


def pvalue(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    value = float(value)
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def mean_sd(row: pd.Series) -> str:
    """'mean ± sd' of crps_rel, a dagger when members were missing, the failed cells' count; or missing."""
    if not math.isfinite(float(row.get("crps_rel", np.nan))):
        failed = int(row.get("failed", 0) or 0)
        return f"failed ({failed})" if failed else MISSING
    text = f"{row['crps_rel']:.4f} ± {row['crps_rel_sd']:.4f}"
    if row.get("missing"):
        text += " †"
    if int(row.get("failed", 0) or 0):
        text += f" ({int(row['failed'])} failed)"
    return text


def summary_grid(results: StudyResults, scope: str) -> pd.DataFrame:
    """Feature sets (rows) x model rows (columns) of 'crps_rel mean ± sd' for one scope; the per-target
    models as a last row."""
    summary = results.summary()
    if scope not in summary.index.get_level_values("target"):
        return pd.DataFrame()
    part = summary.xs(scope, level="target")
    cells = {(s, m): mean_sd(row) for (s, m), row in part.iterrows()}
    sets = list(dict.fromkeys(s for s, _m in part.index))
    models = list(dict.fromkeys(m for s, m in part.index if s != PER_TARGET))
    grid = pd.DataFrame(
        [[cells.get((s, m), MISSING) for m in models] for s in sets if s != PER_TARGET],
        columns=models,
        index=[s for s in sets if s != PER_TARGET],
    )
    references = [m for s, m in part.index if s == PER_TARGET]
    if references:
        row = pd.DataFrame(
            [[" / ".join(f"{m} {cells[(PER_TARGET, m)]}" for m in references)] + [""] * (len(models) - 1)],
            columns=models,
            index=[PER_TARGET],
        )
        grid = pd.concat([grid, row])
    return grid


def markdown(frame: pd.DataFrame, index_name: str) -> str:
    if frame.empty:
        return "(no finished cells)"
    lines = [
        f"| {index_name} | " + " | ".join(str(c) for c in frame.columns) + " |",
        "|---|" + "---:|" * len(frame.columns),
    ]
    for name, row in frame.iterrows():
        lines.append(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines)


def test_grid(results: StudyResults, scope: str, comparison: str) -> pd.DataFrame:
    """Feature sets x model rows of the Holm-adjusted one-sided p-value of one comparison (bold when
    p_holm < alpha), with the DM statistic's sign (negative: lower CRPS)."""
    tests = results.tests()
    if tests.empty:
        return pd.DataFrame()
    part = tests[(tests["scope"] == scope) & (tests["comparison"] == comparison)]
    if part.empty:
        return pd.DataFrame()
    grid = {}
    for _, row in part.iterrows():
        text = pvalue(row["p_holm"])
        if math.isfinite(row["stat"]):
            text += f" ({row['stat']:+.1f})"
        grid[(row["feature_set"], row["model"])] = f"**{text}**" if row["better"] else text
    sets = list(dict.fromkeys(part["feature_set"]))
    models = sorted(dict.fromkeys(part["model"]), key=results.model_rank)
    return pd.DataFrame(
        [[grid.get((s, m), MISSING) for m in models] for s in sets], index=sets, columns=models
    )


def _test(
    results: StudyResults, scope: str, model: str, comparison: str, feature_set: str
) -> pd.Series | None:
    tests = results.tests()
    if tests.empty:
        return None
    hit = tests[
        (tests["scope"] == scope)
        & (tests["model"] == model)
        & (tests["comparison"] == comparison)
        & (tests["feature_set"] == feature_set)
    ]
    return hit.iloc[0] if not hit.empty else None


def _crps_rel(results: StudyResults, scope: str, feature_set: str, model: str) -> float:
    summary = results.summary()
    try:
        return float(summary.loc[(scope, feature_set, model), "crps_rel"])
    except KeyError:
        return float("nan")


def answers(results: StudyResults) -> list[str]:
    """The seed's hypothesis answered in sentences, pooled over targets, from the corrected tests: does each
    group improve each GAN over the baseline set; does the GAN beat its same-information models; does any
    feature set let it beat every reference (the moonshot)."""
    spec = results.spec
    tests_spec = spec["tests"]
    baseline = tests_spec["baseline_set"]
    alpha = float(tests_spec.get("alpha", 0.05))
    gans = [name for name, entry in spec["models"].items() if entry["model"] == "gan"]
    sets = [s for s in spec["feature_sets"] if s != baseline]
    lines = []
    for gan in gans:
        if baseline is not None:
            for feature_set in sets:
                test = _test(results, POOLED, gan, f"vs {baseline}", feature_set)
                if test is None:
                    lines.append(f"- `{gan}` with `{feature_set}`: not tested (cells missing).")
                    continue
                verdict = "improves" if test["better"] else "does not improve"
                lines.append(
                    f"- `{feature_set}` {verdict} `{gan}` over `{baseline}` pooled over targets: crps_rel "
                    f"{number(_crps_rel(results, POOLED, feature_set, gan))} vs "
                    f"{number(_crps_rel(results, POOLED, baseline, gan))}, "
                    f"one-sided DM p = {pvalue(test['p'])}, "
                    f"Holm p = {pvalue(test['p_holm'])}."
                )
        for rival in tests_spec["rivals"].get(gan, []):
            better = [s for s in spec["feature_sets"] if _better(results, gan, f"vs {rival}", s)]
            tested = [
                s for s in spec["feature_sets"] if _test(results, POOLED, gan, f"vs {rival}", s) is not None
            ]
            lines.append(
                f"- `{gan}` beats `{rival}` with the same information (pooled, Holm p < {alpha:g}) with "
                f"{len(better)} of {len(tested)} feature sets"
                + (f": {', '.join(better)}." if better else ".")
            )
        references = list(tests_spec["against"])
        if references:
            winners = [
                s
                for s in spec["feature_sets"]
                if all(_better(results, gan, f"vs {r}", s) for r in references)
            ]
            named = " and ".join(f"`{r}`" for r in references)
            lines.append(
                f"- Moonshot: `{gan}` beats {named} pooled over targets (one-sided, Holm p < {alpha:g}) with "
                + (f"{', '.join(f'`{s}`' for s in winners)}." if winners else "no feature set.")
            )
    return lines


def _better(results: StudyResults, model: str, comparison: str, feature_set: str) -> bool:
    test = _test(results, POOLED, model, comparison, feature_set)
    return bool(test is not None and test["better"])


def _worker_time(cells: pd.DataFrame) -> str:
    """The cells' own seconds summed (every logged cell, whichever invocation ran it), and the models that
    took most of them; nothing when no cell logged its time."""
    seconds = pd.to_numeric(cells["wall_s"], errors="coerce") if "wall_s" in cells else pd.Series()
    if not seconds.notna().any():
        return ""
    by_model = seconds.groupby(cells["model"]).sum().sort_values(ascending=False)
    total = float(by_model.sum())
    shares = ", ".join(f"{model} {100 * value / total:.0f} %" for model, value in by_model.head(3).items())
    return f"; its cells took {total:.0f} s of worker time in all ({shares})"


def study_markdown(
    results: StudyResults, *, command: str, wall_s: float, cores: int, heatmap: str, note: str = ""
) -> str:
    """README's study section: how it ran, the answer, the pooled tables, per-target tables, MCS, failures."""
    spec = results.spec
    cells = results.cells
    finished = int((cells["status"] == "FINISHED").sum())
    folds = spec.get("folds", 1)
    baseline = spec["tests"]["baseline_set"]
    lines = [
        f"`{command.strip()}` ran on {cores} CPU cores in {wall_s / 60:.0f} min ({wall_s:.0f} s)"
        + (f" ({note})" if note else "")
        + _worker_time(cells)
        + ": "
        f"targets {', '.join(spec['targets'])}; feature sets {', '.join(spec['feature_sets'])}; models "
        f"{', '.join(spec['models'])} per feature set and {', '.join(spec['per_target'])} per target; seeds "
        f"{', '.join(str(s) for s in spec['seeds'])}; {folds} walk-forward folds. {finished} of {len(cells)} "
        "cells finished"
        + (f", {len(cells) - finished} failed (listed below)." if finished < len(cells) else "."),
        "",
        "crps_rel is each fold's CRPS over the trailing-60-day Gaussian's on the same days (< 1 beats it), "
        "mean ± sd over seeds × folds (pooled: × targets). p-values are one-sided Diebold–Mariano tests "
        '("is it better?") on per-day CRPS averaged over seeds; pooled over targets, the per-day loss '
        "differentials (in units of each target's mean Gaussian CRPS) are averaged across targets on their "
        "common days before the test; Holm's correction runs across the feature sets of each model and "
        "comparison. † marks cells whose target lacked some members of the set's groups (on a per-target "
        "model: of the volatility group, which har_t reads).",
        "",
        "**The answer, pooled over targets:**",
        "",
        *answers(results),
        "",
        f"![crps_rel by feature set and model]({heatmap})",
        "",
        "**crps_rel, pooled over targets** (mean ± sd):",
        "",
        markdown(summary_grid(results, POOLED), "feature set"),
        "",
    ]
    if baseline is not None:
        lines += [
            f"**Better than the same model with `{baseline}`?** Holm p (DM statistic), pooled; bold: p < "
            f"{spec['tests'].get('alpha', 0.05):g}:",
            "",
            markdown(test_grid(results, POOLED, f"vs {baseline}"), "feature set"),
            "",
        ]
    for reference in spec["tests"]["against"]:
        lines += [
            f"**Better than `{reference}`?** Holm p (DM statistic), pooled:",
            "",
            markdown(test_grid(results, POOLED, f"vs {reference}"), "feature set"),
            "",
        ]
    for target in spec["targets"]:
        lines += [
            f"<details><summary>{target}: crps_rel and tests</summary>",
            "",
            markdown(summary_grid(results, target), "feature set"),
            "",
        ]
        if baseline is not None:
            lines += [
                f"vs `{baseline}` (Holm p):",
                "",
                markdown(test_grid(results, target, f"vs {baseline}"), "feature set"),
                "",
            ]
        lines += ["</details>", ""]
    lines += _mcs_lines(results)
    missing = sorted({m for m in cells["missing"] if m})
    if missing:
        lines += ["", "† " + " | ".join(missing)]
    failed = results.failed()
    if not failed.empty:
        lines += ["", "Failed cells (left out of every table):", ""]
        lines += [f"- `{row.key}`: {row.reason}" for row in failed.itertuples()]
    return "\n".join(lines).rstrip() + "\n"


def _mcs_lines(results: StudyResults) -> list[str]:
    try:
        mcs = results.mcs()
    except ValueError:
        return []
    if mcs.empty:
        return []
    lines = ["Model confidence set (90 %) per target, over every cell and the per-target models:", ""]
    for target, part in mcs.groupby("target", sort=False):
        kept = [f"{r.feature_set}/{r.model}" for r in part.itertuples() if r.in_mcs]
        lines.append(f"- {target}: {', '.join(kept)} ({len(kept)} of {len(part)})")
    return lines


def markers(section: str = "study") -> tuple[str, str]:
    """README's start and end lines of a study's section (`study`: the shipped study's; another study's
    section gets its own name, e.g. `information`)."""
    if section == "study":
        return START, END
    return (
        f"<!-- {section}:start (a command writes this part from the logged study; do not edit by hand) -->",
        f"<!-- {section}:end -->",
    )


def replace_section(text: str, body: str, section: str = "study") -> str:
    """`text` with the part between the section's start and end markers replaced by `body` (the markers
    must be there)."""
    start, end = markers(section)
    if start not in text or end not in text:
        raise ValueError(f"README has no {section} section: add the lines {start!r} and {end!r}")
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}{end}{tail}"


def print_study(run: StudyRun, console: Any) -> None:
    """The terminal view: pooled crps_rel grid, the answer lines, the study id."""
    from rich.table import Table

    results = run.results
    for scope in [POOLED] if len(results.spec["targets"]) > 1 else results.spec["targets"]:
        grid = summary_grid(results, scope)
        if grid.empty:
            continue
        table = Table(
            title=f"crps_rel ({scope}; mean ± sd over seeds x folds; < 1 beats the 60-day Gaussian)"
        )
        table.add_column("feature set", style="bold")
        for column in grid.columns:
            table.add_column(str(column), justify="right")
        for name, row in grid.iterrows():
            table.add_row(str(name), *(str(v) for v in row))
        console.print(table)
    for line in answers(results):
        console.print(line.removeprefix("- "), markup=False)
    failed = results.failed()
    if not failed.empty:
        console.print(
            f"{len(failed)} cells failed (left out of every table): "
            + "; ".join(f"{row.key} ({row.reason})" for row in failed.itertuples()),
            markup=False,
        )
    ran = len(run.outcomes)
    console.print(
        f"study: {run.study_id} ({ran} cells run, {run.skipped} finished before; {run.wall_s:.0f} s); "
        "tables: "
        f"results = gan_trader.workflow.study.open_study({results.name!r}, {run.study_id!r})",
        markup=False,
    )
