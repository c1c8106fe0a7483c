"""Feature benchmarks (SPEC section 11): the ARIMA filter vs daily refits, and the whole pipeline's time.

`bench_arima`: forecasts for every day after train_end, made (a) by fitting ARIMA once on the training span
and running the Kalman filter with those fixed parameters (the arima builder), or (b) by refitting the model
on the whole history every day, as the original did. (a) is timed in full. (b) is too slow to run in full
on the bundled panel, so its per-day cost is measured by actually refitting on days spread evenly over the
same span (quick: 4, full: 12) and multiplied by the number of days; the sampled days' times are in `details`.

`bench_pipeline`: every builder but sentiment, with the default experiment's parameters, on the bundled panel
(target <= 30 s) and on its last 1k, 2k and 4k days, reported as seconds per 1k days (linear growth keeps
that roughly constant). An untimed run on a short slice first pays the one-time costs (imports, torch's
first-call initialisation), so the sizes compare like with like. No cache is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gan_trader.bench import BenchResult
from gan_trader.config import ExperimentConfig, load_config
from gan_trader.data.panel import Panel
from gan_trader.data.splits import make_split
from gan_trader.features.arima import fit_arima, one_step_forecasts
from gan_trader.features.base import BuildContext
from gan_trader.features.pipeline import FeaturePipeline
from gan_trader.workflow.prepare import build_context, load_panel

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "experiments" / "default.yaml"

# The builders and parameters recommended for the default experiment; used when experiments/default.yaml
# does not exist (its features.builders win when it does).
RECOMMENDED_BUILDERS: dict[str, dict[str, Any]] = {
    "technical": {"rsi": True, "atr": True, "obv": True},
    "volatility": {},
    "assets": {},
    "fourier": {"window": 252, "components": [3, 6, 9, 100]},
    "arima": {"order": [5, 1, 0]},
    "autoencoder": {"hidden": [64, 32], "latent": 8, "epochs": 30, "batch_size": 256},
    "pca": {"prefix": "autoencoder.", "variance": 0.8},
    "anomaly": {"hidden": [16], "latent": 4, "epochs": 30, "batch_size": 256},
    "importance": {"n_estimators": 150, "learning_rate": 0.05, "gamma": 0.0},
    "checks": {"lags": [1, 5, 10]},
}

ARIMA_TARGET = 50.0
PIPELINE_TARGET_S = 30.0
GROWTH_TOLERANCE = 1.5


def _default_setup() -> tuple[ExperimentConfig, Panel, dict[str, dict[str, Any] | None]]:
    config = load_config(DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    builders: dict[str, dict[str, Any] | None] = (
        dict(config.features.builders) if DEFAULT_CONFIG.exists() else dict(RECOMMENDED_BUILDERS)
    )
    builders.pop("sentiment", None)
    return config, load_panel(config), builders


def bench_arima(quick: bool) -> list[BenchResult]:
    """Speed-up of the fixed-parameter filter over daily refits, for the forecasts after train_end."""
    config, panel, _builders = _default_setup()
    close = panel.close.to_numpy(float)
    split = make_split(panel.frame.index, config.split)
    train_rows = int(panel.frame.index.get_loc(split.train_end)) + 1
    order = (5, 1, 0)
    days = np.arange(train_rows - 1, len(close) - 1)  # forecast origins whose target day is after train_end

    started = time.perf_counter()
    params = fit_arima(close[:train_rows], order)
    forecasts = one_step_forecasts(close, order, params)
    filter_seconds = time.perf_counter() - started

    samples = 4 if quick else 12
    sampled = days[np.linspace(0, len(days) - 1, samples).round().astype(int)]
    refit_seconds, gaps = [], []
    for day in sampled:
        started = time.perf_counter()
        refit = fit_arima(close[: day + 1], order)
        refit_forecast = one_step_forecasts(close[: day + 1], order, refit)[-1]
        refit_seconds.append(time.perf_counter() - started)
        gaps.append(abs(refit_forecast - forecasts[day]))
    per_day = float(np.mean(refit_seconds))
    daily_total = per_day * len(days)
    ratio = daily_total / filter_seconds
    return [
        BenchResult(
            name="features/arima_speedup",
            value=ratio,
            unit="x",
            target=f">= {ARIMA_TARGET:.0f}x faster than refitting every day",
            ratio=ratio,
            passed=ratio >= ARIMA_TARGET,
            details={
                "order": list(order),
                "forecast_days": len(days),
                "filter_seconds_total": filter_seconds,
                "refit_seconds_per_day": per_day,
                "refit_seconds_sampled": refit_seconds,
                "refit_days_sampled": [str(panel.frame.index[d].date()) for d in sampled],
                "refit_seconds_total_estimated": daily_total,
                "mean_abs_forecast_difference": float(np.mean(gaps)),
            },
        )
    ]


def _timed_pipeline(
    builders: dict[str, dict[str, Any] | None],
    context: BuildContext,
    frame: pd.DataFrame,
    train_end: pd.Timestamp,
) -> tuple[float, float, dict[str, float], dict[str, float], int]:
    """Wall and CPU seconds of one uncached pipeline run, the same per builder, and the column count."""
    pipeline = FeaturePipeline(builders, context, cache_dir=None)
    wall_by_builder: dict[str, float] = {}
    cpu_by_builder: dict[str, float] = {}
    for builder in pipeline.builders:
        timed = _timer(builder.fit_transform, builder.name, wall_by_builder, cpu_by_builder)
        builder.fit_transform = timed  # type: ignore[method-assign]
    wall, cpu = time.perf_counter(), time.process_time()
    feature_set = pipeline.fit_transform(frame, train_end, use_cache=False)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return wall, cpu, wall_by_builder, cpu_by_builder, len(feature_set.columns)


def _timer(
    function: Callable[..., Any], name: str, wall: dict[str, float], cpu: dict[str, float]
) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        started, started_cpu = time.perf_counter(), time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            wall[name] = time.perf_counter() - started
            cpu[name] = time.process_time() - started_cpu

    return timed


def bench_pipeline(quick: bool) -> list[BenchResult]:
    """Time the whole pipeline (all builders but sentiment) on the bundled panel and at 1k/2k/4k days."""
    config, panel, builders = _default_setup()
    context = build_context(config, panel)
    frame = panel.frame

    def train_end_of(rows: pd.DataFrame) -> pd.Timestamp:
        return make_split(rows.index, config.split).train_end

    warm = frame.iloc[-700:]
    _timed_pipeline(builders, context, warm, train_end_of(warm))

    wall, cpu, wall_by_builder, cpu_by_builder, columns = _timed_pipeline(
        builders, context, frame, train_end_of(frame)
    )
    bundled = BenchResult(
        name="features/pipeline_bundled",
        value=wall,
        unit="s",
        target=f"<= {PIPELINE_TARGET_S:.0f} s for all builders but sentiment on the bundled panel",
        ratio=wall / PIPELINE_TARGET_S,
        passed=wall <= PIPELINE_TARGET_S,
        details={
            "rows": len(frame),
            "columns": columns,
            "cpu_seconds": cpu,
            "builders_seconds": wall_by_builder,
            "builders_cpu_seconds": cpu_by_builder,
            "builders": list(builders),
        },
    )
    sizes = (1000, 2000) if quick else (1000, 2000, 4000)
    slices = {size: frame.iloc[-size:] for size in sizes}
    growth = _pipeline_growth(
        builders, context, {size: (rows, train_end_of(rows)) for size, rows in slices.items()}
    )
    return [bundled, growth]


def _pipeline_growth(
    builders: dict[str, dict[str, Any] | None],
    context: BuildContext,
    slices: dict[int, tuple[pd.DataFrame, pd.Timestamp]],
) -> BenchResult:
    """Seconds per 1k days on the last `size` days of the panel (each with its own train_end), per size."""
    per_1k: dict[str, float] = {}
    cpu_per_1k: dict[str, float] = {}
    timings: dict[str, dict[str, float]] = {}
    for size, (rows, train_end) in slices.items():
        seconds, cpu_seconds, builder_seconds, _cpu, _columns = _timed_pipeline(
            builders, context, rows, train_end
        )
        per_1k[str(size)] = seconds / (size / 1000)
        cpu_per_1k[str(size)] = cpu_seconds / (size / 1000)
        timings[str(size)] = {"seconds": seconds, "cpu_seconds": cpu_seconds, **builder_seconds}
    smallest, largest = min(slices), max(slices)
    growth = per_1k[str(largest)] / per_1k[str(smallest)]
    return BenchResult(
        name="features/pipeline_growth",
        value=growth,
        unit="ratio",
        target=(
            f"linear in days: seconds per 1k days at {largest} days <= {GROWTH_TOLERANCE}x that at "
            f"{smallest} days"
        ),
        ratio=growth,
        passed=growth <= GROWTH_TOLERANCE,
        details={"seconds_per_1k_days": per_1k, "cpu_seconds_per_1k_days": cpu_per_1k, "runs": timings},
    )
