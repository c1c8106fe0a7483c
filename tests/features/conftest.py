"""Fixtures for the feature-builder tests: real_panel's build context, default train_end and a short slice."""

from __future__ import annotations

import pandas as pd
import pytest

from gan_trader.config import load_config
from gan_trader.data.panel import Panel
from gan_trader.data.splits import make_split
from gan_trader.features.base import BuildContext
from gan_trader.workflow.prepare import build_context


@pytest.fixture(scope="session")
def real_context(real_panel: Panel) -> BuildContext:
    return build_context(load_config(None, ["features.builders={}", "features.cache_dir=null"]), real_panel)


@pytest.fixture(scope="session")
def real_train_end(real_panel: Panel) -> pd.Timestamp:
    """The default chronological split's train_end on the bundled panel (70 % of the rows)."""
    config = load_config(None, ["features.builders={}"])
    return make_split(real_panel.frame.index, config.split).train_end


@pytest.fixture(scope="session")
def short_frame(real_panel: Panel) -> pd.DataFrame:
    """400 real rows (2006-2007): enough for small windows, fast for models."""
    return real_panel.frame.iloc[1800:2200]
