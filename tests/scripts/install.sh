#!/usr/bin/env bash
# `make install PREFIX=...` gives a usable vqc, runtime library, headers and
# pkg-config file: a program built only from the installed files links and runs.
set -euo pipefail
BUILD=${BUILD:-build}
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
make --no-print-directory -s BUILD="$BUILD" install PREFIX="$prefix" >/dev/null
test -x "$prefix/bin/vqc"
"$prefix/bin/vqc" --version | grep -q '^vqc '
test -f "$prefix/lib/libvqrt.a"
test -f "$prefix/include/vqrt/vqrt.h"
cat > "$prefix/use.c" <<'C'
#include <vqrt.h>
#include <stdio.h>
int main(void)
{
    vq_rng rng;
    vq_rng_seed(&rng, 7);
    float *p = vq_alloc(16 * sizeof(float));
    if (!p) return 1;
    p[0] = vq_rng_uniform(&rng);
    printf("%s\n", p[0] >= 0.0f && p[0] < 1.0f ? "ok" : "bad");
    vq_free(p);
    return 0;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 ${VQ_SANFLAGS:-} -o "$prefix/use" "$prefix/use.c" $(pkg-config --cflags vqrt) $(pkg-config --libs --static vqrt)
test "$("$prefix/use")" = ok
echo "install: ok ($prefix)"
