"""A study's answer, computed from per-day scores: crps_rel per cell, one-sided Diebold-Mariano tests
corrected for the number of questions asked, pooled over targets, the model confidence set per target, a heat
map.

Input is the long frame of per-day scores that every cell of a study logs (`SCORE_COLUMNS`): one row per
(target, feature set, model, seed, fold, day) with the model's fair CRPS on that day, the yardstick's CRPS
(the zero-mean Gaussian with the trailing 60-day sd, the denominator of `crps_rel`) and the PIT value.

- `crps_rel_summary`: per (target, feature set, model) the crps_rel of every seed x fold (a fold's mean CRPS
  over the yardstick's on the same days), as mean +- sd; pooled over targets: over every target x seed x fold.
- `study_tests`: one-sided DM ("is it better?", `dm_test(model, benchmark, alternative="less")`) on per-day
  CRPS averaged over seeds first, against the same model with the baseline feature set (`history`), against
  each per-target reference (`garch_t`, `har_t`) and, for a GAN, against each same-information model with the
  same feature set. Pooled over targets, each target's per-day differential is put in units of its yardstick's
  mean CRPS (so that a volatile target does not outweigh a calm one) and the differentials are averaged across
  targets on the days they share before the test: the targets trade on the same days and their errors are
  correlated, so stacking their days as if independent would overstate the evidence. Holm's step-down
  correction runs across the feature sets of each (scope, model, comparison) family.
- `study_mcs`: the Hansen-Lunde-Nason MCS per target over every cell of that target and the per-target models
  named (seed-averaged per-day CRPS, the days every one of them scored).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gan_trader.evaluation.comparison import model_confidence_set
from gan_trader.evaluation.stats_tests import StatResult, dm_test
from gan_trader.models.scoring import pit_coverage

SCORE_COLUMNS = ("target", "feature_set", "model", "seed", "fold", "date", "crps", "reference", "pit")
CELL_KEYS = ["target", "feature_set", "model"]
POOLED = "pooled"  # the scope of figures pooled over targets
ALPHA = 0.05


def holm(pvalues: pd.Series) -> pd.Series:
    """Holm's (1979) step-down adjusted p-values of one family; NaN p-values stay NaN and do not count."""
    values = pd.Series(pvalues, dtype=float)
    finite = values.dropna().sort_values()
    m = len(finite)
    adjusted = pd.Series(np.nan, index=values.index)
    running = 0.0
    for rank, (key, p) in enumerate(finite.items()):
        running = max(running, min(1.0, (m - rank) * float(p)))
        adjusted[key] = running
    return adjusted


