#!/usr/bin/env bash
# Create .venv and install mmamt with its pinned OpenMMLab stack. Idempotent: a second run with
# unchanged requirements returns at once.
#
#   MODE=lite (make install): pre-training and the demo. mmcv-lite 2.1.0 (pure Python, no
#             compiler), mmengine, mmpretrain, timm. A few minutes on a fresh machine.
#   MODE=full (make install-full, used by make test): adds mmdet, mmseg, the test requirements,
#             scikit-learn (requirements/benchmark.txt: the digit scans) and replaces
#             mmcv-lite by mmcv 2.1.0 with compiled ops, built once from its source release and
#             cached outside .venv (tools/build_mmcv.sh; about 11 min on 2 cores).
# A full environment also satisfies MODE=lite, so `make demo` after `make test` installs nothing.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=$(realpath -m "${VENV:-.venv}")
CACHE=${MMAMT_CACHE:-$HOME/.cache/mmamt}
MODE=${MODE:-lite}
MMCV_VERSION=2.1.0

log() { echo "[mmamt install] $*"; }

case "$MODE" in
    lite | full) ;;
    *) echo "tools/install.sh: MODE=$MODE must be 'lite' or 'full'" >&2; exit 2 ;;
esac

"$PYTHON" - <<'PY' || { echo "mmamt needs Python >= 3.10" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 10) else 1)
PY

stamp_of() {
    cat requirements/*.txt setup.py tools/install.sh tools/build_mmcv.sh | sha256sum | cut -d' ' -f1
}
stamp_file() { echo "$VENV/.mmamt-install-stamp-$1"; }
up_to_date() {  # $1 = lite | full
    local check='import mmamt'
    [[ "$1" == full ]] && check='import mmamt, mmcv.ops, mmdet, mmseg'
    [[ -f "$(stamp_file "$1")" && "$(cat "$(stamp_file "$1")")" == "$(stamp_of)" ]] \
        && "$VENV/bin/python" -c "$check" 2>/dev/null
}
if up_to_date full || { [[ "$MODE" == lite ]] && up_to_date lite; }; then
    log "up to date ($VENV)"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $("$PYTHON" --version)"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip)
export PIP_DISABLE_PIP_VERSION_CHECK=1
"${PIP[@]}" install --quiet wheel "setuptools>=77.0.3,<81"
log "installing torch (requirements/torch.txt)"
"${PIP[@]}" install --quiet -r requirements/torch.txt

mmcv_has() {  # $1 = python expression that must hold after `import mmcv`
    "$PY" -c "import mmcv; assert mmcv.__version__ == '$MMCV_VERSION'; $1" 2>/dev/null
}
if [[ "$MODE" == full ]]; then
    if mmcv_has "import mmcv.ops"; then
        log "mmcv $MMCV_VERSION with ops already installed"
    else
        "${PIP[@]}" install --quiet ninja
        WHEEL=$(VENV="$VENV" CACHE="$CACHE" MMCV_VERSION="$MMCV_VERSION" bash tools/build_mmcv.sh)
        # mmcv-lite and mmcv ship the same `mmcv` package: remove one before the other.
        "${PIP[@]}" uninstall --quiet --yes mmcv-lite 2>/dev/null || true
        log "installing $WHEEL"
        "${PIP[@]}" install --quiet --no-deps --force-reinstall "$WHEEL"
    fi
elif mmcv_has "pass"; then
    log "mmcv $MMCV_VERSION already installed"
else
    log "installing mmcv-lite $MMCV_VERSION (no compiled ops: pre-training needs none)"
    "${PIP[@]}" install --quiet "mmcv-lite==$MMCV_VERSION"
fi

REQS=(-r requirements/runtime.txt)
# full: also the tests' requirements and scikit-learn (the digits of the real-image tests).
[[ "$MODE" == full ]] && REQS+=(-r requirements/downstream.txt -r requirements/tests.txt
                                -r requirements/benchmark.txt)
log "installing the OpenMMLab stack (${REQS[*]})"
"${PIP[@]}" install --quiet "${REQS[@]}"
"${PIP[@]}" install --quiet --no-deps --no-build-isolation -e .

if [[ "$MODE" == full ]]; then
    "$PY" -c "import mmamt, mmcv.ops, mmdet, mmseg, mmpretrain, timm; print('mmamt', mmamt.__version__, '(full)')"
else
    "$PY" -c "import mmamt, mmpretrain, timm; print('mmamt', mmamt.__version__, '(pre-training)')"
fi
stamp_of > "$(stamp_file "$MODE").tmp" && mv "$(stamp_file "$MODE").tmp" "$(stamp_file "$MODE")"
log "done ($MODE)"
