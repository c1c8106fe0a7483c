"""Fixtures for the GAN tests: a tiny real task (bundled MSFT panel) and a tiny GAN config."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from gan_fixtures import make_task

from gan_trader.config import load_config
from gan_trader.models.base import ForecastTask
from gan_trader.workflow.prepare import load_panel


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Tiny networks run fastest single-threaded, and the test machine is shared; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def gan_panel():  # type: ignore[no-untyped-def]
    return load_panel(load_config(None, ["features.builders={}", "features.cache_dir=null"]))


@pytest.fixture
def tiny_task(gan_panel) -> ForecastTask:  # type: ignore[no-untyped-def]
    return make_task(gan_panel)
