"""Figures for the report. Each function returns a matplotlib Figure (Agg backend) or raises `Unavailable`.

`Unavailable` carries a plain reason ("no Fourier builder in this run"); the report prints it in place of
the figure, so a missing input is never drawn as an empty or invented plot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from gan_trader.data.panel import Panel  # noqa: E402
from gan_trader.evaluation.backtest import BacktestResult  # noqa: E402
from gan_trader.evaluation.lag import LagDiagnostic  # noqa: E402
from gan_trader.features.base import Artifact  # noqa: E402
from gan_trader.models.base import Forecast, ForecastTask  # noqa: E402


class Unavailable(Exception):
    """A figure cannot be drawn from this run's inputs; the message says why."""


def _figure(width: float = 10.0, height: float = 4.0, rows: int = 1) -> tuple[Figure, Any]:
    figure, axes = plt.subplots(rows, 1, figsize=(width, height), squeeze=rows == 1, sharex=rows > 1)
    return figure, axes


def data_overview(panel: Panel, split_dates: Sequence[pd.Timestamp] = ()) -> Figure:
    """Target close (with split boundaries) and the correlated assets rebased to 1."""
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(panel.close.index, panel.close.to_numpy(), color="black", lw=0.8)
    for date in split_dates:
        top.axvline(date, color="tab:red", ls="--", lw=0.8)
    top.set_title(f"{panel.target} close (dashed: train / validation / test boundaries)")
    for column in panel.asset_columns:
        series = panel.frame[column].dropna()
        if len(series):
            bottom.plot(series.index, series / series.iloc[0], lw=0.5, alpha=0.6)
    bottom.set_yscale("log")
    bottom.set_title(f"{len(panel.asset_columns)} correlated series, rebased to 1 (log scale)")
    figure.tight_layout()
    return figure


def _columns(frame: pd.DataFrame, prefix: str) -> list[str]:
    return [c for c in frame.columns if str(c).startswith(prefix)]


def indicators(frame: pd.DataFrame, last_days: int = 400) -> Figure:
    """Technical indicators on the price scale over the last `last_days` days."""
    columns = _columns(frame, "technical.")
    if not columns:
        raise Unavailable("no technical builder in this run")
    recent = frame.iloc[-last_days:]
    close_scale = recent["close"].abs().median()
    # Price-like indicators share the close's scale; oscillators (MACD, momentum) go to the lower panel.
    level = [c for c in columns if abs(recent[c].median() / close_scale - 1) < 0.5]
    other = [c for c in columns if c not in level]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    top.plot(recent.index, recent["close"], color="black", lw=1.2, label="close")
    for column in level:
        top.plot(recent.index, recent[column], lw=0.8, label=column.removeprefix("technical."))
    top.legend(fontsize=7, ncol=4)
    top.set_title(f"technical indicators, last {len(recent)} days")
    for column in other:
        bottom.plot(recent.index, recent[column], lw=0.8, label=column.removeprefix("technical."))
    if other:
        bottom.legend(fontsize=7, ncol=4)
    figure.tight_layout()
    return figure


def fourier_components(frame: pd.DataFrame) -> Figure:
    """Causal Fourier reconstructions (trailing window ending at t) against the close."""
    columns = _columns(frame, "fourier.")
    if not columns:
        raise Unavailable("no Fourier builder in this run")
    figure, axis = _figure()
    axis.plot(frame.index, frame["close"], color="black", lw=1.0, label="close")
    for column in columns:
        axis.plot(frame.index, frame[column], lw=0.7, label=column.removeprefix("fourier."))
    axis.legend(fontsize=7)
    axis.set_title("Fourier components (causal, trailing window)")
    figure.tight_layout()
    return figure


def find_artifact(artifacts: Sequence[Artifact], name: str) -> Artifact | None:
    return next((a for a in artifacts if a.name == name), None)


def feature_importance(artifacts: Sequence[Artifact], top: int = 25) -> Figure:
    """XGBoost gain importances (next-day target, fitted on the training span)."""
    artifact = find_artifact(artifacts, "feature_importance")
    if artifact is None or artifact.table is None or artifact.table.empty:
        raise Unavailable("no importance builder in this run")
    table = artifact.table.sort_values("gain", ascending=False).head(top).iloc[::-1]
    figure, axis = _figure(10, max(3.0, 0.25 * len(table)))
    colours = ["tab:blue" if s else "tab:gray" for s in table.get("selected", [True] * len(table))]
    axis.barh(table["feature"].astype(str), table["gain"], color=colours)
    axis.set_title(f"feature importance (XGBoost gain; top {len(table)}, grey: not selected)")
    axis.tick_params(axis="y", labelsize=7)
    figure.tight_layout()
    return figure


