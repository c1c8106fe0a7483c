"""Statistical checks of the feature set on the training span: a report, no columns.

A linear regression of the next-day target on the (standardised) features over the training rows, then:
Breusch–Pagan (heteroskedastic residuals), VIF per feature (multicollinearity), Durbin–Watson and Ljung–Box
(serially correlated residuals). Only rows whose label day is inside the training span are used. The tables
go into the report; nothing here changes the features.

Notes: the regression uses a pseudo-inverse, so exactly collinear features (an MA and a Bollinger band built
from it) do not stop it, but their VIF is infinite, and Breusch–Pagan's degrees of freedom count columns, not
the rank of the design.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import statsmodels.api as sm
from pydantic import Field, field_validator
from statsmodels.stats.diagnostic import acorr_ljungbox, het_breuschpagan
from statsmodels.stats.outliers_influence import variance_inflation_factor
from statsmodels.stats.stattools import durbin_watson

from gan_trader.errors import FeatureError
from gan_trader.features.base import Artifact, BuilderKind, BuilderParams, FeatureBuilder, one_blas_thread
from gan_trader.features.importance import training_design


class ChecksParams(BuilderParams):
    """`lags`: Ljung–Box lags; `vif`: compute a VIF per feature (one regression each)."""

    lags: list[int] = Field(default_factory=lambda: [1, 5, 10], min_length=1)
    vif: bool = True

    @field_validator("lags")
    @classmethod
    def _positive_lags(cls, lags: list[int]) -> list[int]:
        if any(lag < 1 or lag > 1000 for lag in lags):
            raise ValueError(f"lags must lie between 1 and 1000, got {lags}")
        return sorted(set(lags))


class StatisticalChecks(FeatureBuilder[ChecksParams]):
    """Heteroskedasticity, multicollinearity and serial-correlation diagnostics of the feature set."""

    name = "checks"
    Params = ChecksParams
    kind: ClassVar[BuilderKind] = "report"

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> StatisticalChecks:
        params = self.params
        design, label, varying = self._standardised_design(frame, train_end)
        with one_blas_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # exact collinearity: divide-by-zero in VIF is the answer (inf)
            ols = sm.OLS(label, design).fit()
            residuals = ols.resid
            breusch_pagan = het_breuschpagan(residuals, design)
            ljung = acorr_ljungbox(residuals, lags=params.lags)
            vif = (
                [variance_inflation_factor(design, i + 1) for i in range(len(varying))] if params.vif else []
            )
        dw = float(durbin_watson(residuals))
        summary = f"{len(label)} training rows, {len(varying)} features"
        tests = _tests_table(breusch_pagan, dw, ljung, params.lags, ols, summary)
        metrics = {
            "checks/breusch_pagan_p": float(breusch_pagan[1]),
            "checks/durbin_watson": dw,
            f"checks/ljung_box_p_lag{params.lags[-1]}": float(ljung["lb_pvalue"].iloc[-1]),
            "checks/r2": float(ols.rsquared),
        }
        self.artifacts = [Artifact(name="checks", table=tests, metrics=metrics)]
        if params.vif:
            table = pd.DataFrame({"feature": varying, "vif": vif}).sort_values("vif", ascending=False)
            finite = table["vif"].replace(np.inf, np.nan)
            metrics["checks/max_vif"] = float(table["vif"].max())
            metrics["checks/vif_over_10"] = float((table["vif"] > 10).sum())
            self.artifacts.append(
                Artifact(
                    name="checks_vif",
                    table=table.reset_index(drop=True),
                    metrics={"checks/median_vif": float(finite.median())},
                )
            )
        return self

    def _standardised_design(
        self, frame: pd.DataFrame, train_end: pd.Timestamp
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """The regression's design (constant + standardised varying features), its label and those features.

        Only complete training rows are used, and features constant over them are dropped.
        """
        features, label = training_design(
            frame, train_end, self.context.target_kind, self.name, self.context.close_feature
        )
        complete = features.notna().all(axis=1).to_numpy()
        features, label = features.loc[complete], label.loc[complete]
        spread = features.std(ddof=0)
        varying = [c for c in features.columns if spread[c] > 0]
        if len(features) <= len(varying) + max(self.params.lags) + 1:
            raise FeatureError(
                f"features.builders.{self.name}: {len(features)} complete training rows are too few for "
                f"{len(varying)} features"
            )
        standardised = (features[varying] - features[varying].mean()) / spread[varying]
        design = sm.add_constant(standardised.to_numpy(float), has_constant="add")
        return design, label.to_numpy(float), varying

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(index=frame.index)


def _tests_table(
    breusch_pagan: tuple[float, float, float, float],
    durbin_watson_statistic: float,
    ljung: pd.DataFrame,
    lags: list[int],
    ols: Any,
    summary: str,
) -> pd.DataFrame:
    """One row per test: its statistic, p-value and what it tests (`summary` describes the regression)."""
    bp_lm, bp_p, bp_f, bp_fp = breusch_pagan
    rows = [
        {
            "test": "breusch_pagan_lm",
            "statistic": bp_lm,
            "p_value": bp_p,
            "detail": "H0: homoskedastic residuals",
        },
        {"test": "breusch_pagan_f", "statistic": bp_f, "p_value": bp_fp, "detail": "F form"},
        {
            "test": "durbin_watson",
            "statistic": durbin_watson_statistic,
            "p_value": np.nan,
            "detail": "2 = no first-order autocorrelation",
        },
    ]
    for lag, stat, p_value in zip(lags, ljung["lb_stat"], ljung["lb_pvalue"], strict=True):
        rows.append(
            {
                "test": f"ljung_box_lag{lag}",
                "statistic": float(stat),
                "p_value": float(p_value),
                "detail": "H0: no residual autocorrelation up to this lag",
            }
        )
    rows.append(
        {
            "test": "ols_r2",
            "statistic": float(ols.rsquared),
            "p_value": float(ols.f_pvalue),
            "detail": summary,
        }
    )
    return pd.DataFrame(rows)
