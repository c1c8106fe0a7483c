"""The leaderboard: every forecast scored on the same test days, points against persistence and
distributions against simple probabilistic baselines.

One row per model: MAE / RMSE / relmae in return space, MAE / RMSE / MAPE / relmae / Hyndman's MASE in price
space, directional accuracy with the Pesaran-Timmermann p-value, Diebold-Mariano against persistence
(absolute loss, the loss relmae measures), the lag diagnostic and backtest figures. relmae is the MAE over
persistence's MAE on the same test days (persistence = 1); MASE scales by the training span's one-step naive
MAE (Hyndman & Koehler), see models/scoring.py. Models that give a distribution (samples) also get
the fair CRPS, `crps_rel` (CRPS / the trailing-60-day Gaussian's on the same days) and its skill, pinball
losses, coverage and interval scores of the 50/80/90/95 % central intervals, the PIT uniformity p-value, and
Diebold-Mariano on per-day CRPS against the best simple probabilistic baseline of the run, and one-sided
Diebold-Mariano p-values on per-day CRPS against each model named in `evaluation.references` (garch_t and the
same-information har_t by default): `p_better_<reference>` is small when the model's CRPS is significantly
lower than the reference's ("is it better?").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.config import EvaluationConfig
from gan_trader.evaluation.backtest import BacktestResult, backtest_forecast
from gan_trader.evaluation.comparison import (
    ModelConfidenceSet,
    SuperiorityTest,
    model_confidence_set,
    superiority_test,
)
from gan_trader.evaluation.lag import LagDiagnostic, lag_diagnostic
from gan_trader.evaluation.stats_tests import diebold_mariano, dm_test, giacomini_white, pesaran_timmermann
from gan_trader.models.base import USES_MH, Forecast, ForecastTask
from gan_trader.models.baselines.distributions import PROBABILISTIC_BASELINES
from gan_trader.models.scoring import (
    MIN_SAMPLES,
    directional_accuracy,
    distribution_metrics,
    forecast_crps,
    hyndman_mase,
    mape,
    pit_values,
    realised_returns,
    reference_crps,
    relmae,
    training_close,
)

PERSISTENCE = "persistence"
REFERENCE_MODEL = "gauss_60d"  # the distribution every crps_rel is relative to
# Numeric diagnostics a forecast carries in `extra` and the leaderboard shows: MH acceptance rate, the
# critic's validation AUC (real vs generated) and Turner's Z statistic of its calibration.
DIAGNOSTICS = ("mh_acceptance", "critic_auc", "turner_z")

# Columns shown by the compact printer, with their headers (all columns stay in `table`).
SUMMARY_COLUMNS = {
    "relmae": "relMAE",
    "price_relmae": "relMAE px",
    "mase": "MASE px",
    "price_mape": "MAPE %",
    "directional_accuracy": "DirAcc",
    "pt_pvalue": "PT p",
    "dm_stat": "DM",
    "dm_pvalue": "DM p",
    "gw_pvalue": "GW p",
    "in_mcs": "MCS",
    "no_skill": "no skill",
    "repeats_yesterday": "repeats",
    "long_flat_sharpe": "LF Sharpe",
    "long_flat_cagr": "LF CAGR",
}


# The distribution view: models with samples, best crps_rel first.
DISTRIBUTION_COLUMNS = {
    "samples": "K",
    "crps": "CRPS",
    "crps_rel": "CRPS rel",
    "crps_skill": "skill",
    "coverage_50": "cov50",
    "coverage_90": "cov90",
    "interval_score_90": "IS90",
    "pit_pvalue": "PIT p",
    "crps_dm_stat": "DM",
    "crps_dm_pvalue": "DM p",
    "in_mcs_crps": "MCS",
    "mh_acceptance": "MH acc",
    "critic_auc": "AUC",
}


@dataclass
class Leaderboard:
    """Scores (one row per model), a verdict per model and the backtests / lag profiles behind them.

    `pits` and `crps_by_day` hold, for every model with samples, its per-day PIT values and CRPS.
    """

    table: pd.DataFrame
    verdicts: dict[str, str]
    backtests: dict[str, dict[str, BacktestResult]] = field(default_factory=dict)
    lags: dict[str, LagDiagnostic] = field(default_factory=dict)
    primary: str | None = None
    pits: dict[str, np.ndarray] = field(default_factory=dict)
    crps_by_day: dict[str, np.ndarray] = field(default_factory=dict)
    crps_benchmark: str | None = None  # the best simple probabilistic baseline, DM's reference
    references: list[str] = field(default_factory=list)  # evaluation.references present in this run
    comparisons: dict[str, ModelConfidenceSet | SuperiorityTest] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # what a row is, where its name does not say it all

    def comparison_lines(self) -> list[str]:
        """One line per multiple-comparison result: MCS and SPA on absolute errors and on CRPS."""
        titles = {
            "mcs_points": "points (absolute error)",
            "spa_points": "points (absolute error)",
            "mcs_crps": "distributions (CRPS)",
            "spa_crps": "distributions (CRPS)",
        }
        return [f"{titles[key]}: {result.describe()}" for key, result in self.comparisons.items()]

    @property
    def verdict(self) -> str:
        """The verdict line of the primary model (the first non-persistence forecast given)."""
        if self.primary is None:
            return "no model besides persistence was evaluated"
        return self.verdicts[self.primary]

    def to_rich(self, columns: dict[str, str] | None = None) -> Any:
        """A rich Table of the main columns, best relmae first."""
        from rich.table import Table

        columns = columns or SUMMARY_COLUMNS
        table = Table(title="Leaderboard (test days; relMAE < 1 beats persistence)")
        table.add_column("model", style="bold", no_wrap=True)
        shown = [c for c in columns if c in self.table.columns]
        for column in shown:
            table.add_column(columns[column], justify="right")
        for model, row in self.table.sort_values("relmae").iterrows():
            style = "green" if row["relmae"] < 1 else None
            table.add_row(str(model), *(_format(row[c]) for c in shown), style=style)
        return table

    @property
    def distributions(self) -> pd.DataFrame:
        """The rows of models that give a distribution, best crps_rel first."""
        if "crps_rel" not in self.table:
            return self.table.iloc[0:0]
        return self.table[self.table["crps"].notna()].sort_values("crps_rel")

    def distribution_rich(self) -> Any:
        """A rich Table of the distribution scores (crps_rel < 1 beats the trailing-60-day Gaussian)."""
        from rich.table import Table

        reference = self.crps_benchmark or "-"
        headers = dict(DISTRIBUTION_COLUMNS)
        headers.update({f"p_better_{r}": f"p<{r}" for r in self.references})
        named = "; p<X: one-sided DM, is it better than X" if self.references else ""
        title = f"Distributions (test days; CRPS rel < 1 beats the 60-day Gaussian; DM vs {reference}{named})"
        table = Table(title=title)
        table.add_column("model", style="bold", no_wrap=True)
        shown = [c for c in headers if c in self.table.columns]
        for column in shown:
            table.add_column(headers[column], justify="right")
        for model, row in self.distributions.iterrows():
            style = "green" if row["crps_rel"] < 1 else None
            table.add_row(str(model), *(_format(row[c]) for c in shown), style=style)
        return table

    def print(self, console: Any = None) -> None:
        from rich.console import Console

        console = console or Console()
        console.print(self.to_rich())
        if not self.distributions.empty:
            console.print(self.distribution_rich())
        for line in [*self.notes.values(), *self.verdicts.values(), *self.comparison_lines()]:
            console.print(line)


def _format(value: Any) -> str:
    if value is pd.NA:
        return "-"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return "-"
        number = float(value)
        return f"{number:.4f}" if abs(number) < 1000 else f"{number:.3g}"
    return str(value)


def dm_missing_reason(row: pd.Series) -> str:
    """Why Diebold-Mariano against persistence gave no p-value for this row."""
    if int(row.get("days", 0)) < 3:
        return "fewer than 3 days"
    if not np.isfinite(row.get("directional_accuracy", np.nan)):  # the forecast never leaves zero
        return "it forecasts a zero return every day, as persistence does: nothing to test"
    return "its absolute errors differ from persistence's by the same amount every day (or are not finite)"


def verdict_line(model: str, row: pd.Series) -> str:
    """'MODEL beats persistence on relMAE: yes/no (relMAE x, DM p = y) — significant or not' in plain
    words; a missing DM p-value says why."""
    if model == PERSISTENCE:
        return f"{model}: the reference (relMAE 1 by construction)"
    beats = row["relmae"] < 1
    pvalue = row["dm_pvalue"]
    if not np.isfinite(pvalue):
        test, note = f"Diebold-Mariano: no p-value, {dm_missing_reason(row)}", ""
    else:
        test = f"Diebold-Mariano p = {pvalue:.3g}"
        if pvalue < 0.05:
            note = " — significant at 5 %" if beats else " — significantly worse at 5 %"
        else:
            note = " — not significant"
    answer = "yes" if beats else "no"
    line = f"{model} beats persistence on relMAE: {answer} (relMAE {row['relmae']:.4f}, {test}){note}"
    if np.isfinite(row.get("crps_rel", np.nan)):
        line += (
            f"; distribution: CRPS rel {row['crps_rel']:.4f} (< 1 beats the 60-day Gaussian), "
            f"90 % coverage {row['coverage_90']:.3f}"
        )
        if int(row.get("samples", 0)) < MIN_SAMPLES:
            line += f" from only {int(row['samples'])} samples per day (quantiles and coverage are biased)"
    return line


def samples_note(forecast: Forecast) -> str | None:
    """What the samples of a forecast that chooses between MH and its raw draws are (the `gan` row), per
    fold when it was refitted per walk-forward fold; None for any other forecast."""
    if USES_MH not in forecast.extra:
        return None
    flags = np.atleast_1d(np.asarray(forecast.extra[USES_MH], float))
    name = forecast.model
    rule = "whichever had the lower CRPS on held-out validation windows"
    if flags.size == 1:
        which = "MH's samples" if flags[0] == 1 else "the raw draws (no MH step)"
        return (
            f"{name}: {which}, of MH's samples and the raw draws {rule}; "
            f"{name}_mh and {name}_raw are each alone"
        )
    folds = {
        "MH's samples": [str(i) for i, f in enumerate(flags) if f == 1],
        "the raw draws": [str(i) for i, f in enumerate(flags) if f == 0],
    }
    parts = [
        f"{what} on fold{'s' if len(ids) > 1 else ''} {', '.join(ids)}" for what, ids in folds.items() if ids
    ]
    mixed = " (so over all folds it matches neither row)" if all(folds.values()) else ""
    return (
        f"{name}: per fold, MH's samples or the raw draws, {rule}: {'; '.join(parts)}{mixed}; "
        f"{name}_mh and {name}_raw are each alone on every fold; its MH diagnostics come from its MH folds"
    )


def score_forecast(
    task: ForecastTask, forecast: Forecast, config: EvaluationConfig
) -> tuple[dict[str, Any], dict[str, BacktestResult], LagDiagnostic]:
    """Every leaderboard figure of one forecast, with its backtests and lag profile."""
    close = task.close
    anchor = close.loc[forecast.origins].to_numpy(dtype=float)
    actual_price = close.loc[forecast.target_dates].to_numpy(dtype=float)
    actual_return = np.log(actual_price / anchor)
    zero = np.zeros_like(actual_return)
    error = forecast.log_return - actual_return
    price_error = forecast.price - actual_price
    pt = pesaran_timmermann(actual_return, forecast.log_return)
    dm = diebold_mariano(actual_return, forecast.log_return, zero, loss="absolute")
    row: dict[str, Any] = {
        "days": len(actual_return),
        "mae": float(np.mean(np.abs(error))),
        "rmse": float(np.sqrt(np.mean(error**2))),
        "relmae": relmae(actual_return, forecast.log_return, zero),
        "price_mae": float(np.mean(np.abs(price_error))),
        "price_rmse": float(np.sqrt(np.mean(price_error**2))),
        "price_mape": mape(actual_price, forecast.price),
        "price_relmae": relmae(actual_price, forecast.price, anchor),
        "mase": hyndman_mase(actual_price, forecast.price, training_close(task)),
        # A forecast that never leaves zero (persistence) has no direction to score.
        "directional_accuracy": (
            directional_accuracy(actual_return, forecast.log_return)
            if np.any(forecast.log_return != 0)
            else np.nan
        ),
        "pt_stat": pt.statistic,
        "pt_pvalue": pt.pvalue,
        "dm_stat": dm.statistic,
        "dm_pvalue": dm.pvalue,
        "crps": np.nan,
    }
    if config.giacomini_white:
        gw = giacomini_white(np.abs(error), np.abs(actual_return))  # persistence's error is |r|
        row.update(gw_stat=gw.statistic, gw_pvalue=gw.pvalue)
    if has_samples(forecast):
        samples = np.asarray(forecast.samples, float)
        row["samples"] = samples.shape[1]
        crps = forecast_crps(task, forecast)
        row.update(distribution_metrics(actual_return, samples, reference_crps(task, forecast), crps=crps))
    for key in DIAGNOSTICS:  # what a model reports of itself (the GAN's MH step and critic)
        value = forecast.extra.get(key)
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            row[key] = float(value)
    lag_price = lag_diagnostic(task, forecast, "price")
    lag = lag_diagnostic(task, forecast, "return")
    row["lag_peak_return"] = lag.peak_lag
    row["lag0_correlation"] = lag.correlations.get(0, np.nan)
    row["no_skill"] = lag.no_skill
    row["lags_behind"] = lag.lags_behind
    row["lag_peak_price"] = lag_price.peak_lag
    row["repeats_yesterday"] = lag_price.repeats_yesterday
    backtests = backtest_forecast(task, forecast, config.backtest.cost_bps, config.backtest.hold_days)
    for mode, result in backtests.items():
        for key in ("cagr", "sharpe", "max_drawdown", "hit_rate", "turnover"):
            row[f"{mode}_{key}"] = result.summary[key]
    return row, backtests, lag


def has_samples(forecast: Forecast) -> bool:
    return (
        forecast.samples is not None and np.ndim(forecast.samples) == 2 and np.shape(forecast.samples)[1] > 1
    )


def _compare_distributions(
    task: ForecastTask, forecasts: list[Forecast], table: pd.DataFrame
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str | None]:
    """Per-day CRPS and PIT of every sampling model, and DM on CRPS against the best simple baseline."""
    crps_by_day, pits = {}, {}
    for forecast in forecasts:
        if has_samples(forecast):
            actual = realised_returns(task, forecast)
            crps_by_day[forecast.model] = forecast_crps(task, forecast)
            pits[forecast.model] = pit_values(actual, np.asarray(forecast.samples, float))
    simple = [m for m in crps_by_day if m in PROBABILISTIC_BASELINES]
    benchmark = min(simple, key=lambda m: float(np.mean(crps_by_day[m]))) if simple else None
    for model, losses in crps_by_day.items():
        if benchmark is not None and model != benchmark:
            result = dm_test(losses, crps_by_day[benchmark])
            table.loc[model, ["crps_dm_stat", "crps_dm_pvalue"]] = result.statistic, result.pvalue
    return crps_by_day, pits, benchmark


def better_than_references(
    table: pd.DataFrame, crps_by_day: dict[str, np.ndarray], references: list[str]
) -> list[str]:
    """One-sided DM p-values on per-day CRPS, `p_better_<reference>` per sampling model ("is the model
    better than the reference?"); the references that ran, in order."""
    present = [r for r in references if r in crps_by_day]
    for reference in present:
        column = f"p_better_{reference}"
        table[column] = np.nan
        for model, losses in crps_by_day.items():
            if model != reference:
                result = dm_test(losses, crps_by_day[reference], alternative="less")
                table.loc[model, column] = result.pvalue
    return present


def _compare_models(
    task: ForecastTask, forecasts: list[Forecast], crps_by_day: dict[str, np.ndarray], seed: int = 0
) -> dict[str, ModelConfidenceSet | SuperiorityTest]:
    """MCS over all models and SPA against persistence on absolute errors; the same on per-day CRPS among
    the sampling models, against the trailing-60-day Gaussian when it is one of them."""
    results: dict[str, ModelConfidenceSet | SuperiorityTest] = {}
    errors = pd.DataFrame({f.model: np.abs(f.log_return - realised_returns(task, f)) for f in forecasts})
    if errors.shape[1] > 1:
        results["mcs_points"] = model_confidence_set(errors, seed=seed)
        results["spa_points"] = superiority_test(errors, PERSISTENCE, seed=seed)
    crps = pd.DataFrame(crps_by_day)
    if crps.shape[1] > 1:
        results["mcs_crps"] = model_confidence_set(crps, seed=seed)
        if REFERENCE_MODEL in crps:
            results["spa_crps"] = superiority_test(crps, REFERENCE_MODEL, seed=seed)
    return results


def persistence_forecast(task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
    return Forecast.from_returns(PERSISTENCE, task, origins, np.zeros(len(origins)))


def evaluate(
    task: ForecastTask, forecasts: list[Forecast], config: EvaluationConfig, compare: bool = True
) -> Leaderboard:
    """Score forecasts on their test days; persistence is added when it is not among them.

    :param compare: run the model confidence sets and SPA tests (bootstraps; off for per-fold views).
    """
    if not forecasts:
        raise ValueError("evaluate needs at least one forecast")
    names = [f.model for f in forecasts]
    duplicates = {n for n in names if names.count(n) > 1}
    if duplicates:
        raise ValueError(f"two forecasts are named {sorted(duplicates)[0]!r}; model names must be unique")
    primary = next((f.model for f in forecasts if f.model != PERSISTENCE), None)
    if PERSISTENCE not in names:
        forecasts = [*forecasts, persistence_forecast(task, forecasts[0].origins)]
    rows, backtests, lags = {}, {}, {}
    for forecast in forecasts:
        rows[forecast.model], backtests[forecast.model], lags[forecast.model] = score_forecast(
            task, forecast, config
        )
    table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    for column in ("lag_peak_price", "lag_peak_return", "samples"):
        if column in table:
            table[column] = table[column].astype("Int64")
    if any(has_samples(f) for f in forecasts):
        table["crps_dm_stat"], table["crps_dm_pvalue"] = np.nan, np.nan
    crps_by_day, pits, benchmark = _compare_distributions(task, forecasts, table)
    references = better_than_references(table, crps_by_day, list(config.references))
    comparisons = _compare_models(task, forecasts, crps_by_day) if compare else {}
    for key, column, models in (
        ("mcs_points", "in_mcs", table.index),
        ("mcs_crps", "in_mcs_crps", crps_by_day),
    ):
        result = comparisons.get(key)
        if isinstance(result, ModelConfidenceSet):
            table[column] = [m in result.included if m in models else pd.NA for m in table.index]
    verdicts = {model: verdict_line(str(model), row) for model, row in table.iterrows()}
    notes = {f.model: note for f in forecasts if (note := samples_note(f)) is not None}
    return Leaderboard(
        notes=notes,
        table=table,
        verdicts=verdicts,
        backtests=backtests,
        lags=lags,
        primary=primary,
        pits=pits,
        crps_by_day=crps_by_day,
        crps_benchmark=benchmark,
        comparisons=comparisons,
        references=references,
    )
