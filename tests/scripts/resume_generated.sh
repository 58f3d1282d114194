#!/usr/bin/env bash
# resume_generated.sh: exact resume with a vqc-generated model (not the toy of
# driver.sh): vqgan_fmnist with its shipped codebook recipe (k-means init on
# the first batch, dead-code restart) but -D restart_after=2, so restarts and
# the usage window (model state a resume must restore) are exercised within a
# few steps. Batch 8 (8 x 8x8 = 512 encoder outputs = K, the fewest k-means
# accepts), the first 256 training images, 2 threads.
#
# Checks: 2k steps in one run == k steps + `--resume` to 2k: metrics.csv
# identical in every column but the timings (step, losses, lr, grad_norm,
# psnr, to %.9g), and the final checkpoints byte-identical (every tensor:
# weights, codebook, usage window, Adam moments, step, RNG, data position).
# A failure names the tensors that differ.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
K=${RESUME_K:-3}
T=$(mktemp -d /tmp/vqc-resume.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

# Under make test-asan the runtime is instrumented: link the model with the same flags (VQ_SANFLAGS).
. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args resume_generated
generate_model "$T/gen" models/vqgan_fmnist.vq -D restart_after=2
M=$T/gen/vqgan_fmnist
cd "$T"
ARGS="--data fashion-mnist --batch 8 --limit 256 --threads 2 --seed 0"

"$M" train $ARGS --steps $((2 * K)) --out full 2> full.err || { tail -3 full.err; bad "train $((2 * K)) steps"; }
"$M" train $ARGS --steps "$K" --out part 2> part.err || { tail -3 part.err; bad "train $K steps"; }
"$M" train --data fashion-mnist --threads 2 --steps $((2 * K)) --out part --resume part/ckpt.safetensors 2> resume.err \
  || { tail -3 resume.err; bad "resume to $((2 * K))"; }

# every column before steps_per_s: step, the losses, lr, grad_norm, psnr (the rest are timings)
nc=$(head -1 full/metrics.csv | tr , '\n' | grep -n -x steps_per_s | cut -d: -f1)
nc=$((${nc:-1} - 1))
if [ -s full/metrics.csv ] && [ "$(wc -l < part/metrics.csv)" = $((2 * K + 1)) ] \
   && [ "$nc" -ge 5 ] && cmp -s <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv); then
  ok "$((2 * K)) steps == $K + resume $K: metrics.csv identical ($(wc -l < full/metrics.csv) lines)"
else
  bad "metrics differ:"; diff <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv) | head -8
fi

if cmp -s full/ckpt.safetensors part/ckpt.safetensors; then
  ok "final checkpoints byte-identical"
else
  bad "final checkpoints differ; tensors that differ:"
  "$PY" - full/ckpt.safetensors part/ckpt.safetensors <<'EOF'
import json, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__", {})
    return meta, {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
ma, a = load(sys.argv[1]); mb, b = load(sys.argv[2])
for k in sorted(set(a) | set(b)):
    if a.get(k) != b.get(k): print("      ", k)
for k in sorted(set(ma) | set(mb)):
    if ma.get(k) != mb.get(k): print("       metadata", k, ma.get(k), mb.get(k))
EOF
fi
[ $fails = 0 ] && echo "resume_generated: all passed" || echo "resume_generated: $fails failure(s)"
exit $((fails > 0))
