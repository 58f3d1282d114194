#!/usr/bin/env bash
# crash_resume.sh: training a vqc-generated model survives SIGKILL and a
# failing checkpoint write (docs/robustness.md, "What a checkpoint guarantees").
#
# vqgan_fmnist (its shipped recipe), batch 8, the first 256 training images,
# 2 threads, a checkpoint after every step (58 MB each, so a kill often lands
# inside a write):
#  1. crash: a run to N steps is SIGKILLed at a random moment after its first
#     checkpoint exists, `--resume` is SIGKILLed again the same way, and a second
#     `--resume` finishes; metrics.csv (every column but the timings) and the
#     final checkpoint must equal those of an uninterrupted N-step run byte for
#     byte. The delays are printed; CRASH_DELAYS_MS="a b" replays them.
#  2. disk full: a resumed run under `ulimit -f` (far below a checkpoint's
#     size) must fail with an error naming the checkpoint and the cause, and the
#     previous checkpoint must stay byte-identical and resumable.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
N=${CRASH_STEPS:-16}
T=$(mktemp -d /tmp/vqc-crash.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

# Under make test-asan the runtime is instrumented: link the model with the same flags (VQ_SANFLAGS).
. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args crash_resume
generate_model "$T/gen" models/vqgan_fmnist.vq
M=$T/gen/vqgan_fmnist
cd "$T"
ARGS=(--data fashion-mnist --batch 8 --limit 256 --threads 2 --seed 0 --ckpt-every 1)

# Starts "$@" in the background, waits for run/ckpt.safetensors to exist, then
# sleeps $1 ms and SIGKILLs it. Prints what it found; returns 1 if the run ended first.
kill_after_ckpt() {
  local ms=$1; shift
  "$@" 2>> kill.err &
  local pid=$! i=0
  while [ ! -f run/ckpt.safetensors ] && kill -0 $pid 2>/dev/null && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if kill -KILL $pid 2>/dev/null; then
    wait $pid 2>/dev/null
    local step tmp
    step=$(tail -n 1 run/metrics.csv 2>/dev/null | cut -d, -f1)
    tmp=$(ls run/ckpt.safetensors.tmp.* 2>/dev/null | wc -l)
    echo "      killed after ${ms} ms: last metrics row step ${step:-none}, checkpoint step" \
         "$("$PY" -c 'import json,struct,sys; b=open(sys.argv[1],"rb").read(); n=struct.unpack("<Q",b[:8])[0]; print(json.loads(b[8:8+n]).get("__metadata__",{}).get("step","?"))' run/ckpt.safetensors 2>/dev/null)," \
         "$tmp partial checkpoint file(s) left"
    return 0
  fi
  wait $pid; return 1
}

# --- 1. SIGKILL twice, resume, compare ----------------------------------------
"$M" train "${ARGS[@]}" --steps "$N" --out full 2> full.err || { tail -3 full.err; bad "uninterrupted $N steps"; }
read -r d1 d2 <<< "${CRASH_DELAYS_MS:-$((200 + RANDOM % 1500)) $((100 + RANDOM % 1200))}"
echo "      delays: CRASH_DELAYS_MS=\"$d1 $d2\""
if kill_after_ckpt "$d1" "$M" train "${ARGS[@]}" --steps "$N" --out run; then
  ok "first run SIGKILLed mid-way"
else
  bad "first run finished before the kill (raise CRASH_STEPS)"
fi
if kill_after_ckpt "$d2" "$M" train "${ARGS[@]}" --steps "$N" --out run --resume run/ckpt.safetensors; then
  ok "resumed run SIGKILLed mid-way"
else
  echo "      (the resumed run finished before the second kill)"
fi
"$M" train "${ARGS[@]}" --steps "$N" --out run --resume run/ckpt.safetensors 2> resume.err \
  && ok "--resume after SIGKILL runs to step $N" || { tail -3 resume.err; bad "--resume after SIGKILL"; }

# every column before steps_per_s: step, the losses, lr, grad_norm, psnr (the rest are timings)
nc=$(head -1 full/metrics.csv | tr , '\n' | grep -n -x steps_per_s | cut -d: -f1)
nc=$((${nc:-1} - 1))
if [ -s full/metrics.csv ] && [ "$(wc -l < run/metrics.csv)" = $((N + 1)) ] && [ "$nc" -ge 5 ] \
   && cmp -s <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc run/metrics.csv); then
  ok "killed + resumed == uninterrupted: metrics.csv identical ($N steps, $nc columns)"
else
  bad "metrics differ:"; diff <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc run/metrics.csv) | head -8
fi
cmp -s full/ckpt.safetensors run/ckpt.safetensors && ok "final checkpoints byte-identical" \
  || bad "final checkpoint differs from the uninterrupted run's"

# --- 2. a checkpoint write that fails (ulimit -f) ----------------------------------
# full/ holds a good step-N checkpoint; resuming to N+2 writes a new one (58 MB) under a 1 MiB file limit.
cp full/ckpt.safetensors good.safetensors
cp full/metrics.csv good_metrics.csv
( ulimit -f 1024; exec "$M" train "${ARGS[@]}" --steps $((N + 2)) --out full --resume full/ckpt.safetensors ) 2> efbig.err
rc=$?
if [ $rc -ne 0 ] && grep -q "ckpt.safetensors" efbig.err && grep -qi "file too large\|EFBIG" efbig.err; then
  ok "write past ulimit -f fails (exit $rc): $(grep -i 'too large' efbig.err | head -1 | cut -c1-150)"
else
  bad "ulimit -f: exit $rc, want an error naming the checkpoint and 'File too large':"; tail -3 efbig.err
fi
left=$(ls full/ckpt.safetensors.tmp.* 2>/dev/null)
[ -z "$left" ] && ok "the failed write removed its partial file" || bad "partial file left: $left"
cmp -s good.safetensors full/ckpt.safetensors && ok "previous checkpoint intact (byte-identical)" \
  || bad "previous checkpoint changed by the failed write"
"$M" train "${ARGS[@]}" --steps $((N + 1)) --out full --resume full/ckpt.safetensors 2> after.err \
  && ok "previous checkpoint still resumes (to step $((N + 1)))" || { tail -3 after.err; bad "resume after the failed write"; }

[ $fails = 0 ] && echo "crash_resume: all passed" || echo "crash_resume: $fails failure(s)"
exit $((fails > 0))
