#!/usr/bin/env bash
# actnorm_train.sh: the driver of vqgan_fmnist generated with -D disc_use_actnorm=true
# (ActNorm in the PatchGAN discriminator), on Fashion-MNIST: batch 8, 64 images, 2 threads,
# -D disc_start=2, so the discriminator first runs in step 2 (0-based).
# Checks:
#  - 6 training steps give finite losses, no adversarial term before disc_start, d_loss > 0 from it;
#  - the data-dependent init happens at the discriminator's first training pass and only then:
#    a checkpoint after 2 steps holds initialized = 0, loc = 0, scale = 1; after 3 steps
#    initialized = 1 and loc/scale moved to data values (and differ from the 2-step ones)
#  - exact resume after the init: 6 steps == 4 + --resume 2 (metrics identical, final
#    checkpoints byte-identical): the init does not run again after a resume;
#  - a checkpoint whose `initialized` buffers are uint8 (taming's state_dict dtype) resumes
#    exactly like the float32 one.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
T=$(mktemp -d /tmp/vqc-actnorm-train.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args actnorm_train
generate_model "$T/gen" models/vqgan_fmnist.vq -D disc_use_actnorm=true -D disc_start=2
M=$T/gen/vqgan_fmnist
cd "$T"
ARGS="--data fashion-mnist --batch 8 --limit 64 --threads 2 --seed 0"

"$M" train $ARGS --steps 6 --out full 2> full.err || { tail -3 full.err; bad "train 6 steps"; }
"$M" train $ARGS --steps 2 --out s2 2> s2.err || { tail -3 s2.err; bad "train 2 steps"; }
"$M" train $ARGS --steps 3 --out s3 2> s3.err || { tail -3 s3.err; bad "train 3 steps"; }
"$PY" - full/metrics.csv s2/ckpt.safetensors s3/ckpt.safetensors "$ROOT/tests/reference" <<'PYEOF' \
  && ok "finite losses; the ActNorm init ran at the discriminator's first step (step 2), not before" || bad "metrics / init"
import csv, math, sys
sys.path.insert(0, sys.argv[4])
import numpy as np
from vqref.safetensors_np import load_file
errs = []
rows = list(csv.DictReader(open(sys.argv[1])))
if len(rows) != 6: errs.append("%d metric rows" % len(rows))
for r in rows:
    s = int(r["step"])    # 1-based
    for k, v in r.items():
        if not math.isfinite(float(v)): errs.append("step %d: %s = %s" % (s, k, v))
    if s <= 2 and (float(r["d_loss"]) != 0 or float(r["g_loss"]) != 0): errs.append("step %d: GAN before disc_start" % s)
    if s > 2 and not float(r["d_loss"]) > 0: errs.append("step %d: d_loss %s" % (s, r["d_loss"]))
a, b = load_file(sys.argv[2]), load_file(sys.argv[3])
for i in (3, 6):
    p = "loss.discriminator.main.%d." % i
    if float(a[p + "initialized"]) != 0: errs.append("2 steps: %sinitialized = %s" % (p, a[p + "initialized"]))
    if np.any(a[p + "loc"] != 0) or np.any(a[p + "scale"] != 1): errs.append("2 steps: %s loc/scale not 0/1" % p)
    if float(b[p + "initialized"]) != 1: errs.append("3 steps: %sinitialized = %s" % (p, b[p + "initialized"]))
    if not np.all(np.isfinite(b[p + "scale"])) or np.allclose(b[p + "scale"], 1) or np.allclose(b[p + "loc"], 0):
        errs.append("3 steps: %s loc/scale not set from data" % p)
if errs:
    print("\n".join(errs[:10])); sys.exit(1)
PYEOF

# resume after the init: the init must not run again (it would reset loc/scale)
"$M" train $ARGS --steps 4 --out part 2> part.err || { tail -3 part.err; bad "train 4 steps"; }
cp part/ckpt.safetensors part4.safetensors
"$M" train --data fashion-mnist --threads 2 --steps 6 --out part --resume part/ckpt.safetensors 2> resume.err \
  || { tail -3 resume.err; bad "resume"; }
nc=$(head -1 full/metrics.csv | tr , '\n' | grep -n -x steps_per_s | cut -d: -f1)
nc=$((${nc:-1} - 1))
if cmp -s <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv); then
  ok "6 steps == 4 + resume 2 with ActNorm: metrics identical"
else
  bad "resume metrics differ:"; diff <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv) | head -6
fi
cmp -s full/ckpt.safetensors part/ckpt.safetensors && ok "final checkpoints byte-identical" || bad "final checkpoints differ"

# the same 4-step checkpoint with uint8 `initialized` buffers (as taming's state_dict holds them)
"$PY" - part4.safetensors u8.safetensors "$ROOT/tests/reference" <<'PYEOF' || bad "write the uint8 checkpoint"
import sys
sys.path.insert(0, sys.argv[3])
import numpy as np
from vqref.safetensors_np import load_file, save_file
t, meta = load_file(sys.argv[1], with_metadata=True)
n = 0
for k in t:
    if k.endswith(".initialized"):
        t[k] = t[k].astype(np.uint8); n += 1
assert n == 2, n
save_file(t, sys.argv[2], metadata=meta)
PYEOF
mkdir -p u8run && cp u8.safetensors u8run/ckpt.safetensors
"$M" train --data fashion-mnist --threads 2 --steps 6 --out u8run --resume u8run/ckpt.safetensors 2> u8.err \
  || { tail -3 u8.err; bad "resume from the uint8 checkpoint"; }
cmp -s full/ckpt.safetensors u8run/ckpt.safetensors && ok "a uint8 'initialized' checkpoint resumes exactly" \
  || bad "the run resumed from the uint8 checkpoint differs"

[ $fails = 0 ] && echo "actnorm_train: all passed" || echo "actnorm_train: $fails failure(s)"
exit $((fails > 0))
