#!/usr/bin/env bash
# examples/encode_decode.sh: images -> discrete codes (a text file) -> images.
#   examples/encode_decode.sh CKPT [IMAGE.png]
# CKPT is a vqgan_fmnist checkpoint (e.g. out/demo/run/ckpt.safetensors from `make demo`).
# Without IMAGE.png it uses the first test image: `eval --grid ... --grid-images 1` writes it (above its
# reconstruction, 32x66); encode resizes and centre-crops any PNG to the model's input as its data section says.
set -euo pipefail
cd "$(dirname "$0")/.."
ckpt=${1:?usage: examples/encode_decode.sh CKPT [IMAGE.png]}
o=out/examples/codec
mkdir -p "$o"
M=${MODEL:-out/demo/gen/vqgan_fmnist}
[ -x "$M" ] || { build/vqc models/vqgan_fmnist.vq -o "$o/gen" && make -s -C "$o/gen"; M=$o/gen/vqgan_fmnist; }
img=${2:-}
if [ -z "$img" ]; then
  $M eval --ckpt "$ckpt" --data fashion-mnist --limit 1 --batch 1 --grid "$o/pair.png" --grid-images 1 > /dev/null
  img=$o/pair.png
fi
$M encode --ckpt "$ckpt" "$img" -o "$o/codes.txt"      # header "codebook quantize 8 8 512", then 8 rows of 8 indices
head -3 "$o/codes.txt"
$M decode --ckpt "$ckpt" "$o/codes.txt" -o "$o/decoded.png"
$M reconstruct --ckpt "$ckpt" "$img" -o "$o/reconstructed.png"
echo "codes: $o/codes.txt; decoded: $o/decoded.png (= $o/reconstructed.png)"
