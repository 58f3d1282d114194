#!/usr/bin/env bash
# codegen_lookup.sh: generated models whose codebook has lookup_dim (a lookup in
# a projected space, quantizer.h's P_in/P_out), end to end through the driver.
# The finite-difference check of their gradients is codegen_gradcheck.sh's
# (tests/codegen/model_lookup*.vq); this checks what a training run needs:
#
# For each of tests/codegen/model_lookup.vq (gradient update, l2),
# model_lookup_cos.vq (cosine distance) and model_lookup_ema.vq (EMA update,
# rosinality naming: table (d, K) a buffer, projections trainable), the last two
# with -D rec_weight=1.0 (their gradient check runs the codebook loss alone):
#  1. `init`: the checkpoint holds quantize.proj_in.weight (d, D), .bias (d),
#     proj_out.weight (D, d), .bias (D) and the table with d columns; the
#     projections are filled as nn.Linear is (non-zero, |w| <= 1/sqrt(fan_in));
#  2. 6 training steps == 3 + `--resume` 3 (Fashion-MNIST, batch 8, 2 threads):
#     metrics.csv identical but for the timing columns, final checkpoints
#     byte-identical (a failure names the tensors that differ);
#  3. the projections after 6 steps differ from `init`'s with the same seed: the
#     optimizer trains them (they are in its ranges and get gradients);
#  4. encode -> decode of a test image gives the PNG `reconstruct` gives: decode
#     projects the looked-up codes back by P_out (+ b_out) exactly as forward does;
#  5. examples/projected_codebook.vq builds and passes the driver's table check.
# About 15 s.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
T=$(mktemp -d /tmp/vqc-lookup.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }

# shellcheck source=tests/scripts/lib/generated_model.sh
. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args codegen_lookup
[ -x "$BUILD/vqc" ] || { echo "codegen_lookup: $BUILD/vqc is not built"; exit 1; }

# one Fashion-MNIST test image as an 8-bit gray PNG (resized to the model's 16x16 or 8x8 by the driver)
(cd "$T" && "$PY" - <<'PYEOF'
import gzip, struct, zlib
d = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
px = d[16:16 + 784]
raw = b"".join(b"\x00" + px[r * 28:(r + 1) * 28] for r in range(28))
chunk = lambda t, b: struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
open("img0.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 28, 28, 8, 0, 0, 0, 0))
                             + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
PYEOF
) || { echo "FAIL could not write the test image"; exit 1; }

# ckpt.py MODE A [B]: "check A": the projection tensors' shapes and init bounds;
# "trained A B": the projections differ between A and B; "diff A B": tensors that differ.
cat > "$T/ckpt.py" <<'PYEOF'
import json, math, struct, sys
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n]); meta = h.pop("__metadata__", {})
    raw = {k: b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items()}
    return meta, h, raw
