"""Principal components of the autoencoder's (or all) features, fitted on training rows.

The original fitted its scaler and PCA on every row, so the components of early days were shaped by later
ones. Here the scaler and the PCA see the complete training rows only; with `prefix: null` and the default
`representation: stationary` they read the earlier builders' stationary columns only (`level`: every
column); row t's components are a fixed linear map of row t's inputs. The number of components is the
smallest that reaches `variance` of the training variance (80 % by default), optionally capped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field
from sklearn.decomposition import PCA

from gan_trader.errors import FeatureError
from gan_trader.features.autoencoder import ScaledInputs
from gan_trader.features.base import Artifact, FeatureBuilder, RepresentationParams, one_blas_thread


class PcaParams(RepresentationParams):
    """`prefix`: read the columns whose names start with it; null: every stationary column the builder sees
    (with `representation: level`, every column)."""

    prefix: str | None = "autoencoder."
    variance: float = Field(0.8, gt=0.0, le=1.0)
    max_components: int | None = Field(None, ge=1, le=10_000)


class PrincipalComponents(FeatureBuilder[PcaParams]):
    """Decorrelated, compressed features (the original's PCA over the autoencoder's output)."""

    name = "pca"
    Params = PcaParams

    def _input_columns(self, frame: pd.DataFrame) -> list[str]:
        params = self.params
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        if params.prefix is None:
            return numeric if params.representation == "level" else self.stationary_columns(frame)
        columns = [c for c in numeric if str(c).startswith(params.prefix)]
        if not columns:
            raise FeatureError(
                f"features.builders.{self.name}.prefix: no column starts with '{params.prefix}'; list the "
                "builder that makes them before pca, or set prefix: null to use every column"
            )
        return columns

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> PrincipalComponents:
        self.inputs = ScaledInputs(self.name, self._input_columns(frame))
        training = self.inputs.fit(self.training_rows(frame, train_end))
        with one_blas_thread():
            probe = PCA(svd_solver="full").fit(training)
        explained = np.cumsum(probe.explained_variance_ratio_)
        # The first count whose cumulative share reaches the target (tolerant to rounding at exactly 1.0).
        count = int(np.searchsorted(explained, self.params.variance - 1e-12) + 1)
        count = min(count, len(explained), self.params.max_components or len(explained))
        with one_blas_thread():
            self.pca = PCA(n_components=count, svd_solver="full").fit(training)
        table = pd.DataFrame(
            {
                "component": [self.column(f"pc{i}") for i in range(count)],
                "explained_variance_ratio": self.pca.explained_variance_ratio_,
                "cumulative": np.cumsum(self.pca.explained_variance_ratio_),
            }
        )
        self.artifacts = [
            Artifact(
                name="pca_variance",
                table=table,
                metrics={
                    "pca/components": float(count),
                    "pca/explained_variance": float(table["cumulative"].iloc[-1]),
                },
            )
        ]
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        self.require(frame, self.inputs.columns)
        scaled, complete = self.inputs.transform(frame)
        values = self.pca.transform(scaled)
        values[~complete] = np.nan
        columns = [self.column(f"pc{i}") for i in range(values.shape[1])]
        return pd.DataFrame(values, index=frame.index, columns=columns)
