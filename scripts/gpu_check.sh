#!/usr/bin/env bash
# GPU check of the models (issue 18): run from the repository root on a machine with an NVIDIA GPU, Python 3.12
# and its own CUDA build of torch, in one call of at most 8 minutes. No package registry is needed there:
# the packages the models need beyond torch/numpy/pandas (pydantic and its parts, scoringrules) travel as
# wheels in .whl/ (prepare them on this machine, see README "GPU check"). Writes its report under $OUT (or
# ./gpu-check when OUT is unset). Until it has run on a GPU, the CUDA path of gan-trader is untested.
set -uo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-} || { echo "installing the carried wheels failed"; exit 1; }
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
python3 - > "$OUT/gpu_check.txt" 2>&1 <<'PY'
import json, os, time
import torch
from gan_trader.bench.gan import bench_gan_step
from gan_trader.config import GanConfig
from gan_trader.models.wgan import Batch, GanTrainer

assert torch.cuda.is_available(), "no CUDA device"
print("torch", torch.__version__, "device", torch.cuda.get_device_name(0))
report = {}
# The same seeded step on CPU and CUDA in float32: the losses agree to float32 rounding.
# A batch as `to_batch` makes it: 112 features plus the target's history as the last channel.
window, target = torch.randn(64, 17, 113), torch.randn(64)
for bf16 in (False, True):
    stats = {}
    for device in ("cpu", "cuda"):
        if device == "cpu" and bf16:
            continue
        torch.manual_seed(0)
        config = GanConfig(device=device, bf16=bf16)
        trainer = GanTrainer(config, n_features=112, seq_len=17, device=torch.device(device))
        batch = Batch(window.to(device), target.to(device))
        stats[device] = {k: float(v) for k, v in trainer.step(batch).items()}
        samples = trainer.sample(batch.window, 100, torch.Generator(device=device).manual_seed(1))
        assert torch.isfinite(samples).all(), f"non-finite samples on {device} (bf16={bf16})"
        stats[device]["sample_sd"] = float(samples.float().std(dim=1).median())
    report[f"bf16={bf16}"] = stats
    print(json.dumps(stats, indent=1))
for result in bench_gan_step(False, "cuda"):
    print(result)
    report.setdefault("bench", []).append(str(result))
json.dump(report, open(os.path.join(os.environ.get("OUT", "gpu-check"), "gpu_check.json"), "w"), indent=1)
PY
status=$?
cat "$OUT/gpu_check.txt"
exit $status
