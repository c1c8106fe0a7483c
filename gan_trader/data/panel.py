"""Align assets to the target's trading calendar into one frame, causally.

The panel frame has the target's fields as plain columns (`open, high, low, close, volume`; close-only
targets have `close` alone) and every other asset's close as `<ASSET>.close`. Other assets are joined as-of:
the last value known at or before the target's day (shifted by a release lag for low-frequency series), with
a bounded forward fill and never a backward fill.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from gan_trader.config import DataConfig
from gan_trader.data.loaders import AssetSeries, discover_files, load_asset_file, load_long_file
from gan_trader.errors import DataError

log = logging.getLogger(__name__)

LOW_FREQUENCY_SPACING_DAYS = 6.0


def asset_column(name: str) -> str:
    return f"{name}.close"


@dataclass(frozen=True)
class Panel:
    """The aligned data every later stage reads; `frame.index` is the target's trading calendar."""

    target: str
    frame: pd.DataFrame
    assets: tuple[str, ...]
    sources: dict[str, str]
    # Each other asset's class: "macro" for low-frequency series (monthly CPI...), else data.asset_classes'
    # entry, else "equity". Market-wide features (the volatility builder's) read the equity series only.
    classes: dict[str, str] = field(default_factory=dict)

    @property
    def close(self) -> pd.Series:
        return self.frame["close"]

    @property
    def asset_columns(self) -> list[str]:
        return [asset_column(a) for a in self.assets]

    def assets_of_class(self, kind: str) -> list[str]:
        return [a for a in self.assets if self.classes.get(a, "equity") == kind]

    def __len__(self) -> int:
        return len(self.frame)


def _spacing_days(index: pd.DatetimeIndex) -> float:
    if len(index) < 3:
        return 1.0
    gaps = np.diff(index.to_numpy()).astype("timedelta64[s]").astype(float)
    return float(np.median(gaps)) / 86_400.0


def is_low_frequency(series: AssetSeries) -> bool:
    """A series published less often than weekly (monthly macro data): joined as-of until the next is due."""
    return _spacing_days(series.frame["close"].dropna().index) > LOW_FREQUENCY_SPACING_DAYS


def align_asset(series: AssetSeries, calendar: pd.DatetimeIndex, max_ffill_days: int) -> pd.Series:
    """As-of join of one asset's close onto `calendar` (causal; the fill is bounded in calendar days)."""
    close = series.frame["close"].dropna()
    known_at = close.index + pd.Timedelta(days=series.release_lag_days)
    spacing = _spacing_days(close.index)
    low_frequency = is_low_frequency(series)
    # A monthly value stays valid until the next one is due; a daily value for at most max_ffill_days.
    tolerance_days = int(np.ceil(spacing * 1.5)) + 1 if low_frequency else max_ffill_days
    left = pd.DataFrame({"date": calendar})
    right = pd.DataFrame({"date": known_at, "value": close.to_numpy()})
    joined = pd.merge_asof(
        left, right, on="date", direction="backward", tolerance=pd.Timedelta(days=tolerance_days)
    )
    return pd.Series(joined["value"].to_numpy(), index=calendar, name=asset_column(series.name))


def _check_gaps(aligned: pd.Series, source: str, max_fill: int, start: pd.Timestamp) -> None:
    inside = aligned.loc[start:]
    missing = inside.isna().to_numpy()
    if not missing.any():
        return
    first = int(np.flatnonzero(missing)[0])
    raise DataError(
        f"{source}: column 'close': no value within the allowed forward fill ({max_fill} days) for "
        f"{inside.index[first].date()}; fill the gap or raise data.max_ffill_days"
    )


