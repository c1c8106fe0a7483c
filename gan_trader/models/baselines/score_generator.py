"""Ablation: the GAN's own generator trained on its CRPS term alone (gan.loss "score": no critic, no MH).

The GAN's generator loss is the adversarial term plus gan.score_weight x the CRPS of its draws; this row drops
the adversarial term and keeps everything else (windows, architecture, draws per window, epochs, early
stopping on val/crps_rel), so beside `gan_raw` it shows what the critic adds.
"""

from __future__ import annotations

from gan_trader.models.baselines.l1_generator import GeneratorAblation


class ScoreGenerator(GeneratorAblation):
    """The generator trained on the fair CRPS of gan.train_samples draws per window."""

    name = "score_generator"
    loss = "score"
