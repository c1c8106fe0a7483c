#!/usr/bin/env bash
# GPU check of the models (issue 18): run from the repository root on a machine with an NVIDIA GPU, Python 3.12
# and its own CUDA build of torch, in one call of at most 8 minutes. No package registry is needed there:
# the packages the models need beyond torch/numpy/pandas (pydantic and its parts, scoringrules) travel as
# wheels in .whl/ (prepare them on this machine, see README "GPU check"; pytest among them). Writes its
# report under $OUT (or ./gpu-check when OUT is unset). Until it has run on a GPU, the CUDA path of
# gan-trader is untested. No Ray session: Ray would have to travel as a wheel within 64 MiB (not tried).
set -uo pipefail
OUT=${OUT:-gpu-check}
mkdir -p "$OUT"
if compgen -G ".whl/*.whl" > /dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site:${PYTHONPATH:-} || { echo "installing the carried wheels failed"; exit 1; }
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-}
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
# 1. The CUDA-marked tests of the models (tests/models/test_cuda.py): CPU vs CUDA step, bf16.
python3 -m pytest -q -p no:cacheprovider -m cuda tests/models > "$OUT/cuda_tests.txt" 2>&1
tests=$?
# 2. The GAN step benchmark at the original's size on CUDA, float32 and bf16 autocast.
python3 - > "$OUT/gpu_bench.txt" 2>&1 <<'PY'
import json, os
import torch
from gan_trader.bench.gan import bench_gan_step

assert torch.cuda.is_available(), "no CUDA device"
print("torch", torch.__version__, "device", torch.cuda.get_device_name(0))
report = []
for bf16 in (False, True):
    for result in bench_gan_step(False, "cuda", bf16=bf16):
        print(result)
        report.append(str(result))
json.dump(report, open(os.path.join(os.environ.get("OUT", "gpu-check"), "gpu_bench.json"), "w"), indent=1)
PY
bench=$?
cat "$OUT/cuda_tests.txt" "$OUT/gpu_bench.txt"
exit $(( tests != 0 || bench != 0 ))
