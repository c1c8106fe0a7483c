"""Run the real CLI, but pause (sleep) at a chosen point so a test can signal the process there.

GT_PAUSE_AT=features | episode | between; GT_MARKER=<file> is written when the pause begins.
Only the pause is added: the run itself is the real one (real features, real GAN, real MLflow store).
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def _pause() -> None:
    Path(os.environ["GT_MARKER"]).write_text("paused")
    time.sleep(600)


def install() -> None:
    where = os.environ.get("GT_PAUSE_AT")
    if where == "features":
        from gan_trader.features import pipeline

        original = pipeline.FeaturePipeline.fit_transform

        def fit_transform(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            _pause()
            return original(self, *args, **kwargs)

        pipeline.FeaturePipeline.fit_transform = fit_transform  # type: ignore[method-assign]
    elif where == "episode":
        from gan_trader.tuning import episode

        on_epoch = episode._EpisodeCallback.on_epoch

        def paused_on_epoch(self, epoch, metrics):  # type: ignore[no-untyped-def]
            on_epoch(self, epoch, metrics)
            _pause()

        episode._EpisodeCallback.on_epoch = paused_on_epoch  # type: ignore[method-assign]
    elif where == "between":
        from gan_trader.tuning import session

        finish = session._Session.finish_episode

        def paused_finish(self, result):  # type: ignore[no-untyped-def]
            finish(self, result)
            _pause()

        session._Session.finish_episode = paused_finish  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    from gan_trader.cli import main

    main()
