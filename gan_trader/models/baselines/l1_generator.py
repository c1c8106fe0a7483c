"""Ablation: the GAN's own generator trained on L1 alone (gan.loss "l1": no critic, no MH selection).

Same windows, scaler, generator architecture, epochs and early stopping as the GAN of the experiment, so the
difference between the two rows of the leaderboard is what the adversarial part (and the CRPS term) adds.
`GeneratorAblation` is the shared wrapper: `score_generator` is the same generator trained on its CRPS alone.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd

from gan_trader.config import GanConfig
from gan_trader.models.base import Forecast, Forecaster, ForecastTask


class GeneratorAblation(Forecaster):
    """Wraps `GanForecaster` with gan.loss = `loss` (no critic); takes the experiment's `gan` section."""

    loss: ClassVar[str]
    uses_gan_config: ClassVar[bool] = True
    uses_validation = True

    def __init__(self, seed: int = 0, gan: GanConfig | None = None, scaler: str = "standard") -> None:
        from gan_trader.models.wgan import GanForecaster  # torch-heavy: imported only when used

        config = (gan or GanConfig.model_validate({})).model_copy(update={"loss": self.loss})
        self.seed = seed
        self.model = GanForecaster(config, scaler=scaler, seed=seed, name=self.name)

    def fit(self, task: ForecastTask) -> GeneratorAblation:
        self.model.fit(task)
        return self

    def predict(self, task: ForecastTask, origins: pd.DatetimeIndex) -> Forecast:
        forecast = self.model.predict(task, origins)
        forecast.model = self.name
        return forecast


class L1Generator(GeneratorAblation):
    """The generator trained on L1 of one draw: the original's term, which pulls toward the median."""

    name = "l1_generator"
    loss = "l1"
