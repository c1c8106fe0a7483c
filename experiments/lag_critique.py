"""The lag critique on the bundled S&P 500: a next-day price LSTM mostly repeats yesterday's close.

Fits the price LSTM baseline (on the training span only, trained longer than its leaderboard default so it
converges), scores it against persistence, prints the correlation of its forecast with the actual close
shifted by -5..+5 days, and writes the HTML report.

    python experiments/lag_critique.py [--set key=value ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from gan_trader.config import load_config
from gan_trader.evaluation.leaderboard import evaluate
from gan_trader.evaluation.report import write_report
from gan_trader.models.baselines import run_baselines
from gan_trader.models.baselines.price_lstm import PriceLSTM
from gan_trader.workflow.prepare import prepare

CONFIG = Path(__file__).with_name("lag_critique.yaml")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="key.path=value")
    parser.add_argument("--epochs", type=int, default=25, help="price LSTM epochs (early stopping on val)")
    args = parser.parse_args()
    console = Console()
    config = load_config(CONFIG, args.overrides)
    prepared = prepare(config)
    task = prepared.task
    others = [name for name in config.evaluation.baselines if name != "price_lstm"]
    forecasts = run_baselines(others, task, config.seed, gan=config.gan)
    lstm = PriceLSTM(seed=config.seed, epochs=args.epochs, patience=4).fit(task)
    forecasts.append(lstm.predict(task, task.origins("test")))
    board = evaluate(task, forecasts, config.evaluation)
    board.print(console)
    for model, diagnostic in board.lags.items():
        profile = "  ".join(f"{k:+d}:{v:.4f}" for k, v in diagnostic.correlations.items())
        if diagnostic.peak_lag is None:
            console.print(f"{model:12s} constant forecast: no lag profile")
            continue
        flag = (
            "repeats yesterday"
            if diagnostic.repeats_yesterday
            else "lags behind"
            if diagnostic.lags_behind
            else "on time"
        )
        console.print(f"{model:12s} peak at {diagnostic.peak_lag:+d} ({flag})\n   {profile}")
    if config.evaluation.report is not None:
        path = write_report(
            str(config.evaluation.report).format(name=config.name),
            config=config,
            prepared=prepared,
            leaderboard=board,
            forecasts=forecasts,
        )
        console.print(f"report: {path}")


if __name__ == "__main__":
    main()