def _checked(scores: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise ValueError(f"study scores lack the column {missing[0]!r}")
    return scores


def fold_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (target, feature set, model, seed, fold): days, crps_rel, 90 % coverage (from the PIT)."""
    scores = _checked(scores)
    grouped = scores.groupby([*CELL_KEYS, "seed", "fold"], sort=False)
    table = grouped.agg(days=("crps", "size"), crps=("crps", "sum"), reference=("reference", "sum"))
    table["crps_rel"] = table["crps"] / table["reference"]
    table["coverage_90"] = grouped["pit"].apply(lambda pit: pit_coverage(pit.to_numpy(float), 0.9))
    return table.drop(columns=["crps", "reference"]).reset_index()


def crps_rel_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """crps_rel and 90 % coverage as mean and sd over seeds x folds per (target, feature set, model), and
    pooled over targets (target `pooled`: over every target x seed x fold); `runs` counts the seed x fold
    values behind each figure and `seeds` the seeds."""
    folds = fold_scores(scores)
    pooled = folds.assign(target=POOLED)
    both = pd.concat([folds, pooled], ignore_index=True)
    grouped = both.groupby(CELL_KEYS, sort=False)
    summary = grouped.agg(
        crps_rel=("crps_rel", "mean"),
        crps_rel_sd=("crps_rel", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
        coverage_90=("coverage_90", "mean"),
        runs=("crps_rel", "size"),
        seeds=("seed", "nunique"),
    )
    return summary


def seed_mean_losses(scores: pd.DataFrame) -> dict[tuple[str, str, str], pd.Series]:
    """Per-day CRPS averaged over the seeds that scored the day, by (target, feature set, model), indexed by
    date (the folds' test days joined)."""
    scores = _checked(scores)
    daily = scores.groupby([*CELL_KEYS, "date"], sort=False)["crps"].mean()
    found: dict[tuple[str, str, str], pd.Series] = {}
    for key, series in daily.groupby(level=[0, 1, 2], sort=False):
        found[(str(key[0]), str(key[1]), str(key[2]))] = series.droplevel([0, 1, 2]).sort_index()
    return found


def target_scales(scores: pd.DataFrame) -> dict[str, float]:
    """Each target's mean yardstick CRPS over its days: the unit its losses are pooled in."""
    per_day = scores.groupby(["target", "date"])["reference"].first()
    return {str(t): float(v.mean()) for t, v in per_day.groupby(level=0)}


def dm_better(model_loss: pd.Series, benchmark_loss: pd.Series) -> StatResult:
    """One-sided DM ("is the model better?") on the days both scored."""
    joined = pd.concat([model_loss, benchmark_loss], axis=1, join="inner").dropna()
    return dm_test(joined.iloc[:, 0].to_numpy(), joined.iloc[:, 1].to_numpy(), alternative="less")


def pooled_dm_better(
    pairs: Mapping[str, tuple[pd.Series, pd.Series]], scales: Mapping[str, float] | None = None
) -> StatResult:
    """One-sided DM pooled over targets: each target's per-day differential (model - benchmark, divided by
    its scale), averaged across the targets on the days every one of them has, then tested as one series."""
    differentials = []
    for target, (model_loss, benchmark_loss) in pairs.items():
        scale = (scales or {}).get(target, 1.0)
        difference = (model_loss - benchmark_loss).dropna() / scale
        differentials.append(difference.rename(target))
    if not differentials:
        return StatResult(float("nan"), float("nan"), 0)
    common = pd.concat(differentials, axis=1, join="inner").mean(axis=1)
    return dm_test(common.to_numpy(), np.zeros(len(common)), alternative="less")


@dataclass(frozen=True)
class Comparison:
    """One family of tests: `model` with each feature set against `benchmark` (a model of the same set, a
    model of a fixed set, or the same model of the baseline set)."""

    label: str
    model: str
    benchmark_model: str | None  # None: the same model
    benchmark_set: str | None  # None: the same feature set


def default_comparisons(
    models: Sequence[str],
    baseline_set: str | None,
    references: Mapping[str, str],
    rivals: Mapping[str, Sequence[str]] | None = None,
) -> list[Comparison]:
    """Every model against itself with `baseline_set` and against each reference (name -> its feature set
    label); each model of `rivals` also against its same-information rivals with the same feature set."""
    comparisons = []
    for model in models:
        if baseline_set is not None:
            comparisons.append(Comparison(f"vs {baseline_set}", model, None, baseline_set))
        for reference, reference_set in references.items():
            comparisons.append(Comparison(f"vs {reference}", model, reference, reference_set))
        for rival in (rivals or {}).get(model, ()):
            comparisons.append(Comparison(f"vs {rival}", model, rival, None))
    return comparisons


def study_tests(
    scores: pd.DataFrame, comparisons: Sequence[Comparison], alpha: float = ALPHA
) -> pd.DataFrame:
    """One row per (scope, model, comparison, feature set): DM statistic (negative: the model's CRPS is
    lower), one-sided p-value, Holm-adjusted p-value across the family's feature sets, `better` (adjusted
    p < alpha) and the days tested. Scopes: every target, and `pooled`."""
    losses = seed_mean_losses(scores)
    scales = target_scales(scores)
    targets = list(dict.fromkeys(scores["target"].astype(str)))
    sets = list(dict.fromkeys(scores["feature_set"].astype(str)))
    rows = []
    for comparison in comparisons:
        for feature_set in sets:
            if comparison.benchmark_model is None and feature_set == comparison.benchmark_set:
                continue  # the model against itself
            pairs = {}
            for target in targets:
                model_loss = losses.get((target, feature_set, comparison.model))
                bench_key = (
                    target,
                    comparison.benchmark_set or feature_set,
                    comparison.benchmark_model or comparison.model,
                )
                benchmark_loss = losses.get(bench_key)
                if (
                    model_loss is None
                    or benchmark_loss is None
                    or bench_key
                    == (
                        target,
                        feature_set,
                        comparison.model,
                    )
                ):
                    continue
                pairs[target] = (model_loss, benchmark_loss)
                result = dm_better(model_loss, benchmark_loss)
                rows.append(_test_row(target, comparison, feature_set, result))
            if pairs:
                result = pooled_dm_better(pairs, scales)
                rows.append(_test_row(POOLED, comparison, feature_set, result, targets=len(pairs)))
    table = pd.DataFrame(rows, columns=TEST_COLUMNS)
    if table.empty:
        return table
    family = ["scope", "model", "comparison"]
    table["p_holm"] = table.groupby(family, sort=False)["p"].transform(holm)
    table["better"] = table["p_holm"] < alpha
    return table


TEST_COLUMNS = ["scope", "model", "comparison", "feature_set", "stat", "p", "days", "targets"]


def _test_row(
    scope: str, comparison: Comparison, feature_set: str, result: StatResult, targets: int = 1
) -> dict[str, object]:
    return {
        "scope": scope,
        "model": comparison.model,
        "comparison": comparison.label,
        "feature_set": feature_set,
        "stat": result.statistic,
        "p": result.pvalue,
        "days": result.n,
        "targets": targets,
    }


def study_mcs(scores: pd.DataFrame, per_target: Sequence[tuple[str, str]], seed: int = 0) -> pd.DataFrame:
    """The MCS per target over every cell of that target whose feature set is not a per-target label, plus
    the `per_target` (feature set label, model) cells: columns target, feature_set, model, in_mcs, pvalue."""
    losses = seed_mean_losses(scores)
    fixed = set(per_target)
    fixed_sets = {label for label, _ in per_target}
    rows = []
    for target in dict.fromkeys(scores["target"].astype(str)):
        columns = {
            (feature_set, model): series
            for (t, feature_set, model), series in losses.items()
            if t == target and (feature_set not in fixed_sets or (feature_set, model) in fixed)
        }
        if len(columns) < 2:
            continue
        frame = pd.concat(
            {f"{s}|{m}": series for (s, m), series in columns.items()}, axis=1, join="inner"
        ).dropna()
        result = model_confidence_set(frame, seed=seed)
        for name in frame.columns:
            feature_set, model = name.split("|", 1)
            rows.append(
                {
                    "target": target,
                    "feature_set": feature_set,
                    "model": model,
                    "in_mcs": name in result.included,
                    "pvalue": float(result.pvalues[name]),
                    "days": len(frame),
                }
            )
    return pd.DataFrame(rows, columns=["target", "feature_set", "model", "in_mcs", "pvalue", "days"])


def heatmap_figure(
    summary: pd.DataFrame,
    tests: pd.DataFrame | None = None,
    comparison: str | None = None,
    scopes: Sequence[str] | None = None,
) -> object:
    """Feature set x model, colour = crps_rel (mean over seeds x folds; < 1 beats the 60-day Gaussian), one
    panel per scope (targets and `pooled`); a star marks a cell significantly better (Holm-adjusted one-sided
    DM, p < 0.05) in `comparison` (e.g. "vs history"). A missing cell is left blank."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    frame = summary.reset_index()
    scopes = list(scopes or dict.fromkeys(frame["target"].astype(str)))
    sets = list(dict.fromkeys(frame["feature_set"].astype(str)))
    models = list(dict.fromkeys(frame["model"].astype(str)))
    values = frame["crps_rel"].to_numpy(float)
    finite = values[np.isfinite(values)]
    spread = max(float(np.max(np.abs(finite - 1.0))) if finite.size else 0.05, 1e-3)
    figure = Figure(figsize=(1.2 + 0.75 * len(models) * len(scopes), 1.4 + 0.42 * len(sets)))
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(scopes), squeeze=False)[0]
    figure.subplots_adjust(top=0.72)  # room for the title above the panels' own
    image = None
    for axis, scope in zip(axes, scopes, strict=True):
        part = frame[frame["target"] == scope]
        grid = part.pivot_table(index="feature_set", columns="model", values="crps_rel", aggfunc="first")
        grid = grid.reindex(index=sets, columns=models)
        image = axis.imshow(
            grid.to_numpy(float), cmap="RdBu_r", vmin=1 - spread, vmax=1 + spread, aspect="auto"
        )
        axis.set_xticks(range(len(models)), models, rotation=60, ha="right", fontsize=8)
        axis.set_yticks(range(len(sets)), sets if axis is axes[0] else [""] * len(sets), fontsize=8)
        axis.set_title(scope, fontsize=9)
        for i, feature_set in enumerate(sets):
            for j, model in enumerate(models):
                value = grid.iloc[i, j]
                if not np.isfinite(value):
                    continue
                marked = _significant(tests, scope, model, feature_set, comparison)
                label = f"{value:.3f}" + ("*" if marked else "")
                axis.text(
                    j, i, label, ha="center", va="center", fontsize=6.5, weight="bold" if marked else None
                )
    if image is not None:
        figure.colorbar(image, ax=list(axes), shrink=0.8, label="crps_rel (< 1 beats the 60-day Gaussian)")
    note = f"\n*: better {comparison} (one-sided DM, Holm p < 0.05)" if comparison else ""
    figure.suptitle(f"crps_rel by feature set and model (mean over seeds x folds){note}", fontsize=9, y=0.99)
    return figure


def _significant(
    tests: pd.DataFrame | None, scope: str, model: str, feature_set: str, comparison: str | None
) -> bool:
    if tests is None or comparison is None or tests.empty:
        return False
    hit = tests[
        (tests["scope"] == scope)
        & (tests["model"] == model)
        & (tests["feature_set"] == feature_set)
        & (tests["comparison"] == comparison)
    ]
    return bool(hit["better"].any()) if not hit.empty else False
