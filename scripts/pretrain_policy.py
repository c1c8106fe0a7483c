"""Pre-train the rl controller's policy that ships with gan-trader (gan_trader/tuning/pretrained/).

A first rl session with no saved policy starts from the shipped one of its search space (same
`tuning.space` and `tuning.allow_stop`, same algorithm) instead of spending `tuning.agent.proxy_seconds`
on proxy pre-training; every real session then updates its own copy in runs/policies/.

The proxy task is the default experiment's first fold cut at its validation end (proxy_task: the last
`tuning.agent.proxy_rows` rows up to split.val_end, re-split 70/15/15): no test day of any fold is read. Each
proxy session starts, as a real one does, with the reference set's episode (env.TuningEnv.reset).

The proxy GANs are tiny: torch runs them on one thread by default (`--threads`), which on a machine whose
cores other processes hold avoids intra-op threads spin-waiting for a core.

    .venv/bin/python scripts/pretrain_policy.py [--steps 160] [--seconds 1500] [--threads 1] [--config CONFIG]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from gan_trader.config import load_config
from gan_trader.tuning.agents import pretrained_path, proxy_policy
from gan_trader.workflow.prepare import fold_splits, load_panel, prepare

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "experiments" / "default.yaml")
    parser.add_argument("--steps", type=int, default=160, help="proxy env steps (proxy GAN episodes)")
    parser.add_argument("--seconds", type=float, default=1500.0, help="wall-clock bound of the training")
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the proxy GANs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(
        args.config,
        [
            "tuning.strategy=rl",
            f"tuning.agent.train_steps={args.steps}",
            f"tuning.agent.proxy_seconds={args.seconds}",
        ],
    )
    panel = load_panel(config)
    first = prepare(config, panel, fold_splits(config, panel)[0])
    started = time.perf_counter()
    policy = proxy_policy(config, first.task, quiet=False)
    target = pretrained_path(config)
    target.parent.mkdir(parents=True, exist_ok=True)
    policy.save(target)
    print(f"saved {target} after {time.perf_counter() - started:.0f} s of proxy training")


if __name__ == "__main__":
    main()
