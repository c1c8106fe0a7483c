"""The training-step benchmark's FLOP count (the timing itself is a benchmark, never a test)."""

from __future__ import annotations

import pytest
import torch

from gan_trader.bench import BenchResult
from gan_trader.bench.gan import (
    bench_gan_step,
    critic_forward_flops,
    gemm_backends,
    onednn_available,
    original_config,
    step_flops,
)
from gan_trader.config import CriticConfig


def test_critic_flops_follow_the_layer_sizes() -> None:
    config = CriticConfig.model_validate(
        {"filters": [2, 4], "kernel_size": 3, "strides": 2, "padding": 1, "dense": [5], "conditioning": False}
    )
    # 17 steps -> 9 -> 5; conv1 2*9*2*1*3, conv2 2*5*4*2*3, the window's dense share 2*20*5;
    # per value: its dense share 2*5 and the output 2*5*1
    assert critic_forward_flops(config, 17, 0) == (108 + 240 + 200, 10 + 10)
    conditioned = config.model_copy(update={"conditioning": True})
    assert critic_forward_flops(conditioned, 17, 6) == (108 * 7 + 240 + 200, 10 + 10)


def test_step_flops_at_the_original_size() -> None:
    config = original_config()
    flops = step_flops(config, n_features=112, batch=64)
    projection = 2 * 64 * 17 * 113 * 2000
    recurrent = 2 * 64 * 16 * 500 * 2000
    assert flops["lstm_forward"] == projection + recurrent
    assert flops["lstm_backward"] == projection + 2 * recurrent
    draws = 64 * config.train_samples
    assert flops["generator_head"] == 3 * (2 * 64 * 500 * 64 + draws * (2 * 8 * 64 + 2 * 64))
    window, value = critic_forward_flops(CriticConfig.model_validate({}), 17, 112)
    forward = 64 * window + 64 * (1 + 2 * config.train_samples) * value
    assert flops["critic_update"] == 3 * forward + 3 * draws * value
    assert flops["generator_through_critic"] == 64 * window + 2 * draws * value


@pytest.mark.slow
def test_benchmark_runs_and_reports_its_ratio() -> None:
    (result,) = bench_gan_step(quick=True)
    assert isinstance(result, BenchResult) and result.ratio is not None and result.ratio > 0
    assert result.details["windows_per_s"] > 0 and result.details["gemm_gflops"] > 0


def test_every_gemm_backend_computes_the_product_it_is_timed_on() -> None:
    backends = gemm_backends(torch.device("cpu"))
    assert "torch.mm" in backends
    if onednn_available():
        assert "onednn" in backends  # the faster of the two on AMD: the reference must see it
    a, b = torch.randn(64, 120), torch.randn(120, 200)
    for name, product in backends.items():
        torch.testing.assert_close(product(a, b, torch.empty(64, 200)), a @ b, msg=name)
