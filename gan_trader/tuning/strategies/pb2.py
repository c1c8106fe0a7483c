"""`pb2`: Ray Tune's PB2, population-based training whose explore step is a GP bandit (pbt.py)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from ray.tune.experiment import Trial
from ray.tune.schedulers.pb2 import PB2
from ray.tune.utils.util import flatten_dict

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
    exploit copies the donor's values unchanged, every later one picks new values (RecordedCopyPB2).
    Otherwise as pbt: same rounds, storage and episodes.
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
        return RecordedCopyPB2(
            time_attr="training_iteration",
            metric="objective",
            mode="min",
            perturbation_interval=1,
            hyperparam_bounds={name: [0.0, 1.0] for name in self.mutable()},
            quantile_fraction=self.config.tuning.pbt.quantile_fraction,
            synch=True,
            log_config=False,
        )


class RecordedCopyPB2(PB2):
    """Ray's PB2, which also records a copy it could not explore as the copying trial's starting point.

    The GP learns from each trial's score change between two rounds at the same values, so an exploit
    that explores adds a row for the copying trial: the donor's time and score at the new values. A copy
    made before the GP has data (the first exploit) adds none in Ray, and the copying trial then has no
    starting point at its copied values: when it is the top trial of the next round (it trains on from the
    best weights, so it often is) the GP has no data for it as the donor, and that exploit copies again
    instead of exploring. This row makes every exploit after the first one explore.
    """

    def _get_new_config(self, trial: Trial, trial_to_clone: Trial) -> tuple[dict, dict]:
        rows = len(self.data)
        new_config, operations = super()._get_new_config(trial, trial_to_clone)
        if len(self.data) == rows:  # copied unexplored: the donor's time and score at the copied values
            donor = self._trial_state[trial_to_clone]
            values = flatten_dict(new_config)
            names = list(self._hyperparam_bounds_flat)
            row = [[str(trial), donor.last_train_time, *(values[name] for name in names), donor.last_score]]
            start = pd.DataFrame(row, columns=["Trial", "Time", *names, "Reward"])
            self.data = pd.concat([self.data, start]).reset_index(drop=True)
        return new_config, operations
