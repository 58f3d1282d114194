#!/usr/bin/env bash
# LPIPS parity: runtime/lpips.c against PyTorch's reference module (tests/reference/vqref/lpips.py)
# on random VGG16 weights. tests/fixtures/lpips/make_fixtures.py writes the weights (59 MB, made at
# test time, never committed) and float64 reference distances and gradients w.r.t. y; then
# tests/scripts/lpips_parity.c, built here against $BUILD/libvqrt.a, compares (distance 1e-4
# relative, gradient 1e-3 of its largest element). About 5 s.
# Needs /usr/bin/python3 with torch and numpy: without them this test FAILS, it is never skipped.
set -euo pipefail
PY=${VQ_PYTHON:-/usr/bin/python3}
BUILD=${BUILD:-build}
if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "lpips_parity: FAIL: $PY cannot import torch and numpy (apt-get install python3-torch python3-numpy)" >&2
  exit 1
fi
if [ ! -f "$BUILD/libvqrt.a" ]; then
  echo "lpips_parity: FAIL: $BUILD/libvqrt.a is missing (make $BUILD/libvqrt.a)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE ${VQ_SANFLAGS:-} -Iruntime -Iruntime/kernels -o "$tmp/lpips_parity" \
  tests/scripts/lpips_parity.c "$BUILD/libvqrt.a" -fopenmp -lopenblas -lpthread -lm
"$PY" tests/fixtures/lpips/make_fixtures.py "$tmp"
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} "$tmp/lpips_parity" "$tmp"
