"""Trading-day assignment on the real 2016 MSFT calendar: the 16:00 close, weekends, holidays, timezones."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_trader.sentiment.news import assign_trading_days, effective_dates, load_news
from gan_trader.sentiment.score import daily_scores


def trading_days(
    path: Path,
    calendar: pd.DatetimeIndex,
    date_only_policy: str = "next_day",
    timezone: str = "America/New_York",
) -> list[str | None]:
    news = load_news(path, timezone=timezone)
    effective = effective_dates(news.headlines, date_only_policy=date_only_policy)  # type: ignore[arg-type]
    positions = assign_trading_days(effective, calendar)
    return [str(calendar[p].date()) if p >= 0 else None for p in positions]


# (published, the trading day it must count for); 2016-03-25 Good Friday, 2016-07-04 Independence Day,
# 2016-11-24 Thanksgiving and 2016-12-26 (Christmas observed) are absent from the real calendar.
CASES = [
    ("2016-03-01 15:59", "2016-03-01"),  # before the close: same day
    ("2016-03-01 16:00", "2016-03-02"),  # at the close: the market has closed, next day
    ("2016-03-01 23:59", "2016-03-02"),
    ("2016-03-02 00:01", "2016-03-02"),  # overnight: that morning's session
    ("2016-03-04 16:30", "2016-03-07"),  # Friday after the close -> Monday
    ("2016-03-05 12:00", "2016-03-07"),  # Saturday -> Monday
    ("2016-03-06 18:00", "2016-03-07"),  # Sunday -> Monday
    ("2016-03-24 17:00", "2016-03-28"),  # Thursday after the close, Good Friday closed -> Monday
    ("2016-03-25 10:00", "2016-03-28"),  # during the holiday
    ("2016-07-01 16:05", "2016-07-05"),  # Friday before the long weekend
    ("2016-07-04 09:45", "2016-07-05"),  # Independence Day
    ("2016-11-23 16:01", "2016-11-25"),  # the eve of Thanksgiving
    ("2016-12-23 20:00", "2016-12-27"),  # Christmas weekend and the observed holiday
    ("2016-12-30 16:00", None),  # after the last day of the calendar: outside the frame
    ("2015-12-31 10:00", None),  # a weekday before the first day: a session outside the frame
]


def test_close_weekends_and_holidays(
    msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]
) -> None:
    path = write_news([{"timestamp": stamp, "headline": f"h{i}"} for i, (stamp, _) in enumerate(CASES)])
    assert trading_days(path, msft_calendar) == [day for _, day in CASES]


@pytest.mark.parametrize(
    ("stamp", "day"),
    [
        ("2016-03-01T20:59:00Z", "2016-03-01"),  # 15:59 EST
        ("2016-03-01T21:00:00Z", "2016-03-02"),  # 16:00 EST
        ("2016-07-01T19:59:00Z", "2016-07-01"),  # 15:59 EDT (daylight saving time)
        ("2016-07-01T20:00:00Z", "2016-07-05"),  # 16:00 EDT, then the July 4 weekend
        ("2016-03-01T15:30:00-05:00", "2016-03-01"),
        ("2016-03-01T22:30:00+01:00", "2016-03-02"),  # 16:30 in New York
    ],
)
def test_timezone_aware_stamps_use_exchange_time(
    stamp: str, day: str, msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]
) -> None:
    path = write_news([{"timestamp": stamp, "headline": "h"}])
    assert trading_days(path, msft_calendar) == [day]


def test_naive_stamps_in_another_timezone(
    msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]
) -> None:
    # 20:59 / 21:00 in London (GMT in March) are 15:59 / 16:00 in New York
    path = write_news(
        [
            {"timestamp": "2016-03-01 20:59", "headline": "a"},
            {"timestamp": "2016-03-01 21:00", "headline": "b"},
        ]
    )
    assert trading_days(path, msft_calendar, timezone="Europe/London") == ["2016-03-01", "2016-03-02"]


def test_date_only_stamps(msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]) -> None:
    rows = [{"timestamp": "2016-03-01", "headline": "a"}, {"timestamp": "2016-03-04", "headline": "b"}]
    path = write_news(rows)
    # the hour is unknown: by default it may have come after the close, so it counts for the next session
    assert trading_days(path, msft_calendar) == ["2016-03-02", "2016-03-07"]
    assert trading_days(path, msft_calendar, "same_day") == ["2016-03-01", "2016-03-04"]
    # a bare date is the written date whatever the news timezone
    assert trading_days(path, msft_calendar, "same_day", timezone="Asia/Tokyo") == [
        "2016-03-01",
        "2016-03-04",
    ]


def test_weekend_before_the_first_day_rolls_into_it(
    msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]
) -> None:
    calendar = msft_calendar[msft_calendar >= "2016-03-07"]  # starts on a Monday
    rows = [
        {"timestamp": "2016-03-04 15:00", "headline": "Friday session, not in the frame"},
        {"timestamp": "2016-03-04 16:30", "headline": "Friday after the close"},
        {"timestamp": "2016-03-06 10:00", "headline": "Sunday"},
    ]
    assert trading_days(write_news(rows), calendar) == [None, "2016-03-07", "2016-03-07"]


def test_close_time_is_configurable(msft_calendar: pd.DatetimeIndex, write_news: Callable[..., Path]) -> None:
    news = load_news(write_news([{"timestamp": "2016-11-25 13:30", "headline": "half day"}]))
    early = effective_dates(news.headlines, close_time=dt.time(13, 0))
    assert str(msft_calendar[assign_trading_days(early, msft_calendar)[0]].date()) == "2016-11-28"


def test_daily_scores_average_and_fill(msft_calendar: pd.DatetimeIndex) -> None:
    calendar = msft_calendar[:5]
    positions = np.array([0, 0, 2, -1, 4])
    scores = np.array([0.2, 0.6, 0.9, 0.0, 0.1])
    daily = daily_scores(positions, scores, calendar, prefix="sentiment.")
    assert daily["sentiment.score"].tolist() == pytest.approx([0.4, 0.5, 0.9, 0.5, 0.1])
    assert daily["sentiment.count"].tolist() == [2, 0, 1, 0, 1]
    assert daily.index.equals(calendar)
