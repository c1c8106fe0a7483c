"""Fixtures for the sentiment tests: a real trading calendar, news-file writers and a small labelled set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gan_trader.data.loaders import load_asset_file

ROOT = Path(__file__).resolve().parents[2]

# Tiny hand-written labelled set: clear cases only, so a head trained on it must separate them.
POSITIVE = [
    "Microsoft posts record profit as cloud revenue soars",
    "Microsoft shares jump after earnings beat expectations",
    "Strong demand lifts Microsoft sales to all-time high",
    "Microsoft raises dividend after excellent quarter",
    "Analysts upgrade Microsoft on robust growth outlook",
    "Microsoft wins major government contract, stock rallies",
    "Microsoft reports surging income and higher margins",
    "Investors cheer Microsoft's impressive results",
    "Microsoft stock climbs to record on booming demand",
    "Microsoft beats forecasts with strong profit growth",
    "Microsoft gains as new products sell well",
    "Microsoft delivers stellar quarter, shares soar",
]
NEGATIVE = [
    "Microsoft shares plunge after quarterly loss",
    "Microsoft faces lawsuit over antitrust violations",
    "Weak demand hits Microsoft sales, stock tumbles",
    "Microsoft cuts outlook as revenue declines",
    "Analysts downgrade Microsoft on disappointing results",
    "Microsoft hit by fraud investigation, shares slump",
    "Microsoft reports falling income and shrinking margins",
    "Investors flee Microsoft after poor earnings",
    "Microsoft stock crashes on heavy losses",
    "Microsoft misses forecasts as profit collapses",
    "Microsoft slides after product recall and penalties",
    "Microsoft warns of layoffs amid worsening slump",
]
NEUTRAL = [
    "Microsoft to hold annual shareholder meeting in December",
    "Microsoft announces date of developer conference",
    "Microsoft CEO to speak at technology forum",
    "Microsoft releases routine update for Windows",
    "Microsoft opens new office in Seattle suburb",
    "Microsoft names new head of communications",
    "Microsoft schedules quarterly earnings call for Thursday",
    "Microsoft publishes its annual report",
    "Microsoft lists job openings in Dublin",
    "Microsoft to present at investor conference next week",
    "Microsoft renames its cloud division",
    "Microsoft files routine regulatory paperwork",
]


@pytest.fixture(scope="session")
def msft_calendar() -> pd.DatetimeIndex:
    """The real MSFT trading days of 2016 (holidays absent) from the bundled data."""
    series = load_asset_file(ROOT / "data" / "prices" / "MSFT.csv")
    return series.frame.loc["2016-01-01":"2016-12-31"].index


@pytest.fixture
def write_news(tmp_path: Path) -> Callable[..., Path]:
    """Write rows (dicts) as CSV or JSONL under tmp_path and return the path."""

    def write(rows: list[dict[str, object]], name: str = "news.csv") -> Path:
        path = tmp_path / name
        if path.suffix == ".jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        else:
            pd.DataFrame(rows).to_csv(path, index=False)
        return path

    return write


@pytest.fixture
def labelled_file(tmp_path: Path) -> Path:
    rows = (
        [{"headline": h, "label": "positive"} for h in POSITIVE]
        + [{"headline": h, "label": "negative"} for h in NEGATIVE]
        + [{"headline": h, "label": "neutral"} for h in NEUTRAL]
    )
    path = tmp_path / "labelled.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def clear_headlines() -> dict[str, list[str]]:
    return {"positive": POSITIVE, "negative": NEGATIVE, "neutral": NEUTRAL}
