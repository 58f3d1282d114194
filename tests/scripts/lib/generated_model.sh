# tests/scripts/lib/generated_model.sh: sourced by the script tests that generate a
# model with $BUILD/vqc and compile its driver program against $BUILD/libvqrt.a.
# Needs BUILD (absolute) and ROOT (the repository) set.
#
#   sanitizer_args TEST      sets SANMAKE: under `make test-asan` (VQ_SANFLAGS set) the
#                            generated code is compiled with the same sanitizer flags; an
#                            instrumented runtime without VQ_SANFLAGS cannot link, so the
#                            test says it is skipped and exits 0
#   generate_model DIR VQ [vqc args...]
#                            vqc VQ -o DIR, then make -C DIR; on failure prints the log,
#                            "FAIL vqc" or "FAIL compile", and exits 1

sanitizer_args() {
  SANMAKE=()
  if [ -n "${VQ_SANFLAGS:-}" ]; then
    SANMAKE=(CFLAGS="-std=c11 -O1 -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp $VQ_SANFLAGS")
  elif nm "$BUILD/libvqrt.a" 2>/dev/null | grep -q __asan_init; then
    echo "$1: skipped ($BUILD/libvqrt.a is instrumented and VQ_SANFLAGS is not set)"; exit 0
  fi
}

generate_model() {
  local dir=$1 vq=$2
  shift 2
  "$BUILD/vqc" "$@" "$vq" -o "$dir" > "$dir.log" 2>&1 || { cat "$dir.log"; echo "FAIL vqc"; exit 1; }
  make -s -C "$dir" VQRT_LIB="$BUILD/libvqrt.a" VQC_ROOT="$ROOT" "${SANMAKE[@]}" > "$dir.log" 2>&1 \
    || { cat "$dir.log"; echo "FAIL compile"; exit 1; }
}