def floats(raw): return struct.unpack("<%df" % (len(raw) // 4), raw)
mode, a = sys.argv[1], sys.argv[2]
ma, ha, ra = load(a)
P = ["quantize.proj_in.weight", "quantize.proj_in.bias", "quantize.proj_out.weight", "quantize.proj_out.bias"]
if mode == "check":
    K, D, d = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    table = "quantize.embed" if "quantize.embed" in ha else "quantize.embedding.weight"
    want = {P[0]: [d, D], P[1]: [d], P[2]: [D, d], P[3]: [D],
            table: [d, K] if table == "quantize.embed" else [K, d]}
    bad = 0
    for k, shape in want.items():
        if k not in ha or ha[k]["shape"] != shape or ha[k]["dtype"] != "F32":
            print("  %s: %s, want F32 %s" % (k, ha.get(k), shape)); bad = 1; continue
        if k in P:
            fan_in = D if k.startswith("quantize.proj_in") else d
            v = floats(ra[k]); bound = 1 / math.sqrt(fan_in)
            if max(abs(x) for x in v) > bound * (1 + 1e-6) or all(x == 0 for x in v):
                print("  %s: values outside (0, 1/sqrt(%d)] or all zero: %s" % (k, fan_in, v)); bad = 1
    sys.exit(bad)
mb, hb, rb = load(sys.argv[3])
if mode == "trained":
    same = [k for k in P if ra[k] == rb[k]]
    if same: print("  unchanged:", " ".join(same))
    sys.exit(1 if same else 0)
for k in sorted(set(ra) | set(rb)):
    if ra.get(k) != rb.get(k): print("      ", k)
for k in sorted(set(ma) | set(mb)):
    if ma.get(k) != mb.get(k): print("       metadata", k, ma.get(k), mb.get(k))
PYEOF

# model  K D d  [vqc args]
for spec in "model_lookup 16 4 2" "model_lookup_cos 4 4 3 -D rec_weight=1.0" "model_lookup_ema 16 4 2 -D rec_weight=1.0"; do
  # shellcheck disable=SC2086  # spec is a word list
  set -- $spec
  name=$1; K=$2; D=$3; d=$4
  shift 4
  echo "== $name (K=$K, D=$D, lookup_dim=$d) $*"
  generate_model "$T/$name" "tests/codegen/$name.vq" "$@"
  M=$T/$name/$name
  R=$T/run_$name
  mkdir -p "$R"
  (
    cd "$R" || exit 1
    ARGS=(--data fashion-mnist --batch 8 --limit 256 --threads 2 --seed 0)
    "$M" init --seed 0 --out init.safetensors > init.log 2>&1 || { cat init.log; echo "FAIL  init"; exit 1; }
    "$M" train "${ARGS[@]}" --steps 6 --out full 2> full.err || { tail -3 full.err; echo "FAIL  train 6 steps"; exit 1; }
    "$M" train "${ARGS[@]}" --steps 3 --out part 2> part.err || { tail -3 part.err; echo "FAIL  train 3 steps"; exit 1; }
    "$M" train --data fashion-mnist --threads 2 --steps 6 --out part --resume part/ckpt.safetensors 2> resume.err \
      || { tail -3 resume.err; echo "FAIL  resume to 6"; exit 1; }
  ) || { fails=$((fails + 1)); continue; }
  cd "$R" || exit 1

  if "$PY" "$T/ckpt.py" check init.safetensors "$K" "$D" "$d"; then
    ok "init: proj_in ($d, $D), proj_out ($D, $d), biases and the (.., $d) table, nn.Linear bounds"
  else bad "init checkpoint's projection tensors"; fi

  nc=$(head -1 full/metrics.csv | tr , '\n' | grep -n -x steps_per_s | cut -d: -f1)
  nc=$((${nc:-1} - 1))
  if [ "$(wc -l < part/metrics.csv)" = 7 ] && [ "$nc" -ge 5 ] \
     && cmp -s <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv); then
    ok "6 steps == 3 + resume 3: metrics.csv identical"
  else
    bad "metrics differ:"; diff <(cut -d, -f1-$nc full/metrics.csv) <(cut -d, -f1-$nc part/metrics.csv) | head -8
  fi
  if cmp -s full/ckpt.safetensors part/ckpt.safetensors; then
    ok "final checkpoints byte-identical"
  else
    bad "final checkpoints differ; tensors that differ:"; "$PY" "$T/ckpt.py" diff full/ckpt.safetensors part/ckpt.safetensors
  fi
  if "$PY" "$T/ckpt.py" trained init.safetensors full/ckpt.safetensors; then
    ok "the optimizer moved all four projection tensors"
  else bad "projections not trained"; fi

  C=full/ckpt.safetensors
  if "$M" reconstruct --ckpt $C "$T/img0.png" -o rec.png > codec.log 2>&1 \
     && "$M" encode --ckpt $C "$T/img0.png" -o codes.txt >> codec.log 2>&1 \
     && "$M" decode --ckpt $C codes.txt -o dec.png >> codec.log 2>&1; then
    if cmp -s rec.png dec.png; then ok "encode -> decode equals reconstruct ($(head -n 1 codes.txt))"
    else bad "decode differs from reconstruct"; fi
  else
    cat codec.log; bad "reconstruct/encode/decode"
  fi
  cd "$ROOT" || exit 1
done
# the example generates, builds with -Werror and passes the driver's table check (`info`)
echo "== examples/projected_codebook.vq"
generate_model "$T/example" examples/projected_codebook.vq
if "$T/example/projected_codebook" info > "$T/info.txt" 2>&1 && grep -q "quantize.proj_out" "$T/info.txt"; then
  ok "builds; info lists quantize.proj_in and proj_out"
else cat "$T/info.txt"; bad "example info"; fi
[ $fails = 0 ] && echo "codegen_lookup: all passed" || echo "codegen_lookup: $fails failure(s)"
exit $((fails > 0))
