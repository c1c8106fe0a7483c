"""Generator, critic and device tests: shapes, draws sharing one encoding, critic layouts on the window."""

from __future__ import annotations

import itertools
import subprocess
import sys

import pytest
import torch

from gan_trader.config import CriticConfig, GanConfig, load_config
from gan_trader.errors import ConfigError
from gan_trader.models.critic import Critic
from gan_trader.models.devices import autocast, resolve_device, seeded_global_rng
from gan_trader.models.generator import Generator

pytestmark = pytest.mark.usefixtures("single_thread")


def test_generator_samples_one_value_per_window_and_depends_on_noise() -> None:
    generator = Generator(n_features=5, hidden=8, layers=2, noise_dim=3, dropout=0.1).eval()
    window = torch.randn(4, 17, 6)
    first = generator(window, torch.randn(4, 3))
    second = generator(window, torch.randn(4, 3))
    assert first.shape == (4,)
    assert not torch.allclose(first, second), "G(window, z) must change with z, or MH has nothing to choose"
    draws = generator(window, torch.randn(4, 7, 3))
    assert draws.shape == (4, 7)
    assert (draws.std(dim=1) > 0).all(), "K draws of one window must differ"


def test_k_draws_share_one_encoding_of_the_window() -> None:
    torch.manual_seed(0)
    generator = Generator(n_features=2, hidden=6, noise_dim=2).eval()
    window, z = torch.randn(3, 17, 3), torch.randn(3, 5, 2)
    together = generator(window, z)
    one_by_one = torch.stack([generator(window, z[:, k]) for k in range(5)], dim=1)
    torch.testing.assert_close(together, one_by_one)


def test_generator_without_conditioning_reads_the_history_alone() -> None:
    torch.manual_seed(0)
    generator = Generator(n_features=4, hidden=6, noise_dim=2, conditioning=False).eval()
    window, z = torch.randn(3, 17, 5), torch.randn(3, 2)
    changed = window.clone()
    changed[..., :-1] = torch.randn(3, 17, 4)  # other features, the same history
    torch.testing.assert_close(generator(window, z), generator(changed, z))


def test_generator_uses_xavier_init() -> None:
    generator = Generator(n_features=112, hidden=500, noise_dim=8)
    weight = generator.lstm.get_parameter("weight_ih_l0")
    bound = (6.0 / (113 + 2000)) ** 0.5  # xavier_uniform on the (4H, In) matrix: 112 features + the history
    assert weight.abs().max() <= bound
    assert weight.abs().max() > 0.9 * bound
    assert torch.count_nonzero(generator.lstm.get_parameter("bias_ih_l0")) == 0


def test_generator_gradients_reach_every_parameter() -> None:
    generator = Generator(n_features=3, hidden=6, layers=2, noise_dim=2, dropout=0.2)
    generator(torch.randn(5, 17, 4), torch.randn(5, 3, 2)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in generator.parameters())


def test_critic_runs_on_the_window_in_the_original_layout() -> None:
    config = CriticConfig.model_validate({})  # Conv1D 32/64/128, kernel 5, stride 2, dense 220, 220, 1
    critic = Critic(config, seq_len=17, n_features=112)
    convs = [m for m in critic.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [c.out_channels for c in convs] == [32, 64, 128]
    assert {c.kernel_size[0] for c in convs} == {5} and {c.stride[0] for c in convs} == {2}
    dense = [m.out_features for m in critic.modules() if isinstance(m, torch.nn.Linear)]
    assert dense == [220, 220, 220, 1]  # the window's and the value's share of the first layer, then 220, 1
    assert convs[0].in_channels == 113  # target history + 112 feature channels
    window = torch.randn(6, 17, 113)
    assert critic(window, torch.randn(6)).shape == (6,)
    assert critic(window, torch.randn(6, 4)).shape == (6, 4)
    assert critic.output_steps == 3


def test_critic_scores_k_values_against_one_encoding() -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig.model_validate({"filters": [4, 8], "dense": [8, 8]}), 17, n_features=2)
    window, values = torch.randn(3, 17, 3), torch.randn(3, 5)
    together = critic(window, values)
    one_by_one = torch.stack([critic(window, values[:, k]) for k in range(5)], dim=1)
    torch.testing.assert_close(together, one_by_one)


@pytest.mark.parametrize("strides", [1, 2, 3])
def test_every_tuned_critic_layout_runs_on_the_window(strides: int) -> None:
    # The tuner's ranges: kernel 2..5, padding 1..3, filters f / 2f / 4f with f in 16..64.
    for kernel, padding, filters in itertools.product(range(2, 6), range(1, 4), (16, 64)):
        config = load_config(
            None,
            [
                f"gan.critic.kernel_size={kernel}",
                f"gan.critic.strides={strides}",
                f"gan.critic.padding={padding}",
                f"gan.critic.filters=[{filters}, {2 * filters}, {4 * filters}]",
            ],
        ).gan.critic
        critic = Critic(config, seq_len=17, n_features=3)
        out = critic(torch.randn(2, 17, 4), torch.randn(2))
        assert out.shape == (2,), (kernel, strides, padding)


