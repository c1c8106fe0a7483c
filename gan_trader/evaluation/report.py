"""One self-contained HTML report: every figure is a base64 PNG inside the file, no external resource.

Sections follow SPEC section 8. A section whose input this run did not produce says so ("not available in
this run: <why>") instead of showing an empty or invented figure.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from gan_trader import __version__  # noqa: E402
from gan_trader.config import ExperimentConfig  # noqa: E402
from gan_trader.evaluation import plots  # noqa: E402
from gan_trader.evaluation.leaderboard import Leaderboard  # noqa: E402
from gan_trader.features.pipeline import FeatureSet  # noqa: E402
from gan_trader.io import write_text  # noqa: E402
from gan_trader.models.base import Forecast, ForecastTask  # noqa: E402

FigureSource = Any  # a matplotlib Figure, or a path to a PNG / JPEG / SVG file
IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml"}

STYLE = """
body { font-family: Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
img { max-width: 100%; height: auto; display: block; margin: 0.8em 0; }
table { border-collapse: collapse; font-size: 12px; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
.missing { color: #8a5a00; background: #fff6e0; padding: 0.5em 0.8em; border-left: 3px solid #e0a000; }
.verdict { font-weight: bold; } .meta { color: #666; font-size: 13px; } .scroll { overflow-x: auto; }
"""


@dataclass(frozen=True)
class ReportData:
    """What the data sections show: the task (panel, split) and the feature set built for it."""

    task: ForecastTask
    features: FeatureSet


def figure_png(figure: Any) -> bytes:
    """Render a matplotlib figure to PNG bytes and close it."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def image_tag(source: FigureSource, alt: str) -> str:
    """An <img> with the figure embedded as a data URI (figures and image files alike)."""
    if isinstance(source, str | Path):
        path = Path(source)
        mime = IMAGE_TYPES.get(path.suffix.lower())
        if mime is None:
            raise plots.Unavailable(f"{path.name} is not a PNG, JPEG or SVG image")
        if not path.is_file():
            raise plots.Unavailable(f"figure file {path} does not exist")
        data = path.read_bytes()
    else:
        mime, data = "image/png", figure_png(source)
    encoded = base64.b64encode(data).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{encoded}">'


def missing(reason: str) -> str:
    return f'<p class="missing">not available in this run: {html.escape(reason)}</p>'


def _section(title: str, body: str, note: str = "") -> str:
    note_html = f'<p class="meta">{html.escape(note)}</p>' if note else ""
    return f"<section><h2>{html.escape(title)}</h2>{note_html}{body}</section>"


def _figure_section(title: str, make: Callable[[], Any], note: str = "") -> str:
    try:
        body = image_tag(make(), title)
    except plots.Unavailable as reason:
        body = missing(str(reason))
    return _section(title, body, note)


def _table_html(table: pd.DataFrame, digits: int = 4) -> str:
    def cell(value: Any) -> str:
        if value is None or value is pd.NA:
            return "-"
        if isinstance(value, bool | np.bool_):
            return "yes" if value else "no"
        if isinstance(value, float | np.floating):
            return (
                "-"
                if not np.isfinite(value)
                else f"{value:.{digits}g}"
                if abs(float(value)) >= 1e4
                else f"{value:.{digits}f}"
            )
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [table.index.name or "", *table.columns])
    rows = "".join(
        "<tr>" + f"<td>{html.escape(str(index))}</td>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>"
        for index, row in zip(table.index, table.itertuples(index=False), strict=True)
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _checks_section(data: ReportData | None) -> str:
    title = "Statistical checks (training span)"
    if data is None:
        return _section(title, missing("no prepared data was given"))
    checks = plots.find_artifact(data.features.artifacts, "checks")
    if checks is None or checks.table is None:
        return _section(title, missing("no checks builder in this run"))
    body = _table_html(checks.table.set_index("test"))
    vif = plots.find_artifact(data.features.artifacts, "checks_vif")
    if vif is not None and vif.table is not None:
        body += "<h3>Variance inflation factors (largest 15)</h3>" + _table_html(
            vif.table.head(15).set_index("feature")
        )
    return _section(title, body)


def _predicted_vs_real(figures: Mapping[str, FigureSource] | None) -> str:
    title = "Predicted vs real (validation, by epoch)"
    chosen = {name: source for name, source in (figures or {}).items() if "predicted" in name}
    if not chosen:
        return _section(
            title, missing("no per-epoch prediction figures were given (no GAN episode in this run)")
        )
    parts = []
    for name, source in sorted(chosen.items()):
        try:
            parts.append(f"<h3>{html.escape(name)}</h3>" + image_tag(source, name))
        except plots.Unavailable as reason:
            parts.append(f"<h3>{html.escape(name)}</h3>" + missing(str(reason)))
    return _section(title, "".join(parts))


def _fan_section(data: ReportData, forecast: Forecast) -> str:
    return _figure_section(
        f"Fan chart: {forecast.model}",
        lambda: plots.fan_chart(data.task, forecast),
        "bands of the forecast distribution of the next-day log return; dots: what happened",
    )


def _episodes_frame(episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None) -> pd.DataFrame | None:
    if episodes is None:
        return None
    return episodes if isinstance(episodes, pd.DataFrame) else pd.DataFrame(list(episodes))


EPISODE_COLUMNS = ("status", "action", "epochs", "reward", "failure")


def _episodes_section(frame: pd.DataFrame | None, objective: str) -> str:
    """Every episode's status, and which failed and why (a failed episode is never silently dropped)."""
    title = "Episodes"
    if frame is None or frame.empty or "status" not in frame:
        return _section(title, missing("no tuning episodes were given"))
    test = objective.replace("val/", "test/", 1)
    columns = [*EPISODE_COLUMNS[:3], objective, test, *EPISODE_COLUMNS[3:]]
    shown = frame[[c for c in columns if c in frame.columns]]
    failed = shown[shown["status"] != "FINISHED"]
    if failed.empty:
        summary = f"all {len(shown)} episodes finished"
    else:
        items = [
            f"episode {label} {row['status']}"
            + (f" ({row['failure']})" if isinstance(row.get("failure"), str) and row["failure"] else "")
            for label, row in failed.iterrows()
        ]
        summary = f"{len(failed)} of {len(shown)} episodes did not finish: " + "; ".join(items)
    body = f'<p class="verdict">{html.escape(summary)}</p>' + _table_html(shown)
    return _section(title, body)


def _data_sections(data: ReportData | None) -> list[str]:
    titles = ("Data overview", "Technical indicators", "Fourier components", "Feature importance")
    if data is None:
        return [_section(title, missing("no prepared data was given")) for title in titles]
    split = data.task.split
    dates = [split.train_end, split.val_end]
    frame = data.features.frame
    makers: tuple[Callable[[], Any], ...] = (
        lambda: plots.data_overview(data.task.panel, dates),
        lambda: plots.indicators(frame),
        lambda: plots.fourier_components(frame),
        lambda: plots.feature_importance(data.features.artifacts),
    )
    notes = (split.describe(), "", "", "")
    return [
        _figure_section(title, make, note) for title, make, note in zip(titles, makers, notes, strict=True)
    ]


def _fan_sections(data: ReportData | None, forecasts: Sequence[Forecast]) -> list[str]:
    sampling = [f for f in forecasts if f.samples is not None and np.size(f.samples)]
    if data is not None and sampling:
        return [_fan_section(data, forecast) for forecast in sampling]
    why = "no prepared data was given" if data is None else "no forecast gives a distribution"
    return [_section("Fan chart", missing(why))]


DISTRIBUTION_TABLE_COLUMNS = (
    "samples",
    "crps",
    "crps_rel",
    "crps_skill",
    "coverage_50",
    "coverage_80",
    "coverage_90",
    "coverage_95",
    "interval_score_90",
    "pinball_05",
    "pinball_50",
    "pinball_95",
    "pit_pvalue",
    "sample_sd",
    "crps_dm_stat",
    "crps_dm_pvalue",
)


def _distribution_sections(leaderboard: Leaderboard) -> list[str]:
    title = "Forecast distributions (test days)"
    table = leaderboard.distributions
    if table.empty:
        return [_section(title, missing("no model gives a forecast distribution"))]
    shown = table[[c for c in DISTRIBUTION_TABLE_COLUMNS if c in table.columns]]
    note = (
        "CRPS: fair ensemble estimator (lower is better); CRPS rel: CRPS / that of a zero-mean Gaussian "
        "with the trailing 60-day sd on the same days (< 1 beats it); skill = 1 - CRPS rel; coverage of the "
        "central intervals (a calibrated model covers its level); IS90: interval (Winkler) score of the 90 % "
        "interval; PIT p: Kolmogorov-Smirnov uniformity of the PIT; DM: Diebold-Mariano on per-day CRPS vs "
        f"{leaderboard.crps_benchmark or 'the best simple probabilistic baseline'} (negative = better)."
    )
    return [
        _section(title, _table_html(shown), note),
        _figure_section("PIT histograms", lambda: plots.pit_histograms(leaderboard.pits)),
        _figure_section("Reliability diagram", lambda: plots.reliability_diagram(leaderboard.pits)),
    ]


MH_COLUMNS = ("mh_acceptance", "critic_auc", "turner_z")


def _mh_sections(forecasts: Sequence[Forecast]) -> list[str]:
    title = "Metropolis-Hastings diagnostics"
    rows = {f.model: [f.extra[c] for c in MH_COLUMNS] for f in forecasts if "mh_acceptance" in f.extra}
    if not rows:
        return [_section(title, missing("no forecast of this run was selected by Metropolis-Hastings"))]
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(MH_COLUMNS)).rename_axis("model")
    note = (
        "acceptance: share of MH proposals accepted on the test days (1: MH changes nothing); critic AUC and "
        "Turner's Z (about N(0, 1) when the calibrated critic is calibrated) on validation windows the "
        "isotonic calibration did not see. A well-calibrated generator leaves an optimal critic at AUC 0.5. "
        "A row that chooses between MH's samples and the raw draws (gan) shows these only for the folds "
        "where it is MH's samples (mean over them); see the note above the leaderboard."
    )
    return [
        _section(title, _table_html(table), note),
        _figure_section("MH critic reliability", lambda: plots.critic_reliability(forecasts)),
    ]


def _leaderboard_sections(config: ExperimentConfig, leaderboard: Leaderboard) -> list[str]:
    notes = "".join(f"<p>{html.escape(line)}</p>" for line in leaderboard.notes.values())
    verdicts = notes + "".join(
        f'<p class="verdict">{html.escape(line)}</p>' for line in leaderboard.verdicts.values()
    )
    note = (
        "relMAE (MAE / persistence's on the same days) < 1 beats persistence (tomorrow = today); MASE px: "
        "Hyndman-Koehler's, scaled by the training span's one-step naive MAE. PT: Pesaran-Timmermann "
        "one-sided p-value of the direction; DM: Diebold-Mariano vs persistence (absolute loss, Harvey "
        "correction), negative = better."
    )
    costs = f"{config.evaluation.backtest.cost_bps:g} bps per unit of position change"
    return [
        _section("Leaderboard (test days)", verdicts + _table_html(leaderboard.table), note),
        _figure_section(
            "Lag diagnostic",
            lambda: plots.lag_profiles(leaderboard.lags),
            "correlation of each forecast with the realised return k days before its target day. Skill "
            "shows at k = 0: inside the band of +-1.96/sqrt(n) a forecast has no skill at 5 %; a peak at +1 "
            "means it echoes the return already known. 'repeats yesterday' (the leaderboard) is a "
            "price-level model whose price forecast correlates best with yesterday's close.",
        ),
        _figure_section("Equity curves", lambda: plots.equity_curves(leaderboard.backtests), costs),
    ]


def _comparison_section(leaderboard: Leaderboard) -> str:
    title = "Comparing all models at once"
    lines = leaderboard.comparison_lines()
    if not lines:
        return _section(title, missing("fewer than two models on the same days"))
    note = (
        "Model confidence set (Hansen, Lunde & Nason): the models not significantly worse than the best at "
        "10 %. SPA (Hansen) and Reality Check (White): p-value of 'no model beats the benchmark' after the "
        "search over all of them; StepM names the ones that do. Stationary block bootstrap, arch.bootstrap."
    )
    return _section(title, "".join(f"<p>{html.escape(line)}</p>" for line in lines), note)


def _tuning_sections(
    config: ExperimentConfig, episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None
) -> list[str]:
    """Tuning progress (the objective per episode, as the episodes logged it) and the episodes' table."""
    frame = _episodes_frame(episodes)
    objective = config.tuning.objective
    note = f"{objective} of each tuning episode (index: the episode), lower is better, and the best so far"
    sections = [_figure_section("Tuning progress", lambda: plots.tuning_progress(frame, objective), note)]
    if frame is not None and "status" in frame and not frame.empty:
        sections.append(_episodes_section(frame, objective))
    return sections


@dataclass(frozen=True)
class FoldsView:
    """The walk-forward view: one row per (fold, seed, model) and the mean +- std over folds x seeds."""

    table: pd.DataFrame
    summary: pd.DataFrame
    note: str
    drift: pd.DataFrame | None = None  # evaluation.drift.DriftReport.table


DRIFT_NOTE = (
    "Share of each fold's validation and test rows outside that fold's training 0.5-99.5 % quantiles "
    "(about 1 % for a feature whose distribution does not change; a price level lies outside on most later "
    "days). Worst {shown} of {total} features, pooled over folds; above {bound:.0%} pooled is warned about."
)


def _drift_section(drift: pd.DataFrame | None) -> str:
    title = "Feature drift"
    if drift is None:
        return _section(title, missing("no drift diagnostic in this run"))
    if drift.empty:
        return _section(title, missing("the models read no features (the target's history alone)"))
    from gan_trader.evaluation.drift import WARN_SHARE

    shown = drift.head(30)
    return _section(
        title, _table_html(shown, 3), DRIFT_NOTE.format(shown=len(shown), total=len(drift), bound=WARN_SHARE)
    )


def _folds_sections(folds: FoldsView | None) -> list[str]:
    title = "Folds and seeds"
    if folds is None or folds.table.empty:
        return [_section(title, missing("no walk-forward folds in this run"))]
    shown = folds.summary.copy()
    shown.columns = [f"{metric} {stat}" for metric, stat in shown.columns]
    return [
        _section(title, _table_html(shown), folds.note),
        _figure_section("Per fold", lambda: plots.fold_multiples(folds.table)),
        _section("Per fold and seed", _table_html(folds.table.set_index(["fold", "seed", "model"]))),
        _drift_section(folds.drift),
    ]


def _selection_section(selection: str | None) -> str:
    title = "The tuning's many tries"
    if not selection:
        return _section(title, missing("no tuning session in this run"))
    note = (
        "Deflated Sharpe ratio (Bailey & López de Prado): probability that the selected episode's validation "
        "backtest beats the best of N no-skill tries; PBO (CSCV): probability that the in-sample best ranks "
        "below the median out of sample. Below ten episodes neither means anything."
    )
    return _section(title, f"<p>{html.escape(selection)}</p>", note)


def render_report(
    *,
    config: ExperimentConfig,
    data: ReportData | None,
    leaderboard: Leaderboard,
    forecasts: Sequence[Forecast],
    episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    figures: Mapping[str, FigureSource] | None = None,
    folds: FoldsView | None = None,
    selection: str | None = None,
) -> str:
    """The report as one HTML string (see `write_report`)."""
    sections = [
        *_data_sections(data),
        _checks_section(data),
        _predicted_vs_real(figures),
        *_leaderboard_sections(config, leaderboard),
        *_distribution_sections(leaderboard),
        *_mh_sections(forecasts),
        _comparison_section(leaderboard),
        *_fan_sections(data, forecasts),
        *_folds_sections(folds),
        _selection_section(selection),
        *_tuning_sections(config, episodes),
    ]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"<h1>gan-trader report: {html.escape(config.name)}</h1>"
        f'<p class="meta">target {html.escape(config.data.target)}, seed {config.seed}, '
        f"gan-trader {__version__}, {stamp}</p>"
        f'<p class="verdict">{html.escape(leaderboard.verdict)}</p>'
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>gan-trader report: {html.escape(config.name)}</title><style>{STYLE}</style></head>"
        f"<body>{header}{''.join(sections)}</body></html>\n"
    )


def write_report(
    path: str | Path,
    *,
    config: ExperimentConfig,
    data: ReportData | None,
    leaderboard: Leaderboard,
    forecasts: Sequence[Forecast],
    episodes: pd.DataFrame | Sequence[Mapping[str, Any]] | None = None,
    figures: Mapping[str, FigureSource] | None = None,
    folds: FoldsView | None = None,
    selection: str | None = None,
) -> Path:
    """Write the self-contained HTML report atomically and return its path.

    :param episodes: one row (or mapping) of final metrics per tuning episode, in index order.
    :param figures: per-epoch "predicted vs real" figures (matplotlib Figures or image paths) by name.
    """
    text = render_report(
        config=config,
        data=data,
        leaderboard=leaderboard,
        forecasts=forecasts,
        episodes=episodes,
        figures=figures,
        folds=folds,
        selection=selection,
    )
    target = Path(path)
    write_text(target, text)
    return target
