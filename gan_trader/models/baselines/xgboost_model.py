"""XGBoost regressor on the causal features at t predicting the next-day log return (not the same day's).

Fitted on training origins only; validation origins drive early stopping. The original article's XGBoost
predicted the same day's price from indicators that contain it, which is look-ahead.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gan_trader.errors import TrainingError
from gan_trader.models.base import Forecast, Forecaster, ForecastTask


def _design(task: ForecastTask) -> pd.DataFrame:
    """Feature rows plus the log return into day t (known at the close of t)."""
    frame = task.features.astype(float).copy()
    close = task.close
    frame["baseline.log_return"] = np.log(close / close.shift(1)).fillna(0.0)
    return frame


class XGBoostBaseline(Forecaster):
    """Gradient-boosted trees (original settings: 150 trees, learning rate 0.05, gamma 0)."""

    name = "xgboost"
    uses_validation = True

    def __init__(
        self,
        seed: int = 0,
        n_estimators: int = 150,
        learning_rate: float = 0.05,
        max_depth: int = 3,
        early_stopping_rounds: int = 20,
    ) -> None:
        self.seed = seed
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.early_stopping_rounds = early_stopping_rounds
        self.model: Any = None  # xgboost.XGBRegressor once fitted

    def fit(self, task: ForecastTask) -> XGBoostBaseline:
        from xgboost import XGBRegressor

        design = _design(task)
        target = task.next_day_returns()
        train, val = task.origins("train"), task.origins("val")
        if len(train) < 10:
            raise TrainingError(f"xgboost: {len(train)} training origins are too few")
        self.model = XGBRegressor(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            gamma=0.0,
            random_state=self.seed,
            n_jobs=2,
            early_stopping_rounds=self.early_stopping_rounds if len(val) else None,
        )
        eval_set = [(design.loc[val].to_numpy(), target.loc[val].to_numpy())] if len(val) else None
        self.model.fit(
            design.loc[train].to_numpy(), target.loc[train].to_numpy(), eval_set=eval_set, verbose=False
        )
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        if self.model is None:
            raise RuntimeError("XGBoostBaseline.predict called before fit")
        predicted = self.model.predict(_design(task).loc[origins].to_numpy())
        return Forecast.from_returns(self.name, task, origins, np.asarray(predicted, float))
