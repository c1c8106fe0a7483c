"""Scoring with the real default encoder: positive news above negative news, training-span-only fitting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gan_trader.sentiment import score as score_module
from gan_trader.sentiment.score import SentimentSettings, score_news

# Unseen test headlines (not in the labelled set of conftest.py).
GOOD = [
    "Microsoft profit surges to a record on booming cloud sales",
    "Microsoft stock soars after blowout quarter",
    "Microsoft earnings crush expectations, shares rally",
    "Microsoft sales growth accelerates, investors delighted",
]
BAD = [
    "Microsoft stock sinks after a huge loss",
    "Microsoft sued by regulators over fraud, shares drop",
    "Microsoft sales collapse and profit plunges",
    "Microsoft shares tumble on weak earnings and layoffs",
]


def news_rows(headlines: list[str], start: str, hour: int = 10) -> list[dict[str, object]]:
    days = pd.bdate_range(start, periods=len(headlines))
    return [
        {"timestamp": f"{d.date()} {hour:02d}:00", "headline": h}
        for d, h in zip(days, headlines, strict=True)
    ]


def test_positive_above_negative_with_a_labelled_head(
    labelled_file: Path, write_news: Callable[..., Path], msft_calendar: pd.DatetimeIndex
) -> None:
    path = write_news(news_rows(GOOD + BAD, "2016-03-01"))
    scores = score_news(path, labelled=labelled_file, calendar=msft_calendar, seed=0)
    table = scores.headlines.set_index("headline")
    good, bad = table.loc[GOOD, "score"], table.loc[BAD, "score"]
    assert good.min() > bad.max(), (good.tolist(), bad.tolist())
    assert good.mean() > 0.6 and bad.mean() < 0.4
    assert ((table["score"] >= 0) & (table["score"] <= 1)).all()
    assert scores.report is not None and scores.summary and "labelled headlines" in scores.summary
    assert scores.report.metrics()["sentiment/holdout_headlines"] > 0
    # the daily view: one headline a day here, news-free days neutral
    assert scores.daily.loc["2016-03-01", "count"] == 1
    assert scores.daily.loc["2016-02-29", "score"] == 0.5 and scores.daily.loc["2016-02-29", "count"] == 0


def test_weak_labels_order_clear_headlines(
    clear_headlines: dict[str, list[str]], write_news: Callable[..., Path], msft_calendar: pd.DatetimeIndex
) -> None:
    training = clear_headlines["positive"] + clear_headlines["negative"] + clear_headlines["neutral"]
    rows = news_rows(training, "2016-01-04") + news_rows(GOOD + BAD, "2016-06-01")
    scores = score_news(write_news(rows), train_end="2016-05-31", calendar=msft_calendar, seed=0)
    table = scores.headlines.set_index("headline")
    assert table.loc[GOOD, "score"].mean() > table.loc[BAD, "score"].mean() + 0.2
    assert scores.summary is not None and "Loughran-McDonald" in scores.summary


def test_head_sees_only_training_span_headlines(
    clear_headlines: dict[str, list[str]],
    write_news: Callable[..., Path],
    msft_calendar: pd.DatetimeIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    labelled_texts: list[str] = []
    real_labels = score_module.lm_labels

    def spy(texts: list[str]) -> np.ndarray:
        labelled_texts.extend(texts)
        return real_labels(texts)

    monkeypatch.setattr(score_module, "lm_labels", spy)
    early = clear_headlines["positive"] + clear_headlines["negative"]
    rows = news_rows(early, "2016-01-04")
    assert rows[-1]["timestamp"] == "2016-02-04 10:00"
    rows.append({"timestamp": "2016-02-05 16:30", "headline": "after the close on train_end"})
    rows.append({"timestamp": "2016-02-05 15:30", "headline": "before the close on train_end"})
    rows += news_rows(["later headline one", "later headline two"], "2016-02-10")
    score_news(write_news(rows), train_end="2016-02-05", calendar=msft_calendar)
    assert set(labelled_texts) == set(early) | {"before the close on train_end"}


def test_dated_labelled_file_is_cut_at_train_end(
    clear_headlines: dict[str, list[str]],
    write_news: Callable[..., Path],
    msft_calendar: pd.DatetimeIndex,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fitted: list[int] = []
    real_fit = score_module.SentimentHead.fit

    def spy(self: object, embeddings: np.ndarray, labels: np.ndarray, source: str) -> object:
        fitted.append(len(labels))
        return real_fit(self, embeddings, labels, source)  # type: ignore[arg-type]

    monkeypatch.setattr(score_module.SentimentHead, "fit", spy)
    rows = [
        {"timestamp": f"2016-01-{5 + i % 20:02d} 10:00", "headline": h, "label": label}
        for label, texts in clear_headlines.items()
        for i, h in enumerate(texts)
    ]
    rows.append({"timestamp": "2016-12-01 10:00", "headline": "from the future", "label": "positive"})
    labelled = write_news(rows, "labelled.jsonl")
    news = write_news(news_rows(GOOD, "2016-02-01"))
    score_news(news, labelled=labelled, train_end="2016-06-30", calendar=msft_calendar)
    assert fitted == [36]  # the December row is after train_end


def test_business_days_without_a_calendar(labelled_file: Path, write_news: Callable[..., Path]) -> None:
    rows = [
        {"timestamp": "2016-03-04 17:00", "headline": GOOD[0]},
        {"timestamp": "2016-03-05 09:00", "headline": BAD[0]},
    ]
    scores = score_news(write_news(rows), labelled=labelled_file, settings=SentimentSettings(steps=50))
    assert scores.headlines["trading_day"].astype(str).tolist() == ["2016-03-07", "2016-03-07"]
    assert scores.daily.loc["2016-03-07", "count"] == 2


def test_undated_labels_with_a_split_are_refused_unless_allowed(
    labelled_file: Path, write_news: Callable[..., Path], msft_calendar: pd.DatetimeIndex
) -> None:
    """Labelled headlines without dates cannot be held to train_end: with a split in use they are an
    error naming the file and the key that allows them, never used silently."""
    from gan_trader.errors import DataError
    from gan_trader.sentiment.score import SentimentSettings

    path = write_news(news_rows(GOOD + BAD, "2016-03-01"))
    with pytest.raises(DataError, match=r"labelled headlines have no dates.*allow_undated_labels") as error:
        score_news(path, labelled=labelled_file, train_end="2016-02-26", calendar=msft_calendar, seed=0)
    assert str(labelled_file) in str(error.value)
    allowed = SentimentSettings(allow_undated_labels=True)
    scores = score_news(
        path,
        labelled=labelled_file,
        train_end="2016-02-26",
        calendar=msft_calendar,
        seed=0,
        settings=allowed,
    )
    assert scores.summary is not None and "labelled headlines" in scores.summary
