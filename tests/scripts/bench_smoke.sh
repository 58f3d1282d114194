#!/usr/bin/env bash
# The `make bench` harness works (scripts/bench/): the FLOP counter agrees with an independent
# hook-based count and with hand-computed conv/bmm counts (flops.py), torch_bench.py prints one
# consistent JSON line for tiny@32 (1 thread, 1 step), and run_bench.py generates and compiles the
# vqc program of tiny@32, runs it and PyTorch once (1 step, no warm-up) and turns that into the
# table, benchmarks.md, .json and .png: a vqc row with a time, the ratio column, and the per-op
# breakdown whose categories add up to the profiled step, with every conv category non-empty (the
# generated code's timing marks are there: forward, backward-data and the backward-weight split).
# Not a benchmark: nothing here is timed against anything. ~30 s. Without an importable torch this
# FAILS (never skips): the harness is useless without it.
set -euo pipefail
PY=${VQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "bench_smoke: FAIL: $PY cannot import torch (apt-get install python3-torch)" >&2
  exit 1
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$PY" scripts/bench/flops.py tiny@32

OMP_NUM_THREADS=1 "$PY" scripts/bench/torch_bench.py --case tiny@32 --threads 1 --steps 1 --warmup 0 > "$tmp/one.json"
"$PY" - "$tmp/one.json" <<'PYEOF'
import json, math, sys
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 1, "expected one JSON line, got %d" % len(lines)
r = json.loads(lines[0])
for k in ("forward_ms", "train_step_ms", "images_per_s", "gflops", "peak_rss_mb", "flops"):
    assert k in r, "missing field %s" % k
ms = r["train_step_ms"]
assert r["forward_ms"] is None and ms > 0 and r["batch"] == 32 and r["threads"] == 1, r
assert math.isclose(r["images_per_s"], 32 / (ms / 1e3), rel_tol=1e-9), r
assert math.isclose(r["gflops"], r["flops"] / (ms / 1e3) / 1e9, rel_tol=1e-9), r
# tiny@32 batch 32: the autoencoder forward alone is ~14 GFLOP; a step is fwd + both gradients
# of (almost) every layer plus three discriminator passes, so 3x-5x of that.
ops = r["flops_by_op"]
assert r["flops"] == sum(ops.values()), ops
assert ops["convolution_backward.weight"] > 0 and ops["convolution_backward.input"] > 0, ops
assert 100 < r["peak_rss_mb"] < 20000, r
print("torch_bench: ok (%.0f ms, %.1f GFLOP/s, %.0f MB)" % (ms, r["gflops"], r["peak_rss_mb"]))
PYEOF

BUILD=${BUILD:-build} "$PY" scripts/bench/run_bench.py --cases tiny@32 --threads 1 --rounds 1 --steps 1 \
  --warmup 0 --configs vqc,pytorch --max-wait 0 --fma /nonexistent --out "$tmp/out" > "$tmp/table.txt" \
  2> "$tmp/log.txt" || { cat "$tmp/log.txt" >&2; exit 1; }
cat "$tmp/table.txt"
grep -q '^tiny@32  *1  *PyTorch  ' "$tmp/table.txt" || { echo "bench_smoke: FAIL: no PyTorch row" >&2; exit 1; }
"$PY" - "$tmp/out/benchmarks.json" "$tmp/out/benchmarks.md" <<'PYEOF'
import json, math, sys
j = json.load(open(sys.argv[1]))
(s,) = j["results"]
vqc = s["rows"]["vqc"]
assert vqc and vqc["ms"] > 0, s["vqc_status"]
assert s["rows"]["pytorch"]["vs_vqc"] > 0, s["rows"]["pytorch"]
(raw,) = s["raw"]["vqc"]
assert raw["has_disc"] is True and raw["disc"] is True and raw["adversarial"] is True, raw   # tiny@32 is a GAN
b = s["breakdown"]
cats = b["categories"]
total = sum(cats.values())
assert math.isclose(total, b["step_ms"], rel_tol=0.01) or cats["other"] == 0, (total, b["step_ms"])
for c in ("conv forward", "conv backward-data", "conv backward-weight", "norms", "attention", "quantizer",
          "optimizer"):
    assert cats[c] > 0, (c, cats)
assert b["n_ops"] > 50 and len(b["top"]) == 12, b
md = open(sys.argv[2]).read()
assert "## Where the time goes" in md and "vqc (AE+D)" in md, "benchmarks.md lacks the vqc parts"
print("bench_smoke: vqc ok (%.0f ms; conv %.0f%% of the profiled step)" %
      (vqc["ms"], 100 * sum(v for k, v in cats.items() if k.startswith("conv")) / b["step_ms"]))
PYEOF
for f in benchmarks.md benchmarks.json; do
  [ -s "$tmp/out/$f" ] || { echo "bench_smoke: FAIL: $f not written" >&2; exit 1; }
done
if command -v gnuplot >/dev/null; then
  [ -s "$tmp/out/benchmarks.png" ] || { echo "bench_smoke: FAIL: gnuplot present but no PNG" >&2; exit 1; }
fi
echo "bench_smoke: ok"
