"""sentiment: daily BERT news sentiment (SPEC section 5) as `sentiment.score` and `sentiment.count`.

Headlines come from `data.news`; each counts for the trading day it can first inform (after the 16:00 close:
the next trading day of the frame's calendar). The head is fitted only on headlines assigned to days up to
train_end; row t averages the scores of the headlines assigned to day t (0.5 and count 0 without news), so it
uses nothing published after day t's close. Without a news source the builder is skipped, never faked.
"""

from __future__ import annotations

import pandas as pd

from gan_trader.features.base import Artifact, BuildContext, BuilderParams, FeatureBuilder
from gan_trader.sentiment.news import NewsSource, load_news
from gan_trader.sentiment.score import NewsScorer, SentimentSettings


class SentimentParams(SentimentSettings, BuilderParams):
    """The sentiment builder's parameters: the scorer's settings (sentiment.score.SentimentSettings)."""


class NewsSentiment(FeatureBuilder[SentimentParams]):
    """Daily mean headline sentiment in [0, 1] and the headline count, from a local BERT-family encoder."""

    name = "sentiment"
    Params = SentimentParams

    def __init__(self, params: SentimentParams, context: BuildContext) -> None:
        super().__init__(params, context)
        self.scorer: NewsScorer | None = None
        self._source: NewsSource | None = None

    def _news(self) -> NewsSource:
        if self._source is None:
            assert self.context.news is not None
            self._source = load_news(
                self.context.news, timezone=self.context.news_timezone, ticker=self.context.target
            )
        return self._source

    def fit(self, frame: pd.DataFrame, train_end: pd.Timestamp) -> NewsSentiment:
        if self.context.news is None:
            self.skipped = "no news source configured"
            return self
        self.training_rows(frame, train_end)
        self.scorer = NewsScorer(self.params, seed=self.context.seed, cache_dir=self.context.cache_dir)
        news = self.scorer.assign(self._news(), pd.DatetimeIndex(frame.index))
        self.scorer.fit(news, train_end, labelled_timezone=self.context.news_timezone)
        report = self.scorer.report
        if report is not None:
            self.artifacts.append(
                Artifact(
                    name="sentiment_head",
                    table=report.confusion.reset_index(),
                    text=self.scorer.summary(),
                    metrics=report.metrics(),
                )
            )
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.skipped:
            return pd.DataFrame(index=frame.index)
        if self.scorer is None:
            raise RuntimeError("NewsSentiment.transform called before fit")
        news = self.scorer.assign(self._news(), pd.DatetimeIndex(frame.index))
        return self.scorer.daily(news, prefix=f"{self.name}.")
