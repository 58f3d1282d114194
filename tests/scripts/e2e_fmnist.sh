#!/usr/bin/env bash
# e2e_fmnist.sh: the whole path, .vq -> C -> program -> training -> evaluation,
# held to the PyTorch reference (tests/reference/train_fmnist.py, same
# architecture) at the same step with the same recipe:
#   Adam lr 2e-4 betas (0.5, 0.9), batch 32, seed 0, L1 + codebook loss with
#   beta 0.25 on the commitment term ("corrected"), taming's uniform codebook
#   init U(-1/K, 1/K), no dead-code restart, no GAN (the driver trains only
#   optimizer ae; disc_start is 2000 anyway),
# i.e. models/vqgan_fmnist.vq with
#   -D 'codebook_init="uniform"' -D restart_after=0 -D 'codebook_loss="corrected"'.
# What cannot be the same: the initial weights (our vq_rng, not torch's
# generator) and the data order (the driver's seeded loader, not numpy's
# permutation), so the check is one-sided: after 200 steps, `eval --limit
# 2000` (PSNR per image on the padded 32x32, averaged over the first 2000 test
# images, as the reference's evaluate()) must be no worse than the reference's.
#
# The reference number, produced once with (2 threads, shared machine, 579 s):
#   /usr/bin/python3 tests/reference/train_fmnist.py --steps 200 --eval-every 100 --log-every 20 --seed 0 --threads 2
#   -> "eval step 100: psnr 17.121 dB psnr28 15.965 dB codes used 11/512 perplexity 7.4"
#   -> "final step 200: psnr 17.681 dB psnr28 16.532 dB codes used 11/512 perplexity 8.1"
#      (training lines: step 1 "loss 0.92121 rec 0.87083", step 200 "loss 1.79924 rec 0.13479 qloss 1.66445")
# The bar is at step 200, not 100: at step 100 both sides are still in the noisy early phase (vqc
# 15.42 dB vs this run's 17.12 dB and a colleague's earlier reference run's 16.31 dB: torch on 2 threads
# is not bit-reproducible, and the init and data order differ), by step 200 vqc is at 17.99 dB.
# Also printed (not checked): codebook usage and perplexity, to compare with the
# reference's 11/512, perplexity 8.1 (vqc: 13/512, 6.95).
#
# Before that, on the SAME weights (tests/scripts/e2e_fmnist_parity.py, PyTorch's vqref model):
#   - one step from `init` on the first 32 training images: losses and grad_norm equal PyTorch's, and
#     Adam's first update has the sign of PyTorch's gradient in every tensor;
#   - after training, PyTorch's evaluate() on vqc's checkpoint gives vqc's eval PSNR (0.01 dB) and codes.
# So a miss of the PSNR bar is training dynamics (init, data order, float rounding), not a wrong
# forward or backward.
#
# Budget: 7.5 CPU-minutes measured (200 steps, two evals of 2000 images, the PyTorch checks), i.e.
# ~4-5 min on 2 idle cores (11 min on the shared machine it was written on); E2E_STEPS=0 skips.
# The margin is 0.31 dB (17.99 vs 17.68); vqc is deterministic for a given thread count, so the
# result only moves if float rounding changes (another OpenBLAS kernel, another thread count).
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
STEPS=${E2E_STEPS:-200}
REF_PSNR=17.681     # train_fmnist.py at step 200 (see above)
PY=/usr/bin/python3

[ "$STEPS" = 0 ] && { echo "e2e_fmnist: skipped (E2E_STEPS=0)"; exit 0; }
[ "$STEPS" = 200 ] || echo "e2e_fmnist: note: the reference number is for 200 steps, this run does $STEPS"
if nm "$BUILD/libvqrt.a" 2>/dev/null | grep -q __asan_init; then
  echo "e2e_fmnist: skipped under ASan (minutes of training; resume_generated.sh and codegen tests cover the code)"; exit 0
