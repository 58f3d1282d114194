#!/usr/bin/env bash
# examples/custom_model.sh: compile examples/custom_model.vq (a small VQ-VAE with an EMA
# codebook), show its tables, benchmark it, train it for a minute, evaluate it.
set -euo pipefail
cd "$(dirname "$0")/.."
o=out/examples/custom
rm -rf "$o" && mkdir -p "$o"
build/vqc --summary examples/custom_model.vq
build/vqc examples/custom_model.vq -o "$o/gen" && make -s -C "$o/gen"
M=$o/gen/custom_fmnist
$M info
$M bench --batch 32 --threads 2 --steps 5
$M train --data fashion-mnist --steps ${1:-300} --threads 2 --out "$o/run"
$M eval --ckpt "$o/run/ckpt.safetensors" --data fashion-mnist --limit 2000 --threads 2 --grid "$o/test_recon.png"
