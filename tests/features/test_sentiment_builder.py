"""The sentiment builder on a real calendar: skipped without news, causal, head fitted on train only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from news_files import BAD, FLAT, GOOD, write_generated_news

from gan_trader.data.loaders import load_asset_file
from gan_trader.errors import ConfigError, FeatureError, GanTraderError
from gan_trader.features.base import BuildContext, create_builder
from gan_trader.features.pipeline import FeaturePipeline
from gan_trader.sentiment import score as score_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """Real MSFT rows of January-May 2016 (holidays absent)."""
    return load_asset_file(ROOT / "data" / "prices" / "MSFT.csv").frame.loc["2016-01-01":"2016-05-31"]


@pytest.fixture(scope="module")
def news_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_generated_news(tmp_path_factory.mktemp("news") / "news.csv", "2015-12-20", "2016-06-10")


def context(news: Path | None, cache_dir: Path | None = None) -> BuildContext:
    return BuildContext(target="MSFT", seed=7, news=news, cache_dir=cache_dir)


FAST = {"steps": 150, "threads": 1}  # one thread: fast on a shared machine, same code path


def build(
    frame: pd.DataFrame, train_end: pd.Timestamp, news: Path | None, cache: Path | None = None
) -> pd.DataFrame:
    return create_builder("sentiment", FAST, context(news, cache)).fit_transform(frame, train_end)


def test_skipped_without_news(frame: pd.DataFrame) -> None:
    builder = create_builder("sentiment", {}, context(None))
    output = builder.fit_transform(frame, frame.index[80])
    assert builder.skipped == "no news source configured"
    assert output.empty and output.index.equals(frame.index) and builder.artifacts == []

    pipeline = FeaturePipeline({"sentiment": {}}, context(None))
    feature_set = pipeline.fit_transform(frame, frame.index[80], use_cache=False)
    assert feature_set.columns == []  # the target's close is no feature unless features.target_close
    assert feature_set.notes == ["sentiment: skipped (no news source configured)"]


def test_daily_features_on_the_real_calendar(frame: pd.DataFrame, news_file: Path) -> None:
    builder = create_builder("sentiment", FAST, context(news_file))
    output = builder.fit_transform(frame, frame.index[80])
    assert list(output.columns) == ["sentiment.score", "sentiment.count"]
    assert output.index.equals(frame.index)
    score, count = output["sentiment.score"], output["sentiment.count"]
    assert ((score >= 0) & (score <= 1)).all()
    assert (score[count == 0] == 0.5).all() and (count == 0).any() and (count > 0).sum() > 50
    # Every headline from 2016-01-01 16:00 to the last row's close is counted once: the weekend before the
    # first row (Monday 2016-01-04) rolls into it; Friday 1 January is a weekday the frame does not hold.
    news = pd.read_csv(news_file)
    stamps = pd.to_datetime(news["timestamp"])
    inside = (stamps >= pd.Timestamp("2016-01-01 16:00")) & (
        stamps < frame.index[-1] + pd.Timedelta(hours=16)
    )
    assert count.sum() == inside.sum()
    (artifact,) = builder.artifacts
    assert artifact.name == "sentiment_head" and 0.0 <= artifact.metrics["sentiment/holdout_agreement"] <= 1.0
    assert artifact.table is not None and list(artifact.table["label"]) == ["negative", "neutral", "positive"]


def test_good_days_score_above_bad_days(frame: pd.DataFrame, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    rows, kinds = [], {}
    for i, day in enumerate(frame.index):
        kind = ("good", "bad", "flat")[i % 3]
        kinds[day] = kind
        template = {"good": GOOD, "bad": BAD, "flat": FLAT}[kind][int(rng.integers(0, 3))]
        rows.append(
            {"timestamp": f"{day.date()} 11:00", "headline": template.format(c="Microsoft") + f" {i}"}
        )
    path = tmp_path / "news.jsonl"
    pd.DataFrame(rows).to_json(path, orient="records", lines=True)
    output = build(frame, frame.index[60], path)
    score = output["sentiment.score"]
    test_days = list(frame.index[61:])
    good = score[[d for d in test_days if kinds[d] == "good"]]
    bad = score[[d for d in test_days if kinds[d] == "bad"]]
    assert good.mean() > bad.mean() + 0.3, (good.mean(), bad.mean())


@pytest.mark.parametrize("with_cache", [False, True])
def test_truncation_of_rows_and_headlines(
    frame: pd.DataFrame, news_file: Path, tmp_path: Path, with_cache: bool
) -> None:
    """Features up to day t are identical when later rows and later headlines are removed or perturbed."""
    train_end, cut = frame.index[60], frame.index[85]
    cache = tmp_path / "cache" if with_cache else None
    full = build(frame, train_end, news_file, cache)

    news = pd.read_csv(news_file)
    stamps = pd.to_datetime(news["timestamp"])
    later = stamps >= cut + pd.Timedelta(hours=16)  # these count for days after the cut
    truncated_news = tmp_path / "truncated.csv"
    news.loc[~later].to_csv(truncated_news, index=False)
    perturbed = news.copy()
    perturbed.loc[later, "headline"] = (
        "Microsoft collapses into bankruptcy, total loss " + perturbed.loc[later, "headline"]
    )
    extra = pd.DataFrame(
        {"timestamp": [f"{cut.date()} 17:30"] * 3, "headline": ["late breaking news"] * 3, "ticker": "MSFT"}
    )
    perturbed_news = tmp_path / "perturbed.csv"
    pd.concat([perturbed, extra]).to_csv(perturbed_news, index=False)
    noisy_frame = frame.copy()
    noisy_frame.loc[noisy_frame.index > cut] *= 1.5

    for variant_frame, variant_news in (
        (frame.loc[:cut], truncated_news),
        (frame.loc[:cut], news_file),
        (noisy_frame, perturbed_news),
    ):
        other = build(variant_frame, train_end, variant_news, cache)
        pd.testing.assert_frame_equal(full.loc[:cut], other.loc[:cut], check_exact=True)
    assert (
        not full.loc[cut:]
        .iloc[1:]
        .equals(build(noisy_frame, train_end, perturbed_news, cache).loc[cut:].iloc[1:])
    )


def test_weak_labels_come_from_training_days_only(
    frame: pd.DataFrame, news_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real = score_module.lm_labels

    def spy(texts: list[str]) -> np.ndarray:
        seen.extend(texts)
        return real(texts)

    monkeypatch.setattr(score_module, "lm_labels", spy)
    train_end = frame.index[60]
    build(frame, train_end, news_file)
    news = pd.read_csv(news_file)
    stamps = pd.to_datetime(news["timestamp"])
    known_by_train_end = news.loc[stamps < train_end + pd.Timedelta(hours=16), "headline"]
    in_frame = news.loc[stamps >= pd.Timestamp("2016-01-01 16:00"), "headline"]
    assert seen and set(seen) <= set(known_by_train_end) & set(in_frame)
    assert len(seen) == len(set(known_by_train_end.index) & set(in_frame.index))


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"close_time": "4pm"}, "features.builders.sentiment.close_time: expected a time of day"),
        (
            {"exchange_timezone": "Nowhere/Land"},
            "features.builders.sentiment.exchange_timezone: unknown timezone",
        ),
        ({"date_only": "sometime"}, "features.builders.sentiment.date_only"),
        ({"max_length": 2}, "features.builders.sentiment.max_length"),
        ({"device": "tpu"}, "features.builders.sentiment.device"),
        ({"temperature": 1}, "features.builders.sentiment.temperature: unknown key"),
    ],
)
def test_bad_parameters(params: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        create_builder("sentiment", params, context(None))


def test_bad_encoder_and_news(frame: pd.DataFrame, news_file: Path, tmp_path: Path) -> None:
    not_bert = tmp_path / "model"
    not_bert.mkdir()
    (not_bert / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(
        FeatureError, match="features.builders.sentiment.encoder: .*not a BERT-family encoder"
    ):
        create_builder("sentiment", {"encoder": str(not_bert)}, context(news_file)).fit(
            frame, frame.index[80]
        )
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(GanTraderError, match="binary content"):
        create_builder("sentiment", {}, context(junk)).fit(frame, frame.index[80])