fi
T=$(mktemp -d /tmp/vqc-e2e.XXXXXX)
trap 'rm -rf "$T"' EXIT

"$BUILD/vqc" -D 'codebook_init="uniform"' -D restart_after=0 -D 'codebook_loss="corrected"' \
  models/vqgan_fmnist.vq -o "$T/gen" > "$T/log" 2>&1 || { cat "$T/log"; echo "FAIL vqc"; exit 1; }
make -s -C "$T/gen" VQRT_LIB="$BUILD/libvqrt.a" VQC_ROOT="$PWD" > "$T/log" 2>&1 || { cat "$T/log"; echo "FAIL compile"; exit 1; }
M=$T/gen/vqgan_fmnist

"$M" init --out "$T/init.safetensors" --seed 0 > /dev/null 2>&1 || { echo "FAIL init"; exit 1; }
"$M" train --init "$T/init.safetensors" --data fashion-mnist --steps 1 --batch 32 --limit 32 --threads 2 --out "$T/one" \
  2> "$T/one.err" || { tail -3 "$T/one.err"; echo "FAIL train 1 step"; exit 1; }
"$PY" tests/scripts/e2e_fmnist_parity.py step1 "$T/init.safetensors" "$T/one/ckpt.safetensors" "$T/one/metrics.csv"
parity=$?

t0=$(date +%s)
"$M" train --data fashion-mnist --steps "$STEPS" --batch 32 --seed 0 --threads 2 --eval-every 0 --out "$T/run" \
  2> "$T/train.err" || { tail -5 "$T/train.err"; echo "FAIL train"; exit 1; }
t1=$(date +%s)
"$M" eval --ckpt "$T/run/ckpt.safetensors" --data fashion-mnist --split test --limit 2000 --threads 2 \
  > "$T/eval.json" 2> "$T/eval.err" || { cat "$T/eval.err"; echo "FAIL eval"; exit 1; }
t2=$(date +%s)
cat "$T/eval.json"
"$PY" tests/scripts/e2e_fmnist_parity.py eval "$T/run/ckpt.safetensors" "$T/eval.json" || parity=1

"$PY" - "$T/eval.json" "$T/run/metrics.csv" "$REF_PSNR" "$STEPS" $((t1 - t0)) $((t2 - t1)) <<'EOF'
import csv, json, math, sys
e = json.load(open(sys.argv[1]))
rows = list(csv.DictReader(open(sys.argv[2])))
ref, steps = float(sys.argv[3]), int(sys.argv[4])
fails = 0
def check(ok, what):
    global fails
    print(("ok    " if ok else "FAIL  ") + what)
    fails += not ok
first, last = float(rows[0]["rec"]), float(rows[-1]["rec"])  # total rises early: q_loss grows from a tiny uniform codebook
check(len(rows) == steps and int(rows[-1]["step"]) == steps, "metrics.csv has %d rows, last step %s" % (len(rows), rows[-1]["step"]))
check(all(math.isfinite(float(r["total"])) for r in rows), "every loss finite")
check(last < 0.5 * first, "training L1 (rec) falls: %.4f -> %.4f" % (first, last))
check(e["images"] == 2000, "eval on 2000 test images")
check(e["psnr"] >= ref, "test PSNR %.3f dB >= PyTorch reference %.3f dB at step %d" % (e["psnr"], ref, steps))
print("      codebook usage %d/512 (%.1f%%), perplexity %.1f; training %s s (%.2f steps/s), eval %s s"
      % (e["codes_used"]["quantize"], 100 * e["codebook_usage"]["quantize"], e["perplexity"]["quantize"],
         sys.argv[5], steps / max(1, int(sys.argv[5])), sys.argv[6]))
print("e2e_fmnist: " + ("all passed" if not fails else "%d failure(s)" % fails))
sys.exit(1 if fails else 0)
EOF
rc=$?
[ $parity = 0 ] || echo "e2e_fmnist: parity with PyTorch on the same weights FAILED (above)"
exit $(( rc || parity ))
