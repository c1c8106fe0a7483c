"""The sentiment head: two dense layers and a softmax over (negative, neutral, positive) on frozen embeddings.

It is fitted on the headlines it is given (the caller passes only training-span headlines, or a labelled
file), with a stratified held-out part kept aside to report agreement with the labels. Training is
deterministic for a seed: parameters are initialised and mini-batches drawn inside a forked, seeded RNG
state, so the process's global RNG is neither read nor changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from gan_trader.errors import FeatureError
from gan_trader.sentiment.encoder import SENTIMENT_LABELS, torch_threads

MIN_LABELLED = 10


class HeadNetwork(nn.Module):
    """Embedding -> dense -> GELU -> dropout -> dense -> 3 logits (the softmax is applied by the caller)."""

    def __init__(self, width: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, len(SENTIMENT_LABELS))
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.layers(embeddings)


@dataclass(frozen=True)
class HeadReport:
    """How the head was fitted and how well it agrees with held-out labels."""

    label_source: str
    train_rows: int
    holdout_rows: int
    agreement: float  # share of held-out headlines whose predicted class equals the label
    train_agreement: float
    class_counts: dict[str, int]
    confusion: pd.DataFrame  # rows: label, columns: predicted class, held-out headlines

    def metrics(self) -> dict[str, float]:
        return {
            "sentiment/holdout_agreement": self.agreement,
            "sentiment/train_agreement": self.train_agreement,
            "sentiment/train_headlines": float(self.train_rows),
            "sentiment/holdout_headlines": float(self.holdout_rows),
        }


def stratified_holdout(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of held-out rows: about `fraction` of each class, at least one row kept for training."""
    rng = np.random.default_rng(seed)
    holdout = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue
        take = min(max(int(round(fraction * len(members))), 1), len(members) - 1)
        holdout[rng.permutation(members)[:take]] = True
    return holdout


class SentimentHead:
    """Fits `HeadNetwork` with class-balanced cross-entropy; `predict_proba` gives (neg, neu, pos) rows."""

    def __init__(
        self,
        width: int,
        *,
        hidden: int = 64,
        dropout: float = 0.1,
        steps: int = 300,
        batch_size: int = 128,
        learning_rate: float = 3e-3,
        weight_decay: float = 1e-4,
        holdout_fraction: float = 0.2,
        seed: int = 0,
    ) -> None:
        self.width = width
        self.hidden = hidden
        self.dropout = dropout
        self.steps = steps
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.holdout_fraction = holdout_fraction
        self.seed = seed
        self.network: HeadNetwork | None = None

    def fit(self, embeddings: np.ndarray, labels: np.ndarray, label_source: str) -> HeadReport:
        """Train on all but a stratified held-out part of (embeddings, labels); report held-out agreement."""
        labels = np.asarray(labels, dtype=np.int64)
        classes = np.unique(labels)
        if len(labels) < MIN_LABELLED or len(classes) < 2:
            present = ", ".join(SENTIMENT_LABELS[c] for c in classes) or "none"
            raise FeatureError(
                f"{label_source}: the sentiment head needs at least {MIN_LABELLED} labelled headlines from "
                f"at least two classes in the training span; got {len(labels)} (classes: {present})"
            )
        holdout = stratified_holdout(labels, self.holdout_fraction, self.seed)
        train_x = torch.as_tensor(embeddings[~holdout], dtype=torch.float32)
        train_y = torch.as_tensor(labels[~holdout])
        # One thread: the matrices are tiny, and extra threads only add synchronisation (slower, not faster).
        with torch.random.fork_rng(devices=[]), torch_threads(1):
            torch.manual_seed(self.seed)
            self.network = self._train(train_x, train_y)
        predicted = self.predict_proba(embeddings).argmax(axis=1)
        held = labels[holdout]
        agreement = float((predicted[holdout] == held).mean()) if holdout.any() else float("nan")
        confusion = pd.crosstab(
            pd.Categorical([SENTIMENT_LABELS[i] for i in held], categories=SENTIMENT_LABELS),
            pd.Categorical([SENTIMENT_LABELS[i] for i in predicted[holdout]], categories=SENTIMENT_LABELS),
            rownames=["label"],
            colnames=["predicted"],
            dropna=False,
        )
        return HeadReport(
            label_source=label_source,
            train_rows=int((~holdout).sum()),
            holdout_rows=int(holdout.sum()),
            agreement=agreement,
            train_agreement=float((predicted[~holdout] == labels[~holdout]).mean()),
            class_counts={name: int((labels == i).sum()) for i, name in enumerate(SENTIMENT_LABELS)},
            confusion=confusion,
        )

    def _train(self, inputs: torch.Tensor, targets: torch.Tensor) -> HeadNetwork:
        network = HeadNetwork(self.width, self.hidden, self.dropout)
        counts = torch.bincount(targets, minlength=len(SENTIMENT_LABELS)).float()
        # Inverse-frequency weights: weak labels are mostly neutral, and an unweighted head learns only that.
        weights = torch.where(counts > 0, counts.sum() / (len(SENTIMENT_LABELS) * counts.clamp(min=1)), 0.0)
        loss_fn = nn.CrossEntropyLoss(weight=weights)
        optimiser = torch.optim.AdamW(
            network.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay
        )
        batch = min(self.batch_size, len(targets))
        order = torch.randperm(len(targets))
        cursor = 0
        network.train()
        for _ in range(self.steps):
            if cursor + batch > len(order):
                order, cursor = torch.randperm(len(targets)), 0
            rows = order[cursor : cursor + batch]
            cursor += batch
            optimiser.zero_grad()
            loss = loss_fn(network(inputs[rows]), targets[rows])
            loss.backward()
            optimiser.step()
        network.eval()
        return network

    def predict_proba(self, embeddings: np.ndarray) -> np.ndarray:
        """(n, 3) probabilities of negative, neutral, positive."""
        if self.network is None:
            raise RuntimeError("SentimentHead.predict_proba called before fit")
        with torch.inference_mode(), torch_threads(1):
            logits = self.network(torch.as_tensor(np.asarray(embeddings, dtype=np.float32)))
            return torch.softmax(logits, dim=-1).numpy()
