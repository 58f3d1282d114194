#!/usr/bin/env bash
# The README's main job. Until the code generator lands it checks every model
# in models/ and prints its summary; then it compiles vqgan_fmnist, trains it
# briefly on Fashion-MNIST and writes reconstructions (see docs/demo.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=${DEMO_OUT:-out/demo}
mkdir -p "$out"
for m in models/*.vq; do
  name=$(basename "$m" .vq)
  echo "== $m"
  "$BUILD/vqc" --check "$m"
  "$BUILD/vqc" --summary "$m" | tee "$out/$name.summary.txt"
done
echo "demo: summaries written to $out/"