def fan_chart(task: ForecastTask, forecast: Forecast, last_days: int = 120) -> Figure:
    """The forecast distribution of the next-day log return (5-95 % and 25-75 % bands, median) against the
    realised return, last `last_days` test days. Return space, so a daily spread is visible at any price."""
    if forecast.samples is None or not np.size(forecast.samples):
        raise Unavailable(f"{forecast.model} has no samples (not a sampling model)")
    keep = slice(-last_days, None)
    samples = np.asarray(forecast.samples, float)[keep]
    dates = forecast.target_dates[keep]
    close = task.close
    realised = np.log(close.loc[dates].to_numpy() / close.loc[forecast.origins[keep]].to_numpy())
    q05, q25, q50, q75, q95 = np.quantile(samples, [0.05, 0.25, 0.5, 0.75, 0.95], axis=1)
    inside = np.mean((realised >= q05) & (realised <= q95))
    figure, axis = _figure()
    axis.fill_between(dates, q05, q95, color="tab:blue", alpha=0.25, step="mid", label="5-95 %")
    axis.fill_between(dates, q25, q75, color="tab:blue", alpha=0.45, step="mid", label="25-75 %")
    axis.plot(dates, q50, color="tab:blue", lw=0.8, label="median")
    axis.scatter(dates, realised, color="black", s=6, zorder=3, label="realised return")
    axis.axhline(0.0, color="grey", lw=0.5)
    axis.legend(fontsize=7, ncol=4)
    axis.set_ylabel("next-day log return")
    axis.set_title(
        f"{forecast.model}: forecast distribution, last {len(dates)} test days "
        f"({inside:.0%} inside the 90 % band)"
    )
    figure.tight_layout()
    return figure


def pit_histograms(pits: Mapping[str, np.ndarray], bins: int = 10) -> Figure:
    """PIT histogram per sampling model: flat is calibrated, U-shaped too narrow, a hump too wide."""
    if not pits:
        raise Unavailable("no model gives a forecast distribution")
    columns = min(4, len(pits))
    rows = -(-len(pits) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), squeeze=False)
    for axis, (model, values) in zip(axes.flat, pits.items(), strict=False):
        axis.hist(values, bins=bins, range=(0, 1), density=True, color="tab:blue", alpha=0.7)
        axis.axhline(1.0, color="black", lw=0.8, linestyle="--")
        axis.set_title(model, fontsize=9)
        axis.set_xlim(0, 1)
    for axis in list(axes.flat)[len(pits) :]:
        axis.set_visible(False)
    figure.suptitle("PIT histograms (test days; dashed: a calibrated model)", fontsize=10)
    figure.tight_layout()
    return figure


def reliability_diagram(pits: Mapping[str, np.ndarray]) -> Figure:
    """Share of outcomes at or below each quantile, against its level (diagonal: calibrated)."""
    if not pits:
        raise Unavailable("no model gives a forecast distribution")
    levels = np.linspace(0.05, 0.95, 19)
    figure, axis = _figure(5.5, 5.0)
    axis.plot([0, 1], [0, 1], color="black", lw=0.8, linestyle="--", label="calibrated")
    for model, values in pits.items():
        observed = [float(np.mean(np.asarray(values) <= level)) for level in levels]
        axis.plot(levels, observed, marker="o", ms=3, lw=1, label=model)
    axis.set_xlabel("forecast quantile level")
    axis.set_ylabel("share of outcomes below it")
    axis.legend(fontsize=7)
    axis.set_title("Reliability (test days)")
    figure.tight_layout()
    return figure


def lag_profiles(lags: Mapping[str, LagDiagnostic]) -> Figure:
    """Correlation of each forecast with the realised value shifted by -5..+5 days; peak marked; in return
    space, the band of a zero correlation shaded."""
    usable = {m: d for m, d in lags.items() if d.peak_lag is not None}
    if not usable:
        raise Unavailable("no forecast varies enough to correlate")
    figure, axis = _figure(8, 4)
    for model, diagnostic in usable.items():
        series = diagnostic.correlations
        line = axis.plot(series.index, series.to_numpy(), marker="o", ms=3, lw=1, label=model)[0]
        axis.plot(
            [diagnostic.peak_lag],
            [series.loc[diagnostic.peak_lag]],
            marker="*",
            ms=12,
            color=line.get_color(),
        )
    axis.axvline(0, color="black", lw=0.6)
    axis.axvline(1, color="tab:red", lw=0.6, ls="--")
    first = next(iter(usable.values()))
    if first.space == "return" and np.isfinite(first.skill_band):
        axis.axhspan(-first.skill_band, first.skill_band, color="grey", alpha=0.2, label="no skill (95 %)")
    value = "return" if first.space == "return" else "close"
    axis.set_xlabel(f"k: corr(forecast for day d, realised {value} on day d - k)")
    axis.legend(fontsize=7)
    axis.set_title(f"lag diagnostic ({first.space} space)")
    figure.tight_layout()
    return figure


