"""Chronological train / validation / test splits and expanding walk-forward folds, by date.

A split is three dates: rows up to `train_end` train (and fit every feature builder), rows in
(train_end, val_end] validate (early stopping, MH calibration, tuning objective), rows in (val_end, test_end]
are the test days every forecast and baseline is scored on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from gan_trader.config import SplitConfig
from gan_trader.errors import ConfigError


@dataclass(frozen=True)
class Split:
    train_end: pd.Timestamp
    val_end: pd.Timestamp
    test_end: pd.Timestamp
    fold: int = 0

    def label(self, date: pd.Timestamp) -> str:
        if date <= self.train_end:
            return "train"
        if date <= self.val_end:
            return "val"
        return "test" if date <= self.test_end else "after"

    def describe(self) -> str:
        train, val, test = (d.date() for d in (self.train_end, self.val_end, self.test_end))
        return f"train <= {train} < val <= {val} < test <= {test}"


def _point(index: pd.DatetimeIndex, value: float | dt.date, key: str) -> int:
    """Position of the last row of a span ending at a fraction or a date."""
    if isinstance(value, float):
        return max(int(round(value * len(index))) - 1, 0)
    position = int(index.searchsorted(pd.Timestamp(value), side="right")) - 1
    if position < 0:
        raise ConfigError(f"split.{key}: {value} is before the first date {index[0].date()}")
    if position >= len(index) - 1:
        raise ConfigError(f"split.{key}: {value} is at or after the last date {index[-1].date()}")
    return position


def make_split(index: pd.DatetimeIndex, config: SplitConfig, min_rows: int = 2) -> Split:
    """The single chronological split of `index` (the rows that have every feature)."""
    train = _point(index, config.train_end, "train_end")
    val = _point(index, config.val_end, "val_end")
    spans = {"train": train + 1, "val": val - train, "test": len(index) - 1 - val}
    for name, rows in spans.items():
        if rows < min_rows:
            raise ConfigError(
                f"split: the {name} span has {rows} rows, fewer than the {min_rows} needed "
                f"(rows {len(index)}, train_end {config.train_end}, val_end {config.val_end})"
            )
    return Split(index[train], index[val], index[-1])


def walk_forward_splits(index: pd.DatetimeIndex, config: SplitConfig, min_rows: int = 2) -> list[Split]:
    """Expanding-window folds over the part after the first split's training span.

    Fold k trains on everything before its validation span; validation has the first split's length and
    is followed by `test_days` test rows (default: the remainder divided equally among the folds).
    """
    base = make_split(index, config, min_rows)
    if config.walk_forward.folds <= 1:
        return [base]
    folds = config.walk_forward.folds
    train_end = int(index.get_loc(base.train_end))
    val_len = int(index.get_loc(base.val_end)) - train_end
    remaining = len(index) - 1 - train_end - val_len
    test_days = config.walk_forward.test_days or remaining // folds
    if test_days < min_rows or folds * test_days > remaining:
        raise ConfigError(
            f"split.walk_forward: {folds} folds of {test_days} test days do not fit in the {remaining} rows "
            "after the first validation span"
        )
    splits = []
    for fold in range(folds):
        t_end = train_end + fold * test_days
        v_end = t_end + val_len
        splits.append(Split(index[t_end], index[v_end], index[v_end + test_days], fold=fold))
    return splits
