#!/usr/bin/env bash
# examples/gan_actnorm.sh: the demo model's PatchGAN with ActNorm instead of BatchNorm
# (taming's use_actnorm), adversarial loss on from STEPS/2 with a warm-up of STEPS/10, so the
# ActNorm data-dependent init runs on the real images of the warm-up's first step
# (docs/training.md, "The discriminator's norm").
#   examples/gan_actnorm.sh [STEPS]   (default 200)
# Output in out/examples/gan_actnorm/: the run directory and its eval JSON. Needs `make` done first.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
o=out/examples/gan_actnorm
rm -rf "$o" && mkdir -p "$o"
start=$((steps / 2)); warm=$((steps / 10))
build/vqc models/vqgan_fmnist.vq -D disc_use_actnorm=true -D disc_start=$start -D disc_warmup=$warm -o "$o/gen"
make -s -C "$o/gen"
M=$o/gen/vqgan_fmnist
$M train --data fashion-mnist --steps "$steps" --threads 2 --out "$o/run"
$M eval --ckpt "$o/run/ckpt.safetensors" --data fashion-mnist --limit 2000 --threads 2 \
   --grid "$o/recon.png" | tee "$o/eval.json"
echo "losses per step: $o/run/metrics.csv; ActNorm's loc/scale: loss.discriminator.main.{3,6}.* in the checkpoint"
