"""Fit span of every registered baseline: what it learns depends on no row after train_end (after val_end
for the models whose early stopping or calibration reads validation rows, `uses_validation`).

Each baseline is fitted on the task and on the task whose prices from the next row on are scrambled; both
fits then forecast the *original* test days, so a difference can only come from what the fit saw.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_baselines import small

from gan_trader.models.baselines import BASELINES, baseline_class


@pytest.mark.parametrize("name", BASELINES)
def test_fit_sees_nothing_after_its_span(name, small_panel, perturb_after, small_task_from, single_thread):
    task = small_task_from(small_panel)
    cut = task.split.val_end if baseline_class(name).uses_validation else task.split.train_end
    scrambled = small_task_from(perturb_after(small_panel, cut))
    origins = task.origins("test")
    clean = small(name).fit(task).predict(task, origins)
    leaked = small(name).fit(scrambled).predict(task, origins)
    np.testing.assert_allclose(leaked.log_return, clean.log_return, rtol=1e-6, atol=1e-9)
    if clean.samples is not None:
        np.testing.assert_allclose(leaked.samples, clean.samples, rtol=1e-6, atol=1e-9)
    # The scrambling starts on the very next row (so a fit reading one row too far would differ).
    following = task.close.index[task.close.index.get_loc(cut) + 1]
    assert scrambled.close.loc[following] != task.close.loc[following]