def _fill_target(frame: pd.DataFrame, source: str, max_nan_run: int) -> pd.DataFrame:
    """Forward-fill short gaps in the target's own columns; longer runs are an error."""
    for column in frame.columns:
        missing = frame[column].isna().to_numpy()
        if not missing.any():
            continue
        run = 0
        for position, is_missing in enumerate(missing):
            run = run + 1 if is_missing else 0
            if run > max_nan_run:
                date = frame.index[position - run + 1].date()
                raise DataError(
                    f"{source}: column '{column}': {run} or more missing values in a row from {date} "
                    f"exceed data.max_nan_run={max_nan_run}"
                )
        if np.isnan(frame[column].to_numpy()[0]):
            raise DataError(
                f"{source}: column '{column}': first row is missing and cannot be filled causally"
            )
        frame[column] = frame[column].ffill()
    return frame


def load_series(config: DataConfig) -> list[AssetSeries]:
    series: list[AssetSeries] = []
    if config.prices_dir is not None:
        series += [load_asset_file(path) for path in discover_files(config.prices_dir)]
    series += [load_asset_file(f.path, f.name, f.release_lag_days) for f in config.files]
    if config.long_file is not None:
        series += load_long_file(config.long_file)
    names = [s.name for s in series]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        sources = [s.source for s in series if s.name == duplicated[0]]
        raise DataError(f"asset '{duplicated[0]}' is defined twice ({' and '.join(sources)})")
    return series


def build_panel(config: DataConfig, min_rows: int = 1) -> Panel:
    """Load, validate and align the configured files on the target's trading days."""
    series = {s.name: s for s in load_series(config)}
    if config.target not in series:
        raise DataError(
            f"data.target: target '{config.target}' is not among the loaded assets "
            f"({', '.join(sorted(series))})"
        )
    target = series.pop(config.target)
    if config.assets is not None:
        unknown = [a for a in config.assets if a not in series]
        if unknown:
            raise DataError(
                f"data.assets: unknown asset '{unknown[0]}' (loaded: {', '.join(sorted(series))})"
            )
        series = {a: series[a] for a in config.assets}
    frame = target.frame.copy()
    if config.start is not None:
        frame = frame.loc[pd.Timestamp(config.start) :]
    if config.end is not None:
        frame = frame.loc[: pd.Timestamp(config.end)]
    frame = _fill_target(frame, target.source, config.max_nan_run)
    calendar = pd.DatetimeIndex(frame.index, name="date")
    start = calendar[0] if len(calendar) else None
    aligned = {}
    for name, asset in sorted(series.items()):
        column = align_asset(asset, calendar, config.max_ffill_days)
        first_valid = column.first_valid_index()
        if first_valid is None:
            raise DataError(f"{asset.source}: no dates overlapping the target '{config.target}'")
        start = max(start, first_valid) if start is not None else first_valid
        aligned[name] = (asset, column)
    if start is None:
        raise DataError(f"{target.source}: no rows in the configured date range")
    for _name, (asset, column) in aligned.items():
        _check_gaps(column, asset.source, config.max_ffill_days, start)
    panel = pd.concat([frame] + [column for _a, column in aligned.values()], axis=1).loc[start:]
    panel.index.name = "date"
    if len(panel) < min_rows:
        raise DataError(
            f"{target.source}: {len(panel)} aligned rows, fewer than the {min_rows} "
            "the split and windows need"
        )
    sources = {config.target: target.source, **{n: a.source for n, (a, _c) in aligned.items()}}
    return Panel(
        target=config.target,
        frame=panel,
        assets=tuple(aligned),
        sources=sources,
        classes=_asset_classes(config, {n: a for n, (a, _c) in aligned.items()}),
    )


def _asset_classes(config: DataConfig, assets: dict[str, AssetSeries]) -> dict[str, str]:
    unknown = [name for name in config.asset_classes if name not in assets and name != config.target]
    if unknown:  # an inherited config (extends: default.yaml) on other files: said, not an error
        log.warning(
            "data.asset_classes: %s not among the loaded assets; ignored", ", ".join(repr(n) for n in unknown)
        )
    return {
        name: "macro" if is_low_frequency(series) else config.asset_classes.get(name, "equity")
        for name, series in assets.items()
    }
