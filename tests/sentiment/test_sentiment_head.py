"""The head: deterministic per seed, stratified held-out agreement, refuses unusable labels; LM labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_trader.errors import FeatureError
from gan_trader.sentiment.head import SentimentHead, stratified_holdout
from gan_trader.sentiment.lexicon import lm_labels


def clusters(seed: int = 0, per_class: int = 30, width: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated Gaussian clusters, one per class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(3, width))
    labels = np.repeat(np.arange(3), per_class)
    return (centres[labels] + rng.normal(0, 0.5, size=(len(labels), width))).astype(np.float32), labels


def test_head_learns_and_reports_held_out_agreement() -> None:
    embeddings, labels = clusters()
    head = SentimentHead(16, hidden=8, steps=200, seed=3)
    report = head.fit(embeddings, labels, "clusters")
    assert report.holdout_rows == 18 and report.train_rows == 72  # 20 % of each class held out
    assert report.agreement > 0.9
    assert int(report.confusion.to_numpy().sum()) == report.holdout_rows
    assert set(report.metrics()) == {
        "sentiment/holdout_agreement",
        "sentiment/train_agreement",
        "sentiment/train_headlines",
        "sentiment/holdout_headlines",
    }
    probabilities = head.predict_proba(embeddings)
    assert probabilities.shape == (90, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6)


def test_head_is_deterministic_and_leaves_the_global_rng_alone() -> None:
    embeddings, labels = clusters(1)
    torch.manual_seed(1234)
    before = torch.rand(1)
    torch.manual_seed(1234)
    first = SentimentHead(16, hidden=8, steps=50, seed=5)
    first.fit(embeddings, labels, "x")
    after = torch.rand(1)
    assert torch.equal(before, after)  # fitting neither read nor advanced the global RNG
    second = SentimentHead(16, hidden=8, steps=50, seed=5)
    second.fit(embeddings, labels, "x")
    other = SentimentHead(16, hidden=8, steps=50, seed=6)
    other.fit(embeddings, labels, "x")
    assert np.array_equal(first.predict_proba(embeddings), second.predict_proba(embeddings))
    assert not np.array_equal(first.predict_proba(embeddings), other.predict_proba(embeddings))


def test_stratified_holdout_keeps_every_class_in_training() -> None:
    labels = np.array([0] * 10 + [1] * 2 + [2])
    holdout = stratified_holdout(labels, 0.2, seed=0)
    assert holdout[labels == 0].sum() == 2 and holdout[labels == 1].sum() == 1
    assert not holdout[labels == 2].any()  # a single example stays in training


@pytest.mark.parametrize(
    ("labels", "match"),
    [(np.ones(30, dtype=int), "at least two classes"), (np.array([0, 2] * 4), "got 8")],
)
def test_unusable_label_sets_are_refused(labels: np.ndarray, match: str) -> None:
    embeddings = np.zeros((len(labels), 4), dtype=np.float32)
    with pytest.raises(FeatureError, match=match):
        SentimentHead(4).fit(embeddings, labels, "news.csv (weak labels)")


def test_loughran_mcdonald_weak_labels() -> None:
    texts = [
        "Microsoft shares plunge after loss and lawsuit",
        "Microsoft reports record profit and strong gains",
        "Microsoft to hold annual meeting on Tuesday",
    ]
    assert lm_labels(texts).tolist() == [0, 2, 1]
