"""Fixtures for the model tests: one torch thread, and the small multi-asset task the GAN tests train on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from gan_fixtures import make_gan_task

from gan_trader.data.panel import Panel
from gan_trader.models.base import ForecastTask


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Tiny networks run fastest single-threaded, and the test machine is shared; restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def gan_task(real_panel: Panel) -> ForecastTask:
    return make_gan_task(real_panel)
