#!/usr/bin/env bash
# vqvae2_generated.sh: VQ-VAE-2 (models/vqvae2.vq, rosinality's layout: two EMA codebooks
# whose `embed` buffers are (D, K)) generated at -D resolution=32 and driven end to end:
# init, train (EMA updates), eval with usage per codebook, encode to a codes file with one
# block per codebook (top 4x4, bottom 8x8), decode, and reconstruct.
#
# Checks: training runs and every logged value is finite; eval's JSON names both codebooks
# in codebook_usage / codes_used / perplexity; the codes file has the two blocks with the
# right grid sizes and indices in [0, 512); decode(encode(img)) is byte-identical to
# reconstruct(img); the EMA state changed during training (embed of both codebooks);
# a codes file with an index out of range is rejected naming the file and line.
set -u
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
ROOT=$PWD
PY=/usr/bin/python3
T=$(mktemp -d /tmp/vqc-vqvae2.XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0
ok()  { echo "ok    $*"; }
bad() { echo "FAIL  $*"; fails=$((fails + 1)); }
. "$ROOT/tests/scripts/lib/generated_model.sh"
sanitizer_args vqvae2_generated
generate_model "$T/gen" models/vqvae2.vq -D resolution=32
M=$T/gen/vqvae2
cd "$T"

"$M" init --out init.safetensors --seed 3 2> init.err || { tail -3 init.err; bad "init"; }
"$M" train --data fashion-mnist --steps 12 --batch 8 --limit 128 --threads 2 --out run --init init.safetensors 2> train.err \
  || { tail -3 train.err; bad "train"; }
"$PY" - run/metrics.csv init.safetensors run/ckpt.safetensors <<'PYEOF' && ok "training: finite metrics, both EMA codebooks moved" || bad "training"
import csv, json, math, struct, sys
import numpy as np
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 12, len(rows)
for r in rows:
    for k, v in r.items():
        assert math.isfinite(float(v)), (r["step"], k, v)
assert {"q_loss.quantize_t", "q_loss.quantize_b"} <= set(rows[0]), list(rows[0])
def load(p):
    b = open(p, "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n]); h.pop("__metadata__", None)
    return {k: np.frombuffer(b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=np.float32).reshape(v["shape"])
            for k, v in h.items() if v["dtype"] == "F32"}
a, b = load(sys.argv[2]), load(sys.argv[3])
for q in ("quantize_t", "quantize_b"):
    assert a[q + ".embed"].shape == (64, 512), a[q + ".embed"].shape
    assert not np.array_equal(a[q + ".embed"], b[q + ".embed"]), q + ": embed unchanged"
    assert b[q + ".cluster_size"].sum() > 0, q + ": cluster_size"
PYEOF

"$M" eval --ckpt run/ckpt.safetensors --data fashion-mnist --limit 64 --batch 32 --threads 2 --grid grid.png > eval.json 2> eval.err \
  || { tail -3 eval.err; bad "eval"; }
"$PY" - eval.json <<'PYEOF' && ok "eval: usage, codes_used and perplexity per codebook" || bad "eval JSON: $(cat eval.json)"
import json, sys
j = json.loads(open(sys.argv[1]).read())
for k in ("codebook_usage", "codes_used", "perplexity"):
    assert set(j[k]) == {"quantize_t", "quantize_b"}, (k, j[k])
assert j["images"] == 64 and j["psnr"] > 0
PYEOF

"$M" encode --ckpt run/ckpt.safetensors grid.png -o codes.txt 2> enc.err || { tail -3 enc.err; bad "encode"; }
"$PY" - codes.txt <<'PYEOF' && ok "codes file: a 4x4 block for quantize_t and an 8x8 block for quantize_b" || bad "codes file: $(head -3 codes.txt)"
import sys
blocks, cur = {}, None
for line in open(sys.argv[1]):
    w = line.split()
    if not w or w[0].startswith("#"): continue
    if w[0] == "codebook":
        cur = w[1]; blocks[cur] = (int(w[2]), int(w[3]), []); continue
    blocks[cur][2].append([int(v) for v in w])
assert set(blocks) == {"quantize_t", "quantize_b"}, blocks.keys()
for name, (h, w, rows) in blocks.items():
    want = {"quantize_t": 4, "quantize_b": 8}[name]
    assert h == want and w == want and len(rows) == h and all(len(r) == w for r in rows), (name, h, w)
    assert all(0 <= v < 512 for r in rows for v in r)
PYEOF
"$M" decode --ckpt run/ckpt.safetensors codes.txt -o decoded.png 2> dec.err || { tail -3 dec.err; bad "decode"; }
"$M" reconstruct --ckpt run/ckpt.safetensors grid.png -o recon.png 2> rec.err || { tail -3 rec.err; bad "reconstruct"; }
cmp -s decoded.png recon.png && ok "decode(encode(img)) == reconstruct(img), byte for byte" || bad "decode != reconstruct"
# an out-of-range index in the bottom block
awk 'BEGIN{b=0} /^codebook quantize_b/{b=1; print; next} b==1 && NF>0 && $1 ~ /^[0-9]/ {$1=512; b=2} {print}' codes.txt > bad.txt
if "$M" decode --ckpt run/ckpt.safetensors bad.txt -o bad.png 2> bad.err; then bad "out-of-range code accepted"
elif grep -q "bad.txt:[0-9]" bad.err; then ok "out-of-range code rejected: $(head -1 bad.err)"
else bad "rejection does not name file:line: $(cat bad.err)"; fi

[ $fails = 0 ] && echo "vqvae2_generated: all passed" || echo "vqvae2_generated: $fails failure(s)"
exit $((fails > 0))
