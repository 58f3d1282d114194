#!/bin/sh
# Finite-difference check of the GENERATED backward of every op: each
# tests/codegen/*.vq exercises a few ops (its first line names the tensors to
# check, "// gradcheck: PREFIX[=FACTOR] ..."); it is generated with build/vqc,
# compiled with -Wall -Wextra -Werror -O1 against build/libvqrt.a together with
# tests/codegen/gradcheck.c, and run; models with a group_norm a second time
# with --recompute=all (backward rebuilds its output). Seconds in all.
set -eu
BUILD=${BUILD:-build}
VQC=$BUILD/vqc
[ -x "$VQC" ] || { echo "codegen_gradcheck: $VQC is not built"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CFLAGS="-std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -Iruntime -Iruntime/kernels"
LIBS="$BUILD/libvqrt.a -lopenblas -lpng -lz -lpthread -lm"
fail=0
# check NAME VQ ARGS [VQC OPTIONS...]
check() {
    name=$1 vq=$2 args=$3
    shift 3
    out=$TMP/$name
    if ! "$VQC" "$vq" -o "$out" "$@" >"$TMP/log" 2>&1; then cat "$TMP/log"; echo "FAIL $name: generation"; fail=1; return; fi
    base=$(basename "$vq" .vq)
    if ! cc $CFLAGS ${VQ_SANFLAGS:-} -I"$out" -DMODEL_DESC="${base}_desc" -o "$out/gc" tests/codegen/gradcheck.c "$out/$base.c" $LIBS \
        >"$TMP/log" 2>&1; then cat "$TMP/log"; echo "FAIL $name: compile"; fail=1; return; fi
    echo "== $name ($args)"
    # shellcheck disable=SC2086
    if ! OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$out/gc" $args; then echo "FAIL $name"; fail=1; fi
}
for vq in tests/codegen/*.vq; do
    name=$(basename "$vq" .vq)
    args=$(sed -n '1s|^// gradcheck: \([^(]*\).*|\1|p' "$vq")
    [ -n "$args" ] || { echo "$vq: no '// gradcheck:' first line"; fail=1; continue; }
    check "$name" "$vq" "$args"
    # The recompute pass (compiler/passes/recompute.c) rebuilds group_norm outputs in backward;
    # shipped small models never reach its default size, so force it where the model has one.
    n=$("$VQC" "$vq" --recompute=all --dump=plan 2>/dev/null | sed -n 's/^  \([0-9]*\) recomputed$/\1/p')
    if [ "${n:-0}" -gt 0 ]; then
        echo "   ($n group_norm outputs recomputed)"
        check "$name.recompute" "$vq" "$args" --recompute=all
    fi
done
exit $fail
