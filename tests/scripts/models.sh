#!/usr/bin/env bash
# models.sh: the models in models/ check, and reproduce their reference implementations'
# parameters: per-module counts from `vqc --summary` against the numbers in the issue (which
# are the header comments of tests/ref/*.txt), and `vqc --dump=params` names and shapes against
# tests/ref/taming_vqgan_f16_tensors.txt and tests/ref/vqvae2_tensors.txt (compared as sorted
# sets). Also times `vqc --check models/vqgan_f16.vq` (budget 100 ms).
set -u
BUILD=${BUILD:-build}
VQC="$BUILD/vqc"
[ -x "$VQC" ] || { echo "models.sh: $VQC not built"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# count MODULE COLUMN(2 trainable, 3 buffers) < summary: the number without commas
count() { awk -v m="$1" -v c="$2" '$1 == m { gsub(",", "", $c); print $c; exit }'; }
expect_count() {   # expect_count LABEL WANT GOT
    if [ "$2" = "$3" ]; then echo "ok   $1 = $3"; else bad "$1: want $2, got '$3'"; fi
}

for m in models/*.vq; do
    "$VQC" --check "$m" > "$TMP/out" 2>&1 || { bad "$m does not check:"; cat "$TMP/out"; }
done

# --- taming VQGAN f16 ---------------------------------------------------------------
"$VQC" --summary models/vqgan_f16.vq > "$TMP/f16" 2>&1 || bad "vqgan_f16 --summary failed"
expect_count "f16 encoder" 29298176 "$(count encoder 2 < "$TMP/f16")"
expect_count "f16 decoder" 42449795 "$(count decoder 2 < "$TMP/f16")"
q=$(( $(count quantize 2 < "$TMP/f16") + $(count quant_conv 2 < "$TMP/f16") + $(count post_quant_conv 2 < "$TMP/f16") ))
expect_count "f16 quant_conv+quantize+post_quant_conv" 393728 "$q"
expect_count "f16 discriminator" 2765633 "$(count discriminator 2 < "$TMP/f16")"
# BatchNorm buffers: running_mean + running_var (128 + 256 + 512) * 2 + 3 num_batches_tracked
expect_count "f16 discriminator buffers" 1795 "$(count discriminator 3 < "$TMP/f16")"

"$VQC" --summary -D n_embed=16384 models/vqgan_f16.vq > "$TMP/f16k" 2>&1
q=$(( $(count quantize 2 < "$TMP/f16k") + $(count quant_conv 2 < "$TMP/f16k") + $(count post_quant_conv 2 < "$TMP/f16k") ))
expect_count "f16 -D n_embed=16384 quant_conv+quantize+post_quant_conv" 4325888 "$q"
"$VQC" --summary -D disc_num_layers=2 models/vqgan_f16.vq > "$TMP/f16d" 2>&1
expect_count "f16 -D disc_num_layers=2 discriminator" 663361 "$(count discriminator 2 < "$TMP/f16d")"

"$VQC" --dump=params models/vqgan_f16.vq > "$TMP/p" 2>&1 || bad "vqgan_f16 --dump=params failed"
awk '$NF == "trainable" { $NF = ""; sub(/ $/, ""); print }' "$TMP/p" | sort > "$TMP/ours"
grep -v '^#' tests/ref/taming_vqgan_f16_tensors.txt | sort > "$TMP/ref"
if diff "$TMP/ref" "$TMP/ours" > "$TMP/diff"; then echo "ok   f16 names = tests/ref/taming_vqgan_f16_tensors.txt ($(wc -l < "$TMP/ref") tensors)"
else bad "f16 trainable tensors differ from the reference (< ref, > ours):"; head -20 "$TMP/diff"; fi
awk '$NF == "buffer" { print $1, $2 }' "$TMP/p" | sort > "$TMP/bufs"
for i in 3 6 9; do
    case $i in 3) c=128 ;; 6) c=256 ;; 9) c=512 ;; esac
    printf 'loss.discriminator.main.%s.num_batches_tracked ()\nloss.discriminator.main.%s.running_mean (%s,)\nloss.discriminator.main.%s.running_var (%s,)\n' $i $i $c $i $c
done | sort > "$TMP/bufs_ref"
diff "$TMP/bufs_ref" "$TMP/bufs" > /dev/null && echo "ok   f16 BatchNorm buffers" || { bad "f16 buffers:"; diff "$TMP/bufs_ref" "$TMP/bufs"; }

# --- rosinality VQ-VAE-2 ----------------------------------------------------------------
"$VQC" --summary models/vqvae2.vq > "$TMP/v2" 2>&1 || bad "vqvae2 --summary failed"
expect_count "vqvae2 trainable" 1388867 "$(count total 2 < "$TMP/v2")"
expect_count "vqvae2 EMA buffers" 132096 "$(count total 3 < "$TMP/v2")"
"$VQC" --dump=params models/vqvae2.vq | awk '{ $NF = ""; sub(/ $/, ""); print }' | sort > "$TMP/ours2"
grep -v '^#' tests/ref/vqvae2_tensors.txt | sort > "$TMP/ref2"
if diff "$TMP/ref2" "$TMP/ours2" > "$TMP/diff2"; then echo "ok   vqvae2 names = tests/ref/vqvae2_tensors.txt"
else bad "vqvae2 tensors differ (< ref, > ours):"; head -20 "$TMP/diff2"; fi
# the codebook table is a buffer (EMA), stored (dim, n_embed)
grep -qx 'quantize_t.embed (64, 512) buffer' <("$VQC" --dump=params models/vqvae2.vq) && echo "ok   quantize_t.embed is an EMA buffer" \
    || bad "quantize_t.embed should be a (64, 512) buffer"

# --- every model takes the f16 parameter -D resolution=64 ----------------------------------
for m in models/vqgan_f16.vq models/vqvae2.vq models/vqvae.vq models/vqgan_fmnist.vq; do
    "$VQC" --check -D resolution=64 "$m" > "$TMP/out" 2>&1 || { bad "$m -D resolution=64:"; cat "$TMP/out"; }
done

# --- speed: the checker on the biggest model, best of 5 -------------------------------------
best=999999
for i in 1 2 3 4 5; do
    s=$(date +%s%N); "$VQC" --check models/vqgan_f16.vq > /dev/null 2>&1; e=$(date +%s%N)
    ms=$(( (e - s) / 1000000 )); [ $ms -lt $best ] && best=$ms
done
if [ $best -lt 100 ]; then echo "ok   vqc --check models/vqgan_f16.vq: ${best} ms (budget 100)"
else bad "vqc --check models/vqgan_f16.vq took ${best} ms (budget 100)"; fi

exit $fail
