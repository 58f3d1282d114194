#!/usr/bin/env bash
# Checkpoint importers and exporter (scripts/import_*.py, export_torch.py): checkpoints made from
# the PyTorch reference models are imported, read back by an independent numpy reader and by the
# C runtime (importers_load.c, built here against $BUILD/libvqrt.a), and compared bit for bit;
# bad checkpoints must be rejected naming every bad key. See importers_test.py. About 10 s.
# Needs /usr/bin/python3 with torch and numpy: without them this test FAILS, it is never skipped.
set -euo pipefail
PY=${VQ_PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build}
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "importers: FAIL: $PY cannot import torch and numpy (apt-get install python3-torch python3-numpy)" >&2
  exit 1
fi
if [ ! -f "$BUILD/libvqrt.a" ]; then
  echo "importers: FAIL: $BUILD/libvqrt.a is missing (make $BUILD/libvqrt.a)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE ${VQ_SANFLAGS:-} -Iruntime -o "$tmp/importers_load" \
  tests/scripts/importers_load.c "$BUILD/libvqrt.a" -fopenmp -lm
"$PY" tests/scripts/importers_test.py "$tmp" "$tmp/importers_load"
