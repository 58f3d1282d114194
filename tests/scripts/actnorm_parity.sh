#!/usr/bin/env bash
# actnorm_parity.sh: vqgan_fmnist with -D disc_use_actnorm=true (taming's NLayerDiscriminator
# with ActNorm) against the PyTorch reference, with the parity harness of tests/parity
# (docs/parity.md tolerances). Two runs, fixtures from tests/reference/make_actnorm_fixtures.py:
#   initialized=0  the weights as built (loc 0, scale 1, initialized 0): the generator step's
#                  D(x_hat) runs the data-dependent init in both; compared: loc/scale after the
#                  init (actnorm.* rows), initialized = 1 after (buffers), g_loss, d_weight,
#                  logits, every autoencoder and discriminator gradient, d_loss, and 2 steps
#                  of vq_train_step (the init runs in step 0 of those too)
#   initialized=1  loc, scale random and initialized 1: no init may run (loc/scale unchanged)
# Both with -D disc_start=0, codebook_init uniform, no restarts, legacy codebook loss, batch 4.
# Needs /usr/bin/python3 with torch: without it this test FAILS, it is never skipped.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
PY=/usr/bin/python3
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

if ! "$PY" -c 'import torch, numpy' 2>/dev/null; then
  echo "actnorm_parity: FAIL: $PY cannot import torch and numpy" >&2; exit 1
fi
for f in "$BUILD/vqc" "$BUILD/libvqrt.a"; do
  [ -f "$f" ] || { echo "actnorm_parity: FAIL: $f is missing (make)" >&2; exit 1; }
done
OPTF=-O2
if [ -n "${VQ_SANFLAGS:-}" ]; then
  OPTF=-O1
elif nm "$BUILD/libvqrt.a" 2>/dev/null | grep -q __asan_init; then
  echo "actnorm_parity: skipped ($BUILD/libvqrt.a is instrumented and VQ_SANFLAGS is not set)"; exit 0
fi
CFLAGS="-std=c11 $OPTF -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp ${VQ_SANFLAGS:-}"
LIBS="-lopenblas -lpng -lz -lpthread -lm"
T=$(mktemp -d /tmp/vqc-actnorm.XXXXXX)
trap 'rm -rf "$T"' EXIT

gen=$T/gen
"$BUILD/vqc" -D 'codebook_init="uniform"' -D restart_after=0 -D 'codebook_loss="legacy"' -D disc_start=0 \
  -D disc_use_actnorm=true models/vqgan_fmnist.vq -o "$gen" > "$T/vqc.log" 2>&1 \
  || { cat "$T/vqc.log"; echo "FAIL  vqc"; exit 1; }
cc $CFLAGS -Iruntime -Iruntime/kernels -I"$gen" -DPARITY_DESC=vqgan_fmnist_desc -o "$T/parity" \
  tests/parity/parity_*.c "$gen/vqgan_fmnist.c" "$BUILD/libvqrt.a" -fopenmp $LIBS > "$T/cc.log" 2>&1 \
  || { cat "$T/cc.log"; echo "FAIL  compile the harness"; exit 1; }

for init in 0 1; do
  fx=$T/fx$init
  "$PY" tests/reference/make_actnorm_fixtures.py "$fx" --initialized $init --batch 4 --steps 2 > "$T/fx$init.log" 2>&1 \
    || { cat "$T/fx$init.log"; bad "initialized=$init: make_actnorm_fixtures.py"; continue; }
  "$T/parity" "$fx" vqgan_fmnist --threads 2 > "$T/out$init" 2>&1
  rc=$?
  if [ "${PARITY_VERBOSE:-0}" = 1 ]; then cat "$T/out$init"
  else grep -E '^(parity |FAIL|       )|  FAIL|actnorm\.' "$T/out$init"; fi
  # the rows that make this test about ActNorm must be there
  rows=$(grep -c 'actnorm\.loss\.discriminator\.main\.[0-9]*\.\(loc\|scale\)' "$T/out$init")
  [ "$rows" = 4 ] || bad "initialized=$init: $rows actnorm loc/scale rows, want 4"
  grep -q 'main\.3\.initialized' "$T/out$init" || bad "initialized=$init: the initialized buffer was not compared"
  [ $rc = 0 ] && ok "actnorm initialized=$init parity" || bad "actnorm initialized=$init parity (rows marked FAIL above)"
done
[ $fails = 0 ] && echo "actnorm_parity: all passed" || echo "actnorm_parity: $fails failure(s)"
exit $((fails > 0))
