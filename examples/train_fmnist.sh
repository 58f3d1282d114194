#!/usr/bin/env bash
# examples/train_fmnist.sh: compile the demo model, train it, resume it, evaluate it.
#   examples/train_fmnist.sh [STEPS]     (default 60; ~1.5 s a step on 2 cores)
# Output in out/examples/fmnist/. Run from anywhere; needs `make` done first.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-60}
o=out/examples/fmnist
rm -rf "$o" && mkdir -p "$o"
build/vqc models/vqgan_fmnist.vq -o "$o/gen"          # .vq -> C (vqgan_fmnist.c/.h, main.c, Makefile)
make -s -C "$o/gen"                                    # -> $o/gen/vqgan_fmnist, the driver program
M=$o/gen/vqgan_fmnist
half=$((steps / 2))
# first half, then stop and continue exactly where it left off (same losses as one run)
$M train --data fashion-mnist --steps "$half" --batch 32 --threads 2 --out "$o/run"
$M train --data fashion-mnist --steps "$steps" --threads 2 --out "$o/run" --resume "$o/run/ckpt.safetensors"
$M eval --ckpt "$o/run/ckpt.safetensors" --data fashion-mnist --limit 500 --threads 2 --grid "$o/test_recon.png"
echo "metrics: $o/run/metrics.csv; test reconstructions: $o/test_recon.png"
