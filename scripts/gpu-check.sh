#!/usr/bin/env bash
# On a machine with an NVIDIA GPU, from the project root, with the project's dependencies
# importable by $PYTHON (default: the venv's, .venv/bin/python, where there is one, else python3): the GPU tests, then the GPU benchmark.
#   scripts/gpu-check.sh [output folder]   (writes gpu-tests.log, gpu-bench.log, gpu.json)
set -uo pipefail
out=${1:-bench/out}
default=python3
[ -x .venv/bin/python ] && default=.venv/bin/python
py=${PYTHON:-$default}
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
"$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
timeout 300 "$py" -m pytest -m gpu tests/gpu -v -rs -p no:cacheprovider 2>&1 | tee "$out/gpu-tests.log"
tests=${PIPESTATUS[0]}
timeout 400 "$py" -m bench.gpu --json "$out/gpu.json" 2>&1 | tee "$out/gpu-bench.log"
bench=${PIPESTATUS[0]}
echo "gpu tests exit $tests, gpu bench exit $bench"
exit $((tests || bench))
