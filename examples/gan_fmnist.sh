#!/usr/bin/env bash
# examples/gan_fmnist.sh: taming's adversarial loss on the demo model, switched on midway,
# with a discriminator warm-up, next to the same run without it.
#   examples/gan_fmnist.sh [STEPS]   (default 200; the GAN starts at STEPS/2, warm-up STEPS/10)
# Output in out/examples/gan/: two run directories and their eval JSON. Needs `make` done first.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-200}
o=out/examples/gan
rm -rf "$o" && mkdir -p "$o"
start=$((steps / 2)); warm=$((steps / 10))
build/vqc models/vqgan_fmnist.vq -D disc_start=$start -D disc_warmup=$warm -o "$o/gen_gan"
build/vqc models/vqgan_fmnist.vq -D disc_start=1000000 -o "$o/gen_plain"   # same model, term never on
make -s -C "$o/gen_gan" && make -s -C "$o/gen_plain"
for v in gan plain; do
  M=$o/gen_$v/vqgan_fmnist
  $M train --data fashion-mnist --steps "$steps" --threads 2 --out "$o/run_$v"
  $M eval --ckpt "$o/run_$v/ckpt.safetensors" --data fashion-mnist --limit 2000 --threads 2 \
     --grid "$o/recon_$v.png" | tee "$o/eval_$v.json"
done
echo "g_loss, d_weight, d_loss, logits per step: $o/run_gan/metrics.csv (see docs/training.md)"
