"""Feature importance by XGBoost on the NEXT-day target, fitted on the training span; optional selection.

The original regressed the same day's price on indicators computed from that very price, so the "important"
features were the ones that contained the answer. Here the label of row t is the next day's target
(`context.target_kind`: log(close[t+1] / close[t]) or close[t+1]), and only rows whose label day is inside
the training span are used (the label of the last training row lies in the validation span: it is left out).
Gain importances are saved as a table and a bar plot; `top_k` / `threshold` keep a subset of columns. The
target's close is read for the label; it is a feature (ranked, and always kept) only when
`features.target_close` asks for it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from pydantic import Field
from xgboost import XGBRegressor

from gan_trader.errors import FeatureError
from gan_trader.features.base import Artifact, BuilderKind, BuilderParams, FeatureBuilder

TARGET_CLOSE = "close"
MIN_TRAINING_ROWS = 20


def next_day_target(close: pd.Series, target_kind: str) -> pd.Series:
    """Label of row t: the next day's log return or close (NaN on the last row)."""
    close = close.astype(float)
    if target_kind == "price":
        return close.shift(-1)
    return np.log(close.shift(-1) / close)


def training_design(
    frame: pd.DataFrame, train_end: pd.Timestamp, target_kind: str, builder: str, close_feature: bool = True
) -> tuple[pd.DataFrame, pd.Series]:
    """Features and next-day labels of the rows whose label day is still inside the training span; the
    target's close is among the features only with `close_feature`."""
    if TARGET_CLOSE not in frame.columns:
        raise FeatureError(f"features.builders.{builder}: needs the target column '{TARGET_CLOSE}'")
    columns = [c for c in frame.columns if close_feature or c != TARGET_CLOSE]
    if not columns:
        raise FeatureError(
            f"features.builders.{builder}: no feature columns to judge (list builders before it)"
        )
    features = frame[columns].replace([np.inf, -np.inf], np.nan)
    label = next_day_target(frame[TARGET_CLOSE], target_kind)
    positions = np.arange(len(frame))
    last_training = int(frame.index.searchsorted(train_end, side="right")) - 1
    rows = (positions < last_training) & label.notna().to_numpy()
    if rows.sum() < MIN_TRAINING_ROWS:
        raise FeatureError(
            f"features.builders.{builder}: {int(rows.sum())} training rows have a next-day label, fewer than "
            f"the {MIN_TRAINING_ROWS} needed"
        )
    return features.loc[rows], label.loc[rows]


class ImportanceParams(BuilderParams):
    """XGBoost settings (the original: 150 trees, learning rate 0.05, gamma 0) and the optional selection."""

    n_estimators: int = Field(150, ge=1, le=100_000)
    learning_rate: float = Field(0.05, gt=0.0, le=1.0)
    gamma: float = Field(0.0, ge=0.0)
    max_depth: int = Field(3, ge=1, le=32)
    n_jobs: int = Field(1, ge=1, le=512, description="XGBoost threads (small data: one thread is fastest)")
    top_k: int | None = Field(None, ge=1, description="keep the k columns with the largest gain")
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="keep columns with this gain share or more"
    )
    plot_top: int = Field(30, ge=1, le=1000)


class XGBoostImportance(FeatureBuilder[ImportanceParams]):
    """Ranks the features built so far by how much they help forecast tomorrow; selects the best if asked."""

    name = "importance"
    Params = ImportanceParams
    kind: ClassVar[BuilderKind] = "selector"

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> XGBoostImportance:
        params = self.params
        features, label = training_design(
            frame, train_end, self.context.target_kind, self.name, self.context.close_feature
        )
        self.columns = list(features.columns)
        model = XGBRegressor(
            n_estimators=params.n_estimators,
            learning_rate=params.learning_rate,
            gamma=params.gamma,
            max_depth=params.max_depth,
            n_jobs=params.n_jobs,
            random_state=self.context.seed,
            tree_method="hist",
            importance_type="gain",
        )
        # Positional feature names (f0, f1...) keep any column name safe for XGBoost.
        model.fit(features.to_numpy(float), label.to_numpy(float))
        booster = model.get_booster()
        gain = booster.get_score(importance_type="gain")
        total_gain = booster.get_score(importance_type="total_gain")
        table = pd.DataFrame(
            {
                "feature": self.columns,
                "gain": [gain.get(f"f{i}", 0.0) for i in range(len(self.columns))],
                "total_gain": [total_gain.get(f"f{i}", 0.0) for i in range(len(self.columns))],
            }
        )
        share_total = table["gain"].sum()
        table["share"] = table["gain"] / share_total if share_total > 0 else 0.0
        self.selected = self._select(table)
        table["selected"] = table["feature"].isin(self.selected)
        table = table.sort_values("gain", ascending=False, kind="stable").reset_index(drop=True)
        self.table = table
        self.artifacts = [
            Artifact(
                name="feature_importance",
                table=table,
                figure=self._figure(table),
                metrics={
                    "importance/selected": float(len(self.selected)),
                    "importance/columns": float(len(table)),
                },
            )
        ]
        return self

    def _select(self, table: pd.DataFrame) -> list[str]:
        params = self.params
        ranked = table.sort_values("gain", ascending=False, kind="stable")
        if params.threshold is not None:
            ranked = ranked[ranked["share"] >= params.threshold]
        if params.top_k is not None:
            ranked = ranked.head(params.top_k)
        chosen = set(ranked["feature"]) | ({TARGET_CLOSE} if self.context.close_feature else set())
        return [c for c in self.columns if c in chosen]

    def _figure(self, table: pd.DataFrame) -> Figure:
        shown = table.head(self.params.plot_top).iloc[::-1]
        figure = Figure(figsize=(8, max(3.0, 0.25 * len(shown) + 1)))
        axes = figure.add_subplot()
        colours = ["tab:blue" if selected else "tab:gray" for selected in shown["selected"]]
        axes.barh(shown["feature"], shown["share"], color=colours)
        axes.set_xlabel("share of gain (XGBoost, next-day target, training span)")
        axes.set_title("Feature importance")
        axes.tick_params(axis="y", labelsize=7)
        figure.tight_layout()
        return figure

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.require(frame, self.selected)
        return frame[self.selected]
