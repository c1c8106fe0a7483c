"""News files: reading CSV / JSONL, timezones, ticker filter, labels (bad news files: tests/catalogue/)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gan_trader.sentiment.news import load_labelled, load_news


def test_csv_and_jsonl_read_the_same(write_news: Callable[..., Path]) -> None:
    rows = [
        {"timestamp": "2016-03-01 09:30", "headline": "Microsoft opens higher", "body": "Shares rose."},
        {"timestamp": "2016-03-01T20:30:00Z", "headline": "Microsoft closes flat", "body": ""},
    ]
    from_csv = load_news(write_news(rows, "news.csv"))
    from_jsonl = load_news(write_news(rows, "news.jsonl"))
    pd.testing.assert_frame_equal(
        from_csv.headlines.drop(columns="line"), from_jsonl.headlines.drop(columns="line")
    )
    stamps = from_csv.headlines["published"]
    # naive 09:30 is New York time (EST, UTC-5); the aware stamp is kept as written
    assert stamps[0] == pd.Timestamp("2016-03-01 14:30", tz="UTC")
    assert stamps[1] == pd.Timestamp("2016-03-01 20:30", tz="UTC")
    assert from_csv.texts(include_body=True) == [
        "Microsoft opens higher. Shares rose.",
        "Microsoft closes flat",
    ]


def test_naive_timestamps_use_the_configured_timezone(write_news: Callable[..., Path]) -> None:
    path = write_news([{"timestamp": "2016-07-01 21:30", "headline": "h"}])
    london = load_news(path, timezone="Europe/London").headlines["published"][0]
    assert london == pd.Timestamp("2016-07-01 20:30", tz="UTC")  # BST is UTC+1


def test_title_alias_and_ticker_filter(write_news: Callable[..., Path]) -> None:
    rows = [
        {"date": "2016-03-01 10:00", "title": "Microsoft news", "ticker": "MSFT"},
        {"date": "2016-03-01 10:00", "title": "Apple news", "ticker": "AAPL"},
        {"date": "2016-03-01 11:00", "title": "Both", "ticker": "aapl;msft"},
    ]
    news = load_news(write_news(rows), ticker="MSFT")
    assert news.headlines["headline"].tolist() == ["Microsoft news", "Both"]
    assert len(load_news(write_news(rows))) == 3  # no ticker asked: nothing filtered


def test_labelled_file_labels(write_news: Callable[..., Path]) -> None:
    rows = [
        {"text": "a", "sentiment": "Positive"},
        {"text": "b", "sentiment": "-1"},
        {"text": "c", "sentiment": "neu"},
    ]
    table = load_labelled(write_news(rows, "labels.jsonl"))
    assert table["label"].tolist() == [2, 0, 1]
