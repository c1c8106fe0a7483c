"""Generated news files for the feature tests (a plain module: the test modules import it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GOOD = [
    "record profit lifts {c}",
    "{c} shares gain on strong growth",
    "{c} beats estimates, outlook improves",
]
BAD = [
    "{c} shares plunge on loss",
    "{c} faces lawsuit and investigation",
    "weak demand hurts {c}, sales decline",
]
FLAT = ["{c} to hold annual meeting", "{c} announces conference date", "{c} names new director"]


def write_generated_news(
    path: Path,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    seed: int = 0,
    company: str = "Microsoft",
    max_per_day: int = 2,
    variants: int = 50,
) -> Path:
    """A deterministic MSFT news CSV: 0..max_per_day headlines per calendar day at random hours (weekends and
    evenings included), each a GOOD, BAD or FLAT template numbered 0..variants-1. Every distinct headline is
    encoded once, so `variants` sets most of what the news costs a sentiment builder."""
    rng = np.random.default_rng(seed)
    rows = []
    for day in pd.date_range(start, end):
        for _ in range(int(rng.integers(0, max_per_day + 1))):
            templates = (GOOD, BAD, FLAT)[int(rng.integers(0, 3))]
            headline = (
                templates[int(rng.integers(0, 3))].format(c=company) + f" #{int(rng.integers(0, variants))}"
            )
            stamp = day + pd.Timedelta(minutes=int(rng.integers(0, 24 * 60)))
            rows.append(
                {"timestamp": stamp.strftime("%Y-%m-%d %H:%M"), "headline": headline, "ticker": "MSFT"}
            )
    pd.DataFrame(rows).to_csv(path, index=False)
    return path
