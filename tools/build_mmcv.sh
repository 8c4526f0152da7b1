#!/usr/bin/env bash
# Print the path of an mmcv wheel with compiled ops for the torch in $VENV, building it once from
# the PyPI source release and caching it under $CACHE/wheels/<python>-<torch>-<cpu|cuda>/.
# mmcv 2.1.0's setup.py pins -std=c++14/17, while torch >= 2.10 headers require C++20: we raise it.
# With a CUDA toolchain and a visible GPU (or FORCE_CUDA=1) mmcv's own setup builds the CUDA ops too.
set -euo pipefail
: "${VENV:?}" "${CACHE:?}" "${MMCV_VERSION:?}"
PY="$VENV/bin/python"
KEY=$("$PY" - <<'PY'
import os, sys, torch
cuda = torch.cuda.is_available() or os.environ.get('FORCE_CUDA') == '1'
print(f'cp{sys.version_info[0]}{sys.version_info[1]}-torch{torch.__version__}-{"cuda" if cuda else "cpu"}')
PY
)
DEST="$CACHE/wheels/$KEY"
shopt -s nullglob
cached=("$DEST"/mmcv-"$MMCV_VERSION"-*.whl)
if (( ${#cached[@]} )); then
    echo "[mmamt install] reusing cached mmcv wheel ${cached[0]}" >&2
    echo "${cached[0]}"
    exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "[mmamt install] building mmcv $MMCV_VERSION with ops for $KEY (about 11 min on 2 cores)" >&2
"$PY" -m pip download --quiet --no-deps --no-binary mmcv --no-build-isolation \
    "mmcv==$MMCV_VERSION" -d "$WORK" >&2
tar -xzf "$WORK"/mmcv-"$MMCV_VERSION".tar.gz -C "$WORK"
SRC="$WORK/mmcv-$MMCV_VERSION"
CXXSTD=$("$PY" -c "import torch; print('c++20' if tuple(map(int, torch.__version__.split('.')[:2])) >= (2, 10) else 'c++17')")
sed -i -E "s/-std=c\+\+1[47]/-std=$CXXSTD/g" "$SRC/setup.py"
(cd "$SRC" && PATH="$VENV/bin:$PATH" MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
    "$PY" -m pip wheel --no-deps --no-build-isolation -w "$WORK/dist" . >&2)
mkdir -p "$DEST"
built=("$WORK"/dist/mmcv-"$MMCV_VERSION"-*.whl)
name=$(basename "${built[0]}")
# Atomic: a half-copied wheel never appears under its final name.
cp "${built[0]}" "$DEST/.$name.part" && mv "$DEST/.$name.part" "$DEST/$name"
echo "$DEST/$name"
