#!/usr/bin/env bash
# gan_fmnist.sh: vqgan_fmnist with taming's adversarial loss switched on midway
# (the generated discriminator, the generator's adaptive-weight term and the
# discriminator's step), a short run on Fashion-MNIST: batch 16, the first 512
# training images, 2 threads, -D disc_start=14 -D disc_warmup=4.
#
# Checks, from metrics.csv (step s is the row's 1-based step; 0-based step s-1):
#  - before disc_start - disc_warmup (rows 1..10) the discriminator is off: d_loss,
#    g_loss, d_weight, disc_factor all 0;
#  - warm-up (rows 11..14): the discriminator trains (d_loss > 0, disc_grad_norm > 0)
#    but the generator gets no adversarial term (g_loss = d_weight = 0, total = nll + q_loss);
#  - from disc_start (rows 15..): g_loss != 0, 0 < d_weight <= 1e4 * disc_weight, and
#    total = nll + d_weight * disc_factor * g_loss + codebook_weight * q_loss (to 1e-5);
#  - every value finite;
#  - eval reports disc_accuracy and a PSNR; the run without GAN (disc_start beyond the
#    run) is reported next to it;
#  - exact resume with the discriminator active: 24 steps == 18 + --resume 6
#    (metrics identical, final checkpoints byte-identical: BatchNorm running
#    statistics and both optimizers' state are in the checkpoint).
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
T=$(mktemp -d /tmp/vqc-gan.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args gan_fmnist
generate_model "$T/gen" models/vqgan_fmnist.vq -D disc_start=14 -D disc_warmup=4
M=$T/gen/vqgan_fmnist
cd "$T"
ARGS="--data fashion-mnist --batch 16 --limit 512 --threads 2 --seed 0"
N=24

"$M" train $ARGS --steps $N --out gan 2> gan.err || { tail -3 gan.err; bad "train with GAN"; }
"$PY" - gan/metrics.csv <<'PYEOF' && ok "metrics: discriminator off, warm-up, adversarial term as specified" || bad "metrics"
import csv, math, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 24, len(rows)
f = lambda r, k: float(r[k])
errs = []
for r in rows:
    s = int(r["step"])
    for k, v in r.items():
        if not math.isfinite(float(v)): errs.append("step %d: %s = %s" % (s, k, v))
    if s <= 10:
        for k in ("d_loss", "g_loss", "d_weight", "disc_factor", "disc_grad_norm"):
            if f(r, k) != 0: errs.append("step %d: %s = %s before the discriminator starts" % (s, k, r[k]))
    elif s <= 14:
        if not f(r, "d_loss") > 0 or not f(r, "disc_grad_norm") > 0: errs.append("step %d: no discriminator training in warm-up" % s)
        if f(r, "g_loss") != 0 or f(r, "d_weight") != 0: errs.append("step %d: adversarial term during warm-up" % s)
        if abs(f(r, "total") - (f(r, "nll") + f(r, "q_loss"))) > 1e-5 * max(1, abs(f(r, "total"))): errs.append("step %d: total" % s)
    else:
        if f(r, "g_loss") == 0 or not (0 < f(r, "d_weight") <= 1e4 * 0.8): errs.append("step %d: g_loss %s d_weight %s" % (s, r["g_loss"], r["d_weight"]))
        want = f(r, "nll") + f(r, "d_weight") * f(r, "disc_factor") * f(r, "g_loss") + f(r, "q_loss")
        if abs(f(r, "total") - want) > 1e-5 * max(1, abs(want)): errs.append("step %d: total %s != %s" % (s, r["total"], want))
        if not f(r, "d_loss") > 0: errs.append("step %d: d_loss %s" % (s, r["d_loss"]))
if errs:
    print("\n".join(errs[:10])); sys.exit(1)
PYEOF

"$M" eval --ckpt gan/ckpt.safetensors --data fashion-mnist --limit 256 --batch 64 --threads 2 > gan.json 2> eval.err \
  || { tail -3 eval.err; bad "eval"; }
if grep -q '"disc_accuracy":{"real":[0-9.e-]*,"fake":[0-9.e-]*}' gan.json; then ok "eval reports disc_accuracy"; else bad "eval: no disc_accuracy: $(cat gan.json)"; fi

# the same run without the adversarial term, for comparison (not a threshold: 24 steps)
generate_model "$T/gen0" "$ROOT/models/vqgan_fmnist.vq" -D disc_start=100000
"$T/gen0/vqgan_fmnist" train $ARGS --steps $N --out nogan 2> nogan.err \
  && "$T/gen0/vqgan_fmnist" eval --ckpt nogan/ckpt.safetensors --data fashion-mnist --limit 256 --batch 64 --threads 2 > nogan.json 2>> nogan.err \
  || { tail -3 nogan.err; bad "run without GAN"; }
psnr() { sed -n 's/.*"psnr":\([0-9.e+-]*\).*/\1/p' "$1"; }
echo "      eval PSNR after $N steps (256 test images): with GAN from step 14 $(psnr gan.json) dB, without $(psnr nogan.json) dB"

# exact resume with the discriminator active
"$M" train $ARGS --steps 18 --out part 2> part.err || { tail -3 part.err; bad "train 18"; }
"$M" train --data fashion-mnist --threads 2 --steps $N --out part --resume part/ckpt.safetensors 2> resume.err \
  || { tail -3 resume.err; bad "resume"; }
nc=$(head -1 gan/metrics.csv | tr , '\n' | grep -n -x steps_per_s | cut -d: -f1)
nc=$((${nc:-1} - 1))
if cmp -s <(cut -d, -f1-$nc gan/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv); then
  ok "24 steps == 18 + resume 6 with the discriminator on: metrics identical"
else
  bad "resume metrics differ:"; diff <(cut -d, -f1-$nc gan/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv) | head -6
fi
cmp -s gan/ckpt.safetensors part/ckpt.safetensors && ok "final checkpoints byte-identical" || bad "final checkpoints differ"

[ $fails = 0 ] && echo "gan_fmnist: all passed" || echo "gan_fmnist: $fails failure(s)"
exit $((fails > 0))
