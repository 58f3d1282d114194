#!/usr/bin/env bash
# codegen_matrix.sh: the generated matmul, softmax and transpose (compiler/ops/matrix.c)
# beyond their finite-difference check (tests/codegen/op_matrix.vq, run by
# codegen_gradcheck.sh):
#  1. the attention written out by hand (op_matrix.vq) equals the fused `attention`
#     op (the same file with -D fused=true) on the same weights and image: losses,
#     reconstruction and every parameter gradient, to 1e-5 relative
#     (tests/codegen/matrix_equiv.c);
#  2. examples/custom_attention.vq generates, builds with -Werror, and trains two
#     steps on Fashion-MNIST with 2 threads (images in parallel, the batched sgemm
#     calls on OpenMP threads), with finite losses;
#  3. a codebook with lookup_dim >= dim is refused at its .vq line, with the exact
#     diagnostic, by both `vqc -o` and `--dump=plan`, and no code is written
#     (a valid lookup_dim is generated: tests/scripts/codegen_lookup.sh).
# A few seconds.
set -euo pipefail
ROOT=$(pwd)
BUILD=$(cd "${BUILD:-build}" && pwd)
. "$ROOT/tests/scripts/lib/generated_model.sh"
[ -x "$BUILD/vqc" ] || { echo "codegen_matrix: $BUILD/vqc is not built"; exit 1; }
sanitizer_args codegen_matrix
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CFLAGS="-std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -Iruntime -Iruntime/kernels ${VQ_SANFLAGS:-}"
LIBS="$BUILD/libvqrt.a -lopenblas -lpng -lz -lpthread -lm"
fail=0

# 1. hand-built attention == fused attention
for variant in hand fused; do
    def=false; [ $variant = fused ] && def=true
    "$BUILD/vqc" -D fused=$def tests/codegen/op_matrix.vq -o "$TMP/$variant" > "$TMP/log" 2>&1 \
        || { cat "$TMP/log"; echo "FAIL vqc ($variant)"; exit 1; }
    # shellcheck disable=SC2086  # CFLAGS and LIBS are word lists
    cc $CFLAGS -I"$TMP/$variant" -DMODEL_DESC=op_matrix_desc -o "$TMP/$variant/eq" tests/codegen/matrix_equiv.c \
        "$TMP/$variant/op_matrix.c" $LIBS > "$TMP/log" 2>&1 || { cat "$TMP/log"; echo "FAIL compile ($variant)"; exit 1; }
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$TMP/$variant/eq" dump "$TMP/$variant.bin"
done
if ! grep -q "matmul" "$TMP/hand/op_matrix.c" || grep -q "vq_attention_forward" "$TMP/hand/op_matrix.c" ||
   ! grep -q "vq_attention_forward" "$TMP/fused/op_matrix.c"; then
    echo "FAIL: the two variants are not hand-built vs fused attention"; fail=1
fi
echo "== hand-built attention vs the fused op"
"$TMP/hand/eq" compare "$TMP/hand.bin" "$TMP/fused.bin" || { echo "FAIL hand-built != fused"; fail=1; }

# 2. the example compiles, builds and trains
echo "== examples/custom_attention.vq"
generate_model "$TMP/attn" examples/custom_attention.vq
"$TMP/attn/custom_attention" train --data fashion-mnist --steps 2 --batch 8 --limit 64 --threads 2 \
    --out "$TMP/run" > "$TMP/train.log" 2>&1 || { cat "$TMP/train.log"; echo "FAIL train"; fail=1; }
if [ -f "$TMP/run/metrics.csv" ]; then
    tail -n 1 "$TMP/run/metrics.csv"
    # every number on the last row must be finite
    if tail -n 1 "$TMP/run/metrics.csv" | grep -qiE 'nan|inf'; then echo "FAIL: non-finite metrics"; fail=1; fi
else
    echo "FAIL: no metrics.csv"; fail=1
fi
# 3. lookup_dim >= dim is refused (sema), not generated
echo "== lookup_dim >= dim"
sed 's/^codebook quantize .*/codebook quantize {\n    entries = 8; dim = 4;\n    lookup_dim = 4;\n}/' \
    tests/codegen/op_matrix.vq > "$TMP/lookup.vq"
cat > "$TMP/lookup.expected" <<EXP
$TMP/lookup.vq:15:5: error: lookup_dim 4 must be smaller than dim 4
   15 |     lookup_dim = 4;
      |     ^~~~~~~~~~
EXP
for mode in "-o $TMP/lookup" "--dump=plan"; do
    # shellcheck disable=SC2086
    if "$BUILD/vqc" $mode "$TMP/lookup.vq" > /dev/null 2> "$TMP/lookup.err"; then
        echo "FAIL: vqc $mode accepted lookup_dim = dim"; fail=1
    elif ! diff "$TMP/lookup.expected" "$TMP/lookup.err"; then
        echo "FAIL: vqc $mode: unexpected diagnostic"; fail=1
    else
        echo "ok   vqc $mode refuses lookup_dim = dim at its line"
    fi
done
[ -e "$TMP/lookup/op_matrix.c" ] && { echo "FAIL: code was written despite the error"; fail=1; }

[ $fail = 0 ] && echo ok
exit $fail
