"""Feature drift: how often a feature's validation and test values lie outside what its training span saw.

For each fold and feature, the share of the fold's validation rows and of its test rows outside the fold's
training 0.5-99.5 % quantiles (about 1 % by construction for a stationary feature whose distribution does not
change). A price level sits outside on most later days (45-100 %); a regime shift moves honest features too (a
calm test year puts a 22-day volatility below its training range), so the warning bound is on the share pooled
over folds: the outside rows of every fold over all their rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from gan_trader.data.splits import Split

QUANTILES = (0.005, 0.995)
WARN_SHARE = 0.20  # pooled share above which a feature is named in a warning
SPANS = ("val", "test")


def _span_rows(features: pd.DataFrame, split: Split, span: str) -> pd.DataFrame:
    index = features.index
    if span == "val":
        return features.loc[(index > split.train_end) & (index <= split.val_end)]
    return features.loc[(index > split.val_end) & (index <= split.test_end)]


def fold_drift(features: pd.DataFrame, split: Split) -> pd.DataFrame:
    """One row per feature: outside counts and rows of the fold's validation and test spans."""
    training = features.loc[: split.train_end]
    low = training.quantile(QUANTILES[0])
    high = training.quantile(QUANTILES[1])
    columns: dict[str, pd.Series] = {}
    for span in SPANS:
        rows = _span_rows(features, split, span)
        outside = (rows.lt(low, axis=1) | rows.gt(high, axis=1)).sum()
        columns[f"{span}_outside"] = outside.astype(float)
        columns[f"{span}_rows"] = pd.Series(float(len(rows)), index=features.columns)
    table = pd.DataFrame(columns)
    table.index.name = "feature"
    return table


@dataclass
class DriftReport:
    """Per-fold and pooled shares of rows outside the training quantiles, one row per feature."""

    per_fold: dict[int, pd.DataFrame]

    @property
    def table(self) -> pd.DataFrame:
        """Columns fold<k>_val, fold<k>_test per fold, then pooled_val and pooled_test; worst first."""
        columns: dict[str, pd.Series] = {}
        for fold, counts in sorted(self.per_fold.items()):
            for span in SPANS:
                columns[f"fold{fold}_{span}"] = counts[f"{span}_outside"] / counts[f"{span}_rows"]
        for span in SPANS:
            # A feature dropped in some fold (constant on that fold's training span) pools its other folds.
            outside = pd.concat([c[f"{span}_outside"] for c in self.per_fold.values()], axis=1).sum(axis=1)
            rows = pd.concat([c[f"{span}_rows"] for c in self.per_fold.values()], axis=1).sum(axis=1)
            columns[f"pooled_{span}"] = outside / rows
        table = pd.DataFrame(columns)
        table.index.name = "feature"
        return table.sort_values(["pooled_test", "pooled_val"], ascending=False, kind="stable")

    def flagged(self, bound: float = WARN_SHARE) -> list[str]:
        """Features whose pooled validation or test share exceeds `bound`."""
        table = self.table
        if table.empty:
            return []
        return [str(f) for f in table.index[(table["pooled_test"] > bound) | (table["pooled_val"] > bound)]]

    def warning(self, bound: float = WARN_SHARE) -> str | None:
        flagged = self.flagged(bound)
        if not flagged:
            return None
        table = self.table
        worst = ", ".join(f"{f} ({table.loc[f, 'pooled_test']:.0%} of test days)" for f in flagged[:5])
        more = f" and {len(flagged) - 5} more" if len(flagged) > 5 else ""
        return (
            f"feature drift: {len(flagged)} feature(s) lie outside their training 0.5-99.5 % range on more "
            f"than {bound:.0%} of pooled validation or test days: {worst}{more}; a price level does this, "
            "representation: stationary does not"
        )

    def metrics(self) -> dict[str, float]:
        table = self.table
        if table.empty:
            return {}
        return {
            "drift/max_pooled_test_share": float(table["pooled_test"].max()),
            "drift/max_pooled_val_share": float(table["pooled_val"].max()),
            "drift/median_pooled_test_share": float(table["pooled_test"].median()),
            "drift/features_over_bound": float(len(self.flagged())),
            "drift/features": float(len(table)),
        }


def drift_report(folds: list[tuple[pd.DataFrame, Split]]) -> DriftReport:
    """The drift of each fold's features (their causal frame) against that fold's training span."""
    return DriftReport({split.fold: fold_drift(features, split) for features, split in folds})