def equity_curves(backtests: Mapping[str, Mapping[str, BacktestResult]], mode: str = "long_flat") -> Figure:
    """Equity of each model's `mode` strategy against buy-and-hold, after costs."""
    if not backtests:
        raise Unavailable("no backtest in this run")
    figure, axis = _figure()
    buy_hold = next(iter(backtests.values()))["buy_hold"]
    axis.plot(buy_hold.equity.index, buy_hold.equity.to_numpy(), color="black", lw=1.2, label="buy and hold")
    for model, results in backtests.items():
        if model == "persistence":
            continue  # always flat: a horizontal line at 1
        result = results[mode]
        axis.plot(result.equity.index, result.equity.to_numpy(), lw=0.8, label=model)
    axis.legend(fontsize=7)
    axis.set_title(f"equity curves, {mode.replace('_', '/')} on the forecast sign, after costs")
    figure.tight_layout()
    return figure


def tuning_progress(episodes: pd.DataFrame, objective: str = "val/crps_rel") -> Figure:
    """Objective per episode and best so far (episodes: one row per episode, index = episode index)."""
    if episodes is None or episodes.empty or objective not in episodes.columns:
        raise Unavailable(f"no episode metrics with '{objective}' were given")
    values = episodes[objective].astype(float)
    figure, axis = _figure(8, 4)
    axis.plot(values.index, values.to_numpy(), marker="o", lw=0.8, label=objective)
    axis.plot(values.index, values.cummin().to_numpy(), color="tab:green", lw=1.5, label="best so far")
    axis.set_xlabel("episode")
    axis.legend(fontsize=7)
    axis.set_title("tuning progress")
    figure.tight_layout()
    return figure


def critic_reliability(forecasts: Sequence[Forecast]) -> Figure:
    """The MH critic's calibration on held-out validation windows: share of real values against the
    calibrated P(real) (diagonal: calibrated; the points bunch at 0.5 when the critic cannot tell real from
    generated values), with its AUC, Turner's Z and the chains' acceptance rate in the legend."""
    curves = [f for f in forecasts if np.size(f.extra.get("critic_reliability", [])) > 0]
    if not curves:
        raise Unavailable("no forecast of this run was selected by Metropolis-Hastings")
    # The forecasts of one model (its selected forecast and its MH row) share one critic: drawn once.
    by_critic: dict[bytes, list[Forecast]] = {}
    for forecast in curves:
        by_critic.setdefault(np.asarray(forecast.extra["critic_reliability"], float).tobytes(), []).append(
            forecast
        )
    figure, axis = _figure(5.5, 5.0)
    axis.plot([0, 1], [0, 1], color="black", lw=0.8, linestyle="--", label="calibrated")
    for group in by_critic.values():
        extra = group[0].extra
        rows = np.asarray(extra["critic_reliability"], float)
        label = (
            f"{', '.join(f.model for f in group)}: AUC {extra.get('critic_auc', np.nan):.3f}, "
            f"Z {extra.get('turner_z', np.nan):.2f}, acceptance {extra.get('mh_acceptance', np.nan):.3f}"
        )
        axis.scatter(rows[:, 0], rows[:, 1], s=8 + 60 * rows[:, 2] / rows[:, 2].max(), label=label)
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("calibrated critic: P(real)")
    axis.set_ylabel("share of real values (marker size: count)")
    axis.legend(fontsize=7)
    axis.set_title("MH critic reliability (held-out validation windows)")
    figure.tight_layout()
    return figure


def fold_multiples(table: pd.DataFrame, metrics: Sequence[str] = ("relmae", "crps_rel")) -> Figure:
    """Small multiples: one panel per score, its value per fold (x) for each model (mean over seeds)."""
    shown = [m for m in metrics if m in table.columns and table[m].notna().any()]
    if not shown:
        raise Unavailable("no per-fold scores to draw")
    figure, axes = plt.subplots(1, len(shown), figsize=(5.5 * len(shown), 3.8), squeeze=False)
    for axis, metric in zip(axes[0], shown, strict=True):
        means = table.groupby(["model", "fold"])[metric].mean().unstack("fold").dropna(how="all")
        for model, row in means.iterrows():
            axis.plot(row.index, row.to_numpy(float), marker="o", ms=3, lw=1, label=str(model))
        axis.axhline(1.0, color="grey", lw=0.8, linestyle="--")
        axis.set_xlabel("fold")
        axis.set_title(f"{metric} per fold (1 = the reference)")
    axes[0][-1].legend(fontsize=6, ncol=2)
    figure.tight_layout()
    return figure
