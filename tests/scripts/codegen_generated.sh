#!/bin/sh
# generated/ must be what `make generated` writes now: every models/*.vq is
# generated afresh (same command line as mk/codegen.mk) into a temporary
# directory and compared with generated/<model>/, then compiled warning-free
# (-Wall -Wextra -Werror -O1) with its own Makefile.
set -eu
BUILD=${BUILD:-build}
case $BUILD in /*) LIB=$BUILD/libvqrt.a ;; *) LIB=$PWD/$BUILD/libvqrt.a ;; esac
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail=0
n=0
for vq in models/*.vq; do
    [ -e "$vq" ] || continue
    n=$((n + 1))
    name=$(basename "$vq" .vq)
    "$BUILD/vqc" "$vq" -o "generated/$name.fresh.$$" >"$TMP/log" 2>&1 || { cat "$TMP/log"; echo "FAIL $name: vqc"; fail=1; continue; }
    mv "generated/$name.fresh.$$" "$TMP/$name"
    # the provenance names the output directory: compare as if written to generated/$name
    sed -i "s|generated/$name.fresh.$$|generated/$name|g" "$TMP/$name"/*
    sed -i 's|^VQC_ROOT ?= .*|VQC_ROOT ?= $(HERE)../..|' "$TMP/$name/Makefile"
    # ... and by build/vqc (make test-asan runs build-asan/vqc)
    [ "$BUILD" = build ] || sed -i "s|$BUILD/vqc |build/vqc |g" "$TMP/$name"/*
    if ! diff -r -x "$name" "generated/$name" "$TMP/$name" >"$TMP/diff" 2>&1; then
        head -20 "$TMP/diff"; echo "FAIL $name: generated/$name is out of date (run make generated)"; fail=1
    fi
    if [ -n "${VQ_SANFLAGS:-}" ]; then   # under make test-asan the runtime is instrumented
        set -- CFLAGS="-std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp $VQ_SANFLAGS"
    else
        set -- OPT=-O1
    fi
    if ! make -s -C "$TMP/$name" "$@" VQC_ROOT="$PWD" VQRT_LIB="$LIB" >"$TMP/log" 2>&1; then cat "$TMP/log"; echo "FAIL $name: compile"; fail=1; fi
done
echo "codegen_generated: $n model(s) checked"
exit $fail
