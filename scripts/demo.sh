#!/usr/bin/env bash
# The README's main job (docs/demo.md): check and summarize every model in
# models/, then compile models/vqgan_fmnist.vq to C, build it, train it
# briefly on Fashion-MNIST (2 threads, progress bar on stderr), evaluate it on
# the first 2000 test images, and write a reconstruction grid and a loss curve.
#
#   DEMO_OUT    output directory (default out/demo)
#   DEMO_STEPS  training steps (default 150: about 3 minutes on 2 idle cores)
#   DEMO_THREADS threads (default 2)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
out=${DEMO_OUT:-out/demo}
steps=${DEMO_STEPS:-150}
threads=${DEMO_THREADS:-2}
mkdir -p "$out"

echo "== 1. every model checks; summaries (full tables in $out/<model>.summary.txt)"
for m in models/*.vq; do
  name=$(basename "$m" .vq)
  "$BUILD/vqc" --check "$m"
  "$BUILD/vqc" --summary "$m" > "$out/$name.summary.txt"
  # short version: trainable parameters, code maps, forward GFLOP per image
  awk -v n="$name" '
    $1 == "total" && !tot { tot = $2 }
    $1 == "codes" { codes = codes (codes ? ", " : "") $2 " " $3 $4 $5 " of " $7 }
    /encoder \+ decoder/ { fl = $4 " " $5 }
    END { printf "   %-13s %s trainable parameters; codes %s; encoder+decoder %s/image\n", n, tot, codes, fl }' \
    "$out/$name.summary.txt"
done

echo "== 2. compile models/vqgan_fmnist.vq -> $out/gen and build it"
rm -rf "$out/gen"
"$BUILD/vqc" models/vqgan_fmnist.vq -o "$out/gen"
make -s -C "$out/gen" VQRT_LIB="$PWD/$BUILD/libvqrt.a" VQC_ROOT="$PWD"
M=$out/gen/vqgan_fmnist
"$M" info | grep -E "^(model|input|total|codebook|optimizer|loss|flops|memory) "

run=$out/run
echo "== 3. train $steps steps (batch 32, seed 0, $threads threads) -> $run"
rm -rf "$run"
"$M" train --data fashion-mnist --steps "$steps" --batch 32 --seed 0 --threads "$threads" \
  --eval-every 50 --out "$run"

echo "== 4. evaluate on the first 2000 test images"
"$M" eval --ckpt "$run/ckpt.safetensors" --data fashion-mnist --split test --limit 2000 --threads "$threads" \
  --grid "$out/reconstructions.png" --grid-images 16 | tee "$out/eval.json"
/usr/bin/python3 - "$out/eval.json" <<'EOF' 2>/dev/null || true
import json, sys
e = json.load(open(sys.argv[1]))
print("   PSNR %.2f dB, SSIM %.3f, codebook usage %d/512 codes, perplexity %.1f"
      % (e["psnr"], e["ssim"], e["codes_used"]["quantize"], e["perplexity"]["quantize"]))
EOF

echo "== 5. loss curve"
if command -v gnuplot > /dev/null; then
  gnuplot <<EOF
set terminal png size 800,480 noenhanced
set output "$out/loss.png"
set datafile separator ","
set key top right
set xlabel "step"
set ylabel "loss"
set logscale y
set title "vqgan_fmnist on Fashion-MNIST ($steps steps, batch 32)"
plot "$run/metrics.csv" using "step":"total" with lines lw 2 title "total", \
     "" using "step":"rec" with lines title "rec (L1)", \
     "" using "step":"q_loss" with lines title "q_loss"
EOF
  echo "   $out/loss.png"
else
  echo "   gnuplot is missing: apt-get install -y gnuplot-nox (or run scripts/setup.sh), then rerun make demo"
fi

echo "== done"
echo "   reconstructions (test images on top, reconstructions below): $out/reconstructions.png"
echo "   training batch reconstructions:                              $run/recon_*.png"
echo "   loss curve:                                                  $out/loss.png"
echo "   metrics per step:                                            $run/metrics.csv"
echo "   checkpoint:                                                  $run/ckpt.safetensors"
