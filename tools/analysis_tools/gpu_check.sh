#!/usr/bin/env bash
# The GPU checks of mmamt in one short run (a few minutes), for an offline GPU machine.
#
#   tools/analysis_tools/gpu_check.sh [RESULTS_DIR]        (default: work_dirs/gpu_check)
#
# Stages, each under its own timeout, each writing its log into RESULTS_DIR as it goes (a run cut
# short still leaves what it measured):
#   1. environment: GPU, driver, torch, CUDA, the OpenMMLab packages;
#   2. the config smoke test (tests/test_configs_smoke.py) on the pre-training configs, which on
#      CUDA runs their AmpOptimWrapper as shipped, refresh hook included;
#   3. the pre-training benchmark (MAE-AMT vs MAE, SimMIM-AMT vs SimMIM-ViT) at batch 128 and at
#      the configs' per-GPU batch, eager fp16 (as the configs run) and compiled bf16.
# Stages 1-3 fit one 10-minute device call when the compiled lines are quick; each has a limit.
# Python packages: if WHEELS (default .whl) holds wheels, they are installed into /tmp/site first
# (make them on a machine with PyPI: tools/analysis_tools/gpu_wheels.sh). The machine's own torch
# is used as it is. DRY_RUN=1 rehearses the script on a CPU (fp32, batch 2, one repetition).
# STAGES picks stages (default: all; limits add up to about 20 minutes, so on a device whose
# calls are limited to 10 minutes run e.g. STAGES="env smoke eager" then STAGES="env compiled").
set -uo pipefail
cd "$(dirname "$0")/../.."
RESULTS=${1:-work_dirs/gpu_check}
WHEELS=${WHEELS:-.whl}
mkdir -p "$RESULTS"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PY:-python3}

if compgen -G "$WHEELS/*.whl" >/dev/null; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site "$WHEELS"/*.whl || exit 1
    export PYTHONPATH="$PYTHONPATH:/tmp/site"
    # mmpretrain imports the importlib_metadata backport; the standard library serves.
    "$PY" -c 'import importlib_metadata' 2>/dev/null \
        || echo 'from importlib.metadata import *  # noqa' >/tmp/site/importlib_metadata.py
    # mmpretrain 1.2 imports its multimodal models whenever transformers is importable, and they
    # fail with transformers 5.x.
    "$PY" -c 'import transformers' 2>/dev/null && "$PY" -m pip uninstall -q -y transformers
fi

STAGES=${STAGES:-env smoke eager compiled}
wanted() { [[ " $STAGES " == *" $1 "* ]]; }

stage() {  # name, timeout in seconds, command...
    local name=$1 limit=$2
    shift 2
    echo "=== $name (at most ${limit}s)"
    local start=$SECONDS
    timeout "$limit" "$@" 2>&1 | tee "$RESULTS/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "=== $name: exit $rc after $((SECONDS - start))s" | tee -a "$RESULTS/summary.txt"
    return "$rc"
}

wanted env && { stage env 60 bash -c "nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv \
    || echo 'no nvidia-smi'; \
    $PY -c 'import torch, mmengine, mmcv, mmpretrain, mmamt; \
print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, \"available\", \
torch.cuda.is_available(), torch.cuda.get_device_name() if torch.cuda.is_available() else \"\"); \
print(\"mmengine\", mmengine.__version__, \"mmcv\", mmcv.__version__, \"mmpretrain\", \
mmpretrain.__version__, \"mmamt\", mmamt.__version__)'" || exit 1; }

# On CUDA the smoke test keeps AmpOptimWrapper; detection and segmentation need mmcv's compiled
# ops and mmdet/mmseg, which this check does not bring.
wanted smoke && stage smoke_amp 240 "$PY" -m pytest tests/test_configs_smoke.py -q -p no:cacheprovider \
    -k "configs/mae_amt or configs/simmim_amt or configs/demo"

# Each line: a config against its baseline in one process, interleaved (docs/benchmarks.md).
MAE=configs/mae_amt/mae-amt_vit-base-p16_8xb512-amp-coslr-400e_in1k.py
MAE_BASE=configs/mae_amt/mae_vit-base-p16_8xb512-amp-coslr-400e_in1k.py
SIM=configs/simmim_amt/simmim-amt_vit-base-p16_8xb256-amp-coslr-200e_in1k.py
SIM_BASE=configs/simmim_amt/simmim_vit-base-p16_8xb256-amp-coslr-200e_in1k.py
bench() {  # name, limit, config, baseline, batches, precision, compile
    local args=(--batch-size $5 --precision "$6" --compile "$7" --device cuda --warmup 3 --reps 10)
    [[ "${DRY_RUN:-0}" == 1 ]] && args=(--batch-size 2 --precision fp32 --compile off \
        --device cpu --warmup 0 --reps 1)
    stage "$1" "$2" "$PY" tools/analysis_tools/benchmark_pretrain.py "$3" --baseline "$4" \
        "${args[@]}" --json "$RESULTS/$1.json"
}
# What the configs run today (eager fp16 AMP), then compiled bf16.
wanted eager && bench bench_mae_fp16_eager 150 "$MAE" "$MAE_BASE" "128 512" fp16 off
wanted eager && bench bench_simmim_fp16_eager 150 "$SIM" "$SIM_BASE" "128 256" fp16 off
wanted compiled && bench bench_mae_bf16_compiled 300 "$MAE" "$MAE_BASE" "128 512" bf16 on
wanted compiled && bench bench_simmim_bf16_compiled 300 "$SIM" "$SIM_BASE" "128 256" bf16 on
echo "results in $RESULTS"
