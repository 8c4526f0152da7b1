#!/usr/bin/env bash
# Download the wheels that tools/analysis_tools/gpu_check.sh installs on an offline GPU machine
# (Python 3.12 with torch, numpy, opencv, timm, rich preinstalled; see docs/benchmarks.md).
#
#   tools/analysis_tools/gpu_wheels.sh [DEST] [PYTHON_VERSION]    (default: .whl 3.12)
#
# Pre-training only: mmcv-lite (no compiled ops), mmengine, mmpretrain, their small pure-Python
# needs, pycocotools (the synthetic data) and pytest (the config smoke test). About 15 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
DEST=${1:-.whl}
PYV=${2:-3.12}
mkdir -p "$DEST"
PLATFORMS=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
    manylinux1_x86_64; do
    PLATFORMS+=(--platform "$p")
done
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$PYV" \
    --implementation cp "${PLATFORMS[@]}" -d "$DEST" \
    mmengine==0.10.7 mmcv-lite==2.1.0 mmpretrain==1.2.0 addict yapf platformdirs termcolor \
    mat4py model-index ordered-set pycocotools pytest pluggy iniconfig
ls "$DEST"
