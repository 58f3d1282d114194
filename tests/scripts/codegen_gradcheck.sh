#!/bin/sh
# Finite-difference check of the GENERATED backward of every op: each
# tests/codegen/*.vq exercises a few ops (its first line names the tensors to
# check, "// gradcheck: PREFIX[=FACTOR] ..."); it is generated with build/vqc,
# compiled with -Wall -Wextra -Werror -O1 against build/libvqrt.a together with
# tests/codegen/gradcheck.c, and run. Seconds in all.
set -eu
BUILD=${BUILD:-build}
VQC=$BUILD/vqc
[ -x "$VQC" ] || { echo "codegen_gradcheck: $VQC is not built"; exit 1; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
CFLAGS="-std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp -Iruntime -Iruntime/kernels"
LIBS="$BUILD/libvqrt.a -lopenblas -lpng -lz -lpthread -lm"
fail=0
for vq in tests/codegen/*.vq; do
    name=$(basename "$vq" .vq)
    args=$(sed -n '1s|^// gradcheck: \([^(]*\).*|\1|p' "$vq")
    [ -n "$args" ] || { echo "$vq: no '// gradcheck:' first line"; fail=1; continue; }
    out=$TMP/$name
    if ! "$VQC" "$vq" -o "$out" >"$TMP/log" 2>&1; then cat "$TMP/log"; echo "FAIL $name: generation"; fail=1; continue; fi
    if ! cc $CFLAGS ${VQ_SANFLAGS:-} -I"$out" -DMODEL_DESC="${name}_desc" -o "$out/gc" tests/codegen/gradcheck.c "$out/$name.c" $LIBS \
        >"$TMP/log" 2>&1; then cat "$TMP/log"; echo "FAIL $name: compile"; fail=1; continue; fi
    echo "== $name ($args)"
    # shellcheck disable=SC2086
    if ! OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$out/gc" $args; then echo "FAIL $name"; fail=1; fi
done
exit $fail
