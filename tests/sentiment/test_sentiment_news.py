"""News files: reading CSV / JSONL, timezones, ticker filter, and one-line errors for bad inputs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from gan_trader.errors import DataError, GanTraderError
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


def _raises(path: Path, match: str, **kwargs: object) -> None:
    with pytest.raises(GanTraderError, match=match) as info:
        load_news(path, **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("empty.csv", "", "empty"),
        ("header_only.csv", "timestamp,headline\n", "no data rows"),
        ("no_time.csv", "headline,body\nhello,world\n", "missing column 'timestamp'"),
        ("no_headline.csv", "timestamp,body\n2016-01-04 10:00,x\n", "missing column 'headline'"),
        (
            "bad_time.csv",
            "timestamp,headline\n2016-01-04 10:00,ok\nyesterday-ish,bad\n",
            "line 3: unparseable",
        ),
        ("blank_time.csv", 'timestamp,headline\n2016-01-04 10:00,ok\n"",bad\n', "line 3: empty timestamp"),
        ("blank_headline.csv", 'timestamp,headline\n2016-01-04 10:00,""\n', "line 2: empty headline"),
        ("semicolons.csv", "timestamp;headline\n2016-01-04 10:00;x\n", "semicolons"),
        ("news.parquetx", "x", "unsupported news file type"),
        ("empty.jsonl", "\n\n", "empty"),
        ("bad.jsonl", '{"timestamp": "2016-01-04", "headline": "a"}\n{oops\n', "line 2: invalid JSON"),
        (
            "list.jsonl",
            '{"timestamp": "2016-01-04", "headline": "a"}\n[1, 2]\n',
            "line 2: expected a JSON object",
        ),
        ("no_headline.jsonl", '{"timestamp": "2016-01-04", "text": "a"}\n', "missing column 'headline'"),
        (
            "bad_time.jsonl",
            '{"timestamp": "2016-01-04", "headline": "a"}\n{"timestamp": "soon", "headline": "b"}\n',
            "line 2: unparseable timestamp 'soon'",
        ),
    ],
)
def test_bad_news_files(tmp_path: Path, name: str, content: str, match: str) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    _raises(path, match)


@pytest.mark.parametrize("name", ["junk.csv", "junk.jsonl"])
def test_binary_junk(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(bytes(range(256)) * 8)
    _raises(path, "binary content")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"timestamp": "2016-01-04", "headline": "caf\u00e9"}\n'.encode("latin-1"))
    _raises(path, "line 1: not UTF-8")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _raises(tmp_path / "absent.csv", "file not found")
    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    _raises(folder, "is a directory")


def test_unknown_ticker_and_timezone(write_news: Callable[..., Path]) -> None:
    path = write_news([{"timestamp": "2016-01-04 10:00", "headline": "a", "ticker": "AAPL"}])
    _raises(path, "no headline for ticker 'MSFT'", ticker="MSFT")
    with pytest.raises(DataError, match="data.news_timezone: unknown timezone 'Mars/Olympus'"):
        load_news(path, timezone="Mars/Olympus")


def test_bad_labels(write_news: Callable[..., Path]) -> None:
    path = write_news(
        [{"headline": "a", "label": "positive"}, {"headline": "b", "label": "meh"}], "labels.csv"
    )
    with pytest.raises(DataError, match="column 'label' line 3: unknown label 'meh'"):
        load_labelled(path)
    path = write_news([{"headline": "a"}], "nolabels.csv")
    with pytest.raises(DataError, match="missing column 'label'"):
        load_labelled(path)
