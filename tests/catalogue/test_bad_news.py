"""The catalogue of bad news files (and labelled headline files): the reader raises a GanTraderError whose one
line names the file and the column or line at fault, and `gan-trader sentiment score` exits 2 with that line
and writes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest
from catalogue_checks import Content, NotAFile, assert_cli_refuses, write_input
from cli_runner import CliRunner
from one_line import assert_one_line

from gan_trader.errors import GanTraderError
from gan_trader.sentiment.news import load_labelled, load_news

# A news file with nothing wrong in it, for the cases where the option or the labelled file is at fault.
GOOD_NEWS = "timestamp,headline,ticker\n2016-01-04 10:00,a,AAPL\n"
BINARY = bytes(range(256)) * 8


@dataclass(frozen=True)
class BadNews:
    content: Content
    expected: str  # the part of the one line that says what is wrong, and where
    name: str = "news.csv"
    # load_news's keyword arguments, given to the CLI as --ticker / --timezone.
    options: dict[str, str] = field(default_factory=dict)
    labelled: bool = False  # a labelled headline file (load_labelled; the CLI's --labelled) beside good news
    names_file: bool = True  # False where the fault is an option, named by its key instead


BAD_NEWS_FILES: dict[str, BadNews] = {
    # layout
    "empty file": BadNews("", "file is empty"),
    "blank lines only (JSONL)": BadNews("\n\n", "empty", name="news.jsonl"),
    "header only": BadNews("timestamp,headline\n", "no data rows"),
    "binary junk (PNG, JSONL)": BadNews(
        b"\x89PNG\r\n\x1a\n\x00\x00junk", "binary content", name="news.jsonl"
    ),
    "binary junk (CSV)": BadNews(BINARY, "binary content", name="junk.csv"),
    "binary junk (JSONL)": BadNews(BINARY, "binary content", name="junk.jsonl"),
    "not UTF-8": BadNews(
        '{"timestamp": "2016-01-04", "headline": "caf\u00e9"}\n'.encode("latin-1"),
        "line 1: not UTF-8",
        name="latin.jsonl",
    ),
    "semicolons": BadNews("timestamp;headline\n2016-01-04 10:00;x\n", "semicolons"),
    "invalid JSON line": BadNews(
        '{"timestamp": "2020-01-02", "headline": "a"}\n{oops\n', "line 2: invalid JSON", name="news.jsonl"
    ),
    "JSON line not an object": BadNews(
        '{"timestamp": "2016-01-04", "headline": "a"}\n[1, 2]\n',
        "line 2: expected a JSON object",
        name="news.jsonl",
    ),
    "unsupported type (.xlsx)": BadNews(
        "timestamp,headline\n", "unsupported news file type", name="news.xlsx"
    ),
    "unsupported type (a typo)": BadNews("x", "unsupported news file type", name="news.parquetx"),
    "missing file": BadNews(NotAFile.MISSING, "file not found", name="absent.csv"),
    "directory": BadNews(NotAFile.DIRECTORY, "is a directory", name="folder.jsonl"),
    # columns
    "no timestamp column": BadNews("headline\nMSFT beats\n", "missing column 'timestamp'"),
    "no timestamp column, a body": BadNews("headline,body\nhello,world\n", "missing column 'timestamp'"),
    "no headline column": BadNews("timestamp,text2\n2020-01-02 10:00,x\n", "missing column 'headline'"),
    "no headline column, a body": BadNews(
        "timestamp,body\n2016-01-04 10:00,x\n", "missing column 'headline'"
    ),
    "no headline field (JSONL)": BadNews(
        '{"timestamp": "2016-01-04", "text": "a"}\n', "missing column 'headline'", name="news.jsonl"
    ),
    # rows
    "unparseable timestamp": BadNews(
        "timestamp,headline\n2020-01-02 10:00,ok\nsoon,MSFT beats\n", "line 3: unparseable"
    ),
    "unparseable timestamp (JSONL)": BadNews(
        '{"timestamp": "2016-01-04", "headline": "a"}\n{"timestamp": "soon", "headline": "b"}\n',
        "line 2: unparseable timestamp 'soon'",
        name="news.jsonl",
    ),
    "empty timestamp": BadNews(
        'timestamp,headline\n2016-01-04 10:00,ok\n"",bad\n', "line 3: empty timestamp"
    ),
    "empty headline": BadNews('timestamp,headline\n2016-01-04 10:00,""\n', "line 2: empty headline"),
    # options
    "no headline for the ticker": BadNews(
        GOOD_NEWS, "no headline for ticker 'MSFT'", options={"ticker": "MSFT"}
    ),
    "unknown timezone": BadNews(
        GOOD_NEWS,
        "data.news_timezone: unknown timezone 'Mars/Olympus'",
        options={"timezone": "Mars/Olympus"},
        names_file=False,
    ),
    # labelled headline files
    "labelled: unknown label": BadNews(
        "headline,label\na,positive\nb,meh\n", "column 'label' line 3: unknown label 'meh'", labelled=True
    ),
    "labelled: no label column": BadNews("headline\na\n", "missing column 'label'", labelled=True),
}


def named(bad: BadNews, path: Path) -> tuple[str, ...]:
    return (str(path), bad.expected) if bad.names_file else (bad.expected,)


@pytest.mark.parametrize("case", sorted(BAD_NEWS_FILES))
def test_reader_names_the_file_and_the_fault(case: str, tmp_path: Path) -> None:
    bad = BAD_NEWS_FILES[case]
    path = write_input(tmp_path, "labels.csv" if bad.labelled else bad.name, bad.content)
    with pytest.raises(GanTraderError) as info:
        if bad.labelled:
            load_labelled(path)
        else:
            load_news(path, **bad.options)  # type: ignore[arg-type]
    assert_one_line(info.value, *named(bad, path))


@pytest.mark.parametrize("case", sorted(BAD_NEWS_FILES))
def test_sentiment_score_exits_2_with_that_line(case: str, in_tmp: Path, run_cli: CliRunner) -> None:
    bad = BAD_NEWS_FILES[case]
    options = [arg for key, value in bad.options.items() for arg in (f"--{key}", value)]
    if bad.labelled:
        path = write_input(in_tmp, "labels.csv", bad.content)
        news = write_input(in_tmp, "news.csv", GOOD_NEWS)
        options += ["--labelled", str(path)]
    else:
        path = news = write_input(in_tmp, bad.name, bad.content)
    argv = ["sentiment", "score", str(news), "--out", "out.csv", *options]
    assert_cli_refuses(run_cli, in_tmp, argv, *named(bad, path))