def test_a_critic_checkpoint_fits_a_critic_at_another_dropout() -> None:
    # PBT and PB2 continue a donor's checkpoint at new values; PB2 proposes the box's bounds (dropout 0).
    def critic(dropout: float) -> Critic:
        config = CriticConfig.model_validate({"filters": [4, 8], "dense": [8, 8, 8], "dropout": dropout})
        return Critic(config, seq_len=17, n_features=2)

    # The keys of the default (dropout 0) layout, which checkpoints saved before kept.
    keys = {f"head.{i}.{kind}" for i in (1, 3, 5) for kind in ("weight", "bias")}
    for before, after in ((0.0, 0.3), (0.3, 0.0)):
        state = critic(before).state_dict()
        assert {key for key in state if key.startswith("head.")} == keys
        critic(after).load_state_dict(state)  # strict: the same keys and shapes
    torch.manual_seed(0)
    window, values = torch.randn(2, 17, 3), torch.randn(2)
    plain = critic(0.0)
    assert torch.equal(plain.eval()(window, values), plain.train()(window, values))  # dropout 0: identity


def test_critic_without_conditioning_reads_only_the_target() -> None:
    torch.manual_seed(0)
    critic = Critic(CriticConfig.model_validate({"conditioning": False}), seq_len=17, n_features=10)
    window, values = torch.randn(2, 17, 11), torch.randn(2)
    changed = window.clone()
    changed[..., :-1] = torch.randn(2, 17, 10)
    torch.testing.assert_close(critic(window, values), critic(changed, values))


def test_layout_that_cannot_fit_names_the_critic_keys() -> None:
    overrides = ["gan.critic.grow_padding=false", "gan.critic.strides=3", "gan.critic.padding=1"]
    with pytest.raises(ConfigError, match=r"gan\.critic.*kernel_size"):
        load_config(None, overrides)


def test_batchnorm_with_gradient_penalty_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"gan\.critic\.norm.*wgan-gp"):
        load_config(None, ["gan.critic.norm=batch"])
    for loss in ("gan", "wgan-clip"):
        config = load_config(None, ["gan.critic.norm=batch", f"gan.loss={loss}"]).gan
        critic = Critic(config.critic, seq_len=17, n_features=2)
        norms = [m for m in critic.modules() if isinstance(m, torch.nn.BatchNorm1d)]
        assert len(norms) == 3
        assert norms[0].momentum == pytest.approx(1 - config.critic.batchnorm_momentum)


def test_default_critic_has_no_batch_statistics() -> None:
    critic = Critic(GanConfig.model_validate({}).critic, seq_len=17)
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def test_l1_loss_is_a_config_choice() -> None:
    assert load_config(None, ["gan.loss=l1"]).gan.loss == "l1"


def test_devices_resolve_and_guard_cuda() -> None:
    assert resolve_device("cpu").type == "cpu"
    if torch.cuda.is_available():
        assert resolve_device("auto").type == "cuda"
    else:
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ConfigError, match="gan.device"):
            resolve_device("cuda:0")
    with autocast(torch.device("cpu"), bf16=True):
        assert torch.mm(torch.ones(2, 2), torch.ones(2, 2)).dtype == torch.float32


def test_seeded_scope_restores_the_callers_random_state() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with seeded_global_rng(7, torch.device("cpu")):
        inside = torch.rand(3)
    with seeded_global_rng(7, torch.device("cpu")):
        assert torch.equal(torch.rand(3), inside)
    assert torch.equal(torch.rand(3), expected)


def test_critic_equals_a_plain_convolution_then_the_value_in_the_first_dense_layer() -> None:
    torch.manual_seed(1)
    config = CriticConfig.model_validate({"filters": [3, 4], "dense": [5], "norm": "none"})
    critic = Critic(config, seq_len=17, n_features=2).double()
    window, values = torch.randn(4, 17, 3, dtype=torch.double), torch.randn(4, dtype=torch.double)
    x = window.transpose(1, 2)
    for layer in critic.features:
        if isinstance(layer, torch.nn.Conv1d):
            x = torch.nn.functional.conv1d(
                torch.nn.functional.pad(x, (2, 2)), layer.weight, layer.bias, stride=2
            )
        elif not isinstance(layer, torch.nn.ConstantPad1d):
            x = layer(x)
    first = torch.cat([critic.joint_window.weight, critic.joint_value.weight], dim=1)
    hidden = torch.nn.functional.linear(torch.cat([x, values[:, None]], 1), first, critic.joint_window.bias)
    expected = critic.head(hidden).squeeze(1)
    torch.testing.assert_close(critic(window, values), expected)


FAULT_PROBE = """
import resource, sys, torch
import gan_trader.models.devices as devices
if sys.argv[1] == "keep" and not devices.configure_process_memory():
    print("unsupported"); sys.exit()
from gan_trader.bench import gan
from gan_trader.models.wgan import Batch, GanTrainer
torch.set_num_threads(1)
trainer = GanTrainer(gan.original_config("cpu"), gan.FEATURES, gan.SEQ_LEN, torch.device("cpu"))
data = torch.Generator().manual_seed(0)
batch = Batch(*(torch.randn(*shape, generator=data) for shape in
                ((gan.BATCH, gan.SEQ_LEN, gan.FEATURES + 1), (gan.BATCH,))))
for _ in range(4):  # the heap settles over the first steps
    trainer.step(batch)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    trainer.step(batch)
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""


@pytest.mark.slow  # a performance property at the original's size, in two fresh processes
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator tuning is Linux-only")
def test_configured_process_memory_reuses_cpu_buffers_without_page_faults() -> None:
    # A fresh process each: the setting is process-wide and this process's heap has a history.
    def faults_per_training_step(mode: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", FAULT_PROBE, mode], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    kept = faults_per_training_step("keep")
    if kept == "unsupported":
        pytest.skip("libc without mallopt")
    # At the original's size a step maps tens of MB afresh, thousands of page faults, unless they are kept
    # (then a handful; docs/performance.md has the measured counts).
    default = int(faults_per_training_step("default"))
    assert default > 2_000
    assert int(kept) < default / 20
