"""`pb2`: Ray Tune's PB2, population-based training whose explore step is a GP bandit (pbt.py)."""

from __future__ import annotations

from typing import Any

from gan_trader.errors import TuningError
from gan_trader.tuning.strategies.pbt import PBTStrategy


class PB2Strategy(PBTStrategy):
    """Ray Tune's PB2 (Parker-Holder et al. 2020): PBT whose explore step is a GP bandit. At each round the
    bottom trials copy a top trial's weights, and a Gaussian process fitted to every trial's improvement per
    round (given its time, score and hyperparameters) picks the new values by UCB, instead of PBT's random
    x0.8 / x1.2 perturbations or resampling.

    What it varies: each hyperparameter that keeps the networks' shapes and is not categorical, through its
    [0, 1] coordinate of the search box (hyperparam_bounds [0, 1]): floats linearly, log_floats on the log10
    scale, ints on [low - 0.5, high + 0.5] rounded after the GP picks the coordinate (so a small move can
    leave an int as it was). What it cannot vary: hyperparameters that change the networks' shapes (drawn
    per trial, inherited on exploit: a checkpoint fits only its own shapes) and categorical ones (an
    unordered choice is no axis for a GP; drawn per trial as well). PB2 never resamples
    (tuning.pbt.resample_probability is pbt's), and the GP has data from the second round on: the first
    exploit copies the donor's values unchanged. Otherwise as pbt: same rounds, storage and episodes.
    """

    name = "pb2"

    def mutable(self) -> list[str]:
        categorical = {dim.name for dim in self.space.dimensions if dim.spec.type == "categorical"}
        names = [name for name in super().mutable() if name not in categorical]
        if not names:
            raise TuningError(
                "tuning.space: pb2 needs at least one float, log_float or int hyperparameter that keeps the "
                "networks' shapes (lr_g, cnn_lr, dropout...)"
            )
        return names

    def _scheduler(self) -> Any:
        from ray.tune.schedulers.pb2 import PB2

        return PB2(
            time_attr="training_iteration",
            metric="objective",
            mode="min",
            perturbation_interval=1,
            hyperparam_bounds={name: [0.0, 1.0] for name in self.mutable()},
            quantile_fraction=self.config.tuning.pbt.quantile_fraction,
            synch=True,
            log_config=False,
        )
