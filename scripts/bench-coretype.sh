#!/usr/bin/env bash
# Compares OpenBLAS kernels (OPENBLAS_CORETYPE) on conv-shaped sgemm; see
# tests/bench/bench_gemm_coretype.c. Not part of `make test`. Usage:
#   make build/bench/bench_gemm_coretype && scripts/bench-coretype.sh [threads] [reps]
set -eu
BUILD=${BUILD:-build}
bin=$BUILD/bench/bench_gemm_coretype
[ -x "$bin" ] || { echo "build $bin first (make $bin)" >&2; exit 1; }
threads=${1:-1}; reps=${2:-7}
echo "# $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, threads=$threads reps=$reps"
echo "# default (auto-selected) kernel:"
env -u OPENBLAS_CORETYPE "$bin" "$threads" "$reps"
for core in Zen Haswell SkylakeX Cooperlake; do
  echo "# OPENBLAS_CORETYPE=$core"
  OPENBLAS_CORETYPE=$core "$bin" "$threads" "$reps"
done
