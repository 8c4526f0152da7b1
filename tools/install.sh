#!/usr/bin/env bash
# Create .venv and install mmamt with its pinned OpenMMLab stack. Idempotent: a second run with
# unchanged requirements returns at once, and the mmcv wheel (compiled ops) is cached outside .venv.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=$(realpath -m "${VENV:-.venv}")
CACHE=${MMAMT_CACHE:-$HOME/.cache/mmamt}
MMCV_VERSION=2.1.0

log() { echo "[mmamt install] $*"; }

"$PYTHON" - <<'PY' || { echo "mmamt needs Python >= 3.10" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

stamp_of() {
    cat requirements/*.txt setup.py tools/install.sh tools/build_mmcv.sh | sha256sum | cut -d' ' -f1
}
STAMP_FILE="$VENV/.mmamt-install-stamp"
if [[ -f "$STAMP_FILE" && "$(cat "$STAMP_FILE")" == "$(stamp_of)" ]] \
    && "$VENV/bin/python" -c "import mmamt, mmcv.ops" 2>/dev/null; then
    log "up to date ($VENV)"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1
"${PIP[@]}" install --quiet wheel "setuptools>=77.0.3,<81" ninja
log "installing torch (requirements/torch.txt)"
"${PIP[@]}" install --quiet -r requirements/torch.txt

if "$VENV/bin/python" -c "import mmcv, mmcv.ops; assert mmcv.__version__ == '$MMCV_VERSION'" 2>/dev/null; then
    log "mmcv $MMCV_VERSION with ops already installed"
else
    WHEEL=$(VENV="$VENV" CACHE="$CACHE" MMCV_VERSION="$MMCV_VERSION" bash tools/build_mmcv.sh)
    log "installing $WHEEL"
    "${PIP[@]}" install --quiet --no-deps "$WHEEL"
fi

log "installing the OpenMMLab stack (requirements/runtime.txt, tests.txt)"
"${PIP[@]}" install --quiet -r requirements/runtime.txt -r requirements/tests.txt
"${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .

"$VENV/bin/python" -c "import mmamt, mmcv.ops, mmdet, mmseg, mmpretrain, timm; print('mmamt', mmamt.__version__)"
stamp_of > "$STAMP_FILE.tmp" && mv "$STAMP_FILE.tmp" "$STAMP_FILE"
log "done"
