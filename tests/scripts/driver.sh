#!/usr/bin/env bash
# driver.sh: end-to-end test of the generic model driver (runtime/driver*.c)
# on the hand-written toy model (tests/driver/toy_model.c), built by
# mk/driver.mk as $BUILD/tests/toy_vq (and toy_vq_d4, the same model with
# D=4: another tensor table and hash).
#
# Checks: usage errors exit 2 naming the argument; init/info/bench; training
# lowers the loss and beats the initial weights on held-out images; eval
# prints valid JSON with values in range; 20 steps == 10 + resume 10 (losses
# to %.9g and the checkpoint byte for byte); SIGTERM leaves a loadable,
# resumable checkpoint; a non-finite loss stops with the step and the loss
# named and the last good checkpoint kept; encode -> decode equals
# reconstruct; decode rejects bad CODES files naming file and line;
# checkpoints of another model (shapes or hash) are rejected naming what
# differs; a write past `ulimit -f` is reported, not fatal.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
TOY=$BUILD/tests/toy_vq
TOY4=$BUILD/tests/toy_vq_d4
PY=/usr/bin/python3
[ -x "$TOY" ] && [ -x "$TOY4" ] || { echo "missing $TOY or $TOY4 (make $BUILD/tests/toy_vq $BUILD/tests/toy_vq_d4)"; exit 1; }
T=$(mktemp -d /tmp/vqc-driver.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"
fails=0
ok()   { echo "ok    $*"; }
bad()  { echo "FAIL  $*"; fails=$((fails + 1)); }
# expect RC DESCRIPTION -- command...: runs it, checks the exit status, keeps stderr in err.txt
expect() {
  local want=$1 what=$2; shift 3
  "$@" > out.txt 2> err.txt; local rc=$?
  if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $want"; sed 's/^/      /' err.txt | tail -5; fi
}
has() { # has FILE TEXT DESCRIPTION
  if grep -qF -- "$2" "$1"; then ok "$3"; else bad "$3: '$2' not in:"; sed 's/^/      /' "$1" | tail -5; fi
}
DATA="--data fashion-mnist --threads 2"

# --- command line ---------------------------------------------------------------
expect 2 "no command"             -- "$TOY"
expect 2 "unknown command"        -- "$TOY" frobnicate
has err.txt "unknown command 'frobnicate'" "unknown command named"
expect 2 "unknown option"         -- "$TOY" train $DATA --out r --bogus 3
has err.txt "unknown option '--bogus'" "unknown option named"
expect 2 "malformed number"       -- "$TOY" train $DATA --out r --steps 12x
has err.txt "option --steps: '12x' is not an integer" "malformed number named"
expect 2 "missing value"          -- "$TOY" eval --data fashion-mnist --ckpt
expect 2 "missing required --out" -- "$TOY" train $DATA --steps 3
has err.txt "missing required option --out" "missing option named"
expect 2 "--resume with --init"   -- "$TOY" train $DATA --out r --resume a --init b
expect 2 "extra positional"       -- "$TOY" decode --ckpt c a b -o x.png
expect 2 "negative batch"         -- "$TOY" train $DATA --out r --steps 3 --batch -1
expect 0 "train --help"           -- "$TOY" train --help
has out.txt "--resume CKPT" "train --help lists --resume"
expect 1 "missing data directory" -- "$TOY" train --data ./no-such-dir --out r --steps 1
has err.txt "no-such-dir" "missing data directory named"

# --- init, info, bench ------------------------------------------------------------
expect 0 "init"                   -- "$TOY" init --out init.safetensors --seed 7
expect 0 "info"                   -- "$TOY" info --tensors
has out.txt "quantize.embedding.weight" "info lists the embedding"
has out.txt "total                                             793" "info counts 793 parameters"
expect 0 "bench --json"           -- "$TOY" bench --batch 8 --steps 3 --threads 1 --json
$PY - out.txt <<'PYEOF' && ok "bench JSON has the timing fields" || bad "bench JSON"
import json, sys
j = json.loads(open(sys.argv[1]).read().strip())
for k in ("forward_ms", "train_step_ms", "images_per_s", "gflops", "peak_rss_mb"):
    assert isinstance(j[k], (int, float)) and j[k] > 0, k
assert len(j["ops"]) == 5
PYEOF

# --- training lowers the loss; eval is valid JSON and beats the initial weights ----
expect 0 "train 60 steps"         -- "$TOY" train $DATA --init init.safetensors --seed 7 --steps 60 --batch 16 --limit 512 --out run --eval-every 30
[ -f run/recon_000030.png ] && [ -f run/recon_000060.png ] && ok "recon grids written" || bad "recon grids missing"
$PY - run/metrics.csv <<'PYEOF' && ok "rec loss: mean of the last 10 steps < 0.6 x the first 10" || bad "loss did not go down"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [int(r["step"]) for r in rows] == list(range(1, 61))
rec = [float(r["rec"]) for r in rows]
first, last = sum(rec[:10]) / 10, sum(rec[-10:]) / 10
print("      rec: first 10 %.4f, last 10 %.4f" % (first, last))
assert last < 0.6 * first
PYEOF
expect 0 "eval init weights"      -- "$TOY" eval --ckpt init.safetensors --data fashion-mnist --limit 100 --batch 32
cp out.txt eval0.json
expect 0 "eval trained"           -- "$TOY" eval --ckpt run/ckpt.safetensors --data fashion-mnist --limit 100 --batch 32
$PY - eval0.json out.txt <<'PYEOF' && ok "eval JSON valid, values in range, trained beats init" || bad "eval JSON"
import json, sys
j0 = json.loads(open(sys.argv[1]).read()); j = json.loads(open(sys.argv[2]).read())
print("      psnr %.2f -> %.2f, ssim %.3f -> %.3f, usage %s, perplexity %s" % (j0["psnr"], j["psnr"], j0["ssim"], j["ssim"], j["codebook_usage"], j["perplexity"]))
assert j["images"] == 100
assert 10 < j["psnr"] < 60 and 0 < j["ssim"] <= 1 and 0 < j["l1"] < 0.5
assert 0 < j["codebook_usage"]["quantize"] <= 1 and 1 <= j["perplexity"]["quantize"] <= 32
assert j["psnr"] > j0["psnr"] + 3 and j["ssim"] > j0["ssim"] and j["l1"] < j0["l1"]
PYEOF
# --grid: 8 test images above their reconstructions; 2 px white padding around and between (32x32 each):
# 8*32 + 9*2 = 274 wide, 2*32 + 3*2 = 70 high; the top-left image is test image 0 padded 28 -> 32 with black.
expect 0 "eval --grid"            -- "$TOY" eval --ckpt run/ckpt.safetensors --data fashion-mnist --limit 20 --batch 10 --grid grid.png --grid-images 8
$PY - grid.png <<'PYEOF' && ok "eval --grid: 274x70, top-left is test image 0" || bad "eval --grid image"
import gzip, sys
import numpy as np
from PIL import Image
g = np.asarray(Image.open(sys.argv[1]).convert("L"))
assert g.shape == (70, 274), g.shape
raw = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
x0 = np.frombuffer(raw, np.uint8, 784, 16).reshape(28, 28)
assert (g[0:2] == 255).all() and (g[:, 0:2] == 255).all()
assert (g[2:4, 2:34] == 0).all() and (g[4:32, 4:32] == x0).all(), "top-left is not test image 0"
PYEOF
expect 2 "--grid-images 0"        -- "$TOY" eval --ckpt run/ckpt.safetensors --data fashion-mnist --grid g.png --grid-images 0

# --- exact resume: 20 steps == 10 + 10 (loader path and --limit path) ----------
for lim in "--limit 256" ""; do
  "$TOY" train $DATA --steps 20 --batch 8 $lim --out full 2>/dev/null
  "$TOY" train $DATA --steps 10 --batch 8 $lim --out part 2>/dev/null
  "$TOY" train $DATA --steps 20 --out part --resume part/ckpt.safetensors 2>/dev/null
  # columns 1-8: step, losses, lr, grad_norm, psnr (9-10 are timings)
  if cmp -s <(cut -d, -f1-8 full/metrics.csv) <(cut -d, -f1-8 part/metrics.csv) && [ "$(wc -l < part/metrics.csv)" = 21 ]; then
    ok "resume ${lim:-(loader)}: metrics.csv losses identical"; else bad "resume ${lim:-(loader)}: metrics differ"; fi
  cmp -s full/ckpt.safetensors part/ckpt.safetensors && ok "resume ${lim:-(loader)}: final checkpoints byte-identical" \
    || bad "resume ${lim:-(loader)}: checkpoints differ"
  rm -rf full part
done

# --- SIGTERM: checkpoint, clean exit, resumable -------------------------------------
"$TOY" train $DATA --steps 100000000 --batch 8 --limit 256 --out sig > /dev/null 2> err.txt &
pid=$!
sleep 1.5
kill -TERM $pid
wait $pid; rc=$?
[ $rc = 0 ] && ok "SIGTERM: clean exit" || bad "SIGTERM: exit $rc"
has err.txt "stopped by SIGTERM at step" "SIGTERM reported"
s=$(sed -n 's/.*stopped by SIGTERM at step \([0-9]*\).*/\1/p' err.txt)
expect 0 "SIGTERM checkpoint loads" -- "$TOY" eval --ckpt sig/ckpt.safetensors --data fashion-mnist --limit 10
expect 0 "resume after SIGTERM"   -- "$TOY" train $DATA --steps $((s + 5)) --out sig --resume sig/ckpt.safetensors
[ "$(tail -n 1 sig/metrics.csv | cut -d, -f1)" = $((s + 5)) ] && ok "resumed to step $((s + 5))" || bad "resume after SIGTERM: wrong last step"

# --- non-finite loss ------------------------------------------------------------------
expect 1 "huge lr diverges"       -- "$TOY" train $DATA --steps 10 --batch 8 --limit 64 --lr 1e10 --ckpt-every 1 --out nan
has err.txt "step 2: loss total is inf" "non-finite loss named with its step"
has err.txt "last good checkpoint: nan/ckpt.safetensors (step 1)" "last good checkpoint named"
expect 0 "last good checkpoint loads" -- "$TOY" eval --ckpt nan/ckpt.safetensors --data fashion-mnist --limit 4

# --- codec ---------------------------------------------------------------------------
$PY - <<'PYEOF'
import gzip, struct, zlib
def png(path, w, h, rows):
    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
d = gzip.open("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz").read()
for i in range(2):  # 28x28 test images; the model pads them to 32x32
    px = d[16 + i * 784: 16 + (i + 1) * 784]
    png("img%d.png" % i, 28, 28, [px[r * 28:(r + 1) * 28] for r in range(28)])
PYEOF
C=run/ckpt.safetensors
expect 0 "reconstruct"            -- "$TOY" reconstruct --ckpt $C img0.png -o rec0.png
expect 0 "encode"                 -- "$TOY" encode --ckpt $C img0.png -o codes.txt
expect 0 "decode"                 -- "$TOY" decode --ckpt $C codes.txt -o dec0.png
cmp -s rec0.png dec0.png && ok "encode -> decode equals reconstruct" || bad "decode differs from reconstruct"
[ "$(head -n 1 codes.txt)" = "codebook quantize 16 16 32" ] && [ "$(wc -l < codes.txt)" = 17 ] \
  && ok "CODES header and 16 rows" || bad "CODES layout"
expect 0 "reconstruct two images" -- "$TOY" reconstruct --ckpt $C img0.png img1.png -o rec01.png
sed '2s/^[0-9]*/32/' codes.txt > oor.txt
expect 1 "decode index 32 of K=32" -- "$TOY" decode --ckpt $C oor.txt -o x.png
has err.txt "oor.txt:2: index 32 (column 0) out of range [0, 32)" "out-of-range index named with file:line"
sed '1s/16 16 32/8 16 32/' codes.txt > grid.txt
expect 1 "decode wrong grid"      -- "$TOY" decode --ckpt $C grid.txt -o x.png
has err.txt "grid.txt:1: codebook quantize is 8x16 with K=32, model toy_vq expects 16x16" "wrong grid named"
sed '1s/quantize/top/' codes.txt > name.txt
expect 1 "decode wrong codebook"  -- "$TOY" decode --ckpt $C name.txt -o x.png
has err.txt "name.txt:1: codebook 'top'" "wrong codebook name named"
head -n 6 codes.txt > short.txt
expect 1 "decode truncated"       -- "$TOY" decode --ckpt $C short.txt -o x.png
has err.txt "short.txt:7: file ends after 5 of 16 rows" "truncated file named"
[ ! -e x.png ] && ok "no output written by failed decodes" || bad "failed decode wrote x.png"

# --- checkpoints of another model -------------------------------------------------
expect 0 "init the D=4 model"     -- "$TOY4" init --out d4.safetensors
expect 1 "D=4 checkpoint rejected" -- "$TOY" eval --ckpt d4.safetensors --data fashion-mnist --limit 4
has err.txt "tensor quant_conv.weight has shape (4, 16, 1, 1) in the checkpoint, model toy_vq expects (8, 16, 1, 1)" \
  "first mismatching tensor named"
$PY - init.safetensors hash.safetensors <<'PYEOF'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b'"model_hash":"') + 14
open(sys.argv[2], "wb").write(b[:i] + b"0123456789abcdef" + b[i + 16:])
PYEOF
expect 1 "other model hash rejected" -- "$TOY" reconstruct --ckpt hash.safetensors img0.png -o x.png
has err.txt "checkpoint model_hash 0123456789abcdef" "hash mismatch named"
expect 1 "init checkpoint cannot --resume" -- "$TOY" train $DATA --steps 3 --out r --resume init.safetensors
has err.txt "optimizer state optim.ae.step is missing" "missing optimizer state named"

# --- a write past ulimit -f is an error, not a SIGXFSZ death -------------------
(ulimit -f 1; "$TOY" init --out big.safetensors > /dev/null 2> err.txt); rc=$?
[ $rc = 1 ] && ok "ulimit -f: exit 1" || bad "ulimit -f: exit $rc"
has err.txt "File too large" "EFBIG reported"

echo "----"
[ $fails = 0 ] && echo "driver.sh: all passed" || { echo "driver.sh: $fails failed"; exit 1; }
