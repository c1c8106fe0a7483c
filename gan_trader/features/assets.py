"""The correlated assets of the panel (its `<ASSET>.close` columns) as features.

`representation: stationary` (the default): each daily series as its log return and its trailing volatility
(the standard deviation of the last `volatility_window` log returns); a low-frequency series (monthly macro
data) as its latest change, log(value / the value it replaced), held until the next release. `level`: the
closes themselves, as the article fed them (72 assets' prices).

The panel has already aligned every asset causally (as-of join, bounded forward fill, release lags), so each
column at row t uses rows <= t; nothing is learned in `fit`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from gan_trader.errors import FeatureError
from gan_trader.features.base import FeatureBuilder, RepresentationParams


class AssetsParams(RepresentationParams):
    """`assets`: names (`JPM`) or panel columns (`JPM.close`) to keep; default every correlated asset."""

    assets: list[str] | None = None
    volatility_window: int = Field(20, ge=2, le=1000, description="days of the trailing volatility")


def is_panel_asset_column(column: str) -> bool:
    """`JPM.close` is a panel asset column; `technical.ma7` or `assets.JPM.close` are built columns."""
    return column.endswith(".close") and column.count(".") == 1


def panel_log_returns(frame: pd.DataFrame, assets: list[str], low_frequency: tuple[str, ...]) -> pd.DataFrame:
    """Daily log returns of the target's close and of the given panel asset columns (`X.close`), the
    stationary form of the panel that the autoencoder and anomaly builders read; a low-frequency series
    gives its latest change instead. A non-positive level has no log return: NaN."""
    output = {}
    for column in ["close", *assets]:
        series = frame[column].astype(float)
        name = column.removesuffix(".close") if column != "close" else "close"
        if name in low_frequency:
            output[f"{name}.change"] = release_change(series.where(series > 0))
        else:
            positive = series.where(series > 0)
            output[f"{name}.log_return"] = np.log(positive / positive.shift(1))
    return pd.DataFrame(output, index=frame.index)


def release_change(values: pd.Series) -> pd.Series:
    """log(value / the value before it changed), held between releases: a monthly series' latest change."""
    step = np.log(values.astype(float)).diff()
    return step.where(step != 0).ffill()


class CorrelatedAssets(FeatureBuilder[AssetsParams]):
    """The original fed 72 correlated assets' prices to the GAN; here any panel assets, stationary by
    default."""

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
        self.training_rows(frame, train_end)
        columns = self._columns(frame)
        if not columns:
            raise FeatureError(f"features.builders.{self.name}: the panel has no correlated assets")
        self.require(frame, columns)
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        columns = self._columns(frame)
        self.require(frame, columns)
        window = self.params.volatility_window
        output: dict[str, pd.Series] = {}
        for column in columns:
            asset = column.removesuffix(".close")
            close = frame[column].astype(float)
            if self.params.representation == "level":
                output[self.column(f"{asset}.close")] = close
            elif asset in self.context.low_frequency_assets:
                output[self.column(f"{asset}.change")] = release_change(close)
            else:
                log_return = np.log(close / close.shift(1))
                output[self.column(f"{asset}.log_return")] = log_return
                output[self.column(f"{asset}.vol{window}")] = log_return.rolling(
                    window, min_periods=window
                ).std()
        return pd.DataFrame(output, index=frame.index)
