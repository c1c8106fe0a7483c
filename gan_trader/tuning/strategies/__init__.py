"""Tuning strategies, registered by name like the baselines: one module per strategy behind one small base
(base.py: `Strategy.drive` runs a session's episodes; `EpisodeStrategy.next_action` decides one at a time
and lets the session's one episode loop, loop.py, drive it).

- `fixed`: the reference set (the config's own hyperparameters), restarted every episode with a new seed.
- `random`: uniform samples of the search box.
- `bo`: Gaussian-process UCB (bayes.py).
- `rl` (the design): a saved PPO/DQN/QR-DQN policy picks keep / new / explore / local / stop from the
  session's observation (observation.py); "new" sets come from the optimiser.
- `optuna`: Optuna's TPE sampler with median or Hyperband pruning on the per-epoch validation score.
- `pbt`, `pb2`: Ray Tune's PopulationBasedTraining and PB2 on the real GAN trainable (their own scheduler).

Every strategy but `fixed` trains the reference set first (pbt and pb2: as one of their trials), and the
session selects another set only when it beats the reference after racing (session.py). Adding a strategy
is one module plus one entry in REGISTRY.
"""

from __future__ import annotations

from gan_trader.errors import ConfigError, TuningError
from gan_trader.registry import resolve
from gan_trader.tuning.strategies.base import (
    EpisodeStrategy,
    Strategy,
    TuningSession,
    config_hyperparameters,
)

__all__ = [
    "ALL_STRATEGIES",
    "REGISTRY",
    "EpisodeStrategy",
    "Strategy",
    "TuningSession",
    "config_hyperparameters",
    "strategy_class",
]

# Registry: strategy name -> "module:Class" (imported when used: pbt and pb2 need Ray, optuna Optuna).
REGISTRY: dict[str, str] = {
    "rl": "gan_trader.tuning.strategies.rl:RLStrategy",
    "bo": "gan_trader.tuning.strategies.bo:BOStrategy",
    "random": "gan_trader.tuning.strategies.random_search:RandomStrategy",
    "optuna": "gan_trader.tuning.strategies.optuna_tpe:OptunaStrategy",
    "pbt": "gan_trader.tuning.strategies.pbt:PBTStrategy",
    "pb2": "gan_trader.tuning.strategies.pb2:PB2Strategy",
    "fixed": "gan_trader.tuning.strategies.fixed:FixedStrategy",
}
ALL_STRATEGIES: tuple[str, ...] = tuple(REGISTRY)


def strategy_class(name: str) -> type[Strategy]:
    """The class registered under `name`; an unknown name is a TuningError naming tuning.strategy."""
    try:
        return resolve(REGISTRY, name, f"tuning.strategy: unknown strategy {name!r}")  # type: ignore[no-any-return]
    except ConfigError:
        raise TuningError(
            f"tuning.strategy: unknown strategy {name!r} (choose one of {', '.join(ALL_STRATEGIES)})"
        ) from None
