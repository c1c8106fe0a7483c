"""Closes and log returns of the correlated assets (the panel's `<ASSET>.close` columns).

The panel has already aligned every asset causally (as-of join, bounded forward fill), so both columns at
row t use rows <= t; nothing is learned in `fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gan_trader.errors import FeatureError
from gan_trader.features.base import BuilderParams, FeatureBuilder


class AssetsParams(BuilderParams):
    """`assets`: names (`JPM`) or panel columns (`JPM.close`) to keep; default every correlated asset."""

    assets: list[str] | None = None
    closes: bool = True
    log_returns: bool = True


def is_panel_asset_column(column: str) -> bool:
    """`JPM.close` is a panel asset column; `technical.ma7` or `assets.JPM.close` are built columns."""
    return column.endswith(".close") and column.count(".") == 1


class CorrelatedAssets(FeatureBuilder[AssetsParams]):
    """The original fed 72 correlated assets' prices to the GAN; here any panel assets, plus their returns."""

    name = "assets"
    Params = AssetsParams

    def _columns(self, frame: pd.DataFrame) -> list[str]:
        available = list(self.context.asset_columns) or [c for c in frame.columns if is_panel_asset_column(c)]
        if self.params.assets is None:
            return available
        chosen = []
        for asset in self.params.assets:
            column = asset if asset.endswith(".close") else f"{asset}.close"
            if column not in available:
                known = ", ".join(c.removesuffix(".close") for c in available) or "none"
                raise FeatureError(
                    f"features.builders.{self.name}.assets: unknown asset '{asset}' (panel: {known})"
                )
            chosen.append(column)
        return chosen

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> CorrelatedAssets:
        if not (self.params.closes or self.params.log_returns):
            raise FeatureError(f"features.builders.{self.name}: closes and log_returns are both off")
        self.training_rows(frame, train_end)
        columns = self._columns(frame)
        if not columns:
            raise FeatureError(f"features.builders.{self.name}: the panel has no correlated assets")
        self.require(frame, columns)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        columns = self._columns(frame)
        self.require(frame, columns)
        output: dict[str, pd.Series] = {}
        for column in columns:
            asset = column.removesuffix(".close")
            close = frame[column].astype(float)
            if self.params.closes:
                output[self.column(f"{asset}.close")] = close
            if self.params.log_returns:
                output[self.column(f"{asset}.log_return")] = np.log(close / close.shift(1))
        return pd.DataFrame(output, index=frame.index)
